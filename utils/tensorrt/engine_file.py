"""An engine on disk: its JSON sidecar, the checks made before TensorRT sees its bytes, and loading it.

Every engine the workbook builds has a sidecar (`model.engine.json`) recording what it was built from and for.
`check_engine_file` uses it to refuse an engine from another TensorRT or GPU, or one whose bytes are not the
ones recorded (truncated, or replaced by another build), with a one-line message. An engine without a sidecar
is checked as far as its header allows (TensorRT-RTX's `get_engine_validity`); where the installed TensorRT
cannot check a header, the only check left is loading it, and the workbook says so.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from utils.errors import WorkbookError
from utils.files import sha256_of_file, write_text_atomic

if TYPE_CHECKING:
    from utils.tensorrt.api import TensorRT

SIDECAR_SUFFIX = ".json"
REBUILD = "rebuild it with `python -m utils build`"


@dataclass
class EngineRecord:
    """The sidecar: the build request (see build.BuildRequest), plus facts about the built file."""

    request: dict[str, Any]
    onnx_file: str
    built_onnx_file: str
    engine_bytes: int
    engine_sha256: str
    build_seconds: float
    built_at: str
    inputs: dict[str, dict[str, list[int]]] = field(default_factory=dict)  # name -> {"min","opt","max"}
    timing_cache: str | None = None
    kept_in_fp32: list[str] = field(default_factory=list)  # nodes the FP16 model kept in FP32 for TensorRT (#4838)

    @staticmethod
    def path_for(engine_path: str | os.PathLike[str]) -> Path:
        return Path(f"{engine_path}{SIDECAR_SUFFIX}")

    def save(self, engine_path: str | os.PathLike[str]) -> Path:
        return write_text_atomic(self.path_for(engine_path), json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, engine_path: str | os.PathLike[str]) -> EngineRecord | None:
        path = cls.path_for(engine_path)
        if not path.is_file():
            return None
        try:
            return cls(**json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, TypeError) as exc:
            raise WorkbookError(f"engine sidecar {path} is unreadable ({type(exc).__name__}); delete it and rebuild the engine") from None

    def matches_file(self, engine_path: Path) -> bool:
        """The file on disk is the one this record was written with (same size and SHA-256)."""
        return (engine_path.is_file() and engine_path.stat().st_size == self.engine_bytes
                and sha256_of_file(engine_path) == self.engine_sha256)


def check_engine_file(engine_path: str | os.PathLike[str], tensorrt: TensorRT | None = None) -> EngineRecord | None:
    """Refuse, with a one-line error, an engine this machine cannot load: missing, truncated or replaced, or built
    for another TensorRT or GPU. Returns the sidecar, or None for an engine without one that passed the header
    check (or that this TensorRT cannot check: see `header_check`)."""
    from utils.gpu import current_gpu
    from utils.tensorrt.api import load_tensorrt

    engine_path = Path(engine_path)
    if engine_path.is_dir():
        raise WorkbookError(f"{engine_path} is a directory; give an engine file")
    if not engine_path.is_file():
        raise WorkbookError(f"engine {engine_path} does not exist; build it with `python -m utils build`")
    record = EngineRecord.load(engine_path)
    trt = tensorrt or load_tensorrt()
    if record is None:
        header_check(engine_path, trt)
        return None
    if not record.matches_file(engine_path):
        size = engine_path.stat().st_size
        raise WorkbookError(f"engine {engine_path} has {size} bytes that are not the {record.engine_bytes} its sidecar "
                            f"recorded (truncated or replaced); {REBUILD}")
    built_with = (record.request["tensorrt_flavour"], record.request["tensorrt_version"])
    if built_with != (trt.flavour, trt.version):
        raise WorkbookError(f"engine {engine_path.name} was built with {built_with[0]} {built_with[1]} but {trt.display_name} "
                            "is installed; engines only load in the version that built them, so rebuild it")
    gpu = current_gpu()
    built_for = record.request["gpu_name"]
    if gpu is not None and built_for is not None and built_for != gpu.name:
        raise WorkbookError(f"engine {engine_path.name} was built for {built_for} but this GPU is {gpu.name}; rebuild it on this GPU")
    return record


def header_check(engine_path: Path, trt: TensorRT) -> str:
    """What an engine's header says about loading it here, for an engine without a sidecar.

    Raises a one-line error where the header proves it cannot load; otherwise returns a note saying how far it
    was checked. TensorRT-RTX (1.1 and later) reads the header with `Runtime.get_engine_validity`; TensorRT 8.6
    to 11.x have no such call, so there loading the engine is the check.
    """
    from utils.tensorrt.logger import shared_logger

    logger = shared_logger(trt)
    with logger.capture(operation=f"creating {trt.display_name}'s runtime"):
        runtime = trt.module.Runtime(logger.trt_logger)
    if not hasattr(runtime, "get_engine_validity"):
        return (f"no sidecar, and {trt.display_name} cannot check an engine's header: "
                "only loading it will tell whether it belongs to this TensorRT and GPU")
    with open(engine_path, "rb") as handle:
        header = handle.read(int(runtime.engine_header_size))
    with logger.capture() as capture:
        validity, diagnostics = runtime.get_engine_validity(header)
    problems = _diagnostic_names(trt, int(diagnostics))
    if str(validity).endswith("INVALID") and problems:
        raise WorkbookError(f"engine {engine_path.name} cannot load with {trt.display_name} ({', '.join(problems)}); {REBUILD}")
    if str(validity).endswith("INVALID"):
        return f"no sidecar; its header could not be checked here ({capture.summary()})"
    return f"no sidecar; its header is valid for {trt.display_name} on this machine"


def _diagnostic_names(trt: TensorRT, diagnostics: int) -> list[str]:
    flags = getattr(trt.module, "EngineInvalidityDiagnostics", None)
    if flags is None or not diagnostics:
        return [f"diagnostics {diagnostics:#x}"] if diagnostics else []
    names = [name.lower().replace("_", " ") for name in dir(flags)
             if name.isupper() and (int(getattr(flags, name)) & diagnostics)]
    return names or [f"diagnostics {diagnostics:#x}"]


def read_engine_bytes(engine_path: str | os.PathLike[str], tensorrt: TensorRT | None = None) -> bytes:
    check_engine_file(engine_path, tensorrt)
    return Path(engine_path).read_bytes()


def deserialize_engine(engine_path: str | os.PathLike[str], trt: TensorRT | None = None) -> tuple[Any, Any]:
    """(runtime, engine) after the file checks; TensorRT's logged failure becomes a one-line error.

    The runtime is returned because it must outlive the engine it created.
    """
    from utils.tensorrt.api import load_tensorrt
    from utils.tensorrt.logger import shared_logger

    trt = trt or load_tensorrt()
    data = read_engine_bytes(engine_path, trt)
    logger = shared_logger(trt)
    with logger.capture(operation=f"loading {Path(engine_path).name} with {trt.display_name}") as capture:
        runtime = trt.module.Runtime(logger.trt_logger)
        engine = runtime.deserialize_cuda_engine(data)
    if engine is None:
        raise WorkbookError(
            f"{trt.display_name} could not load {Path(engine_path).name} ({capture.summary()}); "
            f"it is truncated, not an engine, or from another TensorRT version or GPU: {REBUILD}"
        )
    return runtime, engine
