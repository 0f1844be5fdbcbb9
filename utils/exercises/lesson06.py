"""Checks for the exercises of 06_quantization: SQNR by hand, where entropy calibration clips against max, a
symmetric INT8 scale, and which layer to keep in higher precision first.

Each check recomputes the expected answer from what the notebook measured (the FP32 and INT8 logits, the max and
entropy models, the sensitivity profile, the per-layer SQNR), so it holds for any model and any machine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from utils.exercises.registry import CLOSE, NotYetRight, as_number, close_to, exercise

if TYPE_CHECKING:
    import os

    import numpy as np

    from utils.compare.quality import TensorQuality
    from utils.onnx.sensitivity import SensitivityProfile

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


def _scales(path: str | os.PathLike[str]) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """The per-tensor scales of a Q/DQ model's activation QuantizeLinear nodes, and the weights' scales."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    initializers = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    activations, weights = {}, {}
    for node in model.graph.node:
        if node.op_type != "QuantizeLinear" or node.input[1] not in initializers:
            continue
        if node.input[0] in initializers:
            weights[node.input[0]] = initializers[node.input[1]]
        else:
            activations[node.input[0]] = float(initializers[node.input[1]])
    return activations, weights


@exercise("06.2")
def entropy_clipping(answer: Any, *, max_model: str | os.PathLike[str], entropy_model: str | os.PathLike[str]) -> str:
    """The largest ratio of max calibration's scale to entropy's for the same activation tensor: where entropy clips
    most (its range is that much narrower than the largest value seen)."""
    import numpy as np

    value = as_number(answer, "the largest scale ratio")
    (a, a_weights), (b, b_weights) = _scales(max_model), _scales(entropy_model)
    shared = sorted(a.keys() & b.keys())
    ratios = {name: a[name] / b[name] for name in shared}
    worst = max(ratios, key=lambda name: ratios[name])
    expected = ratios[worst]
    if close_to(value, expected):
        clipped = sum(1 for ratio in ratios.values() if ratio > 1.05)
        return (f"{expected:.2f}x at {worst!r}: entropy's range there is that much narrower than the largest value "
                f"seen; {clipped} of {len(shared)} activation tensors are clipped by more than 5 %. Clipping buys finer "
                "steps for the common values and saturates the rare large ones, which here cost as much as they gained")
    if close_to(value, 1 / expected) or close_to(value, min(b[name] / a[name] for name in shared)):
        raise NotYetRight("that is entropy's scale over max's; divide max's scale by entropy's, so a clipped tensor gives "
                          "a ratio above 1")
    if close_to(value, 1.0):
        raise NotYetRight("1.0 is what the weights give (their scales come from the weights, not the data); hint: keep "
                          "the QuantizeLinear nodes whose input[0] is not an initializer")
    with_weights = max([expected] + [float(np.max(a_weights[n] / b_weights[n])) for n in a_weights.keys() & b_weights.keys()])
    if close_to(value, with_weights) and with_weights != expected:
        raise NotYetRight("that includes the weights' per-channel scales; the question is about activation tensors")
    raise NotYetRight(f"{value:.4g} is not the largest ratio over the {len(shared)} activation tensors both models "
                      "quantize; hint: max(max_scale / entropy_scale for each shared tensor)")


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
def first_to_keep(answer: Any, *, profile: SensitivityProfile, layers: Sequence[TensorQuality]) -> str:
    """(node, predicted SQNR dB): the profile's most sensitive node, and `profile.predicted_sqnr_db([node])`."""
    if not isinstance(answer, tuple | list) or len(answer) != 2:
        raise NotYetRight("give a pair (first_to_keep, predicted_db): a node's name, then an SQNR in dB")
    node, predicted = answer
    rows = {row.node: row for row in profile.nodes}
    expected = profile.nodes[0]
    if not isinstance(node, str):
        raise NotYetRight(f"give the node's name (row.node), not a {type(node).__name__}")
    lowest = min(layers, key=lambda row: row.sqnr_db)
    if node not in rows:
        if node == lowest.name:
            raise NotYetRight(f"{node!r} is the tensor with the lowest SQNR ({lowest.sqnr_db:.1f} dB), and a tensor, not a "
                              "node; its SQNR carries every earlier layer's error; the profile says which node causes "
                              "the noise: hint: the row of profile.nodes with the largest noise_share")
        raise NotYetRight(f"{node!r} is not a quantized node of the profile; hint: row.node for row in profile.nodes")
    if node != expected.node:
        row = rows[node]
        raise NotYetRight(f"{node!r} causes {row.noise_share:.0%} of the INT8 noise by itself; {expected.node!r} causes "
                          f"{expected.noise_share:.0%}: keep the node whose quantization alone costs the most")
    value = as_number(predicted, "the predicted SQNR in dB")
    target = profile.predicted_sqnr_db([node])
    if not math.isclose(value, target, abs_tol=CLOSE_DB):
        if math.isclose(value, expected.sqnr_db, abs_tol=CLOSE_DB):
            raise NotYetRight(f"{value:.1f} dB is the SQNR with {node!r} alone quantized; the question is the SQNR with "
                              "it kept and everything else quantized: hint: profile.predicted_sqnr_db([first_to_keep])")
        raise NotYetRight(f"{value:.4g} dB is not the profile's prediction; hint: profile.predicted_sqnr_db([first_to_keep])")
    return (f"{node!r} alone causes {expected.noise_share:.0%} of the noise; kept, the profile predicts {target:.1f} dB "
            f"(from {profile.full_sqnr_db:.1f} dB on its {profile.samples} inputs). The lowest-SQNR tensor, "
            f"{lowest.name!r}, is where the error shows, not where it is made")
