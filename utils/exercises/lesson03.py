"""Checks for the exercises of 03_inference: the answer closest to a tie, the runner's input buffer, batches in a
profile, and many images through one engine with TensorRT's own calls.

03.1 to 03.3 run on a CPU: the logits are the ONNX Runtime references, and the buffer and batches follow from the
engine's profile and the model's input shape, which the notebook passes in. 03.4 needs an engine that runs; its check
compares the learner's logits with ONNX Runtime's on the same images.
"""

from __future__ import annotations

import math
from typing import Any

from utils.exercises.registry import NotYetRight, exercise

FLOAT32_BYTES = 4
MIB = 2**20


def _top_two(logits: Any) -> list[tuple[str, float, str, float]]:
    from utils.classify import top_k

    return [(row[0].name, row[0].probability, row[1].name, row[1].probability) for row in top_k(logits, 2)]


@exercise("03.1")
def closest_to_a_tie(answer: Any, *, logits: Any, photo_names: list[str]) -> str:
    """The photo whose two most probable classes are closest in probability: the answer a small drift can flip."""
    import numpy as np

    ranked = _top_two(np.asarray(logits))
    margins = [first - second for _, first, _, second in ranked]
    expected = int(np.argmin(margins))
    if not isinstance(answer, str):
        raise NotYetRight(f"give the photo's name as a str, one of {photo_names}, not a {type(answer).__name__}")
    if answer not in photo_names:
        raise NotYetRight(f"{answer!r} is not one of the photos; they are {photo_names}")
    chosen = photo_names.index(answer)
    if chosen != expected:
        name, first, runner_up, second = ranked[chosen]
        lowest = int(np.argmin([first for _, first, _, _ in ranked]))
        why = (" It has the least confident top class, but confidence is not the question: how far the second is behind"
               " is." if chosen == lowest else "")
        raise NotYetRight(f"{answer}: {name} {first:.1%} is {margins[chosen]:.1%} ahead of {runner_up} {second:.1%}; "
                          f"another photo's two best are closer.{why} hint: classify.top_k(logits, k=2), then the "
                          "difference of the two probabilities of each photo")
    name, first, runner_up, second = ranked[expected]
    return (f"{answer}: {name} {first:.1%} against {runner_up} {second:.1%}, {margins[expected]:.1%} apart. An engine "
            "whose logits drift by a few hundredths (FP16, INT8) can swap them, and top-1 agreement would count that as "
            "an error although FP32 itself barely chose; notebook 06 counts top-1 agreement only where FP32 is confident")


