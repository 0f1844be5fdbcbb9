"""The timing loop, its statistics, and the steps that time one iteration of a `Runtime`.

The method, in one place:

* **Warm-up** iterations run first and are thrown away: they pay for lazy initialisation, memory-pool growth,
  cuDNN/oneDNN algorithm selection and cold caches, none of which a serving process pays per request.
* **Timed iterations** (a fixed count, or as many as fit in a time budget) are timed one by one, so the result
  is a distribution: p50 (the typical request), p90/p99 (the tail a user notices), mean and min.
* **Clocks**: on the CPU `time.perf_counter_ns` (monotonic, nanosecond resolution) around `runtime.run_bound()`.
  On the GPU, CUDA events recorded on the stream that carries the work (`runtime.event_timer`), read only after
  synchronising on the last one: a kernel launch returns before the GPU has run it, so a host clock around an
  unsynchronised call times the launch, not the work. A GPU runtime without stage calls (onnxruntime-cuda:
  `session.run` returns with the outputs on the host) is timed with the host clock, which is then exact.
* **Copies vs compute, measured apart from the latency**: GPU runtimes take the host batch and return host
  logits. The latency samples come from iterations timed exactly as a bare loop would time them: the runtime's
  three stage calls (upload, compute, download) between just two events. The split into host-to-device copy,
  compute and device-to-host copy comes from a separate, smaller set of iterations (`stage_iterations`) with four
  events, one between each stage: the two extra event records sit between the launches and delay them, which at
  small batches (where the GPU waits on the host) lengthens the iteration (measured on an H200, pytorch-cuda:
  +1.8 % at batch 1, +2.3 % at batch 8). The split iterations are interleaved with the timed ones (one after every
  few), so both see the same host: launch-bound work on a shared host speeds up and slows down over seconds, and a
  split taken after all the timed iterations summed to 1.34x their p50 (H100, pytorch-cuda, batch 8). The stage
  columns are the p50s of the split iterations; they add up to about the p50 latency.
* **Throughput** is batch / mean latency (images/s) of these synchronous iterations.

scripts/harness_check.py checks the result: the harness's latency samples against a bare loop of the same
runtime calls, for every runtime of a bench CSV that runs here.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from utils.errors import WorkbookError
from utils.runtimes.base import GPU_STAGES

if TYPE_CHECKING:
    from utils.runtimes.base import Runtime

DEFAULT_WARMUP = 10
DEFAULT_ITERATIONS = 100
DEFAULT_STAGE_ITERATIONS = 20
PERCENTILES = (50, 90, 99)
STAGES = GPU_STAGES
HOST_CLOCK = "perf_counter_ns"

# What one timed iteration returns: total milliseconds, or (total, h2d, compute, d2h) milliseconds.
Step = Callable[[], "float | tuple[float, ...]"]


# --- statistics -------------------------------------------------------------------------------------------------


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


# --- the timing loop --------------------------------------------------------------------------------------------


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


def check_limits(*, warmup: int, iterations: int | None, time_budget_s: float | None) -> None:
    """A one-line WorkbookError for a negative warm-up, fewer than one iteration or a budget that is not positive."""
    if warmup < 0:
        raise WorkbookError(f"warm-up of {warmup} iterations is negative; give 0 or more")
    if iterations is not None and iterations < 1:
        raise WorkbookError(f"{iterations} timed iterations is too few; give at least 1")
    if time_budget_s is not None and time_budget_s <= 0:
        raise WorkbookError(f"time budget of {time_budget_s} s is not positive")


def measure(step: Step, *, warmup: int = DEFAULT_WARMUP, iterations: int | None = None,
            time_budget_s: float | None = None, stages: Sequence[str] = ()) -> Measurement:
    """Run `step` `warmup` times untimed, then time it `iterations` times or until `time_budget_s` has passed.

    `step` runs one iteration and returns its own elapsed milliseconds (see `cpu_step`, `event_step`), or a tuple
    (total, *one value per stage*). With both limits the loop stops at whichever comes first; with neither it
    runs DEFAULT_ITERATIONS. At least one iteration is always timed.
    """
    check_limits(warmup=warmup, iterations=iterations, time_budget_s=time_budget_s)
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


# --- steps ----------------------------------------------------------------------------------------------------------


def cpu_timed(fn: Callable[..., Any], *args: Any) -> Step:
    """A step timing `fn(*args)` with `time.perf_counter_ns`; nothing else runs between the two clock reads."""
    clock = time.perf_counter_ns

    def step() -> float:
        start = clock()
        fn(*args)
        return (clock() - start) / 1e6

    return step


def cpu_step(runtime: Runtime) -> Step:
    """The host clock around one `run_bound()`: the outputs are on the host when it returns."""
    return cpu_timed(runtime.run_bound)


def uses_events(runtime: Runtime) -> bool:
    """True where the runtime queues its stages on a stream that CUDA events can time."""
    return bool(runtime.stage_calls()) and runtime.event_timer(2) is not None


def event_step(runtime: Runtime) -> Step:
    """The runtime's stage calls between two CUDA events, synchronised on the second: what a bare loop times."""
    calls = runtime.stage_calls()
    timer = runtime.event_timer(2)
    if not calls or timer is None:
        raise WorkbookError(f"{runtime.name} queues no stages on a CUDA stream; time it with the host clock (cpu_step)")
    record, synchronize, elapsed = timer.record, timer.synchronize, timer.elapsed_ms

    def step() -> float:
        record(0)
        for call in calls:
            call()
        record(1)
        synchronize()
        return elapsed(0, 1)

    return step


