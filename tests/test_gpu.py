"""The GPU is found by asking its driver, not PyTorch: a CPU-only PyTorch (or one built for a newer CUDA than the
driver) next to a working TensorRT is a GPU machine. The driver API is a double of `cuda.bindings.driver` with the
documented signatures ((CUresult, value) tuples; cuDeviceGetName(length, device) -> bytes), nvidia-smi a script
printing what `--query-gpu=name,compute_cap,memory.total --format=csv,noheader,nounits` prints."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from utils import environment, gpu
from utils.errors import WorkbookError


class FakeDriver:
    CUresult = SimpleNamespace(CUDA_SUCCESS=0, CUDA_ERROR_NO_DEVICE=100)
    CUdevice_attribute = SimpleNamespace(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR=75,
                                         CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR=76)

    def __init__(self, init_error=0):
        self.init_error = init_error

    def cuInit(self, flags):
        return (self.init_error,)

    def cuGetErrorName(self, error):
        return 0, b"CUDA_ERROR_NO_DEVICE"

    def cuDeviceGetCount(self):
        return 0, 1

    def cuDeviceGet(self, ordinal):
        return 0, ordinal

    def cuDeviceGetName(self, length, device):
        return 0, b"NVIDIA H100 80GB HBM3" + b"\0" * (length - 21)

    def cuDeviceGetAttribute(self, attribute, device):
        return 0, {75: 9, 76: 0}[attribute]

    def cuDeviceTotalMem(self, device):
        return 0, 85_045_510_144

    def cuDriverGetVersion(self):
        return 0, 13000


@pytest.fixture(autouse=True)
def _fresh_probe():
    gpu.probe_gpu.cache_clear()
    gpu.pytorch_cuda_unavailable.cache_clear()
    yield
    gpu.probe_gpu.cache_clear()
    gpu.pytorch_cuda_unavailable.cache_clear()


def test_the_driver_api_names_the_gpu():
    found, reason = gpu._from_cuda_driver(FakeDriver())
    assert found == gpu.GpuInfo("NVIDIA H100 80GB HBM3", "9.0", 79.2, "13.0") and reason == ""
    assert gpu._from_cuda_driver(FakeDriver(init_error=100)) == (None, "cuInit failed with CUDA_ERROR_NO_DEVICE")


def test_a_gpu_pytorch_cannot_see_is_still_found_and_each_no_says_why(monkeypatch):
    """A CPU-only PyTorch wheel beside a driver that reports an H100: the GPU is there for TensorRT's checks."""
    import torch

    driver_api = gpu._from_cuda_driver
    monkeypatch.setattr(gpu, "_from_cuda_driver", lambda: driver_api(FakeDriver()))
    monkeypatch.setattr(torch.version, "cuda", None)
    assert gpu.current_gpu().name == "NVIDIA H100 80GB HBM3"
    assert environment.gpu_unavailable() is None
    assert environment.pytorch_gpu_unavailable().startswith(f"this PyTorch ({torch.__version__}) is built without CUDA")


def test_pytorch_built_for_a_newer_cuda_says_what_it_said(monkeypatch):
    import warnings

    import torch

    def is_available():
        warnings.warn("CUDA initialization: The NVIDIA driver on your system is too old (found version 12080).", stacklevel=2)
        return False

    monkeypatch.setattr(torch.version, "cuda", "13.0")
    monkeypatch.setattr(torch.cuda, "is_available", is_available)
    assert gpu.pytorch_cuda_unavailable() == ("PyTorch (built for CUDA 13.0) cannot use it: CUDA initialization: The "
                                              "NVIDIA driver on your system is too old (found version 12080).")


def test_nvidia_smi_answers_where_the_driver_api_cannot(monkeypatch, tmp_path):
    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'NVIDIA H200, 9.0, 143771'\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(gpu, "_from_cuda_driver", lambda: (None, "cuda-python is not installed"))
    assert gpu.current_gpu() == gpu.GpuInfo("NVIDIA H200", "9.0", 140.4)


def test_without_a_driver_every_way_of_asking_says_why(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(gpu, "_from_cuda_driver", lambda: (None, "libcuda.so.1 not found"))
    assert gpu.current_gpu() is None
    reason = environment.gpu_unavailable()
    assert reason == "no NVIDIA GPU found (CUDA driver API: libcuda.so.1 not found; nvidia-smi is not on PATH)"
    with pytest.raises(WorkbookError, match=r"^Running a TensorRT engine needs an NVIDIA GPU .*nvidia-smi is not on PATH\); "):
        gpu.require_gpu("Running a TensorRT engine")
    access = environment.gpu_access()
    assert access["driver"] == reason and access["PyTorch"] == reason
    assert all(value for value in access.values())
