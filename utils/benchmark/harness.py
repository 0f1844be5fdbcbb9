"""Latency and throughput the way performance engineers measure them, for every backend the workbook runs.

The method, in one place:

* **Warm-up** iterations run first and are thrown away: they pay for lazy initialisation, memory-pool growth,
  cuDNN/oneDNN algorithm selection and cold caches, none of which a serving process pays per request.
* **Timed iterations** (a fixed count, or as many as fit in a time budget) are timed one by one, so the result
  is a distribution: p50 (the typical request), p90/p99 (the tail a user notices), mean and min.
* **Clocks**: on the CPU `time.perf_counter_ns` (monotonic, nanosecond resolution). On the GPU, CUDA events
  recorded on the stream that carries the work, and read only after `synchronize()` on the last one: a kernel
  launch returns before the GPU has run it, so a host clock around an unsynchronised call times the launch, not
  the work. PyTorch backends use `torch.cuda.Event`, the TensorRT runner pycuda events on its own stream.
* **Copies vs compute**: GPU backends take the host batch and return host logits. Their host-to-device copy,
  compute and device-to-host copy are timed separately, so the row shows where the time goes.
* **Throughput** is batch / mean latency (images/s) of these synchronous iterations.
* **Memory**: `host_peak_delta_mib` is how far the resident set (RSS, which counts native allocations that
  tracemalloc cannot see) rose above its level before warm-up; `device_peak_mib` is the device memory the
  backend held at its peak, weights included, counted from before it was set up.

Every row records the machine (CPU model), GPU, library versions and the date, so rows from different machines
can sit in one CSV.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import functools
import io
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from utils.errors import WorkbookError
from utils.files import write_text_atomic

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.figure import Figure

BACKENDS = ("pytorch-cpu", "pytorch-cuda", "pytorch-cuda-graphs", "onnxruntime-cpu", "onnxruntime-cuda",
            "tensorrt-fp32", "tensorrt-fp16")
# Speed-ups compare like with like: GPU backends against eager PyTorch on the GPU, CPU backends against it on the CPU.
BASELINES = {"cpu": "pytorch-cpu", "cuda": "pytorch-cuda"}
DEFAULT_WARMUP = 10
DEFAULT_ITERATIONS = 100
DEFAULT_BATCHES = (1, 8, 32)
DEFAULT_SEED = 0
PERCENTILES = (50, 90, 99)
STAGES = ("h2d", "compute", "d2h")
NO_GPU = "no CUDA GPU visible (torch.cuda.is_available() is False)"
REFERENCE_CSV_PARTS = ("benchmarks", "reference_h100.csv")
TIMER_CPU = "perf_counter_ns"
TIMER_TORCH = "cuda-events (torch)"
TIMER_PYCUDA = "cuda-events (pycuda)"

# What one timed iteration returns: total milliseconds, or (total, h2d, compute, d2h) milliseconds.
Step = Callable[[], "float | tuple[float, ...]"]


@dataclass(frozen=True)
class BackendInfo:
    name: str
    device: str  # "cpu" or "cuda"
    precision: str  # "fp32" or "fp16"
    timer: str
    description: str


BACKEND_INFO = {
    "pytorch-cpu": BackendInfo("pytorch-cpu", "cpu", "fp32", TIMER_CPU, "PyTorch eager under torch.inference_mode"),
    "pytorch-cuda": BackendInfo("pytorch-cuda", "cuda", "fp32", TIMER_TORCH, "PyTorch eager on the GPU"),
    "pytorch-cuda-graphs": BackendInfo("pytorch-cuda-graphs", "cuda", "fp32", TIMER_TORCH,
                                       "one torch.cuda.CUDAGraph replayed on a static input tensor"),
    "onnxruntime-cpu": BackendInfo("onnxruntime-cpu", "cpu", "fp32", TIMER_CPU,
                                   "InferenceSession.run(None, feed), CPUExecutionProvider"),
    # session.run returns only once the outputs are on the host, so a host clock times it exactly.
    "onnxruntime-cuda": BackendInfo("onnxruntime-cuda", "cuda", "fp32", TIMER_CPU,
                                    "InferenceSession.run(None, feed), CUDAExecutionProvider"),
    "tensorrt-fp32": BackendInfo("tensorrt-fp32", "cuda", "fp32", TIMER_PYCUDA, "TensorRTRunner, FP32 engine"),
    "tensorrt-fp16": BackendInfo("tensorrt-fp16", "cuda", "fp16", TIMER_PYCUDA, "TensorRTRunner, FP16 engine"),
}


# --------------------------------------------------------------------------------------------------------------
# Statistics


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile with linear interpolation between closest ranks (numpy's default method)."""
    if not samples:
        raise WorkbookError("no samples to take a percentile of; time at least one iteration")
    if not 0 <= q <= 100:
        raise WorkbookError(f"percentile {q} is outside 0 to 100")
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class LatencyStats:
    count: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    min_ms: float
    max_ms: float
    std_ms: float

    def throughput(self, batch: int) -> float:
        """Images per second: `batch` images every mean latency."""
        return batch / (self.mean_ms / 1e3) if self.mean_ms > 0 else math.inf


def latency_stats(samples_ms: Sequence[float]) -> LatencyStats:
    if not samples_ms:
        raise WorkbookError("no timed iterations; give iterations >= 1 or a longer time budget")
    n = len(samples_ms)
    mean = sum(samples_ms) / n
    std = math.sqrt(sum((s - mean) ** 2 for s in samples_ms) / n)
    return LatencyStats(count=n, p50_ms=percentile(samples_ms, 50), p90_ms=percentile(samples_ms, 90),
                        p99_ms=percentile(samples_ms, 99), mean_ms=mean, min_ms=min(samples_ms),
                        max_ms=max(samples_ms), std_ms=std)


# --------------------------------------------------------------------------------------------------------------
# The harness


@dataclass
class Measurement:
    """The timed iterations of one run (warm-up excluded), in milliseconds."""

    samples_ms: list[float]
    warmup: int
    wall_s: float
    stage_samples_ms: dict[str, list[float]] = field(default_factory=dict)

    @property
    def stats(self) -> LatencyStats:
        return latency_stats(self.samples_ms)

    def stage_p50_ms(self, stage: str) -> float | None:
        samples = self.stage_samples_ms.get(stage)
        return percentile(samples, 50) if samples else None


