"""What this machine has, and therefore which notebooks (or parts of them) can run here."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import platform
import sys
from dataclasses import dataclass

# TensorRT-RTX 1.x runs engines only on these compute capabilities: the list its own error message prints ("The engine
# cannot run on this GPU, which has compute capability 9.0. Supported compute capabilities: 8.0 8.6 8.9 12.0 12.1",
# TensorRT-RTX 1.7 on an H100). docs/teaching.md repeats it (tests/test_environment.py keeps the two equal).
RTX_RUNNABLE_COMPUTE_CAPABILITIES = ("8.0", "8.6", "8.9", "12.0", "12.1")


def package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def imported_version(module_name: str) -> str | None:
    """The `__version__` of the module Python actually imports, or None. Where onnxruntime and onnxruntime-gpu are
    both installed, only this says which one runs (their package metadata both claim the `onnxruntime` module)."""
    if importlib.util.find_spec(module_name) is None:
        return None
    module = importlib.import_module(module_name)
    return str(getattr(module, "__version__", "")) or None


def gpu_unavailable() -> str | None:
    """Why the driver shows no NVIDIA GPU here, or None."""
    from utils.gpu import current_gpu, probe_gpu

    return f"no NVIDIA GPU found ({probe_gpu()[1] or 'the driver reports none'})" if current_gpu() is None else None


def pytorch_gpu_unavailable() -> str | None:
    """Why PyTorch cannot use a GPU here (none, a CPU-only wheel, a driver too old for its CUDA), or None."""
    from utils.gpu import pytorch_cuda_unavailable

    return gpu_unavailable() or pytorch_cuda_unavailable()


def tensorrt_gpu_unavailable() -> str | None:
    """Why the installed TensorRT cannot start on the GPU here (its Runtime is made once to find out), or None."""
    reason = engine_load_unavailable()
    if reason is not None:
        return reason
    from utils.errors import WorkbookError
    from utils.tensorrt.api import load_tensorrt
    from utils.tensorrt.logger import shared_logger

    trt = load_tensorrt()
    logger = shared_logger(trt)
    try:
        with logger.capture(operation=f"starting {trt.display_name}'s runtime"):
            trt.module.Runtime(logger.trt_logger)
    except WorkbookError as exc:
        return str(exc)
    return None


def binding_gpu_unavailable() -> str | None:
    """Why no CUDA binding (cuda-python or pycuda) can start on the GPU here, or None."""
    from utils.errors import WorkbookError
    from utils.tensorrt.cuda_binding import cuda_binding, cuda_binding_unavailable

    reason = gpu_unavailable() or cuda_binding_unavailable()
    if reason is not None:
        return reason
    try:
        cuda_binding()
    except WorkbookError as exc:
        return str(exc)
    return None


def gpu_access() -> dict[str, str | None]:
    """Who can use the GPU here: its driver, PyTorch, TensorRT and the CUDA binding; for each, None or why not."""
    return {"driver": gpu_unavailable(), "PyTorch": pytorch_gpu_unavailable(), "TensorRT": tensorrt_gpu_unavailable(),
            "CUDA binding": binding_gpu_unavailable()}


def onnxruntime_provider_unavailable(provider: str) -> str | None:
    """Why ONNX Runtime cannot use `provider` here, or None."""
    if importlib.util.find_spec("onnxruntime") is None:
        return "onnxruntime is not installed; pip install -r requirements.txt"
    import onnxruntime

    if provider not in onnxruntime.get_available_providers():
        package = "onnxruntime-gpu (see requirements-gpu.txt)" if provider == "CUDAExecutionProvider" else "onnxruntime"
        return f"this onnxruntime has no {provider}; install {package}"
    return None


def engine_build_unavailable() -> str | None:
    """Why TensorRT engines cannot be built here, or None if they can."""
    from utils.gpu import current_gpu
    from utils.tensorrt.api import INSTALL_HINT, tensorrt_or_none

    trt = tensorrt_or_none()
    if trt is None:
        return f"no TensorRT is installed ({INSTALL_HINT})"
    if current_gpu() is None and not trt.is_rtx:
        return f"{trt.display_name} needs an NVIDIA GPU to build engines: {gpu_unavailable()}"
    return None


def engine_load_unavailable() -> str | None:
    """Why TensorRT engines cannot be loaded (deserialized) here, or None if they can. Needs no pycuda."""
    from utils.gpu import current_gpu
    from utils.tensorrt.api import INSTALL_HINT, tensorrt_or_none

    gpu = current_gpu()
    if gpu is None:
        return f"running a TensorRT engine needs an NVIDIA GPU: {gpu_unavailable()}"
    trt = tensorrt_or_none()
    if trt is None:
        return f"no TensorRT is installed ({INSTALL_HINT})"
    if trt.is_rtx and gpu.compute_capability not in RTX_RUNNABLE_COMPUTE_CAPABILITIES:
        return (f"{trt.display_name} engines cannot run on {gpu.name} (compute capability {gpu.compute_capability}); "
                "install the full TensorRT (requirements-gpu.txt)")
    return None


def engine_execution_unavailable() -> str | None:
    """Why TensorRT engines cannot run here (loaded, with pycuda or cuda-python buffers), or None if they can."""
    from utils.tensorrt.cuda_binding import cuda_binding_unavailable

    return engine_load_unavailable() or cuda_binding_unavailable()


@dataclass(frozen=True)
class NotebookStatus:
    notebook: str
    runs_fully: bool
    note: str


def notebook_plan() -> list[NotebookStatus]:
    build_reason = engine_build_unavailable()
    run_reason = engine_execution_unavailable()
    build_note = "builds and runs engines" if run_reason is None else (
        f"builds engines ahead of time; they cannot run here: {run_reason}" if build_reason is None else f"skipped: {build_reason}")
    return [
        NotebookStatus("00_environment", True, "always runs"),
        NotebookStatus("01_export_onnx", True, "CPU: PyTorch, ONNX export, ONNX Runtime"),
        NotebookStatus("02_build_engine", build_reason is None, build_note),
        NotebookStatus("03_inference", run_reason is None, "runs" if run_reason is None else f"skipped: {run_reason}"),
        NotebookStatus("04_compare_onnx_trt", run_reason is None,
                       "both halves" if run_reason is None else f"CPU half only; TensorRT half skipped: {run_reason}"),
        NotebookStatus("05_benchmark", True, "CPU backends always; GPU backends where a GPU is visible"),
        NotebookStatus("06_quantization", run_reason is None,
                       "all of it" if run_reason is None else f"FP16/INT8 models on the CPU; the INT8 engine: {build_note}"),
        NotebookStatus("07_precision_debugging", run_reason is None,
                       "all of it" if run_reason is None else f"the search on the CPU; the searched engine: {build_note}"),
    ]


def cpu_int8_instructions(flags: str | None = None) -> str:
    """The CPU's 8-bit dot-product instructions, from /proc/cpuinfo's flags (or `flags`): what ONNX Runtime's fused INT8
    kernels would compute with. The workbook's INT8 results do not depend on it (`utils.onnx.sessions`)."""
    if flags is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
                flags = next((line.split(":", 1)[1] for line in cpuinfo if line.startswith("flags")), "")
        except OSError:
            return "unknown (no /proc/cpuinfo)"
    present = set(flags.split())
    if "avx512_vnni" in present:
        return "AVX-512 VNNI"
    if "avx_vnni" in present:
        return "AVX-VNNI"
    if "avx2" in present:
        return "AVX2 without VNNI (fused u8s8 kernels would saturate)"
    return "no AVX2" if present else "unknown"


