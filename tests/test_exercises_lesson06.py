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


# --- 06.2: where entropy clips against max -----------------------------------------------------------------------


def _qdq_model(path, activation_scales, weight_scale):
    """A Q/DQ model with one activation QuantizeLinear per (tensor, scale) and one per-channel weight QuantizeLinear."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits = [numpy_helper.from_array(np.ones((2, 2), np.float32), "w"),
             numpy_helper.from_array(np.asarray(weight_scale, np.float32), "w_scale")]
    nodes = [helper.make_node("QuantizeLinear", ["w", "w_scale"], ["wq"], axis=0)]
    previous = "x"
    for index, (tensor, scale) in enumerate(activation_scales.items()):
        inits.append(numpy_helper.from_array(np.array(scale, np.float32), f"s{index}"))
        nodes += [helper.make_node("Relu", [previous], [tensor]),
                  helper.make_node("QuantizeLinear", [tensor, f"s{index}"], [f"{tensor}_q"])]
        previous = tensor
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info(previous, TensorProto.FLOAT, [2])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)]), str(path))
    return path


@pytest.fixture
def max_and_entropy(tmp_path):
    max_model = _qdq_model(tmp_path / "max.onnx", {"t0": 0.5, "t1": 0.02, "t2": 1.0}, [0.8, 0.2])
    entropy_model = _qdq_model(tmp_path / "entropy.onnx", {"t0": 0.25, "t1": 0.0204, "t2": 1.0}, [0.1, 0.2])
    return max_model, entropy_model  # entropy clips t0 to half; the weights differ 8x, but they are weights


def test_06_2_accepts_the_largest_ratio_of_max_to_entropy(max_and_entropy, capsys):
    max_model, entropy_model = max_and_entropy
    check("06.2", 2.0, max_model=max_model, entropy_model=entropy_model)
    said = capsys.readouterr().out
    assert "2.00x at 't0': entropy's range there is that much narrower" in said
    assert "1 of 3 activation tensors are clipped by more than 5 %" in said


@pytest.mark.parametrize("answer, message", [
    (0.5, "that is entropy's scale over max's"),
    (1.0, "1.0 is what the weights give"),
    (8.0, "that includes the weights' per-channel scales"),
    (1.5, "1.5 is not the largest ratio over the 3 activation tensors"),
    ("2x", "give the largest scale ratio as one number"),
])
def test_06_2_mistakes(max_and_entropy, answer, message):
    max_model, entropy_model = max_and_entropy
    with pytest.raises(NotYetRight, match=re.escape(message)):
        check("06.2", answer, max_model=max_model, entropy_model=entropy_model)


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


# --- 06.4: which layer to keep first ------------------------------------------------------------------------------------


@pytest.fixture
def profile_and_layers():
    from utils.onnx.sensitivity import NodeSensitivity, SensitivityProfile

    profile = SensitivityProfile([NodeSensitivity("dw0", "Conv", 22.0, 0.55), NodeSensitivity("pw3", "Conv", 31.0, 0.06),
                                  NodeSensitivity("stem", "Conv", 31.5, 0.05)], 19.0, 8, 5)
    layers = [TensorQuality("stem.out", 35.0, 1.0, 0.1), TensorQuality("dw0.out", 21.0, 1.0, 0.3),
              TensorQuality("pw3.out", 16.0, 1.0, 0.5)]
    return profile, layers


def test_06_4_accepts_the_most_sensitive_node_and_its_prediction(profile_and_layers, capsys):
    profile, layers = profile_and_layers
    predicted = profile.predicted_sqnr_db(["dw0"])
    check("06.4", ("dw0", predicted), profile=profile, layers=layers)
    check("06.4", ["dw0", round(predicted, 2)], profile=profile, layers=layers)
    printed = capsys.readouterr().out
    assert f"kept, the profile predicts {predicted:.1f} dB" in printed and "'pw3.out', is where the error shows" in printed


@pytest.mark.parametrize("answer, message", [
    ("dw0", "give a pair (first_to_keep, predicted_db)"),
    (("pw3.out", 25.0), "'pw3.out' is the tensor with the lowest SQNR (16.0 dB), and a tensor, not a node"),
    (("conv9", 25.0), "'conv9' is not a quantized node of the profile"),
    (("pw3", 25.0), "'pw3' causes 6% of the INT8 noise by itself; 'dw0' causes 55%"),
    ((0, 25.0), "give the node's name (row.node), not a int"),
    (("dw0", 22.0), "22.0 dB is the SQNR with 'dw0' alone quantized"),
    (("dw0", 30.0), "30 dB is not the profile's prediction"),
])
def test_06_4_mistakes(profile_and_layers, answer, message):
    profile, layers = profile_and_layers
    with pytest.raises(NotYetRight, match=re.escape(message)):
        check("06.4", answer, profile=profile, layers=layers)
