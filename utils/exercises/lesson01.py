"""Checks for the exercises of 01_export_onnx: the dynamic axis, a tolerance that tells FP32 from FP16, a new batch size.

Each check computes the expected answer from what the notebook measured or wrote (the ONNX file, the parity and
drift it printed, its reference logits), so it holds for any model and any machine.
"""

from __future__ import annotations

import math
import os
from typing import Any

from utils.exercises.registry import NotYetRight, exercise, is_number

POWER_OF_TEN = 1e-6  # how close log10(answer) must be to a whole number for answer to count as a power of ten
HEADROOM = 10.0  # a tolerance this many times the difference measured here still passes on other CPUs and libraries
SAME_LOGITS = 1e-3  # two runs of the same FP32 model on the same image agree far better than this


@exercise("01.1")
def dynamic_input_axes(answer: Any, *, onnx_path: str | os.PathLike[str]) -> str:
    """`{axis position: name}` of the exported input's symbolic dimensions."""
    import onnx

    model = onnx.load(str(onnx_path), load_external_data=False)
    initializers = {init.name for init in model.graph.initializer}
    graph_input = next(value for value in model.graph.input if value.name not in initializers)
    dims = list(graph_input.type.tensor_type.shape.dim)
    expected = {i: d.dim_param for i, d in enumerate(dims) if d.dim_param}
    fixed = {i: d.dim_value for i, d in enumerate(dims) if not d.dim_param}
    names = set(expected.values())
    if isinstance(answer, str):
        if answer == graph_input.name:
            raise NotYetRight(f"{answer!r} is the input tensor's name; its axes have names of their own; "
                              "hint: look at each dim's dim_param")
        if answer in names:
            raise NotYetRight(f"{answer!r} is the right name; now say where it is, as a dict {{axis position: name}}; "
                              "hint: enumerate(...shape.dim)")
    if not isinstance(answer, dict):
        raise NotYetRight(f"give a dict {{axis position: name}}, not a {type(answer).__name__}; hint: "
                          "{i: dim.dim_param for i, dim in enumerate(graph_input.type.tensor_type.shape.dim) if ...}")
    if any(isinstance(key, str) for key in answer):
        raise NotYetRight("the keys are axis positions (0, 1, ...), the values the names; yours has names as keys")
    if set(answer.values()) == names and answer != expected:
        raise NotYetRight(f"right name{'s' if len(names) > 1 else ''}, wrong place: the file has {expected}; "
                          "hint: positions count from 0, batch first (NCHW)")
    as_fixed = sorted(i for i in answer if i in fixed)
    if as_fixed:
        shown = ", ".join(f"axis {i} is fixed at {fixed[i]}" for i in as_fixed)
        raise NotYetRight(f"{shown}: only dims with a dim_param (a name instead of a size) can change; "
                          "hint: keep the dims whose dim_param is not empty")
    if graph_input.name in answer.values():
        raise NotYetRight(f"{graph_input.name!r} is the tensor's name; the axis has its own name, its dim_param")
    unknown = sorted(i for i in answer if i not in expected and i not in fixed)
    if unknown:
        raise NotYetRight(f"the input has {len(dims)} axes (0 to {len(dims) - 1}); there is no axis {unknown[0]}")
    wrong = {i: name for i, name in answer.items() if expected.get(i) != name}
    if wrong:
        i = next(iter(wrong))
        raise NotYetRight(f"axis {i} is called {expected[i]!r} in the file, not {wrong[i]!r}; hint: read dim.dim_param")
    missing = sorted(set(expected) - set(answer))
    if missing:
        raise NotYetRight(f"axis {missing[0]} is symbolic too ({expected[missing[0]]!r}); give every dim with a dim_param")
    return f"only {', '.join(map(repr, expected.values()))} may vary; the other axes are fixed at " \
           f"{', '.join(str(fixed[i]) for i in sorted(fixed))}"




