"""utils.exercises.lesson06: each check accepts the right answer and names each anticipated mistake.

The checks compute the expected answer from what the notebook measured, so the tests give them made-up logits, an
agreement table and per-layer SQNR rows, and derive the right answers here with numpy."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from utils.compare.quality import TensorQuality
from utils.exercises import NotYetRight, check

# --- 06.1: SQNR by hand ------------------------------------------------------------------------------------------------


@pytest.fixture
def logits():
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(8, 50)).astype(np.float32)
    target = (1.1 * reference + 0.05 * rng.normal(size=reference.shape) + 0.01).astype(np.float32)
    return reference, target


def _energies(reference, target):
    ref, tgt = reference.astype(np.float64), target.astype(np.float64)
    return float(np.sum(ref ** 2)), float(np.sum((ref - tgt) ** 2))


def test_06_1_accepts_ten_log10_of_the_energy_ratio(logits, capsys):
    reference, target = logits
    signal, noise = _energies(reference, target)
    expected = 10 * math.log10(signal / noise)
    check("06.1", expected, reference=reference, target=target)
    check("06.1", round(expected, 1), reference=reference, target=target)
    check("06.1", 20 * np.log10(np.linalg.norm(reference.astype(np.float64)) /
                                np.linalg.norm(reference.astype(np.float64) - target)), reference=reference, target=target)
    assert f"{expected:.1f} dB: the noise carries" in capsys.readouterr().out


@pytest.mark.parametrize("make, message", [
    (lambda r, t, s, n: 20 * math.log10(s / n), "that is 20 log10 of an energy ratio"),
    (lambda r, t, s, n: math.log10(s / n), "that is in bels"),
    (lambda r, t, s, n: s / n, "that is the ratio itself"),
    (lambda r, t, s, n: 10 * math.log10(n / s), "upside down: noise / signal"),
    (lambda r, t, s, n: 10 * math.log10(float(np.sum(t.astype(np.float64) ** 2)) / n),
     "the signal is the FP32 reference, not the INT8 output"),
    (lambda r, t, s, n: 10 * math.log10(float(np.sum(np.abs(r))) / float(np.sum(np.abs(r.astype(np.float64) - t)))),
     "that uses absolute values"),
    (lambda r, t, s, n: 10 * math.log10(s / float(np.sum(r.astype(np.float64) - t) ** 2)),
     "you squared the sum of the differences"),
    (lambda r, t, s, n: 1.0, "1 dB is not the SQNR of these logits"),
    (lambda r, t, s, n: "20 dB", "give the SQNR in dB as one number, not a str"),
])
def test_06_1_mistakes(logits, make, message):
    reference, target = logits
    with pytest.raises(NotYetRight, match=re.escape(message)):
        check("06.1", make(reference, target, *_energies(reference, target)), reference=reference, target=target)


def test_06_1_equal_runs_have_infinite_sqnr(logits):
    reference, _ = logits
    check("06.1", math.inf, reference=reference, target=reference.copy())
    with pytest.raises(NotYetRight, match="here the SQNR is inf dB"):
        check("06.1", 99.0, reference=reference, target=reference.copy())


# --- 06.2: which calibration to deploy -------------------------------------------------------------------------------

AGREEMENT = {"FP16": (0.98, 0.99, 45.0), "INT8 max": (0.81, 0.89, 17.3), "INT8 entropy": (0.84, 0.88, 15.6),
             "INT8 noise-calibrated": (0.83, 0.86, 12.5), "INT8 percentile": (0.80, 0.92, 16.0)}


def _best_int8_by_sqnr(agreement):
    return max((label for label in agreement if label.startswith("INT8")), key=lambda label: agreement[label][2])


def test_06_2_accepts_the_int8_model_with_the_best_sqnr(capsys):
    check("06.2", _best_int8_by_sqnr(AGREEMENT), agreement=AGREEMENT, inputs=64)
    assert "INT8 max: 17.3 dB of logit SQNR (against INT8 entropy 15.6 dB" in capsys.readouterr().out
    swapped = {**AGREEMENT, "INT8 entropy": (0.84, 0.88, 18.0)}
    check("06.2", _best_int8_by_sqnr(swapped), agreement=swapped, inputs=64)


@pytest.mark.parametrize("answer, message", [
    ("FP16", "'FP16' is not an INT8 model"),
    ("INT8 entropy", "'INT8 entropy' has the best top-1 agreement, but on 64 inputs each input moves top-1 by 1.6%"),
    ("INT8 noise-calibrated", "'INT8 noise-calibrated' was calibrated on random noise"),
    ("INT8 percentile", "'INT8 percentile' has the best top-5 overlap"),
    ("entropy", "'entropy' is not in the table; the INT8 labels are ['INT8 max', 'INT8 entropy'"),
    (("INT8 max",), "give the label as a str"),
])
def test_06_2_mistakes(answer, message):
    with pytest.raises(NotYetRight, match=re.escape(message)):
        check("06.2", answer, agreement=AGREEMENT, inputs=64)


def test_06_2_names_a_lower_sqnr_when_no_other_mistake_explains_it():
    table = {**AGREEMENT, "INT8 minmax": (0.70, 0.80, 14.0)}
    with pytest.raises(NotYetRight, match="'INT8 minmax' keeps 14.0 dB of logit SQNR; another INT8 model keeps more"):
        check("06.2", "INT8 minmax", agreement=table, inputs=64)


# --- 06.3: a symmetric INT8 scale ---------------------------------------------------------------------------------------


@pytest.fixture
def calibration():
    rng = np.random.default_rng(3)
    tensor = rng.normal(size=(6, 40)).astype(np.float32)
    tensor[0] *= 0.5  # the values quantized (row 0) do not reach the tensor's largest value
    tensor[2, 5] = -9.0  # the largest magnitude is negative: max() and max(|x|) differ
    return tensor


def _int8(values, tensor):
    scale = float(np.abs(tensor.astype(np.float64)).max()) / 127
    return scale, np.clip(np.round(values.astype(np.float64) / scale), -127, 127)


def test_06_3_accepts_amax_over_127_and_rounded_levels(calibration, capsys):
    scale, q = _int8(calibration[0], calibration)
    check("06.3", (scale, q.astype(np.int8)), tensor=calibration, values=calibration[0])
    check("06.3", [np.float32(scale), q.tolist()], tensor=calibration, values=calibration[0])
    float32_q = np.clip(np.round(calibration[0] / np.float32(scale)), -127, 127)  # float32 arithmetic
    check("06.3", (scale, float32_q), tensor=calibration, values=calibration[0])
    assert f"scale {scale:.4g}; dequantized, q * scale is off by at most" in capsys.readouterr().out


def test_06_3_clips_values_beyond_amax(calibration):
    values = calibration[0] * 20
    scale, q = _int8(values, calibration)
    assert np.abs(q).max() == 127
    check("06.3", (scale, q), tensor=calibration, values=values)
    with pytest.raises(NotYetRight, match=re.escape("some values lie beyond amax: clip q to -127..127")):
        check("06.3", (scale, np.round(values / scale)), tensor=calibration, values=values)


@pytest.mark.parametrize("make_scale, message", [
    (lambda amax, t, v: amax / 128, "the scale: amax / 128: symmetric INT8 uses -127..127"),
    (lambda amax, t, v: amax / 255, "the scale: amax / 255 spreads the range over 256 levels"),
    (lambda amax, t, v: amax / 256, "the scale: amax / 256 is not the INT8 step"),
    (lambda amax, t, v: 2 * amax / 255, "the scale: 2 amax / 255 is the asymmetric step"),
    (lambda amax, t, v: 127 / amax, "the scale: upside down: that is 1 / scale"),
    (lambda amax, t, v: amax * 127, "the scale: amax * 127"),
    (lambda amax, t, v: float(t.max()) / 127, "the scale: that uses the largest value, not the largest magnitude"),
    (lambda amax, t, v: float(np.abs(v).max()) / 127, "the scale: that uses only the values you quantize"),
    (lambda amax, t, v: 0.5, "the scale 0.5 is not amax / 127"),
])
def test_06_3_scale_mistakes(calibration, make_scale, message):
    amax = float(np.abs(calibration).max())
    _, q = _int8(calibration[0], calibration)
    with pytest.raises(NotYetRight, match=re.escape(message)):
        check("06.3", (make_scale(amax, calibration, calibration[0]), q), tensor=calibration, values=calibration[0])


@pytest.mark.parametrize("make_q, message", [
    (lambda x, s: x / s, "q is values / scale, not yet integers; hint: np.round"),
    (lambda x, s: np.sqrt(np.abs(x)), "q must hold integers"),
    (lambda x, s: (x / s).astype(np.int8), "q was truncated toward zero"),
    (lambda x, s: np.floor(x / s), "q was rounded down (floor)"),
    (lambda x, s: np.round(x * s), "q = values * scale; quantizing divides by the scale"),
    (lambda x, s: np.round(x / s)[:10], "q has shape [10]; quantize every value, shape [40]"),
    (lambda x, s: np.round(x / s) + (np.arange(x.size) == 0), "1 of 40 values are not clip(round(values / scale)"),
])
def test_06_3_level_mistakes(calibration, make_q, message):
    x = calibration[0].astype(np.float64)
    scale, _ = _int8(x, calibration)
    with pytest.raises(NotYetRight, match=re.escape(message)):
        check("06.3", (scale, make_q(x, scale)), tensor=calibration, values=calibration[0])


@pytest.mark.parametrize("answer, message", [(0.07, "give a pair (scale, q)"), ((1, 2, 3), "give a pair (scale, q)"),
                                             (("0.07", [1]), "give the scale as one number, not a str")])
def test_06_3_shape_of_the_answer(calibration, answer, message):
    with pytest.raises(NotYetRight, match=re.escape(message)):
        check("06.3", answer, tensor=calibration, values=calibration[0])


# --- 06.4: the tensors below an SQNR target --------------------------------------------------------------------------

TARGET = 20.0


def _rows(sqnr):
    return [TensorQuality(name=name, sqnr_db=value, cosine=0.99, max_abs=1.0 / (i + 1))
            for i, (name, value) in enumerate(sqnr.items())]


@pytest.fixture
def tables():
    int8 = _rows({"stem": 12.3, "clip": 32.9, "pw": 17.1, "add": 19.3, "head": 16.1, "line": 20.0, "logits": 21.1})
    fp16 = _rows({"stem": 69.0, "clip": 50.0, "pw": 19.5, "add": 45.0, "head": 43.0, "line": 44.0, "logits": 49.2})
    return int8, fp16


def _below(rows):
    return [row.name for row in sorted(rows, key=lambda row: row.sqnr_db) if row.sqnr_db < TARGET]


def test_06_4_accepts_the_names_below_the_target_lowest_first(tables, capsys):
    int8, fp16 = tables
    expected = _below(int8)
    check("06.4", expected, layers=int8, fp16_layers=fp16, target_db=TARGET)
    check("06.4", tuple(expected), layers=int8, fp16_layers=fp16, target_db=TARGET)
    assert f"4 of 7 tensors are below 20 dB; keep {expected[0]!r}" in capsys.readouterr().out


def test_06_4_nothing_below_the_target(tables, capsys):
    int8, fp16 = tables
    check("06.4", [], layers=int8, fp16_layers=fp16, target_db=5.0)
    assert "no tensor is below 5 dB" in capsys.readouterr().out


@pytest.mark.parametrize("make, message", [
    (lambda int8, fp16: _below(fp16), "that is the FP16 table"),
    (lambda int8, fp16: [r.name for r in int8 if r.sqnr_db >= TARGET], "those meet the target"),
    (lambda int8, fp16: [r.name for r in int8 if r.sqnr_db < TARGET], "the right tensors, in network order"),
    (lambda int8, fp16: _below(int8)[::-1], "the right tensors, highest SQNR first"),
    (lambda int8, fp16: sorted(_below(int8)),
     "the right tensors, not sorted by SQNR"),
    (lambda int8, fp16: _below(int8) + ["line"], "'line' has 20.0 dB, which meets the 20 dB target (on the line counts"),
    (lambda int8, fp16: _below(int8) + ["clip"], "'clip' has 32.9 dB, which meets the 20 dB target"),
    (lambda int8, fp16: _below(int8)[:2], "2 missing, e.g. 'pw' at 17.1 dB"),
    (lambda int8, fp16: _below(int8) + [_below(int8)[0]], "a name appears twice"),
    (lambda int8, fp16: _below(int8) + ["conv"], "'conv' is not a tensor of the INT8 table"),
    (lambda int8, fp16: "stem", "give a list of names, lowest SQNR first, not one str"),
    (lambda int8, fp16: sorted(int8, key=lambda r: r.sqnr_db)[:4], "give the tensors' names (row.name)"),
    (lambda int8, fp16: 3, "give a list of tensor names, not a int"),
])
def test_06_4_mistakes(tables, make, message):
    int8, fp16 = tables
    with pytest.raises(NotYetRight, match=re.escape(message)):
        check("06.4", make(int8, fp16), layers=int8, fp16_layers=fp16, target_db=TARGET)
