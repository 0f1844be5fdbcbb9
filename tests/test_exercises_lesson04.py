"""utils.exercises.lesson04: each check accepts the right answer and names each anticipated mistake.

The checks compute the expected answer from the notebook's outputs, so the tests give them made-up FP32 and FP16
arrays (chosen so that each mistake gives a different number) and derive the right answers here with numpy."""

from __future__ import annotations

import re

import numpy as np
import pytest

from utils.compare.stats import OutputStats
from utils.exercises import NotYetRight, check

EPSILON = 2.220446049250313e-16  # Polygraphy's stand-in for a zero of the target


def _polygraphy(reference, target):
    """|diff| and |diff| / |target| as Polygraphy computes them, written out independently of utils.compare."""
    a, b = reference.astype(np.float64), target.astype(np.float64)
    absdiff = np.abs(a - b)
    return absdiff, absdiff / np.abs(np.where(b == 0, EPSILON, b))


# --- 04.1: the smallest atol at a given rtol --------------------------------------------------------------------------

RTOL = 1e-2


@pytest.fixture
def logits():
    # One large value whose big |diff| is within rtol, and elements beyond rtol with smaller |diff|.
    reference = np.array([100.0, 1.0, 0.5, 2.0, -3.0, 7.0], np.float32)
    target = (reference + np.array([0.5, 0.05, 0.001, 0.03, 0.002, 0.04], np.float32)).astype(np.float16)
    return reference, target


def _smallest(reference, target, rtol=RTOL):
    absdiff, reldiff = _polygraphy(reference, target)
    return float(absdiff[reldiff > rtol].max())


def test_04_1_accepts_the_largest_difference_beyond_rtol(logits, capsys):
    reference, target = logits
    check("04.1", _smallest(reference, target), reference=reference, target=target, rtol=RTOL)
    out = capsys.readouterr().out
    assert "✓ 04.1 correct" in out and "of 6 elements are within rtol" in out
    check("04.1", np.float32(_smallest(reference, target)), reference=reference, target=target, rtol=RTOL)


def test_04_1_with_nothing_beyond_rtol_any_atol_from_zero_passes(logits):
    reference, _ = logits
    check("04.1", 0.0, reference=reference, target=reference.copy(), rtol=RTOL)


@pytest.mark.parametrize("make, message", [
    (lambda r, t: float(_polygraphy(r, t)[0].max()), "is the largest |diff| of all elements: it passes, but it is "
                                                      "not the smallest"),
    (lambda r, t: 2 * _smallest(r, t), "passes, but a smaller atol passes too"),
    (lambda r, t: RTOL, "is the rtol; the question is the atol that goes with it"),
    (lambda r, t: float(np.median(_polygraphy(r, t)[0])), "is a typical |diff| (mean or median)"),
    (lambda r, t: 0.9 * _smallest(r, t), "too small: 1 elements still exceed both"),
    (lambda r, t: "0.05", "give the tolerance as one number, not a str"),
    (lambda r, t: True, "not a bool"),
    (lambda r, t: -1.0, "a tolerance is a finite number >= 0"),
])
def test_04_1_mistakes(logits, make, message):
    reference, target = logits
    with pytest.raises(NotYetRight, match=re.escape(message)):
        check("04.1", make(reference, target), reference=reference, target=target, rtol=RTOL)


# --- 04.2: rtol alone next to zeros -----------------------------------------------------------------------------------


@pytest.fixture
def clipped():
    # Element 0: FP16 gives exactly 0 where FP32 does not; element 3: both give 0.
    reference = np.array([1e-3, 0.5, 2.0, 0.0, 4.0], np.float32)
    target = np.array([0.0, 0.49, 2.01, 0.0, 4.0], np.float16)
    return reference, target


def test_04_2_accepts_the_largest_relative_difference_zeros_included(clipped, capsys):
    reference, target = clipped
    expected = float(_polygraphy(reference, target)[1].max())
    check("04.2", expected, reference=reference, target=target)
    out = capsys.readouterr().out
    assert "✓ 04.2 correct" in out and "1 elements are exactly 0 in the target" in out and "only atol can judge" in out


@pytest.mark.parametrize("make, message", [
    (lambda r, t, nonzero: nonzero, "you left out the 1 elements where the target is exactly 0"),
    (lambda r, t, nonzero: float("inf"), "inf: you divided by |target| where the target is 0"),
    (lambda r, t, nonzero: float("nan"), "nan: 0 / 0 where both runs give 0"),
    (lambda r, t, nonzero: float(_polygraphy(t.astype(np.float32), r)[1].max()), "you divided by |reference|"),
    (lambda r, t, nonzero: float(_polygraphy(r, t)[0].max()), "is the largest absolute difference"),
    (lambda r, t, nonzero: 1e3, "too small: with atol = 0, 1 elements still have |diff| / |target| > 1000"),
    (lambda r, t, nonzero: 1e20, "passes, but a smaller rtol passes too"),
    (lambda r, t, nonzero: [1e12], "give the rtol as one number, not a list"),
])
def test_04_2_mistakes(clipped, make, message):
    reference, target = clipped
    absdiff, reldiff = _polygraphy(reference, target)
    nonzero = float(reldiff[target != 0].max())
    with pytest.raises(NotYetRight, match=re.escape(message)):
        check("04.2", make(reference, target, nonzero), reference=reference, target=target)


# --- 04.3: the largest error for its magnitude ------------------------------------------------------------------------


