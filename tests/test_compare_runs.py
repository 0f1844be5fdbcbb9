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
    assert polygraphy_tensorrt_outputs(fp16_overflow_net(tmp_path / "fp32.onnx")) == ["mark", "all"]
