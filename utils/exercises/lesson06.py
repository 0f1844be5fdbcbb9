"""Checks for the exercises of 06_quantization: SQNR by hand, choosing a calibration, a symmetric INT8 scale, and the
tensors below an SQNR target.

Each check recomputes the expected answer from what the notebook measured (the FP32 and INT8 logits, the agreement
table, the per-layer SQNR), so it holds for any model and any machine.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from utils.exercises.registry import CLOSE, NotYetRight, as_number, close_to, exercise

if TYPE_CHECKING:
    import numpy as np

    from utils.compare.quality import TensorQuality

CLOSE_DB = 0.05  # dB: an SQNR rounded to one decimal still counts
HALFWAY = 1e-4  # how close to .5 a value / scale must be for either rounding to count
INT8_MAX = 127  # symmetric INT8: -127..127, zero point 0 (TensorRT's Q/DQ)




@exercise("06.1")
def sqnr_by_hand(answer: Any, *, reference: np.ndarray, target: np.ndarray) -> str:
    """10 log10(sum reference^2 / sum (reference - target)^2), in dB."""
    import numpy as np

    from utils.compare.quality import sqnr_db

    value = as_number(answer, "the SQNR in dB")
    expected = sqnr_db(reference, target)
    if not math.isfinite(expected):
        if value == expected:
            return f"{expected} dB: {'the two are equal' if expected > 0 else 'no signal survives'}"
        why = "no noise at all" if expected > 0 else "an overflow, or no signal"
        raise NotYetRight(f"here the SQNR is {expected} dB ({why}); hint: "
                          "10 * np.log10(np.sum(reference ** 2) / np.sum((reference - target) ** 2))")
    if math.isclose(value, expected, abs_tol=CLOSE_DB):
        return (f"{expected:.1f} dB: the noise carries 10^(-{expected:.1f}/10) = {10 ** (-expected / 10):.2%} of the "
                f"signal's energy, about {expected / 6.02:.1f} bits of agreement")
    ref = np.asarray(reference, np.float64)
    tgt = np.asarray(target, np.float64)
    signal, noise = float(np.sum(ref ** 2)), float(np.sum((ref - tgt) ** 2))
    ratio = signal / noise
    mistakes = [
        (2 * expected, "that is 20 log10 of an energy ratio: sums of squares are energies (power), so the factor is 10; "
                       "20 goes with amplitudes (norms, not squared)"),
        (expected / 10, "that is in bels: log10 of the ratio without the factor 10; hint: 10 * np.log10(...)"),
        (ratio, "that is the ratio itself; SQNR is in dB: hint: 10 * np.log10(signal / noise)"),
        (-expected, "upside down: noise / signal; the signal (the FP32 reference) goes on top"),
        (10 * math.log10(float(np.sum(tgt ** 2)) / noise), "the signal is the FP32 reference, not the INT8 output; "
                                                            "hint: np.sum(reference ** 2)"),
        (10 * math.log10(float(np.sum(np.abs(ref))) / float(np.sum(np.abs(ref - tgt)))),
         "that uses absolute values; SQNR compares energies, sums of squares; hint: np.sum(reference ** 2)"),
        (10 * math.log10(signal / float(np.sum(ref - tgt) ** 2)) if np.sum(ref - tgt) else math.nan,
         "you squared the sum of the differences; square each difference, then sum: positive and negative errors "
         "must not cancel; hint: np.sum((reference - target) ** 2)"),
    ]
    for wrong, message in mistakes:
        if math.isclose(value, wrong, rel_tol=CLOSE, abs_tol=CLOSE_DB / 10):
            raise NotYetRight(message)
    raise NotYetRight(f"{value:.4g} dB is not the SQNR of these logits; hint: 10 * np.log10(np.sum(reference ** 2) / "
                      "np.sum((reference - target) ** 2)), in float64")


@exercise("06.2")
def choose_calibration(answer: Any, *, agreement: Mapping[str, tuple[float, float, float]], inputs: int) -> str:
    """The INT8 model (a label of `agreement`, value (top-1, top-5, SQNR dB)) with the highest logit SQNR."""
    int8 = [label for label in agreement if label.upper().startswith("INT8")]
    if not isinstance(answer, str):
        raise NotYetRight(f"give the label as a str, one of {int8}, not a {type(answer).__name__}")
    if answer not in agreement:
        raise NotYetRight(f"{answer!r} is not in the table; the INT8 labels are {int8}")
    if answer not in int8:
        raise NotYetRight(f"{answer!r} is not an INT8 model; the question is which INT8 calibration to deploy")
    expected = max(int8, key=lambda label: agreement[label][2])
    if answer == expected:
        others = ", ".join(f"{label} {agreement[label][2]:.1f} dB" for label in int8 if label != expected)
        return f"{expected}: {agreement[expected][2]:.1f} dB of logit SQNR (against {others})"
    if "noise" in answer.lower():
        raise NotYetRight(f"{answer!r} was calibrated on random noise: its scales fit inputs the model never sees in "
                          f"service, and its logit SQNR ({agreement[answer][2]:.1f} dB) shows it; never deploy that")
    best_top1 = max(int8, key=lambda label: agreement[label][0])
    if agreement[answer][0] == agreement[best_top1][0]:
        raise NotYetRight(f"{answer!r} has the best top-1 agreement, but on {inputs} inputs each input moves top-1 by "
                          f"{1 / inputs:.1%}: one or two photos decide it; judge by logit SQNR (index 2 of each row), "
                          f"the steadier measure")
    best_top5 = max(int8, key=lambda label: agreement[label][1])
    if answer == best_top5:
        raise NotYetRight(f"{answer!r} has the best top-5 overlap, by a few classes on {inputs} inputs; the question "
                          "asks for the best logit SQNR (index 2 of each row)")
    raise NotYetRight(f"{answer!r} keeps {agreement[answer][2]:.1f} dB of logit SQNR; another INT8 model keeps more; "
                      "hint: max(labels, key=lambda label: agreement[label][2])")


@exercise("06.3")
def symmetric_int8(answer: Any, *, tensor: np.ndarray, values: np.ndarray) -> str:
    """(scale, q): scale = max |tensor| / 127, q = clip(round(values / scale), -127, 127) as integers."""
    import numpy as np

    if not isinstance(answer, tuple | list) or len(answer) != 2:
        raise NotYetRight("give a pair (scale, q): the scale, then the quantized values")
    scale_answer, q_answer = answer
    scale = as_number(scale_answer, "the scale")
    data = np.asarray(tensor, np.float64)
    amax = float(np.abs(data).max())
    expected_scale = amax / INT8_MAX
    x = np.asarray(values, np.float64)
    if not close_to(scale, expected_scale):
        scale_mistakes = [
            (amax / 128, "amax / 128: symmetric INT8 uses -127..127 (TensorRT leaves -128 out, so the range is "
                         "symmetric); hint: amax / 127"),
            (amax / 255, "amax / 255 spreads the range over 256 levels of an unsigned or asymmetric type; symmetric "
                         "INT8 maps [-amax, amax] onto -127..127; hint: amax / 127"),
            (amax / 256, "amax / 256 is not the INT8 step; hint: amax / 127"),
            (2 * amax / 255, "2 amax / 255 is the asymmetric step over [-amax, amax]; the symmetric one is amax / 127"),
            (INT8_MAX / amax, "upside down: that is 1 / scale; the scale is the real value of one integer step, "
                              "amax / 127"),
            (amax * INT8_MAX, "amax * 127; the scale is amax / 127"),
            (float(data.max()) / INT8_MAX, "that uses the largest value, not the largest magnitude: the most negative "
                                           "value may be bigger in size; hint: np.abs(tensor).max()"),
            (float(np.abs(x).max()) / INT8_MAX, "that uses only the values you quantize; the scale comes from the whole "
                                                "calibration data (tensor); hint: np.abs(tensor).max() / 127"),
        ]
        for wrong, message in scale_mistakes:
            if close_to(scale, wrong):
                raise NotYetRight(f"the scale: {message}")
        raise NotYetRight(f"the scale {scale:.4g} is not amax / 127 with amax = max |tensor|; hint: "
                          "np.abs(tensor).max() / 127")
    try:
        q = np.asarray(q_answer, np.float64)
    except (TypeError, ValueError):
        raise NotYetRight(f"give q as an array of integers, not a {type(q_answer).__name__}") from None
    if q.shape != x.shape:
        raise NotYetRight(f"q has shape {list(q.shape)}; quantize every value, shape {list(x.shape)}")
    exact = x / expected_scale
    expected_q = np.clip(np.round(exact), -INT8_MAX, INT8_MAX)
    # float32 arithmetic may round a value lying within a hair of .5 the other way: either level counts there
    halfway = np.abs(np.abs(exact - np.floor(exact)) - 0.5) < HALFWAY
    if np.array_equal(q, expected_q) or (np.abs(q - expected_q) <= 1).all() and halfway[q != expected_q].all():
        error = float(np.abs(x - expected_q * expected_scale).max())
        return (f"scale {expected_scale:.4g}; dequantized, q * scale is off by at most {error:.3g}, within half a "
                f"step ({expected_scale / 2:.3g})")
    if not np.array_equal(q, np.round(q)):
        if np.allclose(q, exact, rtol=CLOSE):
            raise NotYetRight("q is values / scale, not yet integers; hint: np.round, then np.clip to -127..127")
        raise NotYetRight("q must hold integers; hint: np.round(values / scale)")
    if np.array_equal(q, np.clip(np.trunc(exact), -INT8_MAX, INT8_MAX)):
        raise NotYetRight("q was truncated toward zero (int() or astype cut off the fraction); round to the nearest "
                          "level; hint: np.round(values / scale) before astype")
    if np.array_equal(q, np.clip(np.floor(exact), -INT8_MAX, INT8_MAX)):
        raise NotYetRight("q was rounded down (floor); round to the nearest level; hint: np.round(values / scale)")
    if np.array_equal(q, np.round(exact)):
        raise NotYetRight("some values lie beyond amax: clip q to -127..127; hint: np.clip(..., -127, 127)")
    if np.array_equal(q, np.round(x * expected_scale)):
        raise NotYetRight("q = values * scale; quantizing divides by the scale: hint: np.round(values / scale)")
    wrong = int(np.count_nonzero(q != expected_q))
    raise NotYetRight(f"{wrong} of {q.size} values are not clip(round(values / scale), -127, 127)")


@exercise("06.4")
def below_target(answer: Any, *, layers: Sequence[TensorQuality], fp16_layers: Sequence[TensorQuality],
                 target_db: float) -> str:
    """The names of the tensors whose SQNR is below `target_db`, lowest SQNR first."""
    sqnr = {row.name: row.sqnr_db for row in layers}
    expected = [row.name for row in sorted(layers, key=lambda row: row.sqnr_db) if row.sqnr_db < target_db]
    if isinstance(answer, str):
        raise NotYetRight("give a list of names, lowest SQNR first, not one str; hint: [row.name for row in "
                          "sorted(...) if row.sqnr_db < target]")
    try:
        names = list(answer)
    except TypeError:
        raise NotYetRight(f"give a list of tensor names, not a {type(answer).__name__}") from None
    if any(not isinstance(name, str) for name in names):
        raise NotYetRight("give the tensors' names (row.name), not the rows or their SQNR")
    if names == expected:
        if not expected:
            return f"no tensor is below {target_db:g} dB"
        return (f"{len(expected)} of {len(layers)} tensors are below {target_db:g} dB; keep {expected[0]!r} "
                f"({sqnr[expected[0]]:.1f} dB) in FP32 first, then measure again: each tensor's SQNR carries the "
                "error of every layer before it, so one change moves the whole table")
    fp16_below = {row.name for row in fp16_layers if row.sqnr_db < target_db}
    if set(names) == fp16_below and set(names) != set(expected):
        raise NotYetRight("that is the FP16 table; the question is about INT8 (per_layer['INT8 max'])")
    unknown = [name for name in names if name not in sqnr]
    if unknown:
        raise NotYetRight(f"{unknown[0]!r} is not a tensor of the INT8 table; hint: row.name for row in "
                          "per_layer['INT8 max']")
    if len(set(names)) != len(names):
        raise NotYetRight("a name appears twice; each tensor once")
    if set(names) == {name for name in sqnr if sqnr[name] >= target_db}:
        raise NotYetRight(f"those meet the target; the tensors to keep in FP32 are the ones below {target_db:g} dB")
    if set(names) == set(expected):
        if names == sorted(expected, key=list(sqnr).index):
            raise NotYetRight("the right tensors, in network order; sort them by SQNR, lowest first: the first is the "
                              "one to keep in FP32 first")
        if names == expected[::-1]:
            raise NotYetRight("the right tensors, highest SQNR first; the lowest goes first")
        raise NotYetRight("the right tensors, not sorted by SQNR; hint: sorted(rows, key=lambda row: row.sqnr_db)")
    extra = [name for name in names if name not in expected]
    if extra:
        raise NotYetRight(f"{extra[0]!r} has {sqnr[extra[0]]:.1f} dB, which meets the {target_db:g} dB target"
                          f"{' (on the line counts as meeting it)' if sqnr[extra[0]] == target_db else ''}")
    missing = [name for name in expected if name not in names]
    raise NotYetRight(f"{len(missing)} missing, e.g. {missing[0]!r} at {sqnr[missing[0]]:.1f} dB; hint: every row "
                      f"with sqnr_db < {target_db:g}")
