"""TensorRT: the workbook's engine for a model and precision, run by the pycuda runner (utils.tensorrt.runner)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from utils.errors import WorkbookError
from utils.runtimes.base import Runtime

if TYPE_CHECKING:
    import numpy as np

    from utils.tensorrt.cuda_memory import PycudaEventTimer


def engine_profile(max_batch: int) -> tuple[int, int, int]:
    """The batch profile for batches up to `max_batch`: the workbook's default (1, 8, 32) when it covers them."""
    from utils.artifacts import DEFAULT_ENGINE_BATCH

    if max_batch < 1:
        raise WorkbookError(f"batch {max_batch} is not positive")
    low, opt, high = DEFAULT_ENGINE_BATCH
    return DEFAULT_ENGINE_BATCH if max_batch <= high else (low, opt, max_batch)


class TensorRTRuntime(Runtime):
    """The batch is written straight into the runner's pinned input buffer by `bind`, so an iteration's upload is
    only the DMA, as PyTorch's GPU runtimes copy from pinned memory too; outputs land in pinned buffers."""

    name = "tensorrt"
    device = "cuda"
    timer = "cuda-events (pycuda)"
    description = "TensorRTRunner (pycuda buffers, execute_async_v3) on the workbook's engine"
    precisions = ("fp32", "fp16", "int8")  # int8: an engine built from the Q/DQ model with FP16 elsewhere

    @classmethod
    def unavailable_reason(cls) -> str | None:
        from utils.environment import engine_execution_unavailable

        return engine_execution_unavailable()

    def __init__(self, model_name: str, precision: str = "fp32", *, max_batch: int = 32,
                 engine_file: str | os.PathLike[str] | None = None) -> None:
        from utils import artifacts
        from utils.tensorrt.cuda_memory import pycuda_driver
        from utils.tensorrt.runner import TensorRTRunner

        super().__init__(model_name, precision, max_batch=max_batch)
        self.engine_file = engine_file or artifacts.engine(model_name, precision, engine_profile(max_batch))
        self._driver = pycuda_driver()
        self._free_before = self._free_lowest = self._driver.mem_get_info()[0]
        self.runner = TensorRTRunner(self.engine_file)
        if len(self.runner.inputs) != 1:
            self.runner.close()
            raise WorkbookError(f"{self.engine_file} takes {len(self.runner.inputs)} inputs; the workbook's runtimes feed one image batch")
        (self.input_name,) = self.runner.inputs
        self.feeds: dict[str, Any] = {}
        self.output_shapes: dict[str, tuple[int, ...]] = {}
        self._results: dict[str, Any] = {}

    def bind(self, batch: np.ndarray) -> None:
        low, high = self.runner.batch_range
        if not low <= batch.shape[0] <= high:
            raise WorkbookError(f"batch {batch.shape[0]} is outside the engine's profile {low} to {high}; "
                                "open the runtime with a larger max_batch")
        view = self.runner.input_view(self.input_name, batch.shape)
        view[...] = batch
        self.feeds = {self.input_name: view}
        self.runner.copy_inputs(self.feeds)  # sets the input shape, so the output shapes are known
        self.output_shapes = {name: tuple(self.runner.context.get_tensor_shape(name)) for name in self.runner.outputs}
        self.runner.stream.synchronize()

    def _upload(self) -> None:
        self.runner.copy_inputs(self.feeds)

    def _download(self) -> None:
        self._results = {name: buffer.download(self.output_shapes[name], self.runner.stream)
                         for name, buffer in self.runner.outputs.items()}

    def stage_calls(self) -> tuple[Callable[[], Any], ...]:
        return (self._upload, self.runner.execute, self._download)

    def run_bound(self) -> None:
        for call in self.stage_calls():
            call()
        self.runner.stream.synchronize()

    def output(self) -> np.ndarray:
        return next(iter(self._results.values())).copy()

    def event_timer(self, count: int) -> PycudaEventTimer:
        from utils.tensorrt.cuda_memory import PycudaEventTimer

        return PycudaEventTimer(self.runner.stream, count)

    def device_memory_bytes(self) -> int | None:
        self._free_lowest = min(self._free_lowest, self._driver.mem_get_info()[0])
        return int(self._free_before - self._free_lowest)

    def close(self) -> None:
        if getattr(self, "runner", None) is not None:
            self.runner.close()
            self.runner = None  # type: ignore[assignment]
