"""How each TensorRT version is asked for FP16 and INT8 in `polygraphy run --trt`, as the comparison script does.

The version shapes carry only the attributes whose presence differs between releases (see test_tensorrt_api);
quantization is replaced by a recorder, since what is tested is which model and flags each version gets (the real
quantization is tested in test_onnx_quantize)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from utils import artifacts
from utils.compare.runs import polygraphy_tensorrt_model
from utils.errors import WorkbookError
from utils.tensorrt.api import TensorRT


def version(text, *, fp16_flag):
    creation = SimpleNamespace(**({"EXPLICIT_BATCH": 0} if text.startswith("8") else {}), STRONGLY_TYPED=1)
    module = SimpleNamespace(NetworkDefinitionCreationFlag=creation,
                             BuilderFlag=SimpleNamespace(**({"FP16": 0, "INT8": 1} if fp16_flag else {}), TF32=6))
    return TensorRT(module=module, flavour="tensorrt", version=text, import_name="tensorrt")


TRT86, TRT10, TRT11 = version("8.6.1", fp16_flag=True), version("10.13.0", fp16_flag=True), version("11.4.0", fp16_flag=False)


@pytest.fixture()
def quantized(monkeypatch, tmp_path):
    calls = []

    def recorder(source, destination, calibration, *, high_precision="fp32", **options):
        calls.append((source.name, destination.name, high_precision, calibration.shape))
        destination.write_bytes(b"q/dq")
        return destination

    import numpy as np

    import utils.onnx.quantize

    monkeypatch.setattr(utils.onnx.quantize, "quantize_int8", recorder)
    monkeypatch.setattr(artifacts, "calibration_set", lambda model: np.zeros((4, 3, 224, 224), np.float32))
    return calls


def test_fp32_and_fp16_flags(tmp_path):
    model = tmp_path / "m.onnx"
    assert polygraphy_tensorrt_model(model, "fp32", tensorrt=TRT11) == (model, [])
    assert polygraphy_tensorrt_model(model, "fp16", tensorrt=TRT86) == (model, ["--fp16"])
    assert polygraphy_tensorrt_model(model, "fp16", tensorrt=TRT10) == (model, ["--fp16"])
    with pytest.raises(WorkbookError, match="unknown precision 'int4'"):
        polygraphy_tensorrt_model(model, "int4", tensorrt=TRT10)


@pytest.mark.parametrize("trt, flags, form", [(TRT86, ["--int8", "--fp16"], "fp32"), (TRT10, ["--strongly-typed"], "fp16"),
                                              (TRT11, ["--strongly-typed"], "fp16")])
def test_int8_builds_the_qdq_form_each_version_reads(tmp_path, quantized, trt, flags, form):
    """The FP16 deployment form where networks are strongly typed; on 8.6, whose IQuantizeLayer takes FP32 scales
    only, the form with FP32 scales (and FP32 elsewhere: the FP16 flag lets TensorRT pick FP16 layers itself)."""
    model = tmp_path / "m.onnx"
    path, got = polygraphy_tensorrt_model(model, "int8", model_name="efficientnet_lite0", tensorrt=trt)
    assert path == artifacts.int8_twin_path(model, form)
    assert path.name == ("m_int8.onnx" if form == "fp32" else "m_int8_fp16.onnx")
    assert got == flags
    assert quantized == [("m.onnx", path.name, form, (4, 3, 224, 224))]


def test_a_qdq_model_is_compared_on_its_activations_only(tmp_path):
    """`mark all` would mark the Q/DQ outputs and the weights that feed them, which breaks TensorRT's INT8 fusion."""
    import onnx

    from tests.test_onnx_sessions import saturating_qdq_conv
    from utils.compare.runs import polygraphy_tensorrt_outputs
    from utils.onnx.fragile import fp16_overflow_net

    path = tmp_path / "qdq.onnx"
    onnx.save(saturating_qdq_conv()[0], str(path))
    assert polygraphy_tensorrt_outputs(path) == ["conv", "y"]  # not xq, xd, wq, wd, yq; the graph output stays
    assert polygraphy_tensorrt_outputs(fp16_overflow_net(tmp_path / "fp32.onnx")) == ["*"]  # not the deprecated `mark all`


