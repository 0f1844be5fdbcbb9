"""Test doubles for the TensorRT runner: an engine with the named-tensor interface, and a CUDA runtime on host memory.

`IdentityEngine` is NOT TensorRT: `execute_async_v3` copies the input's device memory to the output's device memory.
What it lets a test check for real is the runner's own work: buffer sizing from the profile, pinned and device
allocations, set_input_shape / set_tensor_address bookkeeping, the copies, the stream, and freeing. Its options
make it answer as TensorRT does when things go wrong: `create_execution_context` returning None (no memory for the
activations), `set_tensor_address` returning False; its tensor modes are enum members whose str() is their value.

`HostCudaRuntime` stands in for `cuda.bindings.runtime` (its enums are the real ones) with "device" memory that
is host memory, so the cuda-python binding and the runner run on a machine without a GPU. Its checks are those
CUDA makes that a wrong call would trip: copies inside allocations, in the direction `kind` says, from and to
pinned host memory, on a live stream; events timed only once recorded.
"""

from __future__ import annotations

import ctypes
import enum
import itertools
import time
from collections.abc import Callable

import numpy as np


class TensorIOMode(enum.IntEnum):
    """TensorRT's TensorIOMode members and values. Its str() is the value, as an IntEnum's is on Python 3.11+, so
    a runner that reads the mode from str() gets it wrong."""

    NONE = 0
    INPUT = 1
    OUTPUT = 2

    def __str__(self) -> str:
        return str(self.value)


class IdentityContext:
    def __init__(self, engine: IdentityEngine) -> None:
        self.engine = engine
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.addresses: dict[str, int] = {}
        self.executions = 0

    def set_input_shape(self, name: str, shape: tuple[int, ...]) -> bool:
        low, _, high = self.engine.profile
        if len(shape) != len(low) or any(not lo <= d <= hi for d, lo, hi in zip(shape, low, high)):
            return False
        self.shapes["input"] = tuple(shape)
        self.shapes["output"] = tuple(shape)
        return True

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        return self.shapes[name]

    def set_tensor_address(self, name: str, address: int) -> bool:
        if name not in ("input", "output") or name in self.engine.refused_addresses:
            return False
        self.addresses[name] = address
        return True

    def execute_async_v3(self, stream_handle: int) -> bool:
        nbytes = int(np.prod(self.shapes["input"])) * np.dtype(np.float32).itemsize
        if not self._copy(self.addresses["output"], self.addresses["input"], nbytes, stream_handle):
            return False
        self.executions += 1
        return True

    def _copy(self, dst: int, src: int, nbytes: int, stream_handle: int) -> bool:
        if self.engine.device_copy is not None:
            return self.engine.device_copy(dst, src, nbytes, stream_handle)
        try:
            from cuda.bindings import runtime
        except ImportError:  # pycuda alone: a synchronous copy on the legacy default stream, which orders itself
            import pycuda.driver as cuda  # with the runner's blocking stream (it cannot be captured in a CUDA graph)

            cuda.memcpy_dtod(dst, src, nbytes)
            return True
        # queued on the runner's stream, as TensorRT queues its kernels: a CUDA graph can capture it
        (error,) = runtime.cudaMemcpyAsync(dst, src, nbytes, runtime.cudaMemcpyKind.cudaMemcpyDeviceToDevice, stream_handle)
        return error == runtime.cudaError_t.cudaSuccess


class IdentityEngine:
    """`context_memory=False`: `create_execution_context` returns None, as TensorRT's does when the activation memory
    cannot be allocated. `refused_addresses`: tensors whose `set_tensor_address` returns False. `device_copy(dst,
    src, nbytes, stream_handle) -> bool` replaces the CUDA copy of `execute_async_v3` (HostCudaRuntime's, on a CPU)."""

    num_io_tensors = 2

    def __init__(self, features: int = 1000, max_batch: int = 32, *, context_memory: bool = True,
                 refused_addresses: tuple[str, ...] = (),
                 device_copy: Callable[[int, int, int, int], bool] | None = None) -> None:
        self.profile = ((1, features), (8, features), (max_batch, features))
        self.contexts: list[IdentityContext] = []
        self.context_memory = context_memory
        self.refused_addresses = refused_addresses
        self.device_copy = device_copy

    def get_tensor_name(self, index: int) -> str:
        return ("input", "output")[index]

    def get_tensor_mode(self, name: str) -> TensorIOMode:
        return TensorIOMode.INPUT if name == "input" else TensorIOMode.OUTPUT

    def get_tensor_dtype(self, name: str) -> np.dtype:
        return np.dtype(np.float32)

    def get_tensor_profile_shape(self, name: str, profile_index: int):
        return self.profile

    def create_execution_context(self) -> IdentityContext | None:
        if not self.context_memory:
            return None
        context = IdentityContext(self)
        self.contexts.append(context)
        return context


