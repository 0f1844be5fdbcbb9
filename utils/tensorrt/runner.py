"""Run a TensorRT engine: the named-tensor API of TensorRT 8.6, 10.x, 11.x and TensorRT-RTX.

    with TensorRTRunner("model.engine") as runner:                # cuda_binding="cuda-python" to choose
        logits = runner.infer({"input": batch})["logits"]

Buffers are allocated once, pinned on the host and sized from the optimization profile's maximum shapes; one
stream carries the copies and the execution; `close()` (or leaving the `with` block) frees everything. The CUDA
calls go through cuda-python or pycuda (utils.tensorrt.cuda_binding: cuda-python where it is installed, unless
`cuda_binding=` or $WORKBOOK_CUDA_BINDING says otherwise), with the same buffers and copies either way.

What TensorRT's Python API reports by return value rather than by exception is checked here: a context it could
not create (None), a tensor address or an input shape it refused (False).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from utils.errors import WorkbookError

if TYPE_CHECKING:
    import numpy as np

    from utils.tensorrt.api import TensorRT
    from utils.tensorrt.cuda_binding import CudaBinding
    from utils.tensorrt.cuda_memory import DeviceTensor

PROFILE_INDEX = 0


class TensorRTRunner:
    """One engine, one execution context, one stream and one pinned/device buffer pair per I/O tensor.

    `cuda_binding`: "pycuda", "cuda-python", "auto" or a CudaBinding (None: $WORKBOOK_CUDA_BINDING, else "auto")."""

    def __init__(self, engine_path: str | os.PathLike[str] | None = None, *, engine: Any = None,
                 tensorrt: TensorRT | None = None, cuda_binding: str | CudaBinding | None = None) -> None:
        from utils.gpu import require_gpu
        from utils.tensorrt import cuda_binding as bindings
        from utils.tensorrt.cuda_memory import DeviceTensor

        require_gpu("Running a TensorRT engine")
        self.cuda_binding = bindings.cuda_binding(cuda_binding)
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
        binding = self.cuda_binding
        bound = bind_buffers(engine, lambda name, shape, dtype: DeviceTensor(name, shape, dtype, binding))
        self.context = bound.context
        self.inputs: dict[str, DeviceTensor] = bound.inputs
        self.outputs: dict[str, DeviceTensor] = bound.outputs
        self.profile_shapes = bound.profile_shapes
        self.stream = binding.new_stream()

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
        if self.stream is not None:
            self.stream.close()
            self.stream = None  # type: ignore[assignment]
        self.context = None
        self.engine = None
        self.runtime = None

    def __enter__(self) -> TensorRTRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class BoundBuffers:
    context: Any  # the engine's IExecutionContext, every tensor's address set
    inputs: dict[str, DeviceTensor]
    outputs: dict[str, DeviceTensor]
    profile_shapes: dict[str, tuple[tuple[int, ...], ...]]  # input name: (min, opt, max) of profile PROFILE_INDEX


def bind_buffers(engine: Any, allocate: Callable[[str, tuple[int, ...], np.dtype], DeviceTensor]) -> BoundBuffers:
    """An execution context of `engine`, with a buffer from `allocate(name, max_shape, dtype)` for each I/O tensor,
    sized for the profile's maximum shapes and bound with `set_tensor_address`. What TensorRT refuses is a one-line
    error, and the buffers allocated by then are freed."""
    from utils.tensorrt.api import numpy_dtype

    context = engine.create_execution_context()
    if context is None:  # what TensorRT returns when it cannot allocate the context's memory (Polygraphy checks it too)
        raise WorkbookError("TensorRT could not create an execution context (the GPU memory for the engine's activations "
                            "could not be allocated); free GPU memory, or rebuild the engine with a smaller maximum batch (--batch)")
    names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
    input_names = [n for n in names if _is_input(engine, n)]
    profile_shapes = {n: tuple(tuple(s) for s in engine.get_tensor_profile_shape(n, PROFILE_INDEX)) for n in input_names}
    for name in input_names:
        if not context.set_input_shape(name, profile_shapes[name][2]):
            raise WorkbookError(f"TensorRT refused input {name!r} at its profile's maximum shape {profile_shapes[name][2]}; rebuild the engine")
    buffers: dict[str, DeviceTensor] = {}
    try:
        for name in names:
            max_shape = tuple(context.get_tensor_shape(name))
            if any(d < 0 for d in max_shape):
                raise WorkbookError(f"tensor {name!r} has shape {max_shape}, not known from the input shapes; the runner "
                                    "needs outputs whose shapes follow from the inputs'")
            buffers[name] = allocate(name, max_shape, numpy_dtype(engine.get_tensor_dtype(name)))
            if not context.set_tensor_address(name, buffers[name].device_address):
                raise WorkbookError(f"TensorRT refused the device address of tensor {name!r} (set_tensor_address "
                                    "returned False: a name or alignment it does not accept); rebuild the engine with this TensorRT")
    except BaseException:
        for buffer in buffers.values():
            buffer.free()
        raise
    return BoundBuffers(context, {n: buffers[n] for n in input_names},
                        {n: b for n, b in buffers.items() if n not in input_names}, profile_shapes)


def _is_input(engine: Any, name: str) -> bool:
    """Compared with the INPUT member of the enum that the engine itself returns (tensorrt's or tensorrt_rtx's
    TensorIOMode, or a test double's), so no TensorRT module has to be matched to an engine given as an object, and
    an enum whose str() is not "TensorIOMode.INPUT" (an IntEnum's is "1" on Python 3.11+) is still read right."""
    mode = engine.get_tensor_mode(name)
    return bool(mode == type(mode).INPUT)
