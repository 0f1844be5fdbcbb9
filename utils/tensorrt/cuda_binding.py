"""The two CUDA bindings the TensorRT runner can use, behind one small interface: pycuda and cuda-python.

cuda-python (`cuda.bindings.runtime`, NVIDIA's bindings of the CUDA runtime API, which TensorRT's own Python samples
use) installs as binary wheels, so a machine with only a driver can run engines: it is the default, and
requirements-gpu.txt installs it. pycuda, which the workbook taught first, builds from source against the CUDA toolkit
(nvcc and the headers): it is the optional one. `CudaBinding` is what the runner needs of either: pinned host arrays, device memory,
asynchronous copies on a stream, streams and events. Both give the same semantics, so the buffers, copies and timers
of utils.tensorrt.cuda_memory are written once.

Which binding: `cuda_binding("pycuda" | "cuda-python" | "auto")`, or $WORKBOOK_CUDA_BINDING for the whole process;
"auto" (the default) is cuda-python where it is importable, else pycuda. Both work in device 0's *primary* context,
the one PyTorch uses, so a binding and PyTorch (or both bindings) can share a process without "invalid device
context" errors: pycuda through `pycuda.autoprimaryctx`, cuda-python because the runtime API always uses the primary
context (`cudaSetDevice(0)` makes it current and initialises it). Nothing is imported until a binding is made.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import weakref
from typing import TYPE_CHECKING, Any, Protocol

from utils.errors import WorkbookError

if TYPE_CHECKING:
    import numpy as np

BINDING_ENV_VAR = "WORKBOOK_CUDA_BINDING"
BINDINGS = ("cuda-python", "pycuda")  # the order "auto" tries them in
AUTO = "auto"
_MODULES = {"pycuda": "pycuda", "cuda-python": "cuda.bindings"}
_INSTALL_HINTS = {"pycuda": "pip install pycuda (it builds against the CUDA toolkit, so it needs nvcc)",
                  "cuda-python": "pip install cuda-python (binary wheels: no CUDA toolkit needed)"}


class CudaStream(Protocol):
    @property
    def binding(self) -> CudaBinding: ...

    @property
    def handle(self) -> int:
        """The stream's address: what TensorRT's execute_async_v3 and cuda-python's calls take."""
        ...

    @property
    def native(self) -> Any:
        """The binding's own stream object."""
        ...

    def synchronize(self) -> None: ...

    def close(self) -> None: ...


class CudaEvent(Protocol):
    @property
    def native(self) -> Any: ...

    def record(self, stream: CudaStream) -> None: ...

    def synchronize(self) -> None: ...

    def time_since(self, start: CudaEvent) -> float:
        """Milliseconds from `start` to this event, both recorded and completed."""
        ...


class DeviceMemory(Protocol):
    def __int__(self) -> int: ...

    def free(self) -> None: ...


class CudaBinding(Protocol):
    """What the runner needs of a CUDA binding. Host arrays from `pinned_empty` are freed when the last array
    viewing them is garbage collected; device memory by `free()` (or when collected)."""

    name: str

    def pinned_empty(self, count: int, dtype: np.dtype) -> np.ndarray: ...

    def device_alloc(self, nbytes: int) -> DeviceMemory: ...

    def copy_htod_async(self, device: DeviceMemory, host: np.ndarray, stream: CudaStream) -> None: ...

    def copy_dtoh_async(self, host: np.ndarray, device: DeviceMemory, stream: CudaStream) -> None: ...

    def new_stream(self) -> CudaStream: ...

    def new_event(self) -> CudaEvent: ...

    def mem_get_info(self) -> tuple[int, int]:
        """(free, total) bytes of device memory."""
        ...


# --- choosing one ----------------------------------------------------------------------------------------------------


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # find_spec("cuda.bindings") imports `cuda`, which may not exist
        return False


def installed_bindings() -> list[str]:
    """The bindings whose module can be imported here, in the order "auto" prefers them."""
    return [name for name in BINDINGS if _importable(_MODULES[name])]