def measure(step: Step, *, warmup: int = DEFAULT_WARMUP, iterations: int | None = None,
            time_budget_s: float | None = None, stages: Sequence[str] = ()) -> Measurement:
    """Run `step` `warmup` times untimed, then time it `iterations` times or until `time_budget_s` has passed.

    `step` runs one iteration and returns its own elapsed milliseconds (see `cpu_timed`, `torch_cuda_timed`,
    `pycuda_timed`), or a tuple (total, *one value per stage*). With both limits the loop stops at whichever
    comes first; with neither it runs DEFAULT_ITERATIONS. At least one iteration is always timed.
    """
    if warmup < 0:
        raise WorkbookError(f"warm-up of {warmup} iterations is negative; give 0 or more")
    if iterations is not None and iterations < 1:
        raise WorkbookError(f"{iterations} timed iterations is too few; give at least 1")
    if time_budget_s is not None and time_budget_s <= 0:
        raise WorkbookError(f"time budget of {time_budget_s} s is not positive")
    if iterations is None and time_budget_s is None:
        iterations = DEFAULT_ITERATIONS
    for _ in range(warmup):
        step()

    clock = time.perf_counter_ns
    samples: list[float] = []
    stage_samples: list[list[float]] = [[] for _ in stages]
    limit = iterations if iterations is not None else sys.maxsize
    budget_ns = int(time_budget_s * 1e9) if time_budget_s is not None else None
    started = clock()
    while len(samples) < limit:
        result = step()
        if type(result) is tuple:
            samples.append(result[0])
            for bucket, value in zip(stage_samples, result[1:], strict=False):
                bucket.append(value)
        else:
            samples.append(result)  # type: ignore[arg-type]
        if budget_ns is not None and clock() - started >= budget_ns:
            break
    wall_s = (clock() - started) / 1e9
    by_stage = {name: values for name, values in zip(stages, stage_samples, strict=True) if values}
    return Measurement(samples_ms=samples, warmup=warmup, wall_s=wall_s, stage_samples_ms=by_stage)


def cpu_timed(fn: Callable[..., Any], *args: Any) -> Step:
    """A step timing `fn(*args)` with `time.perf_counter_ns`; nothing else runs between the two clock reads."""
    clock = time.perf_counter_ns

    def step() -> float:
        start = clock()
        fn(*args)
        return (clock() - start) / 1e6

    return step


def torch_cuda_timed(fn: Callable[..., Any], *args: Any) -> Step:
    """A step timing `fn(*args)` with two torch.cuda events on the current stream, synchronised on the second."""
    import torch

    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

    def step() -> float:
        start.record()
        fn(*args)
        end.record()
        end.synchronize()
        return start.elapsed_time(end)

    return step


def pycuda_timed(fn: Callable[..., Any], stream: Any, *args: Any) -> Step:
    """A step timing `fn(*args)`, which queues work on pycuda `stream`, with pycuda events on that stream."""
    from utils.cuda_memory import pycuda_driver

    driver = pycuda_driver()
    start, end = driver.Event(), driver.Event()

    def step() -> float:
        start.record(stream)
        fn(*args)
        end.record(stream)
        end.synchronize()
        return end.time_since(start)

    return step


# --------------------------------------------------------------------------------------------------------------
# Memory


def _rss_bytes() -> int:
    try:
        import psutil
    except ImportError:
        return _maxrss_bytes()
    return int(psutil.Process().memory_info().rss)


def _maxrss_bytes() -> int:
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # bytes on macOS, KiB on Linux


def _reset_peak_rss() -> bool:
    """Reset the kernel's resident-set high-water mark (Linux 4.0+: `echo 5 > /proc/self/clear_refs`)."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _peak_rss_since_reset() -> int | None:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


class HostPeak:
    """How far the resident set rose above its level at `start()`, native allocations included.

    Linux: the kernel's high-water mark, reset at `start()`. Elsewhere: `getrusage`'s lifetime maximum, which
    sees the rise only when this run set a new record for the process (otherwise the current RSS is used).
    """

    def start(self) -> None:
        self.before = _rss_bytes()
        self.reset = _reset_peak_rss() and _peak_rss_since_reset() is not None
        self.maxrss_before = _maxrss_bytes()

    def stop(self) -> int:
        peak = _peak_rss_since_reset() if self.reset else None
        if peak is None:
            maxrss = _maxrss_bytes()
            peak = maxrss if maxrss > self.maxrss_before else _rss_bytes()
        return max(0, peak - self.before)


def _mib(nbytes: int | None) -> float | None:
    return None if nbytes is None else round(nbytes / 2**20, 3)


# --------------------------------------------------------------------------------------------------------------
# Availability


def _gpu_reason() -> str | None:
    from utils.gpu import current_gpu

    return NO_GPU if current_gpu() is None else None


def _onnxruntime_reason(provider: str) -> str | None:
    try:
        import onnxruntime
    except ImportError:
        return "onnxruntime is not installed; pip install -r requirements.txt"
    if provider not in onnxruntime.get_available_providers():
        package = "onnxruntime-gpu" if provider == "CUDAExecutionProvider" else "onnxruntime"
        return f"this onnxruntime has no {provider}; pip install {package}"
    return None


def _tensorrt_reason() -> str | None:
    from utils.environment import engine_execution_unavailable

    return engine_execution_unavailable()


def backend_reason(name: str) -> str | None:
    """None if backend `name` can run here, else a one-line reason it is skipped. Never raises for known names."""
    check_backend_names([name])
    if name == "pytorch-cpu":
        return None
    if name == "onnxruntime-cpu":
        return _onnxruntime_reason("CPUExecutionProvider")
    if name.startswith("tensorrt-"):
        return _tensorrt_reason()
    reason = _gpu_reason()
    if reason is None and name == "onnxruntime-cuda":
        reason = _onnxruntime_reason("CUDAExecutionProvider")
    return reason


def available_backends() -> dict[str, str | None]:
    """Every backend, in order, with None where it runs here and the reason it is skipped elsewhere."""
    return {name: backend_reason(name) for name in BACKENDS}


def check_backend_names(names: Sequence[str]) -> list[str]:
    unknown = [name for name in names if name not in BACKEND_INFO]
    if unknown:
        raise WorkbookError(f"unknown backend {', '.join(map(repr, unknown))}; choose from: {', '.join(BACKENDS)}")
    return list(names)


# --------------------------------------------------------------------------------------------------------------
# Inputs and shared resources


def make_inputs(model_name: str, batch: int, seed: int = DEFAULT_SEED) -> np.ndarray:
    """Random float32 NCHW data of the model's input shape: the same array for every backend at this batch."""
    import numpy as np

    from utils.models import get_model_spec

    if batch < 1:
        raise WorkbookError(f"batch {batch} is not positive")
    rng = np.random.default_rng(seed)
    return rng.standard_normal((batch, *get_model_spec(model_name).input_shape), dtype=np.float32)


