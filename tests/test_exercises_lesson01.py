"""utils.exercises.lesson01: each check accepts the right answer and names each anticipated mistake.

The checks compute the expected answer from the notebook's context, so the tests give them made-up contexts (a
small ONNX file with chosen symbolic axes, chosen parity and drift, planted logits) and answers derived from those."""

from __future__ import annotations

import numpy as np
import pytest

from utils.exercises import NotYetRight, check

PHOTOS = ["chelsea", "coffee", "astronaut", "rocket"]


def _onnx_file(tmp_path, dims, name="input"):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", [name], ["out"])], "g",
                              [helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, dims)])
    path = tmp_path / "model.onnx"
    onnx.save(helper.make_model(graph), str(path))
    return path


# --- 01.1: the symbolic axes of the input ---------------------------------------------------------------------------


def test_01_1_accepts_the_symbolic_axes_read_from_the_file(tmp_path, capsys):
    check("01.1", {0: "batch"}, onnx_path=_onnx_file(tmp_path, ["batch", 3, 224, 224]))
    assert "✓ 01.1 correct: only 'batch' may vary; the other axes are fixed at 3, 224, 224" in capsys.readouterr().out
    check("01.1", {0: "n", 2: "h"}, onnx_path=_onnx_file(tmp_path, ["n", 3, "h", 8]))


@pytest.mark.parametrize("answer, message", [
    ("input", "'input' is the input tensor's name"),
    ("batch", "'batch' is the right name; now say where it is"),
    (["batch"], "give a dict {axis position: name}, not a list"),
    ({"batch": 0}, "the keys are axis positions"),
    ({1: "batch"}, "right name, wrong place: the file has {0: 'batch'}"),
    ({0: "batch", 1: 3}, "axis 1 is fixed at 3: only dims with a dim_param"),
    ({0: "input"}, "'input' is the tensor's name; the axis has its own name"),
    ({0: "batch", 7: "x"}, "the input has 4 axes (0 to 3); there is no axis 7"),
    ({0: "N"}, "axis 0 is called 'batch' in the file, not 'N'"),
])
def test_01_1_mistakes(tmp_path, answer, message):
    with pytest.raises(NotYetRight, match=message.replace("(", r"\(").replace(")", r"\)").replace("{", r"\{")):
        check("01.1", answer, onnx_path=_onnx_file(tmp_path, ["batch", 3, 224, 224]))


def test_01_1_names_a_missing_symbolic_axis(tmp_path):
    with pytest.raises(NotYetRight, match="axis 2 is symbolic too \\('h'\\)"):
        check("01.1", {0: "n"}, onnx_path=_onnx_file(tmp_path, ["n", 3, "h", 8]))


# --- 01.2: a tolerance between FP32 parity and FP16 drift ------------------------------------------------------------


@pytest.mark.parametrize("parity, drift, right", [(3e-6, 0.04, [1e-4, 1e-3, 1e-2]), (2e-5, 0.5, [1e-3, 1e-2, 1e-1]),
                                                  (1e-5, 1e-3, [1e-4])])
def test_01_2_accepts_every_power_of_ten_with_headroom_below_the_drift(parity, drift, right, capsys):
    for tolerance in right:
        check("01.2", tolerance, parity=parity, fp16_drift=drift)
    check("01.2", np.float64(right[0]), parity=parity, fp16_drift=drift)
    assert capsys.readouterr().out.count("✓ 01.2 correct") == len(right) + 1


@pytest.mark.parametrize("answer, message", [
    (1e-6, "too tight: ONNX Runtime's FP32 output differs from PyTorch by up to 3.00e-06, more than 1e-06"),
    (1e-5, "1e-05 passes here with only 3.3x to spare: FP32 rounding differs between CPUs"),
    (0.1, "too loose: the FP16 twin drifts by up to 0.04, within 0.1"),
    (0.04, "0.04 is not a power of ten"),
    (3e-4, "0.0003 is not a power of ten"),
    ("1e-3", "give the tolerance as a number, like 1e-3, not a str"),
    (True, "not a bool"),
    (-1e-3, "a tolerance is a positive finite number"),
    (float("inf"), "a tolerance is a positive finite number"),
])
def test_01_2_mistakes(answer, message):
    with pytest.raises(NotYetRight, match=message.replace("(", r"\(").replace(")", r"\)")):
        check("01.2", answer, parity=3e-6, fp16_drift=0.04)


def test_01_2_the_tightest_passing_tolerance_is_not_the_answer():
    """The review's case: 1e-5 against a parity of 8.6e-6 passes today and fails on the next machine."""
    with pytest.raises(NotYetRight, match="only 1.2x to spare"):
        check("01.2", 1e-5, parity=8.6e-6, fp16_drift=0.03)
    check("01.2", 1e-4, parity=8.6e-6, fp16_drift=0.03)
    with pytest.raises(NotYetRight, match="too loose: the FP16 twin drifts by up to 0.01, within 0.01"):
        check("01.2", 1e-2, parity=3e-6, fp16_drift=1e-2)


def test_01_2_takes_any_separating_number_when_no_power_of_ten_leaves_headroom(capsys):
    check("01.2", 3e-5, parity=2e-5, fp16_drift=5e-5)
    assert "will be fragile on other machines" in capsys.readouterr().out


# --- 01.3: three copies of the coffee photo ---------------------------------------------------------------------------


@pytest.fixture
def reference():
    return np.random.default_rng(0).normal(size=(4, 1000)).astype(np.float32)


def test_01_3_accepts_three_rows_of_the_coffee_logits(reference, capsys):
    answer = np.repeat(reference[1:2], 3, axis=0) + np.float32(1e-6)
    check("01.3", answer, reference=reference, photo_names=PHOTOS)
    assert "its batch axis is dynamic" in capsys.readouterr().out
    shuffled = ["coffee", "chelsea", "astronaut", "rocket"]  # the check finds the coffee photo by name
    check("01.3", np.repeat(reference[:1], 3, axis=0), reference=reference, photo_names=shuffled)


def _softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("make, message", [
    (lambda r: "logits", "give the logits as a numpy array [3, 1000], not a str"),
    (lambda r: r[1], "expected logits of shape [batch, 1000], got [1000]"),
    (lambda r: r[:, :10], "expected logits of shape [batch, 1000], got [4, 10]"),
    (lambda r: r[1:2], "you ran 1 image(s); the batch should hold the coffee photo three times"),
    (lambda r: r, "you ran 4 image(s)"),
    (lambda r: _softmax(np.repeat(r[1:2], 3, axis=0)), "these are probabilities"),
    (lambda r: r[:3], "the three rows differ by up to"),
    (lambda r: np.repeat(r[3:4], 3, axis=0), "these are the logits of 'rocket' (row 3 of batch), not of the coffee"),
    (lambda r: np.repeat(r[1:2] * 2, 3, axis=0), "the logits differ from ONNX Runtime's on the coffee photo by up to"),
])
def test_01_3_mistakes(reference, make, message):
    with pytest.raises(NotYetRight, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        check("01.3", make(reference), reference=reference, photo_names=PHOTOS)