def describe() -> dict[str, str]:
    """Versions and devices, as printable strings."""
    from utils.gpu import current_gpu
    from utils.tensorrt.api import tensorrt_or_none

    gpu = current_gpu()
    trt = tensorrt_or_none()
    providers = "not installed"
    if importlib.util.find_spec("onnxruntime") is not None:
        import onnxruntime

        providers = ", ".join(onnxruntime.get_available_providers())
    return {
        "python": sys.version.split()[0],
        "platform": f"{platform.system()} {platform.machine()}",
        "cpu int8": cpu_int8_instructions(),
        "torch": package_version("torch") or "not installed",
        "torchvision": package_version("torchvision") or "not installed",
        "onnx": package_version("onnx") or "not installed",
        "onnxruntime": f"{imported_version('onnxruntime')} ({providers})",
        "polygraphy": package_version("polygraphy") or "not installed",
        "gpu": (f"{gpu.name} (compute capability {gpu.compute_capability}, {gpu.memory_gib} GiB"
                + (f", driver for CUDA {gpu.driver_cuda}" if gpu.driver_cuda else "") + ")") if gpu else "none found",
        "tensorrt": f"{trt.display_name} (module {trt.import_name})" if trt else "not installed",
        "pycuda": package_version("pycuda") or "not installed",
        "cuda-python": package_version("cuda-bindings") or package_version("cuda-python") or "not installed",
    }
