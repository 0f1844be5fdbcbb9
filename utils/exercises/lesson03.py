"""Checks for the exercises of 03_inference: top-5 names from logits, the runner's input buffer, batches in a profile.

All run on a CPU: the logits are the ONNX Runtime references, and the buffer and batches follow from the engine's
profile and the model's input shape, which the notebook passes in.
"""

from __future__ import annotations

import math
from typing import Any

from utils.exercises.registry import NotYetRight, exercise

FLOAT32_BYTES = 4
MIB = 2**20


def _ranked_names(logits: Any, k: int = 5) -> list[list[str]]:
    from utils.classify import top_k

    return [[p.name for p in row] for row in top_k(logits, k)]


@exercise("03.1")
def astronaut_top5(answer: Any, *, logits: Any, photo_names: list[str]) -> str:
    """The five most probable class names of the astronaut photo, most probable first."""
    import numpy as np

    from utils.classify import Prediction
    from utils.labels import class_name

    logits = np.asarray(logits)
    row = photo_names.index("astronaut")
    expected = _ranked_names(logits)[row]
    if isinstance(answer, str) or not isinstance(answer, (list, tuple)):
        raise NotYetRight(f"give a list of five class names, not a {type(answer).__name__}")
    if answer and all(isinstance(item, Prediction) for item in answer):
        raise NotYetRight("these are Prediction objects; give their names: [p.name for p in ...]")
    if answer and all(isinstance(item, (int, np.integer)) and not isinstance(item, bool) for item in answer):
        raise NotYetRight("these are class ids; give the names (each Prediction has .name; utils.labels.class_name(id))")
    if not all(isinstance(item, str) for item in answer):
        raise NotYetRight("give the class names as strings, like 'espresso'")
    answer = list(answer)
    if len(answer) != len(expected):
        raise NotYetRight(f"give exactly {len(expected)} names, most probable first; you gave {len(answer)}")
    if answer == expected:
        return f"{expected[0]!r} first; top_k ranks the logits of any runtime the same way"
    if sorted(answer) == sorted(expected):
        raise NotYetRight("the right five classes in the wrong order: most probable first; hint: top_k already ranks them")
    others = _ranked_names(logits)
    for index, names in enumerate(others):
        if names == answer:
            raise NotYetRight(f"these are the top five of {photo_names[index]!r} (row {index}); the astronaut is row {row}")
    order = np.argsort(logits[row], kind="stable")
    if answer == [class_name(int(i)) for i in order[:len(expected)]]:
        raise NotYetRight("these are the five LEAST probable classes; hint: sort by descending probability")
    across_photos = np.exp(logits - logits.max(axis=0, keepdims=True))
    across_photos /= across_photos.sum(axis=0, keepdims=True)
    if answer == [class_name(int(i)) for i in np.argsort(-across_photos[row], kind="stable")[:len(expected)]]:
        raise NotYetRight("the softmax ran across the photos (axis 0) instead of across the classes of one photo; "
                          "hint: classify.top_k or classify.softmax do it per row")
    stray = next(name for name in answer if name not in expected)
    raise NotYetRight(f"{stray!r} is not among the astronaut's five most probable classes; hint: "
                      f"classify.top_k(logits[{row}:{row + 1}], k=5)[0]")


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
