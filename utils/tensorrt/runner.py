"""Run a TensorRT engine with pycuda buffers: the named-tensor API of TensorRT 8.6, 10.x, 11.x and TensorRT-RTX.

    with TensorRTRunner("model.engine") as runner:
        logits = runner.infer({"input": batch})["logits"]

Buffers are allocated once, pinned on the host and sized from the optimization profile's maximum shapes; one
stream carries the copies and the execution; `close()` (or leaving the `with` block) frees everything.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from utils.errors import WorkbookError

if TYPE_CHECKING:
    import numpy as np

    from utils.tensorrt.api import TensorRT
    from utils.tensorrt.cuda_memory import DeviceTensor

PROFILE_INDEX = 0


class TensorRTRunner:
    """One engine, one execution context, one stream and one pinned/device buffer pair per I/O tensor."""

    def __init__(self, engine_path: str | os.PathLike[str] | None = None, *, engine: Any = None,
                 tensorrt: TensorRT | None = None) -> None:
        from utils.gpu import require_gpu
        from utils.tensorrt.api import numpy_dtype
        from utils.tensorrt.cuda_memory import DeviceTensor, new_stream, pycuda_driver

        require_gpu("Running a TensorRT engine")
        pycuda_driver()
        self.runtime = None
        if engine is None:
            if engine_path is None:
                raise WorkbookError("give an engine file to run")
            from utils.tensorrt.engine_file import deserialize_engine

            self.runtime, engine = deserialize_engine(engine_path, tensorrt)
        self.engine = engine
        self._logger = None
        if self.runtime is not None:
            from utils.tensorrt.api import load_tensorrt
            from utils.tensorrt.logger import shared_logger

            self._logger = shared_logger(tensorrt or load_tensorrt())
        self.context = engine.create_execution_context()
        self.stream = new_stream()
        self.inputs: dict[str, DeviceTensor] = {}
        self.outputs: dict[str, DeviceTensor] = {}

        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        input_names = [n for n in names if _is_input(engine, n)]
        self.profile_shapes = {n: tuple(tuple(s) for s in engine.get_tensor_profile_shape(n, PROFILE_INDEX)) for n in input_names}
        for name in input_names:
            self.context.set_input_shape(name, self.profile_shapes[name][2])
        for name in names:
            dtype = numpy_dtype(engine.get_tensor_dtype(name))
            max_shape = tuple(self.context.get_tensor_shape(name))
            buffer = DeviceTensor(name, max_shape, dtype)
            (self.inputs if name in input_names else self.outputs)[name] = buffer
            self.context.set_tensor_address(name, buffer.device_address)

    @property
    def batch_range(self) -> tuple[int, int]:
        """The smallest and largest batch every input's profile accepts."""
        lows = [shapes[0][0] for shapes in self.profile_shapes.values()]
        highs = [shapes[2][0] for shapes in self.profile_shapes.values()]
        return max(lows), min(highs)

    def input_view(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """The pinned host buffer of input `name`, shaped `shape`. Write a batch into it (`view[:] = batch`, or
        preprocess straight into it) and pass it to `infer`: the host-to-device copy then starts from pinned
        memory with no staging copy, at the full transfer speed (measured: 0.99 of a plain pinned copy)."""
        if name not in self.inputs:
            raise WorkbookError(f"the engine has no input {name!r}; it takes {sorted(self.inputs)}")
        return self.inputs[name].host_view(shape)

    def copy_inputs(self, feeds: dict[str, np.ndarray]) -> None:
        """Set input shapes and queue the host-to-device copies."""
        missing = set(self.inputs) - set(feeds)
        if missing:
            raise WorkbookError(f"inputs {sorted(missing)} were not given; the engine takes {sorted(self.inputs)}")
        for name, array in feeds.items():
            if name not in self.inputs:
                raise WorkbookError(f"the engine has no input {name!r}; it takes {sorted(self.inputs)}")
            low, _, high = self.profile_shapes[name]
            if len(array.shape) != len(low) or any(not lo <= d <= hi for d, lo, hi in zip(array.shape, low, high)):
                raise WorkbookError(f"input {name!r} of shape {tuple(array.shape)} is outside the engine's profile {low} to {high}; rebuild with a wider --batch")
            if not self.context.set_input_shape(name, tuple(array.shape)):
                raise WorkbookError(f"TensorRT refused shape {tuple(array.shape)} for input {name!r}; stay within {low} to {high}")
            self.inputs[name].upload(array, self.stream)

    def execute(self) -> None:
        """Queue the engine's execution on the stream."""
        if self._logger is None:
            ok = self.context.execute_async_v3(self.stream.handle)
            summary = "no TensorRT logger is attached to this engine"
        else:
            with self._logger.capture() as capture:
                ok = self.context.execute_async_v3(self.stream.handle)
            summary = capture.summary()
        if not ok:
            raise WorkbookError(f"TensorRT failed to enqueue the engine (execute_async_v3 returned False): {summary}")

    def copy_outputs(self) -> dict[str, np.ndarray]:
        """Queue the device-to-host copies of every output at its current shape, and wait for the stream."""
        views = {name: buffer.download(tuple(self.context.get_tensor_shape(name)), self.stream)
                 for name, buffer in self.outputs.items()}
        self.stream.synchronize()
        return {name: view.copy() for name, view in views.items()}

    def infer(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.copy_inputs(feeds)
        self.execute()
        return self.copy_outputs()

    def close(self) -> None:
        for buffer in [*self.inputs.values(), *self.outputs.values()]:
            buffer.free()
        self.inputs, self.outputs = {}, {}
        self.context = None
        self.engine = None
        self.runtime = None

    def __enter__(self) -> TensorRTRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_input(engine: Any, name: str) -> bool:
    return str(engine.get_tensor_mode(name)).rsplit(".", 1)[-1] == "INPUT"