def engine_profile(batches: Sequence[int]) -> tuple[int, int, int]:
    """The TensorRT batch profile covering `batches`: the workbook's default (1, 8, 32) when it does."""
    from utils.engine_build import DEFAULT_BATCH

    low, high = min(batches), max(batches)
    if DEFAULT_BATCH[0] <= low and high <= DEFAULT_BATCH[2]:
        return DEFAULT_BATCH
    return (low, min(max(DEFAULT_BATCH[1], low), high), high)


class _Resources:
    """What several backends share in one sweep: the PyTorch model, the ONNX file and the TensorRT engines."""

    def __init__(self, model_name: str, batches: Sequence[int]) -> None:
        self.model_name = model_name
        self.profile = engine_profile(batches)
        self._model: Any = None
        self._engines: dict[str, Path] = {}

    def torch_model(self) -> Any:
        if self._model is None:
            from utils.models import load_model

            self._model = load_model(self.model_name)
        return self._model

    def onnx_path(self) -> Path:
        from utils.onnx_export import model_onnx_path

        return model_onnx_path(self.model_name)

    def engine_path(self, precision: str) -> Path:
        if precision not in self._engines:
            from utils.engine_build import build_engine
            from utils.paths import artifact_path

            low, opt, high = self.profile
            path = artifact_path("engines", f"{self.model_name}_{precision}_b{low}-{opt}-{high}.engine")
            build_engine(self.onnx_path(), path, precision=precision, batch=self.profile)
            self._engines[precision] = path
        return self._engines[precision]


# --------------------------------------------------------------------------------------------------------------
# Backends: each prepares one batch, gives a step to time, and cleans up


class _Prepared:
    """One backend ready to time at one batch. `running()` is the context the iterations run in."""

    stages: tuple[str, ...] = ()

    def __init__(self, info: BackendInfo, resources: _Resources, inputs: np.ndarray) -> None:
        self.info = info
        self.resources = resources
        self.inputs = inputs
        self.step: Step = lambda: 0.0

    def running(self) -> AbstractContextManager[Any]:
        return nullcontext()

    def device_peak_bytes(self) -> int | None:
        return None

    def close(self) -> None:
        pass


class _PyTorchCpu(_Prepared):
    def __init__(self, info: BackendInfo, resources: _Resources, inputs: np.ndarray) -> None:
        import torch

        super().__init__(info, resources, inputs)
        self.step = cpu_timed(resources.torch_model(), torch.from_numpy(inputs))

    def running(self) -> AbstractContextManager[Any]:
        import torch

        return torch.inference_mode()


class _TorchCudaMemory:
    """Peak device memory of PyTorch's allocator, counted from before the model reached the GPU."""

    def start_device_memory(self) -> None:
        import torch

        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        self._device_before = torch.cuda.memory_allocated()

    def device_peak_bytes(self) -> int | None:
        import torch

        return int(torch.cuda.max_memory_allocated() - self._device_before)


@contextmanager
def _cudnn_benchmark() -> Iterator[None]:
    import torch

    previous = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = previous


class _PyTorchCuda(_TorchCudaMemory, _Prepared):
    """Pinned host input -> device, eager forward, device -> pinned host output; four events split the stages."""

    stages = STAGES

    def __init__(self, info: BackendInfo, resources: _Resources, inputs: np.ndarray) -> None:
        import copy

        import torch

        super().__init__(info, resources, inputs)
        self.start_device_memory()
        self.model: Any = copy.deepcopy(resources.torch_model()).to("cuda").eval()
        self.host_in: Any = torch.from_numpy(inputs).pin_memory()
        self.device_in: Any = torch.empty(self.host_in.shape, dtype=self.host_in.dtype, device="cuda")
        with torch.inference_mode():
            self.device_in.copy_(self.host_in)
            out = self.forward()
        self.host_out: Any = torch.empty(out.shape, dtype=out.dtype, pin_memory=True)
        self.events = [torch.cuda.Event(enable_timing=True) for _ in range(4)]
        self.step = self._step

    def forward(self) -> Any:
        return self.model(self.device_in)

    def running(self) -> AbstractContextManager[Any]:
        import torch

        stack = ExitStack()
        stack.enter_context(torch.inference_mode())
        stack.enter_context(_cudnn_benchmark())  # autotuned convolutions, chosen during warm-up
        return stack

    def _step(self) -> tuple[float, ...]:
        e0, e1, e2, e3 = self.events
        e0.record()
        self.device_in.copy_(self.host_in, non_blocking=True)
        e1.record()
        out = self.forward()
        e2.record()
        self.host_out.copy_(out, non_blocking=True)
        e3.record()
        e3.synchronize()
        return (e0.elapsed_time(e3), e0.elapsed_time(e1), e1.elapsed_time(e2), e2.elapsed_time(e3))

    def close(self) -> None:
        import torch

        self.model = self.device_in = self.host_in = self.host_out = None
        self.__dict__.pop("graph", None)
        self.__dict__.pop("static_out", None)
        torch.cuda.synchronize()
        torch.cuda.empty_cache()


