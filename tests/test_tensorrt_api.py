"""Which TensorRT is picked, and the version differences, with the real modules where they are installed.

The version-shape tests use small namespace objects that only carry the attributes whose presence differs
between TensorRT releases (EXPLICIT_BATCH, BuilderFlag.FP16); they test the selection logic, not TensorRT.
"""

from types import SimpleNamespace

import pytest

from utils.errors import WorkbookError
from utils.tensorrt import api as tensorrt_api
from utils.tensorrt.api import TensorRT


def _version_shape(version, *, explicit_batch, fp16_flag):
    creation_flags = SimpleNamespace(**({"EXPLICIT_BATCH": 0} if explicit_batch else {}), STRONGLY_TYPED=1)
    builder_flags = SimpleNamespace(**({"FP16": 0} if fp16_flag else {}), TF32=6)
    module = SimpleNamespace(NetworkDefinitionCreationFlag=creation_flags, BuilderFlag=builder_flags)
    return TensorRT(module=module, flavour="tensorrt", version=version, import_name="tensorrt")


def test_explicit_batch_only_where_it_is_required():
    assert _version_shape("8.6.1", explicit_batch=True, fp16_flag=True).network_flags() == 1
    assert _version_shape("10.13.0", explicit_batch=True, fp16_flag=True).network_flags() == 0
    assert _version_shape("11.4.0", explicit_batch=False, fp16_flag=False).network_flags() == 0


def test_explicitly_quantized_models_by_the_route_each_version_documents():
    trt86 = _version_shape("8.6.1", explicit_batch=True, fp16_flag=True)
    trt10 = _version_shape("10.13.0", explicit_batch=True, fp16_flag=True)
    trt11 = _version_shape("11.4.0", explicit_batch=False, fp16_flag=False)
    assert trt86.quantized_builder_flags() == ("INT8", "FP16") and trt86.network_flags(explicitly_quantized=True) == 1
    assert trt10.quantized_builder_flags() == () and trt10.network_flags(explicitly_quantized=True) == 1 << 1  # STRONGLY_TYPED
    assert trt10.network_flags() == 0
    assert trt11.quantized_builder_flags() == () and trt11.network_flags(explicitly_quantized=True) == 0


def test_tensorrt_8_6_builds_the_int8_form_with_fp32_scales():
    """8.6's IQuantizeLayer takes FP32 scales only (its ONNX parser reads the scale as float, unchecked)."""
    assert _version_shape("8.6.1", explicit_batch=True, fp16_flag=True).int8_onnx_precision == "int8"
    assert _version_shape("10.13.0", explicit_batch=True, fp16_flag=True).int8_onnx_precision == "int8-fp16"
    assert _version_shape("11.4.0", explicit_batch=False, fp16_flag=False).int8_onnx_precision == "int8-fp16"


def test_fp16_comes_from_the_onnx_model_where_networks_are_strongly_typed():
    assert not _version_shape("8.6.1", explicit_batch=True, fp16_flag=True).strongly_typed_only
    assert not _version_shape("10.13.0", explicit_batch=True, fp16_flag=True).strongly_typed_only
    assert _version_shape("11.4.0", explicit_batch=False, fp16_flag=False).strongly_typed_only


def test_stubs_namespace_package_is_not_mistaken_for_tensorrt(tmp_path, monkeypatch):
    # tensorrt-stubs installs a `tensorrt/` folder of .pyi files that imports as an empty namespace package.
    stubs_only = tmp_path / "workbook_stub_probe"
    stubs_only.mkdir()
    (stubs_only / "__init__.pyi").write_text("class Builder: ...\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert __import__("workbook_stub_probe").__name__ == "workbook_stub_probe"  # it does import...
    assert tensorrt_api._import("workbook_stub_probe") is None  # ...but is not taken for TensorRT
    assert tensorrt_api._import("no_such_tensorrt_module") is None


def test_forcing_an_unknown_flavour_is_a_one_line_error(monkeypatch):
    tensorrt_api.load_tensorrt.cache_clear()
    monkeypatch.setenv(tensorrt_api.FLAVOUR_ENV_VAR, "tensorrt_llm")
    try:
        with pytest.raises(WorkbookError, match="not a TensorRT flavour"):
            tensorrt_api.load_tensorrt()
    finally:
        tensorrt_api.load_tensorrt.cache_clear()


def test_missing_tensorrt_says_how_to_install(monkeypatch):
    tensorrt_api.load_tensorrt.cache_clear()
    monkeypatch.setattr(tensorrt_api, "_import", lambda name: None)
    try:
        with pytest.raises(WorkbookError, match="pip install tensorrt"):
            tensorrt_api.load_tensorrt()
        assert tensorrt_api.tensorrt_or_none() is None
    finally:
        tensorrt_api.load_tensorrt.cache_clear()


def _tensorrt_with_int_enums() -> tensorrt_api.TensorRT:
    """A TensorRT whose DataType is an IntEnum, as pybind11 3's native enums can be: `str(DataType.HALF)` is "1"."""
    import enum
    import types

    data_type = enum.IntEnum("DataType", {"FLOAT": 0, "HALF": 1, "INT8": 2, "INT32": 3, "BOOL": 4, "UINT8": 5, "FP8": 6})
    return tensorrt_api.TensorRT(module=types.SimpleNamespace(DataType=data_type), flavour="tensorrt", version="11.1.0",
                                 import_name="tensorrt")


def test_numpy_dtypes_come_from_the_enum_members_not_their_text():
    import numpy as np

    trt = _tensorrt_with_int_enums()
    assert str(trt.module.DataType.HALF) == "1"  # what a match on the text after the last dot would misread
    assert tensorrt_api.numpy_dtype(trt.module.DataType.HALF, trt) == np.float16
    assert tensorrt_api.numpy_dtype(trt.module.DataType.FLOAT, trt) == np.float32
    assert tensorrt_api.numpy_dtype(np.dtype(np.int32), trt) == np.int32
    with pytest.raises(WorkbookError, match="no numpy equivalent"):
        tensorrt_api.numpy_dtype(trt.module.DataType.FP8, trt)
    with pytest.raises(WorkbookError, match="no numpy equivalent"):
        tensorrt_api.numpy_dtype("DataType.HALF", trt)  # text that looks like a member is not one


def test_rtx_is_found_and_described():
    rtx = pytest.importorskip("tensorrt_rtx_bindings", reason="TensorRT-RTX is not installed (pip install -r requirements.txt)")
    tensorrt_api.load_tensorrt.cache_clear()
    trt = tensorrt_api.load_tensorrt()
    if trt.flavour == "tensorrt":
        pytest.skip("the full TensorRT is installed and takes precedence over TensorRT-RTX")
    assert trt.is_rtx and trt.strongly_typed_only and not trt.has_timing_cache
    assert trt.version == rtx.__version__ and trt.display_name == f"TensorRT-RTX {rtx.__version__}"
    assert trt.network_flags() == 0
    assert tensorrt_api.numpy_dtype(rtx.DataType.HALF) == "float16"
    assert tensorrt_api.numpy_dtype(rtx.DataType.FLOAT) == "float32"
