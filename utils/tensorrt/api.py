"""Which TensorRT is installed, and every difference between versions, in one place.

Supported: `tensorrt` 8.6, 10.x and 11.x, and TensorRT-RTX (`tensorrt_rtx`, or `tensorrt_rtx_bindings` as its
PyPI wheel installs). Only the named-tensor API is used, which all of them share. Nothing is imported until a
function here is called, so `import utils` works on machines without TensorRT.
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from utils.errors import WorkbookError

FLAVOUR_ENV_VAR = "WORKBOOK_TENSORRT"
FLAVOURS = ("tensorrt", "tensorrt_rtx")
# Import names, in order of preference. The full TensorRT comes first: TensorRT-RTX engines do not run on
# data-centre GPUs (compute capability 9.0, for example), so RTX is the choice only where `tensorrt` is absent.
_IMPORT_NAMES = {"tensorrt": ("tensorrt",), "tensorrt_rtx": ("tensorrt_rtx", "tensorrt_rtx_bindings")}
INSTALL_HINT = ("pip install tensorrt (NVIDIA GPU machine; see requirements-gpu.txt), or "
                "pip install tensorrt-rtx-cu13-libs tensorrt-rtx-cu13-bindings to build engines ahead of time")


@dataclass(frozen=True)
class TensorRT:
    """The imported TensorRT module and what it can do."""

    module: Any
    flavour: str  # "tensorrt" or "tensorrt_rtx"
    version: str
    import_name: str

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    @property
    def display_name(self) -> str:
        return f"{'TensorRT-RTX' if self.is_rtx else 'TensorRT'} {self.version}"

    @property
    def is_rtx(self) -> bool:
        return self.flavour == "tensorrt_rtx"

    @property
    def strongly_typed_only(self) -> bool:
        """True where precision comes from the ONNX model's types: TensorRT 11+ and TensorRT-RTX have no FP16 flag."""
        return self.is_rtx or self.major >= 11 or not hasattr(self.module.BuilderFlag, "FP16")

    @property
    def has_timing_cache(self) -> bool:
        """TensorRT-RTX compiles kernels on the target GPU at load time; its timing-cache calls are no-ops."""
        return not self.is_rtx

    def network_flags(self, *, explicitly_quantized: bool = False) -> int:
        """EXPLICIT_BATCH where it is required (8.x; 10.x ignores it, 11.x and RTX do not have it), and for a Q/DQ
        model on 10.x, STRONGLY_TYPED: the model's own types then decide every layer's precision, as on 11.x."""
        creation = self.module.NetworkDefinitionCreationFlag
        flags = 0
        explicit_batch = getattr(creation, "EXPLICIT_BATCH", None)
        if explicit_batch is not None and self.major < 10:
            flags |= 1 << int(explicit_batch)
        if explicitly_quantized and self.major == 10 and not self.is_rtx:
            flags |= 1 << int(creation.STRONGLY_TYPED)
        return flags

    def quantized_builder_flags(self) -> tuple[str, ...]:
        """Builder flags a Q/DQ (explicitly quantized) model needs. TensorRT 8.6 builds it weakly typed and honours
        its Q/DQ nodes only with INT8 set (and FP16 for the layers the deployment form keeps in FP16); strongly typed
        networks (10.x as the workbook builds them, 11.x, TensorRT-RTX) take their precision from the model alone."""
        return ("INT8", "FP16") if self.major < 10 and not self.is_rtx else ()

    @property
    def int8_onnx_precision(self) -> str:
        """Which INT8 form of a model (`utils.artifacts` precision) this TensorRT builds. 8.6's IQuantizeLayer takes
        FP32 scales only, and its ONNX parser reads a Q/DQ scale as float without checking its type, so the FP16 form's
        FP16 scales would be misread there: 8.6 gets the FP32 form ("int8"), and its FP16 flag still lets TensorRT run
        the unquantized layers in FP16. Strongly typed builds (10.x, 11.x, TensorRT-RTX) get the FP16 form."""
        return "int8" if self.major < 10 and not self.is_rtx else "int8-fp16"

    @property
    def has_tf32_flag(self) -> bool:
        """BuilderFlag.TF32 exists in 8.6, 10.x, 11.x and TensorRT-RTX, and is on by default in a new config."""
        return hasattr(self.module.BuilderFlag, "TF32")


# TensorRT DataType member -> numpy type; members missing from a version (BF16 before 9, INT64 before 10) are skipped.
_NUMPY_TYPES = {"FLOAT": "float32", "HALF": "float16", "INT8": "int8", "INT32": "int32", "INT64": "int64",
                "BOOL": "bool", "UINT8": "uint8"}


def numpy_dtype(dtype: Any, tensorrt: TensorRT | None = None) -> Any:
    """The numpy dtype of a member of TensorRT's `DataType` (compared with the members themselves: `str()` of a
    bindings enum is not a stable format). A numpy dtype is returned as it is."""
    import numpy as np

    if isinstance(dtype, np.dtype):
        return dtype
    data_type = (tensorrt or load_tensorrt()).module.DataType
    for member_name, numpy_name in _NUMPY_TYPES.items():
        member = getattr(data_type, member_name, None)
        if member is not None and dtype == member:
            return np.dtype(numpy_name)
    raise WorkbookError(f"tensor type {dtype} has no numpy equivalent here; use FP32/FP16 inputs and outputs")


def _import(name: str) -> Any | None:
    try:
        module = importlib.import_module(name)
    except ImportError:
        return None
    except OSError as exc:  # the bindings import but libnvinfer is not on the library path
        raise WorkbookError(f"{name} is installed but its libraries cannot be loaded ({exc}); reinstall it: {INSTALL_HINT}") from None
    # `tensorrt-stubs` installs a bare `tensorrt/` folder of .pyi files that imports as an empty namespace package.
    return module if hasattr(module, "Builder") else None


def _candidates() -> Iterator[str]:
    forced = os.environ.get(FLAVOUR_ENV_VAR)
    if forced and forced not in FLAVOURS:
        raise WorkbookError(f"{FLAVOUR_ENV_VAR}={forced!r} is not a TensorRT flavour; use one of: {', '.join(FLAVOURS)}")
    yield from [forced] if forced else FLAVOURS


@functools.lru_cache(maxsize=1)
def load_tensorrt() -> TensorRT:
    """Import the installed TensorRT (or the one $WORKBOOK_TENSORRT names), or fail with how to install it."""
    for flavour in _candidates():
        for import_name in _IMPORT_NAMES[flavour]:
            module = _import(import_name)
            if module is not None:
                return TensorRT(module=module, flavour=flavour, version=str(module.__version__), import_name=import_name)
    raise WorkbookError(f"no TensorRT is installed here; {INSTALL_HINT}")


def tensorrt_or_none() -> TensorRT | None:
    try:
        return load_tensorrt()
    except WorkbookError:
        return None
