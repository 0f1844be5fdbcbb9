"""TensorRT: the workbook's engine for a model and precision, run by TensorRTRunner (utils.tensorrt.runner) with
pycuda or cuda-python buffers."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from utils.errors import WorkbookError
from utils.runtimes.base import Runtime

if TYPE_CHECKING:
    import numpy as np

    from utils.tensorrt.cuda_graph import CapturedGraph
    from utils.tensorrt.cuda_memory import EventTimer


def engine_profile(max_batch: int) -> tuple[int, int, int]:
    """The batch profile for batches up to `max_batch`: the workbook's default (1, 8, 32) when it covers them."""
    from utils.artifacts import DEFAULT_ENGINE_BATCH

    if max_batch < 1:
        raise WorkbookError(f"batch {max_batch} is not positive")
    low, opt, high = DEFAULT_ENGINE_BATCH
    return DEFAULT_ENGINE_BATCH if max_batch <= high else (low, opt, max_batch)


class TensorRTRuntime(Runtime):
    """The batch is written straight into the runner's pinned input buffer by `bind`, so an iteration's upload is
    only the DMA, as PyTorch's GPU runtimes copy from pinned memory too; outputs land in pinned buffers.

    Option `batch-profile`: each bound batch size gets an engine whose optimization profile is exactly that batch
    (min = opt = max), built once and cached like every engine, so no batch runs on kernels TensorRT chose for
    another (the default engine is tuned for batch 8, `artifacts.DEFAULT_ENGINE_BATCH`). The benchmark uses it."""

    name = "tensorrt"
    device = "cuda"
    timer = "cuda-events (pycuda or cuda-python)"
    description = "TensorRTRunner (pinned and device buffers, execute_async_v3) on the workbook's engine"
    precisions = ("fp32", "fp16", "int8")  # int8: an engine built from the Q/DQ model with FP16 elsewhere
    supported_options = ("batch-profile",)
    scopes = ("host", "device")

    @classmethod
    def unavailable_reason(cls) -> str | None:
        from utils.environment import engine_execution_unavailable

        return engine_execution_unavailable()

    def __init__(self, model_name: str, precision: str = "fp32", *, max_batch: int = 32,
                 engine_file: str | os.PathLike[str] | None = None, options: Sequence[str] = ()) -> None:
        from utils.tensorrt.cuda_binding import cuda_binding

        super().__init__(model_name, precision, max_batch=max_batch, options=options)
        if engine_file is not None and "batch-profile" in self.options:
            raise WorkbookError("give either an engine_file or the batch-profile option, not both")
        self._engine_file = engine_file
        self._binding = cuda_binding()
        self._free_before = self._free_lowest = self._binding.mem_get_info()[0]
        self.runner: Any = None
        self.engine_file: Any = None
        self._open(engine_file or self._engine_for(None))
        self.feeds: dict[str, Any] = {}
        self.output_shapes: dict[str, tuple[int, ...]] = {}
        self._results: dict[str, Any] = {}

    def _engine_for(self, batch: int | None) -> Any:
        from utils import artifacts

        profile = (batch, batch, batch) if batch and "batch-profile" in self.options else engine_profile(self.max_batch)
        return artifacts.engine(self.model_name, self.precision, profile)

    def _open(self, engine_file: Any) -> None:
        from utils.tensorrt.runner import TensorRTRunner

        if self.runner is not None:
            self.runner.close()
        self.engine_file = engine_file
        self.runner = TensorRTRunner(engine_file)
        if len(self.runner.inputs) != 1:
            self.runner.close()
            raise WorkbookError(f"{engine_file} takes {len(self.runner.inputs)} inputs; the workbook's runtimes feed one image batch")
        (self.input_name,) = self.runner.inputs

    def bind(self, batch: np.ndarray) -> None:
        if "batch-profile" in self.options and self.runner.batch_range != (batch.shape[0], batch.shape[0]):
            self._open(self._engine_for(batch.shape[0]))
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

    def event_timer(self, count: int) -> EventTimer:
        from utils.tensorrt.cuda_memory import EventTimer

        return EventTimer(self.runner.stream, count)

    def device_memory_bytes(self) -> int | None:
        self._free_lowest = min(self._free_lowest, self._binding.mem_get_info()[0])
        return int(self._free_before - self._free_lowest)

    def close(self) -> None:
        if getattr(self, "runner", None) is not None:
            self.runner.close()
            self.runner = None


class TensorRTGraphs(TensorRTRuntime):
    """`execute_async_v3` captured once per bound batch into a CUDA graph, then replayed (`cudaGraphLaunch`): one
    launch per inference instead of one per kernel, as `trtexec --useCudaGraph` times it. pycuda has no stream
    capture, so the capture goes through cuda-python's runtime API on the runner's stream
    (`utils.tensorrt.cuda_graph`); an engine whose layers cannot be captured is a one-line error."""

    name = "tensorrt-graphs"
    description = "execute_async_v3 captured in a CUDA graph (cuda-python), replayed with cudaGraphLaunch"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        from utils.tensorrt.cuda_graph import cuda_graphs_unavailable

        return super().unavailable_reason() or cuda_graphs_unavailable()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.graph: CapturedGraph | None = None
        super().__init__(*args, **kwargs)

    def bind(self, batch: np.ndarray) -> None:
        import time

        from utils.tensorrt.cuda_graph import CapturedGraph

        started = time.perf_counter()
        super().bind(batch)
        if self.graph is not None:
            self.graph.close()  # the last batch size's graph
        self.graph = CapturedGraph(self.runner.stream.handle, self.runner.execute)
        self.setup_s = time.perf_counter() - started

    def stage_calls(self) -> tuple[Callable[[], Any], ...]:
        if self.graph is None:
            raise WorkbookError("bind a batch first: its CUDA graph is captured then")
        return (self._upload, self.graph.launch, self._download)

    def close(self) -> None:
        if self.graph is not None:
            self.graph.close()
            self.graph = None
        super().close()
