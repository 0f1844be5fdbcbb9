"""What GPU this process can see, through PyTorch (always installed) so no CUDA Python package is needed."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from utils.errors import WorkbookError


@dataclass(frozen=True)
class GpuInfo:
    name: str
    compute_capability: str  # "9.0"
    memory_gib: float


@functools.lru_cache(maxsize=1)
def current_gpu() -> GpuInfo | None:
    """The first CUDA device, or None where there is none (no GPU, no driver, or a CPU build of PyTorch)."""
    import torch

    if not torch.cuda.is_available():
        return None
    properties = torch.cuda.get_device_properties(0)
    return GpuInfo(name=properties.name, compute_capability=f"{properties.major}.{properties.minor}",
                   memory_gib=round(properties.total_memory / 2**30, 1))


def require_gpu(what: str) -> GpuInfo:
    gpu = current_gpu()
    if gpu is None:
        raise WorkbookError(f"{what} needs an NVIDIA GPU with a working driver, and none is visible here; run it on a GPU machine")
    return gpu
