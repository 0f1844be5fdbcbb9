"""Every way the workbook runs a model, behind one interface (`Runtime`: `infer(batch) -> logits`, `close()`).

    from utils.runtimes import open_runtime

    with open_runtime("onnxruntime-cpu", "efficientnet_lite0") as runtime:
        logits = runtime.infer(batch)

The names below are the backend names everywhere: `classify --backend`, `bench --backend`, the benchmark CSV,
the notebooks.
"""

from __future__ import annotations

from typing import Any

from utils.errors import WorkbookError
from utils.runtimes.base import GPU_STAGES, SCOPES, EventTimer, Runtime, check_options
from utils.runtimes.onnxruntime import OnnxRuntimeCpu, OnnxRuntimeCuda, OnnxRuntimeCudaGraphs, OnnxRuntimeCudaIoBinding
from utils.runtimes.pytorch import PyTorchCompile, PyTorchCpu, PyTorchCuda, PyTorchCudaGraphs
from utils.runtimes.tensorrt import TensorRTGraphs, TensorRTRuntime

RUNTIME_CLASSES: dict[str, type[Runtime]] = {cls.name: cls for cls in (
    PyTorchCpu, PyTorchCuda, PyTorchCudaGraphs, PyTorchCompile, OnnxRuntimeCpu, OnnxRuntimeCuda,
    OnnxRuntimeCudaIoBinding, OnnxRuntimeCudaGraphs, TensorRTRuntime, TensorRTGraphs)}
RUNTIMES = tuple(RUNTIME_CLASSES)


def runtime_class(name: str) -> type[Runtime]:
    try:
        return RUNTIME_CLASSES[name]
    except KeyError:
        raise WorkbookError(f"unknown backend {name!r}; choose one of: {', '.join(RUNTIMES)}") from None


def available_runtimes() -> dict[str, str | None]:
    """Every runtime, in order, with None where it runs here and the one-line reason it cannot elsewhere."""
    return {name: cls.unavailable_reason() for name, cls in RUNTIME_CLASSES.items()}


def open_runtime(name: str, model_name: str, precision: str = "fp32", **options: Any) -> Runtime:
    """Runtime `name` with `model_name` loaded, or a one-line error saying why it cannot run here.

    Options: `max_batch` (tensorrt: the engine's profile must reach it), `options` (the runtime's
    `supported_options` to switch on), `onnx_file` (onnxruntime-*: run this file instead of the workbook's export),
    `engine_file` (tensorrt), `model` (pytorch-*: an nn.Module).
    """
    cls = runtime_class(name)
    if precision not in cls.precisions:
        raise WorkbookError(f"{name} runs {', '.join(cls.precisions)}, not {precision}; choose another --precision or backend")
    check_options(name, cls.supported_options, options.get("options", ()))
    reason = cls.unavailable_reason()
    if reason is not None:
        raise WorkbookError(f"{name} cannot run here: {reason}")
    return cls(model_name, precision, **options)


__all__ = ["GPU_STAGES", "RUNTIMES", "SCOPES", "RUNTIME_CLASSES", "EventTimer", "Runtime", "available_runtimes", "open_runtime",
           "runtime_class"]