def test_tensor_names_are_escaped_for_polygraphys_patterns(tmp_path):
    """Polygraphy 0.53.6 reads every name given to --trt-outputs as an fnmatch pattern: a name with `[`, `*` or `?`
    must still mark that one tensor, and only it."""
    import fnmatch

    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from utils.compare.runs import polygraphy_tensorrt_outputs

    scale = numpy_helper.from_array(np.array(0.1, np.float32), "s")
    zero = numpy_helper.from_array(np.array(0, np.int8), "z")
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"]),
             helper.make_node("Relu", ["xd"], ["act[0]*?"]), helper.make_node("Relu", ["act[0]*?"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], [scale, zero])
    path = tmp_path / "names.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    patterns = polygraphy_tensorrt_outputs(path)
    tensors = ["x", "xq", "xd", "act[0]*?", "act0", "actx", "y"]
    assert [fnmatch.filter(tensors, pattern) for pattern in patterns] == [["act[0]*?"], ["y"]]


def test_polygraphy_builds_with_tensorrt_rtx_through_the_alias(tmp_path):
    """TensorRT-RTX's wheel installs `tensorrt_rtx_bindings`; Polygraphy imports `tensorrt_rtx`. After
    `polygraphy_tensorrt()`, Polygraphy's own loaders build an engine with it (ahead of time, on this CPU). In a
    fresh process: Polygraphy binds its TensorRT module when `polygraphy.backend.trt` is first imported."""
    import subprocess
    import sys

    from utils.tensorrt.api import tensorrt_or_none

    trt = tensorrt_or_none()
    if trt is None or not trt.is_rtx:
        pytest.skip("needs TensorRT-RTX (requirements.txt installs it on Linux x86-64)")
    import torch

    from utils.onnx.export import export_onnx

    model = export_onnx(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU()).eval(), tmp_path / "m.onnx", (3, 16, 16))
    program = f"""
import sys
from utils.compare.runs import polygraphy_tensorrt
from utils.tensorrt.build import RTX_AHEAD_OF_TIME_TARGETS
polygraphy_tensorrt()
from polygraphy.backend.trt import EngineBytesFromNetwork, NetworkFromOnnxPath, Profile
from polygraphy.backend.tensorrt_rtx import CreateConfigRTX
targets = [(int(t[2:-1]), int(t[-1])) for t in RTX_AHEAD_OF_TIME_TARGETS]
profile = Profile().add("input", min=[1, 3, 16, 16], opt=[2, 3, 16, 16], max=[4, 3, 16, 16])
plan = EngineBytesFromNetwork(NetworkFromOnnxPath({str(model)!r}), CreateConfigRTX(compute_capabilities=targets, profiles=[profile]))()
print("engine bytes", plan.nbytes)
"""
    completed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert int(completed.stdout.split("engine bytes")[-1]) > 0


def test_polygraphy_without_libcudart_is_one_line_saying_how_to_fix_it(monkeypatch):
    """Polygraphy's CUDA wrapper does not look in `nvidia/cu13/lib`, where CUDA 13's pip wheels put libcudart. Here
    the wrapper is made to fail as ctypes does when the library is missing (a double of that failure)."""
    from polygraphy.cuda import cuda as polygraphy_cuda

    from utils.compare.runs import polygraphy_cuda_unavailable

    def missing_library(self):
        raise OSError("libcudart.so: cannot open shared object file: No such file or directory")

    monkeypatch.setattr(polygraphy_cuda, "G_CUDA", None, raising=False)
    monkeypatch.setattr(polygraphy_cuda.Cuda, "__init__", missing_library)
    reason = polygraphy_cuda_unavailable()
    assert reason is not None and "\n" not in reason
    assert reason.startswith("Polygraphy cannot load the CUDA runtime library libcudart (libcudart.so: cannot open")
    assert "LD_LIBRARY_PATH" in reason
