"""PyTorch runtimes: eager on the CPU, eager on the GPU, and one CUDA graph replayed on the GPU."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from utils.runtimes.base import Runtime

if TYPE_CHECKING:
    import numpy as np

TIMER_CPU = "perf_counter_ns"
TIMER_TORCH = "cuda-events (torch)"


class TorchEventTimer:
    """`torch.cuda.Event`s recorded on the current stream, the one PyTorch's GPU runtimes queue their work on."""

    def __init__(self, count: int) -> None:
        import torch

        self.events = [torch.cuda.Event(enable_timing=True) for _ in range(count)]

    def record(self, index: int) -> None:
        self.events[index].record()

    def synchronize(self) -> None:
        self.events[-1].synchronize()

    def elapsed_ms(self, start: int, end: int) -> float:
        return float(self.events[start].elapsed_time(self.events[end]))


class PyTorchCpu(Runtime):
    name = "pytorch-cpu"
    device = "cpu"
    timer = TIMER_CPU
    description = "PyTorch eager under torch.inference_mode"

    def __init__(self, model_name: str, precision: str = "fp32", *, max_batch: int = 32, model: Any = None) -> None:
        from utils.models import load_model

        super().__init__(model_name, precision, max_batch=max_batch)
        self.model = model if model is not None else load_model(model_name)
        self._input: Any = None
        self._output: Any = None

    def bind(self, batch: np.ndarray) -> None:
        import torch

        self._input = torch.from_numpy(batch)

    def run_bound(self) -> None:
        import torch

        with torch.inference_mode():
            self._output = self.model(self._input)

    def output(self) -> np.ndarray:
        return self._output.numpy().copy()


class PyTorchCuda(Runtime):
    """Pinned host input -> device, eager forward with cuDNN autotuning, device -> pinned host output."""

    name = "pytorch-cuda"
    device = "cuda"
    timer = TIMER_TORCH
    description = "PyTorch eager on the GPU (cudnn.benchmark on)"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        from utils.environment import gpu_unavailable

        return gpu_unavailable()

    def __init__(self, model_name: str, precision: str = "fp32", *, max_batch: int = 32, model: Any = None) -> None:
        import torch

        from utils.models import load_model

        super().__init__(model_name, precision, max_batch=max_batch)
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        self._memory_before = torch.cuda.memory_allocated()
        self._cudnn_benchmark = torch.backends.cudnn.benchmark
        torch.backends.cudnn.benchmark = True  # autotuned convolutions, chosen during the first iterations
        self.model = (model if model is not None else load_model(model_name)).to("cuda").eval()
        self.host_in: Any = None
        self.device_in: Any = None
        self.device_out: Any = None
        self.host_out: Any = None

    def bind(self, batch: np.ndarray) -> None:
        import torch

        self.host_in = torch.from_numpy(batch).pin_memory()
        self.device_in = torch.empty(self.host_in.shape, dtype=self.host_in.dtype, device="cuda")
        with torch.inference_mode():
            self.device_in.copy_(self.host_in)
            out = self.model(self.device_in)
        self.host_out = torch.empty(out.shape, dtype=out.dtype, pin_memory=True)
        torch.cuda.synchronize()

    def _upload(self) -> None:
        self.device_in.copy_(self.host_in, non_blocking=True)

    def _compute(self) -> None:
        import torch

        with torch.inference_mode():
            self.device_out = self.model(self.device_in)

    def _download(self) -> None:
        self.host_out.copy_(self.device_out, non_blocking=True)

    def stage_calls(self) -> tuple[Callable[[], Any], ...]:
        return (self._upload, self._compute, self._download)

    def run_bound(self) -> None:
        import torch

        for call in self.stage_calls():
            call()
        torch.cuda.current_stream().synchronize()

    def output(self) -> np.ndarray:
        return self.host_out.numpy().copy()

    def event_timer(self, count: int) -> TorchEventTimer:
        return TorchEventTimer(count)

    def device_memory_bytes(self) -> int | None:
        import torch

        return int(torch.cuda.max_memory_allocated() - self._memory_before)

    def close(self) -> None:
        import torch

        self.model = self.host_in = self.device_in = self.device_out = self.host_out = None
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.backends.cudnn.benchmark = self._cudnn_benchmark


class PyTorchCudaGraphs(PyTorchCuda):
    """The forward pass captured once per batch shape into a CUDA graph; each iteration replays it."""

    name = "pytorch-cuda-graphs"
    description = "one torch.cuda.CUDAGraph per batch shape, replayed on a static input tensor"

    def bind(self, batch: np.ndarray) -> None:
        import torch

        super().bind(batch)  # eager warm-up: cuDNN picks its algorithms before they are frozen in the graph
        with torch.inference_mode():
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(3):  # allocations and lazy initialisation done before capture, on a side stream
                    self.model(self.device_in)
            torch.cuda.current_stream().wait_stream(side)
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                self.device_out = self.model(self.device_in)

    def _compute(self) -> None:
        self.graph.replay()

    def close(self) -> None:
        self.graph = None
        super().close()
