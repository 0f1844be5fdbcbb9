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


@pytest.mark.parametrize("trt, flags", [(TRT86, ["--int8", "--fp16"]), (TRT10, ["--strongly-typed"]), (TRT11, ["--strongly-typed"])])
def test_int8_builds_the_qdq_deployment_form(tmp_path, quantized, trt, flags):
    model = tmp_path / "m.onnx"
    path, got = polygraphy_tensorrt_model(model, "int8", model_name="efficientnet_lite0", tensorrt=trt)
    assert path == artifacts.int8_twin_path(model) and path.name == "m_int8_fp16.onnx"
    assert got == flags
    assert quantized == [("m.onnx", "m_int8_fp16.onnx", "fp16", (4, 3, 224, 224))]