def binding_name(requested: str | None = None) -> str:
    """The binding to use: `requested` ("pycuda", "cuda-python" or "auto"; None: $WORKBOOK_CUDA_BINDING, else
    "auto"), checked to be installed; a one-line WorkbookError says what to install or choose instead."""
    forced = os.environ.get(BINDING_ENV_VAR) if requested is None else None
    name = requested or forced or AUTO
    choices = ", ".join((*BINDINGS, AUTO))
    if name not in (*BINDINGS, AUTO):
        what = f"{BINDING_ENV_VAR}={name!r} is not a CUDA binding" if forced else f"there is no CUDA binding {name!r}"
        raise WorkbookError(f"{what}; use one of: {choices}")
    installed = installed_bindings()
    if name == AUTO:
        if not installed:
            raise WorkbookError("neither CUDA binding is installed: pip install -r requirements-gpu.txt (cuda-python, "
                                "binary wheels), or pycuda where the CUDA toolkit's nvcc is installed")
        return installed[0]
    if name not in installed:
        (other,) = (b for b in BINDINGS if b != name)
        asked = f" ({BINDING_ENV_VAR}={name})" if forced else ""
        raise WorkbookError(f"the CUDA binding {name}{asked} is not installed: {_INSTALL_HINTS[name]}, or choose {other}")
    return name


def cuda_binding(requested: str | CudaBinding | None = None) -> CudaBinding:
    """The binding `requested` names (see `binding_name`), made once per process; a binding object is returned as is."""
    if requested is not None and not isinstance(requested, str):
        return requested
    return _make_binding(binding_name(requested))


@functools.cache
def _make_binding(name: str) -> CudaBinding:
    return PycudaBinding() if name == "pycuda" else CudaPythonBinding()


def cuda_binding_unavailable() -> str | None:
    """Why no CUDA binding can be used here (nothing installed, or a bad $WORKBOOK_CUDA_BINDING), or None.
    Imports neither binding."""
    try:
        binding_name()
    except WorkbookError as exc:
        return str(exc)
    return None


# --- pycuda ----------------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def pycuda_driver() -> Any:
    """`pycuda.driver`, with the primary context of device 0 current, or a one-line error."""
    try:
        import pycuda.driver as driver
    except ImportError:
        raise WorkbookError(f"pycuda is not installed; {_INSTALL_HINTS['pycuda']}, or use cuda-python: "
                            "see requirements-gpu.txt") from None
    try:
        import pycuda.autoprimaryctx  # noqa: F401  (retains and pushes the primary context)
    except Exception as exc:  # pycuda raises its own LogicError/RuntimeError when there is no device or driver
        raise WorkbookError(f"no CUDA device is usable ({str(exc).splitlines()[0]}); check nvidia-smi and the driver") from None
    return driver


class PycudaBinding:
    name = "pycuda"

    def __init__(self) -> None:
        self.driver = pycuda_driver()

    def pinned_empty(self, count: int, dtype: np.dtype) -> np.ndarray:
        return self.driver.pagelocked_empty(count, dtype)

    def device_alloc(self, nbytes: int) -> DeviceMemory:
        return self.driver.mem_alloc(nbytes)  # a DeviceAllocation: int() is its address, free() frees it

    def copy_htod_async(self, device: DeviceMemory, host: np.ndarray, stream: CudaStream) -> None:
        self.driver.memcpy_htod_async(device, host, stream.native)

    def copy_dtoh_async(self, host: np.ndarray, device: DeviceMemory, stream: CudaStream) -> None:
        self.driver.memcpy_dtoh_async(host, device, stream.native)

    def new_stream(self) -> CudaStream:
        return _PycudaStream(self, self.driver.Stream())

    def new_event(self) -> CudaEvent:
        return _PycudaEvent(self.driver.Event())

    def mem_get_info(self) -> tuple[int, int]:
        free, total = self.driver.mem_get_info()
        return int(free), int(total)


