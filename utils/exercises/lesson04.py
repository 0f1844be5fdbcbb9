"""Checks for the exercises of 04_compare_onnx_trt: the smallest atol for a given rtol, rtol alone next to zeros, the
tensor whose error is largest for its own magnitude, and reading what `polygraphy run` printed.

Each check recomputes the expected answer from the notebook's own FP32 and FP16 outputs with Polygraphy's rule
(`utils.compare.differences`: an element fails only if |diff| > atol and |diff| / |target| > rtol, zeros of the
target replaced by 2.2e-16), so it holds for any model and any machine.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from utils.exercises.registry import NotYetRight, as_number, close_to, exercise

if TYPE_CHECKING:
    import numpy as np

    from utils.compare.stats import OutputStats


def _differences(reference: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from utils.compare.stats import differences

    return differences(reference, target)


@exercise("04.1")
def smallest_atol(answer: Any, *, reference: np.ndarray, target: np.ndarray, rtol: float) -> str:
    """The smallest atol with which `target` passes against `reference` at `rtol` (Polygraphy's elementwise rule)."""
    import numpy as np

    atol = as_number(answer, "the tolerance")
    absdiff, reldiff = _differences(reference, target)
    beyond_rtol = reldiff > rtol
    expected = float(absdiff[beyond_rtol].max(initial=0.0))
    largest = float(absdiff.max(initial=0.0))
    if close_to(atol, expected) or atol == expected:
        within = int(np.count_nonzero(~beyond_rtol))
        return (f"atol = {expected:.4g} with rtol = {rtol:g}: {within} of {absdiff.size} elements are within rtol and "
                f"pass whatever atol is, so atol only has to cover the other {absdiff.size - within} "
                f"(the largest |diff| of all is {largest:.4g})")
    if not math.isfinite(atol) or atol < 0:
        raise NotYetRight(f"a tolerance is a finite number >= 0; {atol:g} is not")
    if close_to(atol, rtol):
        raise NotYetRight(f"{atol:g} is the rtol; the question is the atol that goes with it; hint: "
                          "compare.differences(reference, target) gives |diff| and |diff| / |target|")
    if atol > expected:
        if close_to(atol, largest):
            raise NotYetRight(f"{atol:.4g} is the largest |diff| of all elements: it passes, but it is not the smallest; "
                              f"an element fails only if it exceeds both tolerances, so the elements within rtol = "
                              f"{rtol:g} pass whatever atol is; hint: the largest |diff| among elements with "
                              "reldiff > rtol")
        raise NotYetRight(f"{atol:.4g} passes, but a smaller atol passes too; hint: the largest |diff| among the "
                          "elements whose reldiff exceeds rtol")
    failing = int(np.count_nonzero(beyond_rtol & (absdiff > atol)))
    if close_to(atol, float(np.mean(absdiff))) or close_to(atol, float(np.median(absdiff))):
        raise NotYetRight(f"{atol:.4g} is a typical |diff| (mean or median); a tolerance must cover the worst element "
                          f"that is beyond rtol: {failing} elements still fail; hint: a max, not a mean")
    raise NotYetRight(f"too small: {failing} elements still exceed both atol = {atol:.4g} and rtol = {rtol:g}; hint: "
                      "atol must reach the largest |diff| among the elements whose reldiff exceeds rtol")


@exercise("04.2")
def rtol_alone(answer: Any, *, reference: np.ndarray, target: np.ndarray) -> str:
    """The smallest rtol with which `target` passes against `reference` when atol = 0: the largest reldiff."""
    import numpy as np

    from utils.compare.stats import RELDIFF_EPSILON

    absdiff, reldiff = _differences(reference, target)
    expected = float(reldiff.max(initial=0.0))
    target_values = np.asarray(target, np.float32)
    zeros = (target_values == 0) & (absdiff > 0)
    rtol = as_number(answer, "the rtol")
    if math.isnan(rtol):
        raise NotYetRight("nan: 0 / 0 where both runs give 0; hint: use compare.differences, which replaces zeros of "
                          f"the target by {RELDIFF_EPSILON:.3g} as Polygraphy does")
    if close_to(rtol, expected):
        return (f"rtol alone would have to be {expected:.3g}: {int(zeros.sum())} elements are exactly 0 in the "
                f"target but not in the reference, and |diff| / {RELDIFF_EPSILON:.2g} is huge. A 'tolerance' that "
                "large accepts anything; next to zeros (ReLU, Clip) only atol can judge, so give both")
    if math.isinf(rtol):
        raise NotYetRight("inf: you divided by |target| where the target is 0; Polygraphy replaces those zeros by "
                          f"{RELDIFF_EPSILON:.3g} (compare.differences does too), which gives a finite, huge rtol")
    nonzero = ~zeros & (target_values != 0)
    if nonzero.any() and close_to(rtol, float(reldiff[nonzero].max())) and zeros.any():
        raise NotYetRight(f"you left out the {int(zeros.sum())} elements where the target is exactly 0: Polygraphy keeps "
                          f"them and divides by {RELDIFF_EPSILON:.3g}, and they are the ones rtol alone cannot pass; "
                          "hint: the max of all reldiff")
    by_reference = absdiff / np.abs(np.where(np.asarray(reference, np.float32) == 0, RELDIFF_EPSILON, reference))
    if close_to(rtol, float(by_reference.max(initial=0.0))):
        raise NotYetRight("you divided by |reference|; Polygraphy divides by the second run's (the target's) "
                          "magnitude; hint: compare.differences(reference, target)")
    if close_to(rtol, float(absdiff.max(initial=0.0))):
        raise NotYetRight(f"{rtol:.4g} is the largest absolute difference; rtol is compared with |diff| / |target|; "
                          "hint: the second array compare.differences returns")
    if rtol > expected:
        raise NotYetRight(f"{rtol:.4g} passes, but a smaller rtol passes too; hint: the largest reldiff of all elements")
    failing = int(np.count_nonzero(reldiff > rtol))
    raise NotYetRight(f"too small: with atol = 0, {failing} elements still have |diff| / |target| > {rtol:.4g}; "
                      "hint: the largest reldiff of all elements, zeros of the target included")


@exercise("04.3")
def error_for_its_magnitude(answer: Any, *, stats: Sequence[OutputStats], reference: Mapping[str, np.ndarray]) -> str:
    """The tensor with the largest max |diff| / max |reference value|."""
    import numpy as np

    ratios = {}
    for row in stats:
        magnitude = float(np.abs(np.asarray(reference[row.output], np.float64)).max(initial=0.0))
        if magnitude > 0:
            ratios[row.output] = row.max_abs / magnitude
    if not isinstance(answer, str):
        raise NotYetRight(f"give the tensor's name as a str (like {stats[-1].output!r}), not a {type(answer).__name__}")
    if answer not in {row.output for row in stats}:
        raise NotYetRight(f"there is no compared tensor called {answer!r}; hint: the names are row.output for row in "
                          "report.stats")
    if answer not in ratios:
        raise NotYetRight(f"{answer!r} is all zeros in the FP32 run: it has no magnitude to compare its error with")
    expected = max(ratios, key=lambda name: ratios[name])
    by_abs = max(stats, key=lambda row: row.max_abs).output
    if answer == expected:
        if by_abs not in ratios or by_abs == expected:
            return f"its largest error is {ratios[expected]:.1%} of its largest value"
        return (f"its largest error is {ratios[expected]:.1%} of its largest value; {by_abs!r}, the largest absolute "
                f"difference, is only {ratios[by_abs]:.1%} of its own")
    by_rel = max(stats, key=lambda row: row.max_rel).output
    by_mean = max(stats, key=lambda row: row.mean_abs).output
    if answer == by_abs:
        raise NotYetRight(f"{answer!r} has the largest absolute difference, but its values are large too "
                          f"({ratios[answer]:.1%} of its largest value); hint: divide each max_abs by the tensor's "
                          "largest |value| in the FP32 run")
    if answer == by_rel:
        raise NotYetRight(f"{answer!r} has the largest elementwise relative difference, which explodes where the "
                          "target is 0 (a division by 2.2e-16); hint: compare max_abs with the tensor's largest |value| "
                          "instead")
    if answer == by_mean:
        raise NotYetRight(f"{answer!r} has the largest mean |diff|, still an absolute measure; hint: divide max_abs by "
                          "the tensor's largest |value|")
    ranked = sorted(ratios, key=lambda name: ratios[name], reverse=True)
    raise NotYetRight(f"{answer!r}: its largest error is {ratios[answer]:.1%} of its largest value, rank "
                      f"{ranked.index(answer) + 1} of {len(ranked)}; hint: max over every tensor of "
                      "max_abs / max |FP32 value|")


@exercise("04.4")
def polygraphy_reading(answer: Any, *, polygraphy_outputs: str, reference_outputs: str, output: str = "logits") -> str:
    """`{"abs": ..., "rel": ..., "raise": "atol" or "rtol"}`: the Minimum Required Tolerance `polygraphy run` printed
    for `output` (recomputed from the outputs it saved and the ones it loaded, which it compares second), and which of
    the two tolerances to raise for logits."""
    import numpy as np

    from utils.compare import first_iteration, load_results

    if not isinstance(answer, Mapping) or set(answer) != {"abs", "rel", "raise"}:
        raise NotYetRight('give a dict {"abs": number, "rel": number, "raise": "atol" or "rtol"}')
    _, ran = first_iteration(load_results(polygraphy_outputs))
    _, loaded = first_iteration(load_results(reference_outputs))
    absdiff, reldiff = _differences(np.asarray(ran[output]), np.asarray(loaded[output]))  # loaded outputs come second
    required = {"abs": float(absdiff.max()), "rel": float(reldiff.max())}
    for key, word in (("abs", "absolute"), ("rel", "relative")):
        said = as_number(answer[key], f"the {word} tolerance Polygraphy printed")
        if not math.isclose(said, required[key], rel_tol=0.01):
            raise NotYetRight(f"{key}={said:.5g} is not what Polygraphy printed for {output!r}; hint: the line "
                              f"'Minimum Required Tolerance: elemwise error | [abs=...] OR [rel=...]' under {output!r}")
    if answer["raise"] not in ("atol", "rtol"):
        raise NotYetRight(f'answer "atol" or "rtol" for "raise", not {answer["raise"]!r}')
    worst = int(reldiff.argmax())
    target_there = float(np.asarray(loaded[output]).ravel()[worst])
    if answer["raise"] == "rtol":
        raise NotYetRight(f"an rtol of {required['rel']:.3g} would let any logit be off by {required['rel']:.0%} of its "
                          f"value: the largest relative difference sits where the FP32 logit is {target_there:.2g}, next to "
                          "zero, where any difference is large relative to it; hint: logits near zero make relative "
                          "tolerances meaningless, absolute ones are not")
    return (f"atol {required['abs']:.3g} lets FP16's logits pass whatever rtol is (an element fails only when it "
            f"exceeds both); rtol alone would have to be {required['rel']:.3g}, set by one logit of {target_there:.2g} "
            "next to zero")
