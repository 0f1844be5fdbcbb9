"""One function names each derived file, and the makers make each file once."""

from __future__ import annotations

import os

import numpy as np
import pytest

from utils import artifacts
from utils.errors import WorkbookError
from utils.tensorrt.api import TensorRT

TRT = TensorRT(module=None, flavour="tensorrt", version="10.13.0.35", import_name="tensorrt")
RTX = TensorRT(module=None, flavour="tensorrt_rtx", version="1.7.1.116", import_name="tensorrt_rtx_bindings")


def test_everything_lands_under_the_build_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(artifacts.BUILD_DIR_ENV_VAR, str(tmp_path / "b"))
    made = [artifacts.samples_dir(), artifacts.compare_dir(), artifacts.figures_dir("x"), artifacts.diff_dir(),
            artifacts.benchmark_csv_path("m"), artifacts.onnx_path("efficientnet_lite0"), artifacts.engine_path("resnet50", "fp16", tensorrt=TRT)]
    assert all(path.is_relative_to(tmp_path / "b") for path in made)
    assert artifacts.reference_benchmark_csv_path().is_file()  # committed, not derived


def test_onnx_names():
    fp32 = artifacts.onnx_path("efficientnet_lite0")
    assert fp32.name == "efficientnet_lite0_opset17.onnx"
    assert artifacts.onnx_path("efficientnet_lite0", "fp16") == artifacts.fp16_twin_path(fp32)
    assert artifacts.fp16_twin_path(fp32).name == "efficientnet_lite0_opset17_fp16.onnx"
    assert artifacts.onnx_path("resnet50", opset=13).name == "resnet50_opset13.onnx"
    with pytest.raises(WorkbookError, match="unknown precision 'int4'"):
        artifacts.onnx_path("efficientnet_lite0", "int4")
    with pytest.raises(WorkbookError, match="unknown model"):
        artifacts.onnx_path("vgg16")


def test_engine_names_differ_wherever_the_engines_do():
    names = {artifacts.engine_path(model, precision, batch, trt, tf32=tf32).name
             for model in ("efficientnet_lite0", "resnet50") for precision in ("fp32", "fp16")
             for batch in ((1, 8, 32), (1, 8, 64)) for trt in (TRT, RTX) for tf32 in (False, True)}
    assert len(names) == 2 * 2 * 2 * 3  # models x batches x flavours x (fp32, fp32-tf32, fp16): TF32 names only FP32 engines
    assert artifacts.engine_path("resnet50", "fp16", tensorrt=TRT).name == "resnet50_fp16_b1-8-32_tensorrt.engine"


def test_a_variant_names_its_own_engine_and_must_be_a_plain_word():
    plain = artifacts.engine_path("efficientnet_lite0", "int8", (1, 8, 64), TRT)
    searched = artifacts.engine_path("efficientnet_lite0", "int8", (1, 8, 64), TRT, variant="searched")
    assert searched.name == "efficientnet_lite0_int8-searched_b1-8-64_tensorrt.engine" and searched != plain
    assert artifacts.engine_path("efficientnet_lite0", "int8", (1, 8, 64), TRT, variant="fp16-kept").name.startswith(
        "efficientnet_lite0_int8-fp16-kept_b1-8-64")
    for bad in ("../x", "a b", "", "a_b"):
        with pytest.raises(WorkbookError, match="engine variant"):
            artifacts.engine_path("efficientnet_lite0", "int8", tensorrt=TRT, variant=bad)


def test_onnx_model_exports_once_and_refreshes_a_stale_fp16_twin(tmp_path, monkeypatch, lite0_onnx):
    import shutil

    monkeypatch.setenv(artifacts.BUILD_DIR_ENV_VAR, str(tmp_path))
    fp32 = artifacts.onnx_path("efficientnet_lite0")
    shutil.copy(lite0_onnx, fp32)  # as if exported earlier
    assert artifacts.onnx_model("efficientnet_lite0") == fp32
    twin = artifacts.onnx_model("efficientnet_lite0", "fp16")
    made = twin.stat().st_mtime_ns
    assert artifacts.onnx_model("efficientnet_lite0", "fp16") == twin and twin.stat().st_mtime_ns == made
    os.utime(fp32, ns=(made + 10**9, made + 10**9))  # a newer export
    artifacts.onnx_model("efficientnet_lite0", "fp16")
    assert twin.stat().st_mtime_ns > made


def test_the_fp16_twin_is_made_from_photos_and_remade_when_made_otherwise(tmp_path, monkeypatch, lite0_onnx):
    """AutoCast decides which nodes stay FP32 from the FP32 model's values on reference inputs: the workbook gives it
    the first calibration photos, not its own random values in [-1, 1]; a twin made otherwise is made again."""
    import shutil

    from utils.onnx.precision import convert_to_fp16, stored_recipe

    monkeypatch.setenv(artifacts.BUILD_DIR_ENV_VAR, str(tmp_path))
    fp32 = artifacts.onnx_path("efficientnet_lite0")
    shutil.copy(lite0_onnx, fp32)
    calls = []
    real = artifacts.autocast_reference
    monkeypatch.setattr(artifacts, "autocast_reference", lambda name: calls.append(name) or real(name))
    twin = artifacts.onnx_model("efficientnet_lite0", "fp16")
    assert calls == ["efficientnet_lite0"]
    assert stored_recipe(twin) == "reference: 32 calibration inputs of efficientnet_lite0; kept in FP32: none"
    reference = real("efficientnet_lite0")
    np.testing.assert_array_equal(reference, artifacts.calibration_set("efficientnet_lite0")[:32])
    convert_to_fp16(fp32, twin)  # newer than its source, but made from AutoCast's random inputs
    assert stored_recipe(twin) is None
    assert artifacts.onnx_model("efficientnet_lite0", "fp16") == twin and stored_recipe(twin).startswith("reference: 32")
    kept = artifacts.fp16_model(fp32, exclude_nodes=["/blocks/blocks.0/blocks.0.0/conv_dw/Conv"])
    assert stored_recipe(kept).endswith("kept in FP32: /blocks/blocks.0/blocks.0.0/conv_dw/Conv")
