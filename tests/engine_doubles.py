"""A test double with the named-tensor engine interface, for testing the pycuda runner on a GPU without TensorRT.

It is NOT TensorRT: `execute_async_v3` copies the input's device memory to the output's device memory. What it
lets a GPU test check for real is the runner's own work: buffer sizing from the profile, pinned and device
allocations, set_input_shape / set_tensor_address bookkeeping, the copies, the stream, and freeing.
"""

from __future__ import annotations

import numpy as np


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
        self.addresses[name] = address
        return True

    def execute_async_v3(self, stream_handle: int) -> bool:
        nbytes = int(np.prod(self.shapes["input"])) * np.dtype(np.float32).itemsize
        try:
            from cuda.bindings import runtime
        except ImportError:  # pycuda alone: a synchronous copy on the legacy default stream, which orders itself
            import pycuda.driver as cuda  # with the runner's blocking stream (it cannot be captured in a CUDA graph)

            cuda.memcpy_dtod(self.addresses["output"], self.addresses["input"], nbytes)
        else:  # queued on the runner's stream, as TensorRT queues its kernels: a CUDA graph can capture it
            (error,) = runtime.cudaMemcpyAsync(self.addresses["output"], self.addresses["input"], nbytes,
                                               runtime.cudaMemcpyKind.cudaMemcpyDeviceToDevice, stream_handle)
            if error != runtime.cudaError_t.cudaSuccess:
                return False
        self.executions += 1
        return True


class IdentityEngine:
    num_io_tensors = 2

    def __init__(self, features: int = 1000, max_batch: int = 32) -> None:
        self.profile = ((1, features), (8, features), (max_batch, features))
        self.contexts: list[IdentityContext] = []

    def get_tensor_name(self, index: int) -> str:
        return ("input", "output")[index]

    def get_tensor_mode(self, name: str) -> str:
        return "TensorIOMode.INPUT" if name == "input" else "TensorIOMode.OUTPUT"

    def get_tensor_dtype(self, name: str) -> np.dtype:
        return np.dtype(np.float32)

    def get_tensor_profile_shape(self, name: str, profile_index: int):
        return self.profile

    def create_execution_context(self) -> IdentityContext:
        context = IdentityContext(self)
        self.contexts.append(context)
        return context