def stage_split_step(runtime: Runtime) -> Step:
    """Four events, one between each stage: (total, h2d, compute, d2h) milliseconds of one iteration."""
    calls = runtime.stage_calls()
    timer = runtime.event_timer(len(calls) + 1) if calls else None
    if timer is None or len(calls) != len(STAGES):
        raise WorkbookError(f"{runtime.name} has no {'/'.join(STAGES)} stages on a CUDA stream to split")
    record, synchronize, elapsed = timer.record, timer.synchronize, timer.elapsed_ms
    upload, compute, download = calls

    def step() -> tuple[float, ...]:
        record(0)
        upload()
        record(1)
        compute()
        record(2)
        download()
        record(3)
        synchronize()
        return (elapsed(0, 3), elapsed(0, 1), elapsed(1, 2), elapsed(2, 3))

    return step


def device_step(runtime: Runtime) -> Step:
    """One device-resident iteration (`runtime.device_call()`): between two CUDA events where the runtime has an
    event timer, else with the host clock (such a runtime's call returns when the GPU has finished)."""
    call = runtime.device_call()
    timer = runtime.event_timer(2)
    if timer is None:
        return cpu_timed(call)
    record, synchronize, elapsed = timer.record, timer.synchronize, timer.elapsed_ms

    def step() -> float:
        record(0)
        call()
        record(1)
        synchronize()
        return elapsed(0, 1)

    return step


def latency_step(runtime: Runtime, scope: str = "host") -> Step:
    """The step the harness takes its latency samples from. "host": `event_step` on a stream, else `cpu_step`;
    "device": `device_step`."""
    if scope == "device":
        return device_step(runtime)
    if scope != "host":
        raise WorkbookError(f"unknown scope {scope!r}; choose host or device")
    return event_step(runtime) if uses_events(runtime) else cpu_step(runtime)


def clock_of(runtime: Runtime, scope: str = "host") -> str:
    """Which clock `latency_step(runtime, scope)` reads: "cuda-events" or the host clock."""
    events = runtime.event_timer(2) is not None if scope == "device" else uses_events(runtime)
    return "cuda-events" if events else HOST_CLOCK


def measure_runtime(runtime: Runtime, *, warmup: int = DEFAULT_WARMUP, iterations: int | None = None,
                    time_budget_s: float | None = None, stage_iterations: int = DEFAULT_STAGE_ITERATIONS,
                    scope: str = "host") -> Measurement:
    """Latency samples of the bound batch (`latency_step`); for runtimes on a stream in the "host" scope, also the
    stage split from `stage_iterations` four-event iterations (no more than were timed), interleaved with the
    timed ones."""
    if stage_iterations < 0:
        raise WorkbookError(f"{stage_iterations} stage iterations is negative; give 0 or more")
    check_limits(warmup=warmup, iterations=iterations, time_budget_s=time_budget_s)
    latency = latency_step(runtime, scope)
    if not stage_iterations or scope == "device" or not uses_events(runtime):
        return measure(latency, warmup=warmup, iterations=iterations, time_budget_s=time_budget_s)
    split = stage_split_step(runtime)
    # With only a time budget the count is unknown: space the split for the default count.
    every = max(1, (iterations or DEFAULT_ITERATIONS) // stage_iterations)
    stage_samples: dict[str, list[float]] = {stage: [] for stage in STAGES}
    timed = 0

    def timed_then_split_every_few() -> float | tuple[float, ...]:
        nonlocal timed
        result = latency()
        timed += 1
        if timed % every == 0 and len(stage_samples[STAGES[0]]) < stage_iterations:
            for stage, value in zip(STAGES, split()[1:], strict=True):  # type: ignore[index]
                stage_samples[stage].append(value)
        return result

    for _ in range(warmup):
        latency()
    measurement = measure(timed_then_split_every_few, warmup=0, iterations=iterations, time_budget_s=time_budget_s)
    measurement.warmup = warmup
    measurement.stage_samples_ms = {stage: values for stage, values in stage_samples.items() if values}
    return measurement


__all__ = ["DEFAULT_ITERATIONS", "DEFAULT_STAGE_ITERATIONS", "DEFAULT_WARMUP", "HOST_CLOCK", "PERCENTILES", "STAGES",
           "LatencyStats", "Measurement", "Step", "check_limits", "clock_of", "cpu_step", "cpu_timed", "device_step",
           "event_step", "latency_stats", "latency_step",
           "measure", "measure_runtime", "percentile", "stage_split_step", "uses_events"]