class _PyTorchCudaGraphs(_PyTorchCuda):
    """The same forward captured once into a CUDA graph; each iteration copies into the static input and replays."""

    def __init__(self, info: BackendInfo, resources: _Resources, inputs: np.ndarray) -> None:
        import torch

        super().__init__(info, resources, inputs)
        with self.running(), _cudnn_benchmark():  # the convolution algorithms eager PyTorch autotunes, fixed at capture
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(3):  # capture needs allocations and lazy initialisation done, on a side stream
                    self.model(self.device_in)
            torch.cuda.current_stream().wait_stream(side)
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                self.static_out = self.model(self.device_in)

    def forward(self) -> Any:
        if getattr(self, "graph", None) is None:  # during the base class's set-up, before capture
            return self.model(self.device_in)
        self.graph.replay()
        return self.static_out

    def running(self) -> AbstractContextManager[Any]:
        import torch

        return torch.inference_mode()  # cuDNN's algorithms were fixed at capture


class _OnnxRuntime(_Prepared):
    """The timed call is exactly `session.run(None, feed)` with a feed dict built once."""

    provider = "CPUExecutionProvider"

    def __init__(self, info: BackendInfo, resources: _Resources, inputs: np.ndarray) -> None:
        from utils.onnxruntime_inference import create_session

        super().__init__(info, resources, inputs)
        self.start_device_memory()
        providers = list(dict.fromkeys([self.provider, "CPUExecutionProvider"]))
        self.session = create_session(resources.onnx_path(), providers)
        if self.session.get_providers()[0] != self.provider:
            raise WorkbookError(f"onnxruntime could not start {self.provider} (it fell back to "
                                f"{self.session.get_providers()[0]}); check the CUDA and cuDNN libraries it needs")
        self.feed = {self.session.get_inputs()[0].name: inputs}
        self.step = cpu_timed(self.session.run, None, self.feed)

    def start_device_memory(self) -> None:
        pass

    def close(self) -> None:
        self.session = None


class _OnnxRuntimeCuda(_OnnxRuntime):
    """Device memory from cudaMemGetInfo: ONNX Runtime's allocations are invisible to PyTorch's allocator."""

    provider = "CUDAExecutionProvider"

    def start_device_memory(self) -> None:
        import torch

        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        self._free_before = torch.cuda.mem_get_info()[0]

    def device_peak_bytes(self) -> int | None:
        import torch

        return int(self._free_before - torch.cuda.mem_get_info()[0])


class _TensorRT(_Prepared):
    """TensorRTRunner on an engine built for the sweep's batches; pycuda events on the runner's stream.

    The batch is staged once into the runner's pinned input buffer and fed from there, so `copy_inputs` queues
    only the DMA (numpy's copy of an array onto itself is a no-op), as PyTorch's GPU backends copy from pinned
    memory too. The outputs are downloaded into the runner's pinned output buffers.
    """

    stages = STAGES

    def __init__(self, info: BackendInfo, resources: _Resources, inputs: np.ndarray) -> None:
        import numpy as np

        from utils.cuda_memory import pycuda_driver
        from utils.trt_runner import TensorRTRunner

        super().__init__(info, resources, inputs)
        engine_path = resources.engine_path(info.precision)
        self.driver = pycuda_driver()
        self._free_before = self._free_after = self.driver.mem_get_info()[0]
        self.runner: Any = TensorRTRunner(engine_path)
        try:
            low, high = self.runner.batch_range
            if not low <= inputs.shape[0] <= high:
                raise WorkbookError(f"batch {inputs.shape[0]} is outside the engine's profile {low} to {high}")
            if len(self.runner.inputs) != 1:
                raise WorkbookError(f"the engine takes {len(self.runner.inputs)} inputs; the benchmark feeds one")
            (name, buffer), = self.runner.inputs.items()
            self.runner.copy_inputs({name: inputs})  # sets the shape and stages the batch in pinned memory
            self.feeds = {name: self.runner.input_view(name, inputs.shape)}  # later uploads skip the staging copy
            self.output_shapes = {out: tuple(self.runner.context.get_tensor_shape(out)) for out in self.runner.outputs}
            self.runner.stream.synchronize()
            if not np.array_equal(self.feeds[name], inputs.astype(buffer.dtype, copy=False)):
                raise WorkbookError("the runner's pinned input buffer does not hold the batch; check utils.cuda_memory")
        except BaseException:
            self.close()
            raise
        self.events = [self.driver.Event() for _ in range(4)]
        self.step = self._step

    def _step(self) -> tuple[float, ...]:
        e0, e1, e2, e3 = self.events
        stream = self.runner.stream
        e0.record(stream)
        self.runner.copy_inputs(self.feeds)
        e1.record(stream)
        self.runner.execute()
        e2.record(stream)
        for out, buffer in self.runner.outputs.items():
            buffer.download(self.output_shapes[out], stream)
        e3.record(stream)
        e3.synchronize()
        return (e3.time_since(e0), e1.time_since(e0), e2.time_since(e1), e3.time_since(e2))

    def device_peak_bytes(self) -> int | None:
        self._free_after = min(self._free_after, self.driver.mem_get_info()[0])
        return int(self._free_before - self._free_after)

    def close(self) -> None:
        if getattr(self, "runner", None) is not None:
            self.runner.close()
            self.runner = None


_PREPARERS: dict[str, type[_Prepared]] = {
    "pytorch-cpu": _PyTorchCpu, "pytorch-cuda": _PyTorchCuda, "pytorch-cuda-graphs": _PyTorchCudaGraphs,
    "onnxruntime-cpu": _OnnxRuntime, "onnxruntime-cuda": _OnnxRuntimeCuda,
    "tensorrt-fp32": _TensorRT, "tensorrt-fp16": _TensorRT,
}


@contextmanager
def prepared_backend(name: str, model_name: str, batch: int, *, seed: int = DEFAULT_SEED,
                     resources: _Resources | None = None) -> Iterator[_Prepared]:
    """Backend `name` set up for `batch` (`.step` times one iteration), or a WorkbookError with the skip reason."""
    check_backend_names([name])
    reason = backend_reason(name)
    if reason is not None:
        raise WorkbookError(f"{name} cannot run here: {reason}")
    resources = resources or _Resources(model_name, [batch])
    prepared = _PREPARERS[name](BACKEND_INFO[name], resources, make_inputs(model_name, batch, seed))
    try:
        yield prepared
    finally:
        prepared.close()