class _PycudaStream:
    def __init__(self, binding: PycudaBinding, native: Any) -> None:
        self.binding = binding
        self.native = native
        self.handle = int(native.handle)

    def synchronize(self) -> None:
        self.native.synchronize()

    def close(self) -> None:
        pass  # pycuda destroys the stream when its object is collected


class _PycudaEvent:
    def __init__(self, native: Any) -> None:
        self.native = native

    def record(self, stream: CudaStream) -> None:
        self.native.record(stream.native)

    def synchronize(self) -> None:
        self.native.synchronize()

    def time_since(self, start: CudaEvent) -> float:
        return float(self.native.time_since(start.native))


# --- cuda-python -----------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def cuda_runtime() -> Any:
    """cuda-python's runtime module, `cuda.bindings.runtime`."""
    from cuda.bindings import runtime

    return runtime


def _error_name(runtime: Any, error: Any) -> str:
    name = runtime.cudaGetErrorName(error)[1]
    return name.decode() if isinstance(name, bytes) else str(name)


def check_cuda(result: Any, what: str) -> Any:
    """cuda-python returns (error, value...) tuples: the value (a tuple of them if several), or a one-line
    WorkbookError with the CUDA error's name."""
    error, *values = result if isinstance(result, tuple) else (result,)
    if error != cuda_runtime().cudaError_t.cudaSuccess:
        raise cuda_error(error, what)
    return values[0] if len(values) == 1 else tuple(values)


def cuda_error(error: Any, what: str) -> WorkbookError:
    """The one-line error for a failed cuda-python call: `what` failed with the CUDA error's name."""
    return WorkbookError(f"{what} failed with {_error_name(cuda_runtime(), error)}")


class CudaPythonBinding:
    """cuda-python's runtime API. `runtime` is the `cuda.bindings.runtime` module (a test double in CPU tests)."""

    name = "cuda-python"

    def __init__(self, runtime: Any = None) -> None:
        if runtime is None:
            runtime = cuda_runtime()
        self.runtime = runtime
        (error,) = runtime.cudaSetDevice(0)  # device 0's primary context, current and initialised
        if error != runtime.cudaError_t.cudaSuccess:
            raise WorkbookError(_no_device_message(runtime, error))
        self._success = runtime.cudaError_t.cudaSuccess
        self._memcpy_async = runtime.cudaMemcpyAsync
        self._host_to_device = runtime.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._device_to_host = runtime.cudaMemcpyKind.cudaMemcpyDeviceToHost

    def pinned_empty(self, count: int, dtype: np.dtype) -> np.ndarray:
        import numpy as np

        dtype = np.dtype(dtype)
        nbytes = int(count) * dtype.itemsize
        return np.asarray(_PinnedHostMemory(self.runtime, max(nbytes, 1)))[:nbytes].view(dtype)

    def device_alloc(self, nbytes: int) -> DeviceMemory:
        return _CudaPythonDeviceMemory(self.runtime, nbytes)

    # The copies and event records are timed between events, host time included: they skip check_cuda's generality.
    # A numpy array is passed as is: cuda-python takes its address through the buffer protocol (contiguous only).
    def copy_htod_async(self, device: DeviceMemory, host: np.ndarray, stream: CudaStream) -> None:
        (error,) = self._memcpy_async(int(device), host, host.nbytes, self._host_to_device, stream.native)
        if error != self._success:
            raise cuda_error(error, "cudaMemcpyAsync (host to device)")

    def copy_dtoh_async(self, host: np.ndarray, device: DeviceMemory, stream: CudaStream) -> None:
        (error,) = self._memcpy_async(host, int(device), host.nbytes, self._device_to_host, stream.native)
        if error != self._success:
            raise cuda_error(error, "cudaMemcpyAsync (device to host)")

    def new_stream(self) -> CudaStream:
        return _CudaPythonStream(self)

    def new_event(self) -> CudaEvent:
        return _CudaPythonEvent(self)

    def mem_get_info(self) -> tuple[int, int]:
        free, total = check_cuda(self.runtime.cudaMemGetInfo(), "cudaMemGetInfo")
        return int(free), int(total)