def _row(name, max_abs, mean_abs, max_rel):
    return OutputStats(output=name, shape="4", max_abs=max_abs, mean_abs=mean_abs, median_abs=mean_abs,
                       max_rel=max_rel, mean_rel=max_rel / 10, median_rel=max_rel / 100, passed=False)


@pytest.fixture
def layers():
    """Stats and FP32 values of five tensors: the largest |diff|, mean |diff|, reldiff and |diff| / magnitude are
    each held by a different one."""
    magnitudes = {"big": 100.0, "zeros": 1.0, "small": 0.1, "mean": 50.0, "quiet": 1.0}
    stats = [_row("big", 1.0, 0.3, 0.05), _row("zeros", 0.02, 0.001, 1e12), _row("small", 0.01, 0.002, 0.3),
             _row("mean", 0.6, 0.55, 0.02), _row("quiet", 0.001, 0.0001, 0.01)]
    reference = {name: np.array([magnitude, -magnitude / 2, 0.0, magnitude / 3], np.float32)
                 for name, magnitude in magnitudes.items()}
    return stats, reference


def _ratios(stats, reference):
    return {row.output: row.max_abs / float(np.abs(reference[row.output]).max()) for row in stats}


def test_04_3_accepts_the_largest_ratio_to_the_magnitude(layers, capsys):
    stats, reference = layers
    ratios = _ratios(stats, reference)
    expected = max(ratios, key=ratios.get)
    check("04.3", expected, stats=stats, reference=reference)
    out = capsys.readouterr().out
    assert f"{ratios[expected]:.1%} of its largest value" in out and "'big', the largest absolute difference" in out


@pytest.mark.parametrize("answer, message", [
    ("big", "'big' has the largest absolute difference, but its values are large too (1.0% of its largest value)"),
    ("zeros", "'zeros' has the largest elementwise relative difference, which explodes where the target is 0"),
    ("mean", "'mean' has the largest mean |diff|, still an absolute measure"),
    ("quiet", "'quiet': its largest error is 0.1% of its largest value, rank 5 of 5"),
    ("logits", "there is no compared tensor called 'logits'"),
    (3, "give the tensor's name as a str (like 'quiet'), not a int"),
])
def test_04_3_mistakes(layers, answer, message):
    stats, reference = layers
    assert max(_ratios(stats, reference), key=_ratios(stats, reference).get) != answer
    with pytest.raises(NotYetRight, match=re.escape(message)):
        check("04.3", answer, stats=stats, reference=reference)


def test_04_3_a_tensor_of_zeros_has_no_magnitude(layers):
    stats, reference = layers
    reference = {**reference, "quiet": np.zeros(4, np.float32)}
    with pytest.raises(NotYetRight, match="'quiet' is all zeros in the FP32 run"):
        check("04.3", "quiet", stats=stats, reference=reference)


# --- 04.4: reading what `polygraphy run` printed ----------------------------------------------------------------------

@pytest.fixture
def saved_runs(tmp_path):
    """The two files of the exercise, in Polygraphy's --save-outputs format: the FP16 run and the FP32 outputs it loaded."""
    from utils.compare import results_from_arrays, save_results

    fp32 = np.array([[4.0, -2.0, 0.01, 1.0]], np.float32)
    fp16 = np.array([[4.004, -2.002, 0.0105, 1.003]], np.float32)
    ran = save_results(results_from_arrays([{"logits": fp16}], "onnxrt-runner"), tmp_path / "fp16_cli.json")
    loaded = save_results(results_from_arrays([{"logits": fp32}], "onnxrt-fp32"), tmp_path / "fp32.json")
    absdiff, reldiff = _polygraphy(fp16, fp32)  # the loaded outputs are compared second: they are the target
    return ran, loaded, float(absdiff.max()), float(reldiff.max())


def test_04_4_accepts_the_printed_minimum_and_atol(saved_runs, capsys):
    ran, loaded, abs_needed, rel_needed = saved_runs
    assert abs_needed == pytest.approx(0.004, rel=1e-3) and rel_needed == pytest.approx(0.05, rel=1e-3)
    check("04.4", {"abs": round(abs_needed, 5), "rel": round(rel_needed, 4), "raise": "atol"},
          polygraphy_outputs=ran, reference_outputs=loaded)
    assert "rtol alone would have to be 0.05, set by one logit of 0.01 next to zero" in capsys.readouterr().out


def test_04_4_mistakes(saved_runs):
    ran, loaded, abs_needed, rel_needed = saved_runs
    context = {"polygraphy_outputs": ran, "reference_outputs": loaded}
    with pytest.raises(NotYetRight, match=re.escape("rel=0.001 is not what Polygraphy printed for 'logits'")):
        check("04.4", {"abs": abs_needed, "rel": 1e-3, "raise": "atol"}, **context)
    with pytest.raises(NotYetRight, match="abs=0.05 is not what Polygraphy printed"):  # the two swapped
        check("04.4", {"abs": rel_needed, "rel": abs_needed, "raise": "atol"}, **context)
    with pytest.raises(NotYetRight, match="an rtol of 0.05 would let any logit be off by 5% of its value: the largest "
                                          "relative difference sits where the FP32 logit is 0.01"):
        check("04.4", {"abs": abs_needed, "rel": rel_needed, "raise": "rtol"}, **context)
    with pytest.raises(NotYetRight, match=re.escape('give a dict {"abs": number, "rel": number, "raise": "atol" or "rtol"}')):
        check("04.4", (abs_needed, rel_needed), **context)
    with pytest.raises(NotYetRight, match='answer "atol" or "rtol"'):
        check("04.4", {"abs": abs_needed, "rel": rel_needed, "raise": "both"}, **context)