# --------------------------------------------------------------------------------------------------------------
# Rows and metadata


@dataclass(frozen=True)
class BenchmarkRow:
    """One backend at one batch size. Latencies in ms; stage columns are p50s, empty where not measured."""

    model: str
    backend: str
    device: str
    precision: str
    batch: int
    warmup: int
    iterations: int
    timer: str
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    min_ms: float
    max_ms: float
    std_ms: float
    throughput_ips: float
    h2d_ms: float | None
    compute_ms: float | None
    d2h_ms: float | None
    host_peak_delta_mib: float | None
    device_peak_mib: float | None
    machine: str
    cpu_count: int
    gpu: str
    torch_version: str
    onnxruntime_version: str
    tensorrt_version: str
    date: str


CSV_COLUMNS = tuple(f.name for f in fields(BenchmarkRow))
METADATA_COLUMNS = ("machine", "cpu_count", "gpu", "torch_version", "onnxruntime_version", "tensorrt_version", "date")


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else platform.processor(), else the architecture."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "Hardware", "cpu model") and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


@functools.lru_cache(maxsize=1)
def environment() -> dict[str, Any]:
    """The metadata every row carries, except the date."""
    from utils.gpu import current_gpu
    from utils.tensorrt_api import tensorrt_or_none

    try:
        import torch

        torch_version = str(torch.__version__)
    except ImportError:
        torch_version = ""
    try:
        import onnxruntime

        onnxruntime_version = str(onnxruntime.__version__)
    except ImportError:
        onnxruntime_version = ""
    try:
        trt = tensorrt_or_none()
    except WorkbookError:
        trt = None
    gpu = current_gpu()
    return {"machine": cpu_model(), "cpu_count": os.cpu_count() or 0, "gpu": gpu.name if gpu else "",
            "torch_version": torch_version, "onnxruntime_version": onnxruntime_version,
            "tensorrt_version": trt.display_name if trt else ""}


def iso_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def make_row(model_name: str, info: BackendInfo, batch: int, measurement: Measurement, *,
             host_peak_bytes: int | None = None, device_peak_bytes: int | None = None) -> BenchmarkRow:
    stats = measurement.stats
    return BenchmarkRow(
        model=model_name, backend=info.name, device=info.device, precision=info.precision, batch=batch,
        warmup=measurement.warmup, iterations=stats.count, timer=info.timer,
        p50_ms=stats.p50_ms, p90_ms=stats.p90_ms, p99_ms=stats.p99_ms, mean_ms=stats.mean_ms,
        min_ms=stats.min_ms, max_ms=stats.max_ms, std_ms=stats.std_ms, throughput_ips=stats.throughput(batch),
        h2d_ms=measurement.stage_p50_ms("h2d"), compute_ms=measurement.stage_p50_ms("compute"),
        d2h_ms=measurement.stage_p50_ms("d2h"), host_peak_delta_mib=_mib(host_peak_bytes),
        device_peak_mib=_mib(device_peak_bytes), **environment(), date=iso_now(),
    )


def benchmark_prepared(prepared: _Prepared, model_name: str, batch: int, *, warmup: int = DEFAULT_WARMUP,
                       iterations: int | None = None, time_budget_s: float | None = None) -> BenchmarkRow:
    """Warm up and time a prepared backend, with the host and device memory peaks, as one row."""
    host = HostPeak()
    host.start()
    with prepared.running():
        measurement = measure(prepared.step, warmup=warmup, iterations=iterations, time_budget_s=time_budget_s,
                              stages=prepared.stages)
    return make_row(model_name, prepared.info, batch, measurement, host_peak_bytes=host.stop(),
                    device_peak_bytes=prepared.device_peak_bytes())


# --------------------------------------------------------------------------------------------------------------
# Sweeps


def run_sweep(model_name: str, backends: Sequence[str] | None = None, batches: Sequence[int] = DEFAULT_BATCHES,
              iterations: int | None = None, time_budget_s: float | None = None, warmup: int = DEFAULT_WARMUP, *,
              seed: int = DEFAULT_SEED, progress: bool = True,
              skipped: dict[str, str] | None = None) -> list[BenchmarkRow]:
    """One row per runnable backend and batch, all fed the same seeded inputs.

    `backends=None` means every backend that can run here. A requested backend that cannot run (or fails to set
    up with a WorkbookError, e.g. an engine that does not build) is skipped with its reason printed and, if
    `skipped` is given, recorded there; it raises nothing.
    """
    from tqdm import tqdm

    from utils.models import get_model_spec

    get_model_spec(model_name)
    batches = list(batches)
    if not batches or any(int(b) != b or b < 1 for b in batches):
        raise WorkbookError(f"batch sizes {batches} must be positive integers, e.g. 1,8,32")
    reasons = available_backends()
    names = [n for n in BACKENDS if reasons[n] is None] if backends is None else check_backend_names(backends)
    skipped = skipped if skipped is not None else {}
    runnable = []
    for name in dict.fromkeys(names):
        reason = reasons[name]
        if reason is None:
            runnable.append(name)
        else:
            skipped[name] = reason
            print(f"skipped {name}: {reason}")
    resources = _Resources(model_name, batches)
    rows: list[BenchmarkRow] = []
    failed: set[str] = set()
    pairs = [(name, batch) for name in runnable for batch in batches]
    with tqdm(pairs, desc=f"benchmark {model_name}", unit="run", disable=not progress, file=sys.stderr) as bar:
        for name, batch in bar:
            bar.set_postfix_str(f"{name} batch {batch}")
            if name in failed:  # its set-up failed at an earlier batch
                continue
            try:
                with prepared_backend(name, model_name, batch, seed=seed, resources=resources) as prepared:
                    rows.append(benchmark_prepared(prepared, model_name, batch, warmup=warmup,
                                                   iterations=iterations, time_budget_s=time_budget_s))
            except WorkbookError as exc:
                failed.add(name)
                skipped[name] = str(exc)
                bar.write(f"skipped {name}: {exc}")
    return rows