def _no_device_message(runtime: Any, error: Any) -> str:
    name = _error_name(runtime, error)
    if error == runtime.cudaError_t.cudaErrorInsufficientDriver:
        return (f"cuda-python finds no CUDA driver new enough for it ({name}); check nvidia-smi, and with a CUDA 12 "
                "driver pip install \"cuda-python>=12.8,<13\" (cuda-python 13 needs driver 580 or newer)")
    return f"no CUDA device is usable through cuda-python ({name}); check nvidia-smi and the driver"


class _PinnedHostMemory:
    """`cudaMallocHost` memory as numpy sees it (`np.asarray` of it, through `__array_interface__`): every array on
    it keeps this object alive, and `cudaFreeHost` runs when the last one is collected, as with pycuda's pagelocked
    arrays."""

    def __init__(self, runtime: Any, nbytes: int) -> None:
        self.address = int(check_cuda(runtime.cudaMallocHost(nbytes), f"cudaMallocHost of {nbytes} bytes (pinned host memory)"))
        self.nbytes = nbytes
        weakref.finalize(self, runtime.cudaFreeHost, self.address)  # its error, if any, goes unseen

    @property
    def __array_interface__(self) -> dict[str, Any]:
        return {"shape": (self.nbytes,), "typestr": "|u1", "data": (self.address, False), "version": 3}


class _CudaPythonDeviceMemory:
    def __init__(self, runtime: Any, nbytes: int) -> None:
        self.address = int(check_cuda(runtime.cudaMalloc(nbytes), f"cudaMalloc of {nbytes / 2**20:.1f} MiB (GPU memory)"))
        self._free = weakref.finalize(self, runtime.cudaFree, self.address)

    def __int__(self) -> int:
        return self.address

    def free(self) -> None:
        result = self._free()  # None when it was freed already
        if result is not None:
            check_cuda(result, "cudaFree")


class _CudaPythonStream:
    """`cudaStreamCreate`'s stream: default flags, so it synchronises with the legacy default stream, as pycuda's
    `Stream()` does."""

    def __init__(self, binding: CudaPythonBinding) -> None:
        runtime = binding.runtime
        self.binding = binding
        self.native = check_cuda(runtime.cudaStreamCreate(), "cudaStreamCreate")
        self.handle = int(self.native)
        self._destroy = weakref.finalize(self, runtime.cudaStreamDestroy, self.native)

    def synchronize(self) -> None:
        check_cuda(self.binding.runtime.cudaStreamSynchronize(self.native), "cudaStreamSynchronize")

    def close(self) -> None:
        result = self._destroy()
        if result is not None:
            check_cuda(result, "cudaStreamDestroy")


class _CudaPythonEvent:
    """`cudaEventCreate`'s event: default flags (timing on), as pycuda's `Event()`."""

    def __init__(self, binding: CudaPythonBinding) -> None:
        self.runtime = runtime = binding.runtime
        self._success = binding._success
        self._record = runtime.cudaEventRecord
        self.native = check_cuda(runtime.cudaEventCreate(), "cudaEventCreate")
        weakref.finalize(self, runtime.cudaEventDestroy, self.native)

    def record(self, stream: CudaStream) -> None:
        (error,) = self._record(self.native, stream.native)
        if error != self._success:
            raise cuda_error(error, "cudaEventRecord")

    def synchronize(self) -> None:
        check_cuda(self.runtime.cudaEventSynchronize(self.native), "cudaEventSynchronize")

    def time_since(self, start: CudaEvent) -> float:
        return float(check_cuda(self.runtime.cudaEventElapsedTime(start.native, self.native), "cudaEventElapsedTime"))
