"""PyTorch runtimes: eager on the CPU, eager on the GPU, one CUDA graph replayed on the GPU, and torch.compile.

The GPU runtimes are the peers a TensorRT engine must beat, so they run the way a practitioner tunes PyTorch:

* precision fp16: the model's weights and activations in half precision (`model.half()`), the form tensor cores
  run fastest (`torch.autocast` over FP32 weights adds cast kernels: 1.06x-1.34x slower with a CUDA graph on an
  H200, benchmarks/fp16_autocast_h200.log); fp32: FP32 arithmetic, with TF32 off unless the `tf32` option is given. PyTorch's own default lets
  cuDNN convolutions use TF32 (`torch.backends.cudnn.allow_tf32` is True); the workbook's TensorRT FP32 engines
  keep TF32 off unless asked, so FP32 against FP32 compares the same arithmetic.
* option `channels-last`: the model and its input in NHWC memory layout (`torch.channels_last`), which cuDNN's
  tensor-core convolutions prefer; NCHW otherwise.
* the host batch (float32, NCHW) is copied into a pinned buffer's twin on the device, then converted to the
  model's type and layout there; the "device" scope starts from that converted tensor.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from utils.runtimes.base import Runtime

if TYPE_CHECKING:
    import numpy as np

TIMER_CPU = "perf_counter_ns"
TIMER_TORCH = "cuda-events (torch)"
# torch.compile's mode: Inductor's fused kernels, replayed as CUDA graphs (the small-batch bottleneck is the launch
# of every kernel from Python); "max-autotune" adds a search over kernel templates that takes minutes per shape.
COMPILE_MODE = "reduce-overhead"


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

    def __init__(self, model_name: str, precision: str = "fp32", *, max_batch: int = 32, model: Any = None,
                 options: Sequence[str] = ()) -> None:
        from utils.models import load_model

        super().__init__(model_name, precision, max_batch=max_batch, options=options)
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
    """Pinned host input -> device, converted to the model's type and layout, eager forward with cuDNN autotuning,
    device -> pinned host output."""

    name = "pytorch-cuda"
    device = "cuda"
    timer = TIMER_TORCH
    description = "PyTorch eager on the GPU (cudnn.benchmark on)"
    precisions = ("fp32", "fp16")
    supported_options = ("channels-last", "tf32")
    scopes = ("host", "device")

    @classmethod
    def unavailable_reason(cls) -> str | None:
        from utils.environment import pytorch_gpu_unavailable

        return pytorch_gpu_unavailable()

    def __init__(self, model_name: str, precision: str = "fp32", *, max_batch: int = 32, model: Any = None,
                 options: Sequence[str] = ()) -> None:
        import torch

        from utils.models import load_model

        super().__init__(model_name, precision, max_batch=max_batch, options=options)
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        self._memory_before = torch.cuda.memory_allocated()
        self._saved_flags = (torch.backends.cudnn.benchmark, torch.backends.cudnn.allow_tf32,
                             torch.backends.cuda.matmul.allow_tf32)
        torch.backends.cudnn.benchmark = True  # autotuned convolutions, chosen during the first iterations
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = "tf32" in self.options
        self.dtype = torch.float16 if precision == "fp16" else torch.float32
        self.memory_format = torch.channels_last if "channels-last" in self.options else torch.contiguous_format
        model = (model if model is not None else load_model(model_name)).to("cuda").eval()
        self.model = model.to(dtype=self.dtype, memory_format=self.memory_format)
        self.host_in: Any = None
        self.device_in: Any = None  # the host batch's twin on the device: float32, NCHW
        self.model_in: Any = None  # what the model reads: its own type and layout (device_in itself for FP32 NCHW)
        self.device_out: Any = None
        self.host_out: Any = None

    def bind(self, batch: np.ndarray) -> None:
        import torch

        self.host_in = torch.from_numpy(batch).pin_memory()
        self.device_in = torch.empty(self.host_in.shape, dtype=self.host_in.dtype, device="cuda")
        converts = self.dtype != torch.float32 or self.memory_format != torch.contiguous_format
        self.model_in = (torch.empty(self.host_in.shape, dtype=self.dtype, device="cuda").contiguous(
            memory_format=self.memory_format) if converts else self.device_in)
        with torch.inference_mode():
            self._upload()
            out = self.model(self.model_in)
        self.host_out = torch.empty(out.shape, dtype=out.dtype, pin_memory=True)
        torch.cuda.synchronize()

    def _upload(self) -> None:
        self.device_in.copy_(self.host_in, non_blocking=True)
        if self.model_in is not self.device_in:
            self.model_in.copy_(self.device_in)  # the type and layout conversion, on the device

    def _compute(self) -> None:
        import torch

        with torch.inference_mode():
            self.device_out = self.model(self.model_in)

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
        return self.host_out.float().numpy().copy()

    def event_timer(self, count: int) -> TorchEventTimer:
        return TorchEventTimer(count)

    def device_memory_bytes(self) -> int | None:
        import torch

        return int(torch.cuda.max_memory_allocated() - self._memory_before)

    def close(self) -> None:
        import torch

        self.model = self.host_in = self.device_in = self.model_in = self.device_out = self.host_out = None
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        (torch.backends.cudnn.benchmark, torch.backends.cudnn.allow_tf32,
         torch.backends.cuda.matmul.allow_tf32) = self._saved_flags


class PyTorchCudaGraphs(PyTorchCuda):
    """The forward pass captured once per batch shape into a CUDA graph; each iteration replays it."""

    name = "pytorch-cuda-graphs"
    description = "one torch.cuda.CUDAGraph per batch shape, replayed on a static input tensor"

    def bind(self, batch: np.ndarray) -> None:
        import torch

        started = time.perf_counter()
        super().bind(batch)  # eager warm-up: cuDNN picks its algorithms before they are frozen in the graph
        with torch.inference_mode():
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(3):  # allocations and lazy initialisation done before capture, on a side stream
                    self.model(self.model_in)
            torch.cuda.current_stream().wait_stream(side)
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph, capture_error_mode="thread_local"):  # as trtexec captures: other
                # threads' CUDA calls (the Jupyter kernel's, a data loader's) do not invalidate the capture
                self.device_out = self.model(self.model_in)
        torch.cuda.synchronize()
        self.setup_s = time.perf_counter() - started

    def _compute(self) -> None:
        self.graph.replay()

    def close(self) -> None:
        self.graph = None
        super().close()


class PyTorchCompile(PyTorchCuda):
    """`torch.compile(model, mode=COMPILE_MODE)`, compiled for each batch shape when it is bound; the compile time
    is the row's `setup_s`, never part of its latency."""

    name = "pytorch-compile"
    description = f"torch.compile(mode={COMPILE_MODE!r}, dynamic=False), one compilation per batch shape"

    def bind(self, batch: np.ndarray) -> None:
        import torch

        started = time.perf_counter()
        super().bind(batch)
        self.compiled = torch.compile(self.model, mode=COMPILE_MODE, dynamic=False)
        with torch.inference_mode():
            for _ in range(3):  # the first call compiles; the next ones record and warm the CUDA graph
                self._compute()
        torch.cuda.synchronize()
        self.setup_s = time.perf_counter() - started

    def _compute(self) -> None:
        import torch

        with torch.inference_mode():
            self.device_out = self.compiled(self.model_in)

    def close(self) -> None:
        self.compiled = None
        super().close()
