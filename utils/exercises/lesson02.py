"""Checks for the exercises of 02_build_engine: two optimization profiles, what rebuilds an engine, FP16 flag or model.

The two profiles are checked against the batch sizes the notebook gives, then built into an engine by the
installed TensorRT (TensorRT-RTX builds without a GPU). The others need neither a GPU nor TensorRT: what rebuilds an
engine is decided by building the two `BuildRequest`s of each change with `utils.tensorrt.build.build_request`
(with a stand-in TensorRT) and comparing them, as the engine cache does; FP16's route is
`utils.tensorrt.api.TensorRT.strongly_typed_only` for each version.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from utils.exercises.registry import NotYetRight, exercise


def _judge_profile(low: int, opt: int, high: int, requests: list[int], which: str) -> None:
    """The tightest (MIN, OPT, MAX) that accepts every request of `requests`, with OPT the most frequent batch size."""
    counts = Counter(requests)
    most_frequent, times = counts.most_common(1)[0]
    above = sorted(b for b in counts if b > high)
    if above:
        raise NotYetRight(f"{which}: a request of batch {above[-1]} would be refused: it is above MAX={high}; hint: MAX "
                          "must be the largest batch of these requests")
    below = sorted(b for b in counts if b < low)
    if below:
        raise NotYetRight(f"{which}: a request of batch {below[0]} would be refused: it is below MIN={low}; hint: MIN "
                          "must be the smallest batch of these requests")
    if high > max(requests) or low < min(requests):
        raise NotYetRight(f"{which}: every request fits, but ({low}, {opt}, {high}) is wider than needed: the runner "
                          f"sizes its buffers for MAX and TensorRT must serve the whole range; hint: no request is below "
                          f"{min(requests)} or above {max(requests)}")
    if opt != most_frequent:
        raise NotYetRight(f"{which}: TensorRT tunes its kernels for OPT; batch {opt} comes {counts[opt]} time(s), batch "
                          f"{most_frequent} {times} times out of {len(requests)}; hint: collections.Counter")


def _profile_batches(profile: Any, index: int, input_name: str, image_shape: tuple[int, ...]) -> tuple[int, int, int]:
    if not hasattr(profile, "get_shape"):
        raise NotYetRight(f"profiles[{index}] is a {type(profile).__name__}, not an optimization profile; hint: "
                          "builder.create_optimization_profile()")
    shapes = [tuple(int(d) for d in shape) for shape in profile.get_shape(input_name)]
    if len(shapes) != 3 or not all(shapes):
        raise NotYetRight(f"profiles[{index}] has no shapes for input {input_name!r}; hint: "
                          f"profile.set_shape({input_name!r}, min_shape, opt_shape, max_shape)")
    if any(shape[1:] != image_shape for shape in shapes):
        raise NotYetRight(f"profiles[{index}] gives {input_name!r} the shapes {shapes}: only the batch may vary, each "
                          f"image stays {image_shape}; hint: [batch, *{image_shape}]")
    low, opt, high = (shape[0] for shape in shapes)
    return low, opt, high


@exercise("02.1")
def two_profiles(answer: Any, *, requests: dict[str, list[int]], builder: Any, network: Any) -> str:
    """Two optimization profiles for one engine, interactive then bulk, each the tightest around its requests with OPT
    the most frequent batch; the check adds them to a builder config and builds the engine with TensorRT."""
    from utils.tensorrt.api import load_tensorrt
    from utils.tensorrt.build import set_ahead_of_time_targets
    from utils.tensorrt.logger import shared_logger

    if not isinstance(answer, (list, tuple)) or len(answer) != 2:
        raise NotYetRight("give `profiles` as a list of two optimization profiles, the interactive one first; "
                          "hint: builder.create_optimization_profile() twice")
    graph_input = network.get_input(0)
    image_shape = tuple(int(d) for d in graph_input.shape)[1:]
    ranges = []
    for index, (kind, profile) in enumerate(zip(requests, answer)):
        low, opt, high = _profile_batches(profile, index, graph_input.name, image_shape)
        _judge_profile(low, opt, high, requests[kind], f"profile {index} ({kind})")
        ranges.append((low, high))
    trt = load_tensorrt()
    config = builder.create_builder_config()
    indices = [config.add_optimization_profile(profile) for profile in answer]
    if indices != [0, 1]:
        raise NotYetRight(f"TensorRT numbered the profiles {indices} when they were added (0 and 1 expected, -1 is a "
                          "refusal); hint: give each profile all three shapes")
    set_ahead_of_time_targets(trt, config)
    logger = shared_logger(trt)
    with logger.capture() as capture:
        plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise NotYetRight(f"TensorRT refused to build with these profiles: {capture.summary()}")
    gap = (ranges[0][1] + 1, ranges[1][0] - 1)
    return (f"{trt.display_name} built one engine with both profiles ({plan.nbytes / 2**20:.1f} MiB). At run time the "
            f"context picks one (context.set_optimization_profile_async(1, stream) for bulk) and only its range is "
            f"accepted: a batch from {gap[0]} to {gap[1]} fits neither, the price of two tight profiles")


@dataclass(frozen=True)
class Change:
    """One change to an engine request: its description, the build options before and after, and a file edit."""

    description: str
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    why_not: str = ""  # why it leaves the request as it was, where it does
    onnx: Callable[[Path, Path], Path] | None = None  # (original, scratch folder) -> the ONNX file asked for after
    upgrades_tensorrt: bool = False  # a newer TensorRT version builds the engine after the change


def _renamed(original: Path, scratch: Path) -> Path:
    import shutil

    return Path(shutil.copyfile(original, scratch / "renamed_copy.onnx"))


def _retrained(original: Path, scratch: Path) -> Path:
    changed = scratch / original.name
    changed.write_bytes(original.read_bytes() + b"\0")  # stands in for new weights: other bytes, same file name
    return changed


REBUILD_CHANGES_DETAIL: dict[str, Change] = {
    "a": Change("the same ONNX file, copied under another name, is given instead",
                why_not="the request records the ONNX file's SHA-256, not its name", onnx=_renamed),
    "b": Change("the batch profile becomes 1,8,64", after={"batch": (1, 8, 64)}),
    "c": Change("an FP16 engine is asked for again, now with tf32=True", before={"precision": "fp16"},
                after={"precision": "fp16", "tf32": True},
                why_not="TF32 only concerns FP32 layers, so build_request records tf32=False for an FP16 engine"),
    "d": Change("an FP32 engine is asked for again, now with tf32=True", after={"tf32": True}),
    "e": Change("the workspace grows from 2048 to 4096 MiB", before={"workspace_mib": 2048}, after={"workspace_mib": 4096}),
    "f": Change("TensorRT is upgraded to a newer version", upgrades_tensorrt=True),
    "g": Change("the model is fine-tuned and exported again to the same file name", onnx=_retrained),
}
REBUILD_CHANGES: dict[str, str] = {letter: change.description for letter, change in REBUILD_CHANGES_DETAIL.items()}

_STAND_IN_VERSION, _STAND_IN_UPGRADE = "1.7.1", "1.8.0"


def changed_fields(change: Change, onnx_path: str | os.PathLike[str]) -> list[str]:
    """The fields of the build request that `change` alters, found by building both requests."""
    import tempfile

    from utils.tensorrt.api import TensorRT
    from utils.tensorrt.build import build_request

    # TensorRT-RTX as the stand-in: it builds without a GPU, so build_request works on any machine.
    before_trt = TensorRT(module=None, flavour="tensorrt_rtx", version=_STAND_IN_VERSION, import_name="tensorrt_rtx")
    after_trt = TensorRT(module=None, flavour="tensorrt_rtx", version=_STAND_IN_UPGRADE,
                         import_name="tensorrt_rtx") if change.upgrades_tensorrt else before_trt
    original = Path(onnx_path)
    with tempfile.TemporaryDirectory(prefix="exercise-02-") as scratch:
        after_onnx = change.onnx(original, Path(scratch)) if change.onnx else original
        before = build_request(original, tensorrt=before_trt, **change.before).cache_key()
        after = build_request(after_onnx, tensorrt=after_trt, **{**change.before, **change.after}).cache_key()
    return [name for name in before if before[name] != after[name]]


@exercise("02.2")
def what_rebuilds(answer: Any, *, onnx_path: str | os.PathLike[str]) -> str:
    """The letters of the changes in `REBUILD_CHANGES` that make the engine cache rebuild."""
    if isinstance(answer, str) or not isinstance(answer, (set, frozenset, list, tuple)):
        raise NotYetRight(f"answer with a set of letters, like {{'a', 'c'}}, not a {type(answer).__name__}")
    chosen = {str(letter).strip().lower() for letter in answer}
    unknown = sorted(chosen - set(REBUILD_CHANGES_DETAIL))
    if unknown:
        raise NotYetRight(f"there is no change {unknown[0]!r}; the changes are {', '.join(REBUILD_CHANGES_DETAIL)}")
    fields = {letter: changed_fields(change, onnx_path) for letter, change in REBUILD_CHANGES_DETAIL.items()}
    problems = []
    for letter, change in REBUILD_CHANGES_DETAIL.items():
        rebuilds = bool(fields[letter])
        if letter in chosen and not rebuilds:
            problems.append(f"{letter} reuses the engine: {change.why_not or 'the build request is unchanged'}")
        elif letter not in chosen and rebuilds:
            problems.append(f"{letter} rebuilds: it changes the request's {' and '.join(fields[letter])}")
    if problems:
        raise NotYetRight("; ".join(problems) + "; hint: compare the fields of BuildRequest before and after")
    kept = [letter for letter in REBUILD_CHANGES_DETAIL if not fields[letter]]
    return f"only a change to a field of BuildRequest rebuilds; {' and '.join(kept)} leave every field as it was"


def _parse_version(text: str) -> tuple[str, str]:
    from utils.errors import WorkbookError

    name, _, number = text.strip().rpartition(" ")
    flavours = {"TensorRT": "tensorrt", "TensorRT-RTX": "tensorrt_rtx"}
    if name not in flavours or not number[:1].isdigit():
        raise WorkbookError(f"{text!r} is not a TensorRT version; write it like 'TensorRT 10.13.0' or 'TensorRT-RTX 1.7.1'")
    return flavours[name], number


def fp16_route(version: str) -> str:
    """"model" where FP16 engines come from the FP16 ONNX model (strongly typed), "flag" where from the builder flag."""
    from types import SimpleNamespace

    from utils.tensorrt.api import TensorRT

    flavour, number = _parse_version(version)
    # strongly_typed_only looks for BuilderFlag.FP16 only on versions that may have it (before 11); they all do.
    module = SimpleNamespace(BuilderFlag=SimpleNamespace(FP16=object()))
    trt = TensorRT(module=module, flavour=flavour, version=number, import_name=flavour)
    return "model" if trt.strongly_typed_only else "flag"


@exercise("02.3")
def fp16_flag_or_model(answer: Any, *, versions: list[str]) -> str:
    """`{version: "flag" or "model"}`: how the workbook builds an FP16 engine with each TensorRT."""
    if not isinstance(answer, dict):
        raise NotYetRight(f'answer with a dict {{version: "flag" or "model"}}, not a {type(answer).__name__}')
    missing = [v for v in versions if v not in answer]
    if missing:
        raise NotYetRight(f"no answer for {missing[0]!r}; give one for each of: {', '.join(versions)}")
    odd = {v: a for v, a in answer.items() if a not in ("flag", "model")}
    if odd:
        version, said = next(iter(odd.items()))
        raise NotYetRight(f'answer "flag" or "model" for each version; {version!r} has {said!r}')
    problems = []
    for version in versions:
        expected = fp16_route(version)
        if answer[version] == expected:
            continue
        flavour, number = _parse_version(version)
        if flavour == "tensorrt_rtx":
            problems.append(f"{version}: TensorRT-RTX networks are always strongly typed and it has no FP16 flag, so "
                            "the FP16 ONNX model decides")
        elif expected == "model":
            problems.append(f"{version}: TensorRT {number.split('.')[0]} removed BuilderFlag.FP16 (setting it raises "
                            "AttributeError); its strongly typed networks take FP16 from the model")
        else:
            problems.append(f"{version} still has BuilderFlag.FP16: the workbook builds FP16 from the FP32 model with "
                            "the flag, and TensorRT may keep some layers in FP32")
    if problems:
        raise NotYetRight("; ".join(problems))
    return "artifacts.build_engine_file makes the FP16 twin only where trt.strongly_typed_only is true"
