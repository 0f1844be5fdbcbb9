"""The fastest PyTorch row against a loop a practitioner would write by hand, in plain PyTorch, in the same run.

`overhead` proves the harness adds little to the runtime calls it times; this proves the runtime's calls are not
slower than PyTorch can go: the fastest stable PyTorch row of a sweep (by p50 throughput) is re-measured by a loop
with no workbook code in it: the model in the row's dtype and memory layout, one static input, eager, one CUDA
graph or torch.compile as the row says, CUDA events around each iteration (with the host copies in the host
scope), the p50. Target: the row reaches at least TARGET_RATIO of the loop.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from utils.errors import WorkbookError

if TYPE_CHECKING:
    from utils.benchmark.results import BenchmarkRow

TARGET_RATIO = 0.9
DEFAULT_ITERATIONS = 200
WARMUP = 20
PYTORCH_BACKENDS = ("pytorch-cpu", "pytorch-cuda", "pytorch-cuda-graphs", "pytorch-compile")


@dataclass(frozen=True)
class StandaloneCheck:
    """The row, its throughput from the p50, and the standalone loop's."""

    row: BenchmarkRow
    harness_ips: float
    standalone_ips: float

    @property
    def ratio(self) -> float:
        return self.harness_ips / self.standalone_ips

    @property
    def within_target(self) -> bool:
        return self.ratio >= TARGET_RATIO

    @property
    def loop_slower(self) -> bool:
        """The plain loop lost by more than 10 %: it is no yardstick this time (noise, or a loop that differs)."""
        return self.ratio > 1 / TARGET_RATIO


def fastest_pytorch_row(rows: Sequence[BenchmarkRow], device: str = "cuda") -> BenchmarkRow:
    """The PyTorch row on `device` with the highest throughput from its p50, among the stable ones (a row whose
    p99 is far above its p50 is flagged, not ranked)."""
    candidates = [r for r in rows if r.backend in PYTORCH_BACKENDS and r.device == device and not r.unstable]
    if not candidates:
        raise WorkbookError(f"no stable PyTorch row on {device} to check; run bench with a PyTorch backend there")
    return max(candidates, key=lambda r: r.batch / r.p50_ms)


def standalone_pytorch(row: BenchmarkRow, iterations: int = DEFAULT_ITERATIONS) -> float:
    """Images/s of a plain-PyTorch loop of `row`'s configuration (backend, precision, options, batch, scope)."""
    import torch

    if row.backend not in PYTORCH_BACKENDS:
        raise WorkbookError(f"{row.label} is not a PyTorch row; pick one of {', '.join(PYTORCH_BACKENDS)}")
    on_gpu = row.device == "cuda"
    if on_gpu and not torch.cuda.is_available():
        raise WorkbookError(f"{row.label} ran on a GPU and none is visible here; check it on the machine it ran on")
    device = "cuda" if on_gpu else "cpu"
    autocast = "autocast" in row.options  # FP32 weights, FP16 arithmetic chosen per op by torch.autocast
    dtype = torch.float16 if row.precision == "fp16" and not autocast else torch.float32
    layout = torch.channels_last if "channels-last" in row.options else torch.contiguous_format
    flags = (torch.backends.cudnn.benchmark, torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.benchmark = True  # (only read on a GPU)
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = "tf32" in row.options
    try:
        return _timed_loop(row, iterations, device, dtype, layout, autocast)
    finally:
        torch.backends.cudnn.benchmark, torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = flags


def _timed_loop(row: BenchmarkRow, iterations: int, device: str, dtype: Any, layout: Any, autocast: bool) -> float:
    import torch

    from utils.models import load_model
    from utils.runtimes.pytorch import COMPILE_MODE

    on_gpu = device == "cuda"
    model = load_model(row.model).to(device).eval().to(dtype=dtype, memory_format=layout)
    host = torch.randn(row.batch, 3, 224, 224)
    host = host.pin_memory() if on_gpu else host
    staged = torch.empty_like(host, device=device)
    # As the runtime does: the staged FP32 NCHW copy is the model's input unless a cast or a layout change is needed.
    converts = dtype != torch.float32 or layout != torch.contiguous_format
    x = torch.empty(host.shape, dtype=dtype, device=device).contiguous(memory_format=layout) if converts else staged
    network: Any = model
    if row.backend == "pytorch-compile":
        network = torch.compile(model, mode=COMPILE_MODE, dynamic=False)

    def forward(batch: Any) -> Any:
        if not autocast:
            return network(batch)
        with torch.autocast(device, dtype=torch.float16, cache_enabled=False):
            return network(batch)

    with torch.inference_mode():
        x.copy_(host)
        for _ in range(5):
            y = forward(x)
        if row.backend == "pytorch-cuda-graphs":
            graph = torch.cuda.CUDAGraph()
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(3):
                    forward(x)
            torch.cuda.current_stream().wait_stream(side)
            with torch.cuda.graph(graph, capture_error_mode="thread_local"):
                y = forward(x)
            step: Any = lambda _: graph.replay()  # noqa: E731
        else:
            step = forward
        out = torch.empty(y.shape, dtype=y.dtype, pin_memory=on_gpu)
        samples = []
        for index in range(iterations + WARMUP):
            if on_gpu:
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
            else:
                began = time.perf_counter_ns()
            if row.scope == "host":
                staged.copy_(host, non_blocking=True)
                if converts:
                    x.copy_(staged)
            result = step(x)
            if row.scope == "host":
                out.copy_(y if result is None else result, non_blocking=on_gpu)
            if on_gpu:
                end.record()
                end.synchronize()
                elapsed_ms = start.elapsed_time(end)
            else:
                elapsed_ms = (time.perf_counter_ns() - began) / 1e6
            if index >= WARMUP:
                samples.append(elapsed_ms)
    return row.batch / (statistics.median(samples) / 1e3)


def standalone_check(rows: Sequence[BenchmarkRow], device: str = "cuda",
                     iterations: int = DEFAULT_ITERATIONS) -> StandaloneCheck:
    """The fastest stable PyTorch row of `rows` on `device` against `standalone_pytorch` of it, measured now."""
    best = fastest_pytorch_row(rows, device)
    return StandaloneCheck(best, best.batch / (best.p50_ms / 1e3), standalone_pytorch(best, iterations))


def format_standalone(check: StandaloneCheck) -> str:
    r = check.row
    return (f"fastest PyTorch row {r.label} [{r.scope}] batch {r.batch}: {check.harness_ips:,.0f} img/s from the p50; "
            f"a standalone loop of the same configuration: {check.standalone_ips:,.0f} img/s; ratio {check.ratio:.3f} "
            f"(target >= {TARGET_RATIO:g}: {'ok' if check.within_target else 'UNDER'}"
            + ("; the plain loop was the slower one, so this run proves little" if check.loop_slower else "") + ")")


__all__ = ["TARGET_RATIO", "StandaloneCheck", "fastest_pytorch_row", "format_standalone", "standalone_check",
           "standalone_pytorch"]