@exercise("03.2")
def input_buffer_bytes(answer: Any, *, profile: tuple[int, int, int], input_shape: tuple[int, ...]) -> str:
    """Bytes of the runner's input buffer: the profile's largest batch of float32 images."""
    low, opt, high = profile
    per_image = math.prod(input_shape)
    expected = high * per_image * FLOAT32_BYTES
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        raise NotYetRight(f"give a number of bytes, not a {type(answer).__name__}")
    if answer == expected:
        return f"{expected / MIB:.1f} MiB of pinned host memory, and as much on the GPU, allocated once for any batch"
    mistakes = [
        (opt * per_image * FLOAT32_BYTES, f"that is OPT's batch ({opt}); the buffers must hold the largest batch the "
                                          f"profile accepts, MAX ({high})"),
        (low * per_image * FLOAT32_BYTES, f"that is MIN's batch ({low}); the buffers must hold MAX ({high}) images"),
        (high * per_image, "that counts float32 values; each takes 4 bytes"),
        (high * per_image * 2, "the input stays float32 (4 bytes) even for an FP16 engine: the FP16 twin keeps FP32 "
                               "inputs and outputs"),
        (high * per_image * FLOAT32_BYTES * 8, "that is bits; divide by 8"),
        (expected / MIB, "that is MiB; give bytes"),
        (high * per_image // input_shape[0] * FLOAT32_BYTES, f"one image has {input_shape[0]} channels; count them too"),
    ]
    # Different slips can give the same number (with a profile of 1,8,32, OPT's bytes are MAX's values): name each.
    matching = [message for value, message in mistakes if math.isclose(answer, value, rel_tol=1e-9)]
    if matching:
        raise NotYetRight(" - or - ".join(dict.fromkeys(matching)))
    raise NotYetRight(f"{answer:,} bytes is not it; hint: MAX images × {' × '.join(map(str, input_shape))} values × "
                      "4 bytes")


def _fewest_calls(images: int, low: int, high: int) -> int | None:
    return next((calls for calls in range(math.ceil(images / high), images // low + 1)
                 if calls * low <= images <= calls * high), None)


@exercise("03.3")
def batches_in_profile(answer: Any, *, n_images: int, profile: tuple[int, int, int]) -> str:
    """Batch sizes that cover `n_images` in as few calls as the profile allows, each between MIN and MAX."""
    low, _, high = profile
    if not isinstance(answer, (list, tuple)):
        raise NotYetRight(f"give a list of batch sizes, like [{high}, {high}, ...], not {answer!r}")
    if not all(isinstance(size, int) and not isinstance(size, bool) for size in answer):
        raise NotYetRight("each batch size is a whole number of images")
    outside = [size for size in answer if not low <= size <= high]
    if outside:
        size = outside[0]
        side = f"above the profile's MAX ({high})" if size > high else f"below the profile's MIN ({low})"
        raise NotYetRight(f"a batch of {size} is {side}: the runner refuses it with a WorkbookError, as above")
    if sum(answer) != n_images:
        raise NotYetRight(f"the batches hold {sum(answer)} images, not {n_images}; every photo once")
    fewest = _fewest_calls(n_images, low, high)
    if fewest is not None and len(answer) > fewest:
        raise NotYetRight(f"{len(answer)} calls; {fewest} would do; hint: fill each batch up to MAX ({high})")
    return f"{len(answer)} calls for {n_images} images; the buffers, sized for {high}, serve every one"


@exercise("03.4")
def many_images_through_one_engine(answer: Any, *, reference: Any, profile: tuple[int, int, int]) -> str:
    """`{"logits": array [N, classes], "calls": int}`: every image through the engine, in order, in the fewest calls
    the profile allows; the logits must agree with ONNX Runtime's on the same images."""
    import numpy as np

    reference = np.asarray(reference)
    images, classes = reference.shape
    if not isinstance(answer, dict) or set(answer) != {"logits", "calls"}:
        raise NotYetRight('give a dict {"logits": the [N, classes] array, "calls": how many execute_async_v3 calls}')
    logits = np.asarray(answer["logits"])
    if logits.shape != reference.shape:
        raise NotYetRight(f"logits of shape {tuple(logits.shape)}, expected {(images, classes)}: one row per image, in "
                          "order; hint: np.concatenate the rows each call copied back")
    same_class = logits.argmax(1) == reference.argmax(1)
    if not same_class.all():
        first = int(np.argmin(same_class))
        raise NotYetRight(f"image {first} gets class {int(logits[first].argmax())}, ONNX Runtime says "
                          f"{int(reference[first].argmax())}; hint: copy back only the rows of each call "
                          "(host_out[:len(chunk)]) and set the input shape before each execute_async_v3")
    drift = float(np.abs(logits - reference).max())
    if drift > 1e-2:
        raise NotYetRight(f"the logits differ from ONNX Runtime's by up to {drift:.3g}: a row left from an earlier call? "
                          "hint: wait for the stream before reading host_out")
    low, _, high = profile
    fewest = math.ceil(images / high)
    if answer["calls"] != fewest:
        raise NotYetRight(f"{answer['calls']} calls; the profile takes up to {high} images a call, so {fewest} "
                          "are enough; hint: batches of MAX, the last one what is left")
    return (f"{images} images in {fewest} calls, within {drift:.1e} of ONNX Runtime; the buffers were sized once for "
            f"{high} and every call set its own shape")