def overhead_vs_direct_onnxruntime(model_name: str, batch: int, iterations: int, *, warmup: int = 5,
                                   rounds: int | None = None, seed: int = DEFAULT_SEED) -> float:
    """Percent by which the harness's onnxruntime-cpu latency exceeds a bare `session.run` loop's.

    Same session, same feed dict; `iterations` calls on each side, interleaved in rounds (alternating which side
    goes first, so drift hits both); each side's figure is the median over rounds of its mean per-call time.
    The bare loop is timed as a whole (`perf_counter_ns` around `for _ in range(k): run(None, feed)`).
    """
    import statistics

    if iterations < 2:
        raise WorkbookError(f"{iterations} iterations is too few to compare; give at least 2")
    rounds = rounds or max(2, min(20, iterations // 2))
    per_round = max(1, iterations // rounds)
    clock = time.perf_counter_ns
    with prepared_backend("onnxruntime-cpu", model_name, batch, seed=seed) as prepared:
        assert isinstance(prepared, _OnnxRuntime)
        run, feed = prepared.session.run, prepared.feed
        for _ in range(warmup):
            run(None, feed)
        harness: list[float] = []
        direct: list[float] = []
        for index in range(rounds):
            for side in ((0, 1) if index % 2 == 0 else (1, 0)):
                if side == 0:
                    samples = measure(prepared.step, warmup=0, iterations=per_round).samples_ms
                    harness.append(sum(samples) / len(samples))
                else:
                    start = clock()
                    for _ in range(per_round):
                        run(None, feed)
                    direct.append((clock() - start) / 1e6 / per_round)
    return (statistics.median(harness) / statistics.median(direct) - 1.0) * 100.0


@dataclass(frozen=True)
class CopyBandwidth:
    direction: str  # "htod" or "dtoh"
    nbytes: int
    runner_ms: float
    plain_ms: float

    @property
    def runner_gbps(self) -> float:
        return self.nbytes / (self.runner_ms / 1e3) / 1e9

    @property
    def plain_gbps(self) -> float:
        return self.nbytes / (self.plain_ms / 1e3) / 1e9

    @property
    def ratio(self) -> float:
        """The runner's bandwidth as a fraction of a plain pinned copy's (target: >= 0.9)."""
        return self.plain_ms / self.runner_ms


def copy_bandwidth(model_name: str, batch: int | None = None, precision: str = "fp32", repeats: int = 50,
                   *, seed: int = DEFAULT_SEED) -> list[CopyBandwidth]:
    """The TensorRT runner's own host-to-device and device-to-host copies against plain pinned copies.

    Each runner copy (`DeviceTensor.upload` / `download` on the runner's buffers and stream, after the batch is
    staged in pinned memory) is timed alone between two pycuda events, like `plain_copy_seconds`, and the median
    of `repeats` is compared with `plain_copy_seconds` of the same byte count. `batch` defaults to the largest the
    engine takes: copies of well under a megabyte are dominated by launch latency, not bandwidth.
    """

    from utils.cuda_memory import median_event_seconds, plain_copy_seconds

    name = f"tensorrt-{precision}"
    check_backend_names([name])
    reason = backend_reason(name)
    if reason is not None:
        raise WorkbookError(f"{name} cannot run here: {reason}")
    resources = _Resources(model_name, [batch] if batch else list(DEFAULT_BATCHES))
    batch = batch or resources.profile[2]
    with prepared_backend(name, model_name, batch, seed=seed, resources=resources) as prepared:
        assert isinstance(prepared, _TensorRT)
        runner, stream = prepared.runner, prepared.runner.stream

        def timed(queue: Callable[[], None]) -> float:
            return median_event_seconds(queue, stream, repeats) * 1e3

        def upload() -> None:
            for input_name, buffer in runner.inputs.items():
                buffer.upload(prepared.feeds[input_name], stream)

        def download() -> None:
            for output_name, buffer in runner.outputs.items():
                buffer.download(prepared.output_shapes[output_name], stream)

        htod_bytes = sum(feed.nbytes for feed in prepared.feeds.values())
        dtoh_bytes = sum(int(math.prod(shape)) * runner.outputs[n].dtype.itemsize
                         for n, shape in prepared.output_shapes.items())
        results = [CopyBandwidth("htod", htod_bytes, timed(upload), 0.0),
                   CopyBandwidth("dtoh", dtoh_bytes, timed(download), 0.0)]
    return [CopyBandwidth(r.direction, r.nbytes, r.runner_ms, plain_copy_seconds(r.nbytes, r.direction, repeats) * 1e3)
            for r in results]


# --------------------------------------------------------------------------------------------------------------
# CSV


def _parse_field(kind: str, text: str) -> Any:
    if text == "":
        return None if "None" in kind else ("" if kind == "str" else None)
    base = kind.replace(" | None", "")
    if base == "int":
        return int(text)
    if base == "float":
        return float(text)
    return text


def _format_field(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def write_csv(rows: Sequence[BenchmarkRow], path: str | os.PathLike[str]) -> Path:
    """All rows, one line each with every column of BenchmarkRow, written atomically."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([_format_field(getattr(row, column)) for column in CSV_COLUMNS])
    return write_text_atomic(path, buffer.getvalue())


def read_csv(path: str | os.PathLike[str]) -> list[BenchmarkRow]:
    path = Path(path)
    if not path.is_file():
        raise WorkbookError(f"benchmark CSV {path} does not exist; run `python -m utils bench` to make one")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = set(CSV_COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise WorkbookError(f"{path} lacks the columns {', '.join(sorted(missing))}; it is not a benchmark CSV "
                                "written by utils.benchmark.write_csv")
        kinds = {f.name: str(f.type) for f in fields(BenchmarkRow)}
        try:
            return [BenchmarkRow(**{c: _parse_field(kinds[c], record[c] or "") for c in CSV_COLUMNS})
                    for record in reader]
        except ValueError as exc:
            raise WorkbookError(f"{path} has a malformed value ({exc}); rewrite it with write_csv") from None


def default_csv_path(model_name: str) -> Path:
    from utils.paths import artifact_path

    return artifact_path("benchmarks", f"bench_{model_name}.csv")


def reference_csv_path() -> Path:
    from utils.paths import PROJECT_ROOT

    return PROJECT_ROOT.joinpath(*REFERENCE_CSV_PARTS)


# --------------------------------------------------------------------------------------------------------------
# Tables


def _render(lines: Sequence[Sequence[str]]) -> str:
    """Fixed-width columns: the first left-aligned, the rest right-aligned."""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]

    def render(line: Sequence[str]) -> str:
        cells = zip(line, widths, strict=True)
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(cells))

    return "\n".join(render(line) for line in lines)


def _cell(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_table(rows: Sequence[BenchmarkRow]) -> str:
    """A compact fixed-width table: latency percentiles, throughput, the GPU stages and memory."""
    header = ("backend", "batch", "p50 ms", "p90 ms", "p99 ms", "mean ms", "min ms", "img/s",
              "h2d ms", "compute ms", "d2h ms", "host MiB", "dev MiB")
    lines = [header]
    for r in rows:
        lines.append((r.backend, str(r.batch), _cell(r.p50_ms), _cell(r.p90_ms), _cell(r.p99_ms), _cell(r.mean_ms),
                      _cell(r.min_ms), _cell(r.throughput_ips, 1), _cell(r.h2d_ms, 3), _cell(r.compute_ms, 3),
                      _cell(r.d2h_ms, 3), _cell(r.host_peak_delta_mib, 1), _cell(r.device_peak_mib, 1)))
    return _render(lines)


def side_by_side(rows: Sequence[BenchmarkRow], reference: Sequence[BenchmarkRow], reference_label: str = "ref") -> str:
    """The learner's p50 and throughput next to a reference CSV's, for every backend and batch in either."""
    ours = {(r.backend, r.batch): r for r in rows}
    theirs = {(r.backend, r.batch): r for r in reference}
    keys = sorted(set(ours) | set(theirs), key=lambda k: (BACKENDS.index(k[0]) if k[0] in BACKENDS else 99, k[1]))
    header = ("backend", "batch", "p50 ms", f"{reference_label} p50 ms", "img/s", f"{reference_label} img/s")
    lines = [header]
    for key in keys:
        mine, ref = ours.get(key), theirs.get(key)
        lines.append((key[0], str(key[1]), _cell(mine.p50_ms if mine else None, 3),
                      _cell(ref.p50_ms if ref else None, 3), _cell(mine.throughput_ips if mine else None, 1),
                      _cell(ref.throughput_ips if ref else None, 1)))
    return _render(lines)


# --------------------------------------------------------------------------------------------------------------
# Plots


def _ordered_backends(rows: Sequence[BenchmarkRow]) -> list[str]:
    present = {r.backend for r in rows}
    return [b for b in BACKENDS if b in present] + sorted(present - set(BACKENDS))


def _require_rows(rows: Sequence[BenchmarkRow]) -> None:
    if not rows:
        raise WorkbookError("no benchmark rows to plot; run a sweep with at least one backend that runs here")


def plot_latency_percentiles(rows: Sequence[BenchmarkRow]) -> Figure:
    """One panel per batch size: p50, p90 and p99 latency of every backend as grouped bars."""
    import numpy as np
    from matplotlib.figure import Figure

    _require_rows(rows)
    batches = sorted({r.batch for r in rows})
    backends = _ordered_backends(rows)
    panel_width = max(4.0, 0.9 * len(backends) + 1.5)
    figure = Figure(figsize=(min(panel_width * len(batches), 18.0), 4.2), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(batches), squeeze=False)[0])
    width = 0.8 / len(PERCENTILES)
    latencies = [getattr(r, f"p{q}_ms") for r in rows for q in PERCENTILES]
    log_scale = max(latencies) / max(min(latencies), 1e-9) > 30  # one scale for every panel: CPU and GPU together
    for ax, batch in zip(axes, batches, strict=True):
        by_backend = {r.backend: r for r in rows if r.batch == batch}
        x = np.arange(len(backends))
        for k, q in enumerate(PERCENTILES):
            values = [getattr(by_backend[b], f"p{q}_ms") if b in by_backend else np.nan for b in backends]
            ax.bar(x + (k - 1) * width, values, width, label=f"p{q}")
        if log_scale:
            ax.set_yscale("log")
        ax.set_xticks(x, backends, rotation=30, ha="right", fontsize="small")
        ax.set(title=f"batch {batch}", ylabel="latency (ms)")
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize="small")
    figure.suptitle(f"{rows[0].model}: latency percentiles", fontsize="medium")
    return figure


def plot_throughput(rows: Sequence[BenchmarkRow]) -> Figure:
    """Throughput (images/s) against batch size for every backend, batch on a log2 axis."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    _require_rows(rows)
    figure = Figure(figsize=(7, 4.2), layout="constrained")
    ax = figure.subplots()
    for backend in _ordered_backends(rows):
        points = sorted((r.batch, r.throughput_ips) for r in rows if r.backend == backend)
        on_cpu = BACKEND_INFO.get(backend, BACKEND_INFO["pytorch-cpu"]).device == "cpu"
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", ls="--" if on_cpu else "-", label=backend)
    batches = sorted({r.batch for r in rows})
    ax.set_xscale("log", base=2)
    ax.set_xticks(batches, [str(b) for b in batches])
    values = [r.throughput_ips for r in rows if r.throughput_ips > 0]
    if values and max(values) / min(values) > 20:  # GPU and CPU backends together span orders of magnitude
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    else:
        ax.set_ylim(bottom=0)
    ax.set(xlabel="batch size", ylabel="throughput (images/s)", title=f"{rows[0].model}: throughput against batch size")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    return figure


def speedups(rows: Sequence[BenchmarkRow]) -> dict[tuple[str, int], float]:
    """(backend, batch) -> baseline mean latency / backend mean latency, against eager PyTorch on the same device
    class. Rows whose baseline was not measured at that batch are left out."""
    by_key = {(r.backend, r.batch): r for r in rows}
    result = {}
    for r in rows:
        baseline = by_key.get((BASELINES.get(r.device, ""), r.batch))
        if baseline is not None and r.mean_ms > 0:
            result[(r.backend, r.batch)] = baseline.mean_ms / r.mean_ms
    return result


def plot_speedup(rows: Sequence[BenchmarkRow]) -> Figure:
    """Speed-up over eager PyTorch (GPU backends over pytorch-cuda, CPU backends over pytorch-cpu), per batch."""
    import numpy as np
    from matplotlib.figure import Figure

    _require_rows(rows)
    ratios = speedups(rows)
    batches = sorted({r.batch for r in rows})
    backends = [b for b in _ordered_backends(rows) if any((b, batch) in ratios for batch in batches)]
    figure = Figure(figsize=(max(6.0, 1.0 * len(backends) + 3), 4.2), layout="constrained")
    ax = figure.subplots()
    if not backends:
        ax.text(0.5, 0.5, "no baseline: measure pytorch-cpu or pytorch-cuda too", ha="center", va="center",
                transform=ax.transAxes)
    x = np.arange(len(backends))
    width = 0.8 / max(len(batches), 1)
    for k, batch in enumerate(batches):
        values = [ratios.get((b, batch), np.nan) for b in backends]
        bars = ax.bar(x + (k - (len(batches) - 1) / 2) * width, values, width, label=f"batch {batch}")
        ax.bar_label(bars, fmt="%.2g", fontsize="x-small")
    ax.axhline(1.0, color="black", lw=0.8)
    ax.set_xticks(x, [f"{b}\n(vs {BASELINES[BACKEND_INFO[b].device]})" if b in BACKEND_INFO else b for b in backends],
                  fontsize="x-small")
    ax.set(ylabel="speed-up (x, mean latency)", title=f"{rows[0].model}: speed-up over PyTorch eager")
    ax.grid(axis="y", alpha=0.3)
    if batches and backends:
        ax.legend(fontsize="small")
    return figure


PLOTS: dict[str, Callable[[Sequence[BenchmarkRow]], Figure]] = {
    "latency": plot_latency_percentiles, "throughput": plot_throughput, "speedup": plot_speedup,
}


def save_plots(rows: Sequence[BenchmarkRow], directory: str | os.PathLike[str], prefix: str = "") -> dict[str, Path]:
    """The three figures as PNG files in `directory` (written atomically): name -> path."""
    from utils.plots import save_figure

    _require_rows(rows)
    prefix = prefix or f"bench_{rows[0].model}_"
    return {name: save_figure(plot(rows), Path(directory) / f"{prefix}{name}.png") for name, plot in PLOTS.items()}


# --------------------------------------------------------------------------------------------------------------
# Command line: `python -m utils bench`


def parse_batches(text: str) -> list[int]:
    """"1,8,32" -> [1, 8, 32]."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise WorkbookError(f"--batch {text!r} is not a list of batch sizes; write it like 1,8,32") from None
    if not values or any(v < 1 for v in values):
        raise WorkbookError(f"--batch {text!r} needs positive batch sizes, like 1,8,32")
    return sorted(set(values))


def parse_backends(text: str | None) -> list[str] | None:
    if not text:
        return None
    return check_backend_names([part.strip() for part in text.split(",") if part.strip()])


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    from utils.models import DEFAULT_MODEL, MODEL_ENV_VAR

    parser.add_argument("--model", help=f"model name (default: ${MODEL_ENV_VAR} or {DEFAULT_MODEL})")
    parser.add_argument("--backend", default=None,
                        help=f"comma-separated backends (default: every one that runs here): {','.join(BACKENDS)}")
    parser.add_argument("--batch", default=",".join(map(str, DEFAULT_BATCHES)),
                        help="comma-separated batch sizes (default: %(default)s)")
    parser.add_argument("--iterations", type=int, default=None,
                        help=f"timed iterations per backend and batch (default: {DEFAULT_ITERATIONS}, "
                             "or as many as fit in --time-budget)")
    parser.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                        help="time each backend and batch for this long instead of a fixed count")
    parser.add_argument("--warmup", type=int, default=DEFAULT_WARMUP,
                        help="untimed warm-up iterations (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the random input batch")
    parser.add_argument("--csv", default=None, help="results CSV (default: build/benchmarks/bench_<model>.csv)")
    parser.add_argument("--plots", default=None, metavar="DIR", help="also write the three figures as PNG files here")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--harness-overhead", action="store_true",
                        help="also measure the ONNX Runtime backend against bare InferenceSession.run calls (target: <= 3%%)")


def run_bench_command(args: argparse.Namespace) -> int:
    from utils.models import selected_model_name

    model_name = selected_model_name(args.model)
    backends = parse_backends(args.backend)
    batches = parse_batches(args.batch)
    skipped: dict[str, str] = {}
    rows = run_sweep(model_name, backends, batches, iterations=args.iterations, time_budget_s=args.time_budget,
                     warmup=args.warmup, seed=args.seed, progress=not args.no_progress, skipped=skipped)
    if not rows:
        raise WorkbookError("no backend could run: " + "; ".join(f"{k}: {v}" for k, v in skipped.items()))
    csv_path = write_csv(rows, args.csv or default_csv_path(model_name))
    env = environment()
    print(f"{model_name} on {env['machine']}" + (f" + {env['gpu']}" if env["gpu"] else "") + f", {rows[0].date}")
    print(format_table(rows))
    print(f"wrote {csv_path}")
    if args.plots:
        for path in save_plots(rows, args.plots).values():
            print(f"wrote {path}")
    if args.harness_overhead:
        for batch in batches:
            iterations = args.iterations or max(30, 200 // batch)
            overhead = overhead_vs_direct_onnxruntime(model_name, batch, iterations)
            print(f"harness overhead over bare InferenceSession.run, batch {batch}: {overhead:+.2f} % ({iterations} iterations)")
    return 0


__all__ = [
    "BACKENDS", "BASELINES", "CSV_COLUMNS", "METADATA_COLUMNS", "BackendInfo", "BenchmarkRow", "CopyBandwidth",
    "LatencyStats", "Measurement", "add_bench_arguments", "available_backends", "backend_reason", "copy_bandwidth",
    "cpu_model", "cpu_timed", "default_csv_path", "environment", "format_table", "latency_stats", "make_inputs",
    "measure", "overhead_vs_direct_onnxruntime", "percentile", "plot_latency_percentiles", "plot_speedup",
    "plot_throughput", "prepared_backend", "pycuda_timed", "read_csv", "reference_csv_path", "run_bench_command",
    "run_sweep", "save_plots", "side_by_side", "speedups", "torch_cuda_timed", "write_csv",
]
