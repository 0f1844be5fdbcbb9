"""Every ONNX Runtime session the workbook opens computes a Q/DQ model as written, whatever the CPU.

The model is the case where ONNX Runtime's fused u8s8 kernels go wrong on a CPU without VNNI: a Q/DQ convolution
whose activations and weights all sit near +127, so every pair of products VPMADDUBSW adds overflows 16 bits. The
reference is the Q/DQ arithmetic in numpy. On this host's own CPU both fused and unfused kernels may be right (VNNI
does not saturate), so the last test runs the same check on an emulated AVX2-only CPU (qemu-user), where the fused
kernels are shown to be wrong and the workbook's sessions right.
"""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

CHANNELS, KERNEL, FILTERS, SIDE = 8, 3, 4, 6
# An AVX2 CPU without AVX-512 or VNNI, as QEMU's TCG emulates it (QEMU 7.2 emulates AVX2, not AVX-512).
EMULATED_CPU = "Haswell-v4"
ROOT = Path(__file__).resolve().parent.parent


def _quantized(values: np.ndarray, scale) -> np.ndarray:
    return np.clip(np.round(values / scale), -127, 127) * scale


def saturating_qdq_conv():
    """(model, input, reference, output step): Q/DQ(x) and Q/DQ(w) -> Conv -> Q/DQ, values near +127 steps."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = rng.uniform(0.9, 1.0, size=(FILTERS, CHANNELS, KERNEL, KERNEL)).astype(np.float32)
    x = rng.uniform(0.9, 1.0, size=(1, CHANNELS, SIDE, SIDE)).astype(np.float32)
    x_scale, w_scale = np.float32(1 / 127), np.full(FILTERS, 1 / 127, np.float32)
    y_scale = np.float32(CHANNELS * KERNEL * KERNEL / 127)
    initializers = [numpy_helper.from_array(array, name) for array, name in (
        (weights, "w"), (np.array(x_scale), "x_scale"), (np.array(0, np.int8), "zero"), (w_scale, "w_scale"),
        (np.zeros(FILTERS, np.int8), "w_zero"), (np.array(y_scale), "y_scale"))]
    nodes = [helper.make_node("QuantizeLinear", ["x", "x_scale", "zero"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "x_scale", "zero"], ["xd"]),
             helper.make_node("QuantizeLinear", ["w", "w_scale", "w_zero"], ["wq"], axis=0),
             helper.make_node("DequantizeLinear", ["wq", "w_scale", "w_zero"], ["wd"], axis=0),
             helper.make_node("Conv", ["xd", "wd"], ["conv"]),
             helper.make_node("QuantizeLinear", ["conv", "y_scale", "zero"], ["yq"]),
             helper.make_node("DequantizeLinear", ["yq", "y_scale", "zero"], ["y"])]
    graph = helper.make_graph(nodes, "saturating_qdq_conv",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, CHANNELS, SIDE, SIDE])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, FILTERS, SIDE - KERNEL + 1, SIDE - KERNEL + 1])],
                              initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])

    xd, wd = _quantized(x, x_scale).astype(np.float64), _quantized(weights, w_scale[:, None, None, None])
    out = SIDE - KERNEL + 1
    conv = np.array([[[np.sum(xd[0, :, i:i + KERNEL, j:j + KERNEL] * wd[f]) for j in range(out)] for i in range(out)]
                     for f in range(FILTERS)])[None]
    return model, x, _quantized(conv, y_scale), float(y_scale)


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    import onnx

    model, x, reference, step = saturating_qdq_conv()
    path = tmp_path_factory.mktemp("qdq") / "saturating_qdq_conv.onnx"
    onnx.save(model, str(path))
    return path, x, reference, step


def test_inference_session_matches_the_qdq_arithmetic(case):
    from utils.onnx.sessions import inference_session

    path, x, reference, step = case
    for optimize in (True, False):
        y = inference_session(path, optimize=optimize).run(None, {"x": x})[0]
        assert np.abs(y - reference).max() <= step, f"optimize={optimize}"


def test_the_runtime_and_polygraphy_runs_match_the_qdq_arithmetic(case):
    from utils.compare import first_iteration, run_onnxruntime
    from utils.runtimes.onnxruntime import create_session

    path, x, reference, step = case
    assert np.abs(create_session(path).run(None, {"x": x})[0] - reference).max() <= step
    for mark_all in (False, True):
        outputs = first_iteration(run_onnxruntime(path, [{"x": x}], mark_all=mark_all))[1]
        assert np.abs(outputs["y"] - reference).max() <= step, f"mark_all={mark_all}"


def test_the_emulation_session_matches_the_qdq_arithmetic(case):
    import onnx

    from utils.onnx.fp16_emulation import emulation_session

    path, x, reference, step = case
    assert np.abs(emulation_session(onnx.load(str(path))).run(None, {"x": x})[0] - reference).max() <= step


_CHILD = """
import json, sys
import numpy as np, onnxruntime
from utils.onnx.sessions import inference_session
path, x, reference = sys.argv[1], np.load(sys.argv[2]), np.load(sys.argv[3])
fused = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
workbook = inference_session(path).run(None, {"x": x})[0]
print(json.dumps({"fused": float(np.abs(fused - reference).max()), "workbook": float(np.abs(workbook - reference).max())}))
"""


def _qemu_unavailable() -> str | None:
    if platform.machine() != "x86_64":
        return f"the AVX2 emulation runs x86-64 Python; this machine is {platform.machine()}"
    if not shutil.which("qemu-x86_64"):
        return "qemu-x86_64 is not installed (apt-get install qemu-user; .ci/run installs it)"
    return None


@pytest.mark.skipif(_qemu_unavailable() is not None, reason=str(_qemu_unavailable()))
def test_on_an_emulated_avx2_cpu_fused_kernels_saturate_and_the_workbook_does_not(case, tmp_path):
    path, x, reference, step = case
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "reference.npy", reference)
    completed = subprocess.run(
        ["qemu-x86_64", "-cpu", EMULATED_CPU, sys.executable, "-c", _CHILD, str(path), str(tmp_path / "x.npy"),
         str(tmp_path / "reference.npy")],
        capture_output=True, text=True, timeout=600, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert completed.returncode == 0, completed.stderr[-2000:]
    errors = json.loads(completed.stdout.strip().splitlines()[-1])
    assert errors["fused"] > 10 * step, f"the emulated CPU did not saturate ({errors}): the check shows nothing"
    assert errors["workbook"] <= step, errors