class HostCudaRuntime:
    """The calls of `cuda.bindings.runtime` that utils.tensorrt.cuda_binding makes, on host memory.

    `failing`: call name -> the cudaError_t that call returns instead of doing anything. `pageable`: copies may read and
    write any host memory (CUDA's cudaMemcpyAsync accepts pageable memory and copies it synchronously); by default only
    pinned memory, which is what the runner must use."""

    def __init__(self, failing: dict[str, object] | None = None, total_bytes: int = 1 << 30, *,
                 pageable: bool = False) -> None:
        from cuda.bindings import runtime

        self.cudaError_t = runtime.cudaError_t
        self.cudaMemcpyKind = runtime.cudaMemcpyKind
        self.cudaGetErrorName = runtime.cudaGetErrorName
        self.failing = dict(failing or {})
        self.total_bytes = total_bytes
        self.pinned: dict[int, ctypes.Array] = {}
        self.device: dict[int, ctypes.Array] = {}
        self.streams: set[int] = set()
        self.events: dict[int, float | None] = {}
        self.calls: list[str] = []
        self.pageable = pageable
        self._handles = itertools.count(0x1000)

    def _fails(self, call: str):
        self.calls.append(call)
        return self.failing.get(call)

    def _ok(self, *values):
        return (self.cudaError_t.cudaSuccess, *values)

    def _error(self, name: str, *values):
        return (getattr(self.cudaError_t, name), *values)

    # --- device and memory ------------------------------------------------------------------------------------------

    def cudaSetDevice(self, device: int):
        return (self._fails("cudaSetDevice") or self.cudaError_t.cudaSuccess,)

    def _allocate(self, call: str, table: dict[int, ctypes.Array], size: int):
        if (error := self._fails(call)) is not None:
            return (error, None)
        buffer = (ctypes.c_byte * size)()
        table[ctypes.addressof(buffer)] = buffer
        return self._ok(ctypes.addressof(buffer))

    def _release(self, call: str, table: dict[int, ctypes.Array], pointer: int):
        if (error := self._fails(call)) is not None:
            return (error,)
        if pointer not in table:
            return self._error("cudaErrorInvalidValue")
        del table[pointer]
        return self._ok()

    def cudaMallocHost(self, size: int):
        return self._allocate("cudaMallocHost", self.pinned, size)

    def cudaFreeHost(self, pointer: int):
        return self._release("cudaFreeHost", self.pinned, pointer)

    def cudaMalloc(self, size: int):
        return self._allocate("cudaMalloc", self.device, size)

    def cudaFree(self, pointer: int):
        return self._release("cudaFree", self.device, pointer)

    def cudaMemGetInfo(self):
        used = sum(len(buffer) for buffer in self.device.values())
        return self._ok(self.total_bytes - used, self.total_bytes)

    # --- copies -----------------------------------------------------------------------------------------------------

    @staticmethod
    def _address(pointer) -> int:
        """What cuda-python accepts for a pointer: an int, or a contiguous buffer (a numpy array)."""
        if isinstance(pointer, int):
            return pointer
        if isinstance(pointer, np.ndarray):
            if not (pointer.flags.c_contiguous or pointer.flags.f_contiguous):
                raise ValueError("ndarray is not contiguous")
            return pointer.ctypes.data
        raise TypeError(f"Provided argument is of type {type(pointer)} but expected an int or a buffer")

    @staticmethod
    def _inside(table: dict[int, ctypes.Array], address: int, count: int) -> bool:
        return any(start <= address and address + count <= start + len(buffer) for start, buffer in table.items())

    def cudaMemcpyAsync(self, dst, src, count: int, kind, stream):
        if (error := self._fails("cudaMemcpyAsync")) is not None:
            return (error,)
        dst_address, src_address = self._address(dst), self._address(src)
        tables = {self.cudaMemcpyKind.cudaMemcpyHostToDevice: (self.device, self.pinned),
                  self.cudaMemcpyKind.cudaMemcpyDeviceToHost: (self.pinned, self.device),
                  self.cudaMemcpyKind.cudaMemcpyDeviceToDevice: (self.device, self.device)}
        if kind not in tables or int(stream) not in self.streams:
            return self._error("cudaErrorInvalidValue")
        dst_table, src_table = tables[kind]
        def fits(table, address):
            host = table is self.pinned and self.pageable and not self._inside(self.device, address, count)
            return host or self._inside(table, address, count)
        if not (fits(dst_table, dst_address) and fits(src_table, src_address)):
            return self._error("cudaErrorInvalidValue")
        ctypes.memmove(dst_address, src_address, count)
        return self._ok()

    def copy_device_to_device(self, dst: int, src: int, nbytes: int, stream_handle: int) -> bool:
        """IdentityEngine's `device_copy`."""
        (error,) = self.cudaMemcpyAsync(dst, src, nbytes, self.cudaMemcpyKind.cudaMemcpyDeviceToDevice, stream_handle)
        return error == self.cudaError_t.cudaSuccess

    # --- streams and events -----------------------------------------------------------------------------------------

    def cudaStreamCreate(self):
        if (error := self._fails("cudaStreamCreate")) is not None:
            return (error, None)
        handle = next(self._handles)
        self.streams.add(handle)
        return self._ok(handle)

    def cudaStreamSynchronize(self, stream):
        return self._ok() if int(stream) in self.streams else self._error("cudaErrorInvalidResourceHandle")

    def cudaStreamDestroy(self, stream):
        if int(stream) not in self.streams:
            return self._error("cudaErrorInvalidResourceHandle")
        self.streams.remove(int(stream))
        return self._ok()

    def cudaEventCreate(self):
        handle = next(self._handles)
        self.events[handle] = None
        return self._ok(handle)

    def cudaEventRecord(self, event, stream):
        if int(event) not in self.events or int(stream) not in self.streams:
            return self._error("cudaErrorInvalidResourceHandle")
        self.events[int(event)] = time.perf_counter()
        return self._ok()

    def cudaEventSynchronize(self, event):
        return self._ok() if int(event) in self.events else self._error("cudaErrorInvalidResourceHandle")

    def cudaEventElapsedTime(self, start, end):
        start_s, end_s = self.events.get(int(start)), self.events.get(int(end))
        if start_s is None or end_s is None:  # never recorded, or destroyed
            return self._error("cudaErrorInvalidResourceHandle", None)
        return self._ok((end_s - start_s) * 1e3)

    def cudaEventDestroy(self, event):
        if self.events.pop(int(event), "missing") == "missing":
            return self._error("cudaErrorInvalidResourceHandle")
        return self._ok()
