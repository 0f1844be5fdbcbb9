"""Which NVIDIA GPU this machine has, asked of its driver, and whether PyTorch can use it.

The driver is asked, not PyTorch: a CPU-only PyTorch wheel, or one built for a newer CUDA than the driver supports,
sees no GPU where TensorRT and a CUDA binding can use one. The CUDA driver API through cuda-python
(`cuda.bindings.driver`, which PyTorch's CUDA wheels install too) answers first; `nvidia-smi` where it cannot.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

from utils.errors import WorkbookError


@dataclass(frozen=True)
class GpuInfo:
    name: str
    compute_capability: str  # "9.0"
    memory_gib: float
    driver_cuda: str = ""  # the newest CUDA the driver supports, "13.0"


def _from_cuda_driver(driver: Any = None) -> tuple[GpuInfo | None, str]:
    """The first device through cuda-python's driver API (`driver`: `cuda.bindings.driver`), or None and why not."""
    if driver is None:
        try:
            from cuda.bindings import driver
        except ImportError:
            return None, "cuda-python is not installed"
    try:
        (error,) = driver.cuInit(0)
    except Exception as exc:  # cuda-python raises its own error (DynamicLibNotFoundError) where libcuda is missing
        if type(exc).__name__ == "DynamicLibNotFoundError":
            return None, "no NVIDIA driver (libcuda) is installed"
        return None, " ".join(str(exc).split())[:200] or type(exc).__name__
    success = driver.CUresult.CUDA_SUCCESS
    if error != success:
        return None, f"cuInit failed with {driver.cuGetErrorName(error)[1].decode()}"
    error, count = driver.cuDeviceGetCount()
    if error != success or count < 1:
        return None, "the driver reports no CUDA device"
    _, device = driver.cuDeviceGet(0)
    _, name = driver.cuDeviceGetName(256, device)
    attribute = driver.CUdevice_attribute
    _, major = driver.cuDeviceGetAttribute(attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device)
    _, minor = driver.cuDeviceGetAttribute(attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device)
    _, memory = driver.cuDeviceTotalMem(device)
    _, version = driver.cuDriverGetVersion()  # 1000 * major + 10 * minor
    return GpuInfo(name=name.split(b"\0")[0].decode(), compute_capability=f"{major}.{minor}",
                   memory_gib=round(memory / 2**30, 1), driver_cuda=f"{version // 1000}.{version % 1000 // 10}"), ""


def _from_nvidia_smi() -> tuple[GpuInfo | None, str]:
    """The first device as `nvidia-smi` lists it, or None and why not."""
    if shutil.which("nvidia-smi") is None:
        return None, "nvidia-smi is not on PATH"
    try:
        completed = subprocess.run(["nvidia-smi", "--query-gpu=name,compute_cap,memory.total", "--format=csv,noheader,nounits"],
                                   capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"nvidia-smi did not answer ({type(exc).__name__})"
    lines = completed.stdout.strip().splitlines()
    if completed.returncode != 0 or not lines:
        said = " ".join((completed.stdout + completed.stderr).split())[:200]
        return None, f"nvidia-smi found no GPU ({said or f'exit status {completed.returncode}'})"
    try:
        name, capability, memory_mib = (field.strip() for field in lines[0].split(","))
        return GpuInfo(name=name, compute_capability=capability, memory_gib=round(float(memory_mib) / 1024, 1)), ""
    except ValueError:
        return None, f"nvidia-smi printed {lines[0]!r}, not name, compute capability and memory"


@functools.lru_cache(maxsize=1)
def probe_gpu() -> tuple[GpuInfo | None, str]:
    """(the first GPU, "") as the driver reports it, or (None, why no GPU was found: what each way of asking said)."""
    gpu, driver_api = _from_cuda_driver()
    if gpu is not None:
        return gpu, ""
    gpu, smi = _from_nvidia_smi()
    if gpu is not None:
        return gpu, ""
    return None, f"CUDA driver API: {driver_api}; {smi}"


def current_gpu() -> GpuInfo | None:
    """The first NVIDIA GPU, as its driver reports it, or None where there is no GPU or no driver."""
    return probe_gpu()[0]


def require_gpu(what: str) -> GpuInfo:
    gpu, reason = probe_gpu()
    if gpu is None:
        raise WorkbookError(f"{what} needs an NVIDIA GPU with a working driver, and none was found here ({reason}); "
                            "run it on a GPU machine")
    return gpu


@functools.lru_cache(maxsize=1)
def pytorch_cuda_unavailable() -> str | None:
    """Why PyTorch cannot use the GPU here (a CPU-only wheel, a driver too old for its CUDA), or None."""
    import warnings

    import torch

    if torch.version.cuda is None:
        return f"this PyTorch ({torch.__version__}) is built without CUDA; install a CUDA build (pytorch.org)"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        available = torch.cuda.is_available()
    if available:
        return None
    said = " ".join(" ".join(str(w.message) for w in caught).split())[:300]
    return f"PyTorch (built for CUDA {torch.version.cuda}) cannot use it" + (f": {said}" if said else "")