@exercise("01.2")
def separating_tolerance(answer: Any, *, parity: float, fp16_drift: float) -> str:
    """A power of ten that the FP32 ONNX Runtime output meets with `HEADROOM` to spare, and the FP16 twin fails."""
    if not is_number(answer):
        raise NotYetRight(f"give the tolerance as a number, like 1e-3, not a {type(answer).__name__}")
    tolerance = float(answer)
    if not tolerance > 0 or not math.isfinite(tolerance):
        raise NotYetRight(f"a tolerance is a positive finite number; {tolerance:g} is not")
    candidates = [10.0 ** k for k in range(-12, 4) if HEADROOM * parity <= 10.0 ** k < fp16_drift]
    exponent = math.log10(tolerance)
    if abs(exponent - round(exponent)) > POWER_OF_TEN and candidates:
        raise NotYetRight(f"{tolerance:g} is not a power of ten; hint: 10.0 ** k with a whole k, like 1e-4")
    if tolerance < parity:
        raise NotYetRight(f"too tight: ONNX Runtime's FP32 output differs from PyTorch by up to {parity:.2e}, more than "
                          f"{tolerance:g}, so an exact export would fail; hint: a larger power of ten")
    if tolerance >= fp16_drift:
        raise NotYetRight(f"too loose: the FP16 twin drifts by up to {fp16_drift:.3g}, within {tolerance:g}, so an "
                          "FP16 model would pass for FP32; hint: a smaller power of ten")
    if candidates and tolerance < HEADROOM * parity:
        raise NotYetRight(f"{tolerance:g} passes here with only {tolerance / parity:.1f}x to spare: FP32 rounding differs "
                          "between CPUs, thread counts and library versions, so a test at the tightest tolerance that "
                          f"passes today fails on another machine; leave a factor of {HEADROOM:g}; hint: a larger power of ten")
    if not candidates:
        return (f"{tolerance:g} separates them; no power of ten leaves a factor of {HEADROOM:g} above {parity:.2e} "
                f"and stays below {fp16_drift:.3g} here, so this test will be fragile on other machines")
    shown = ", ".join(f"{c:g}" for c in candidates)
    return (f"{tolerance:g} passes FP32 ({parity:.2e}) {tolerance / parity:.0f}x over, and fails FP16 ({fp16_drift:.3g}); "
            f"any of {shown} would do")


@exercise("01.3")
def three_coffees(answer: Any, *, reference: Any, photo_names: list[str]) -> str:
    """ONNX Runtime's logits for a batch of three copies of the coffee photo."""
    import numpy as np

    reference = np.asarray(reference, dtype=np.float64)
    coffee = photo_names.index("coffee")
    classes = reference.shape[1]
    try:
        logits = np.asarray(answer, dtype=np.float64)
    except (TypeError, ValueError):
        raise NotYetRight(f"give the logits as a numpy array [3, {classes}], not a {type(answer).__name__}") from None
    if logits.ndim != 2 or logits.shape[1] != classes:
        raise NotYetRight(f"expected logits of shape [batch, {classes}], got {list(logits.shape)}; hint: "
                          f"infer() takes a batch [N, C, H, W] and returns [N, {classes}]")
    if logits.shape[0] != 3:
        raise NotYetRight(f"you ran {logits.shape[0]} image(s); the batch should hold the coffee photo three times; "
                          f"hint: np.repeat(batch[{coffee}:{coffee + 1}], 3, axis=0)")
    if (logits >= 0).all() and np.allclose(logits.sum(axis=1), 1.0, atol=1e-3):
        raise NotYetRight("these are probabilities (each row sums to 1); answer the raw logits that infer() returns")
    spread = float(np.abs(logits - logits[:1]).max())
    if spread > SAME_LOGITS:
        raise NotYetRight(f"the three rows differ by up to {spread:.3g}: the batch should hold the same photo three "
                          "times, not different photos")
    distances = np.abs(reference - logits[0]).max(axis=1)
    closest = int(distances.argmin())
    if distances[coffee] <= SAME_LOGITS:
        return "the file exported with a batch of 2 ran batches of 4, 1 and 3: its batch axis is dynamic"
    if distances[closest] <= SAME_LOGITS:
        raise NotYetRight(f"these are the logits of {photo_names[closest]!r} (row {closest} of batch), not of the "
                          f"coffee photo (row {coffee})")
    raise NotYetRight(f"the logits differ from ONNX Runtime's on the coffee photo by up to {distances[coffee]:.3g}; "
                      "hint: feed rows of the preprocessed `batch` to the exported file, not raw pixels")
