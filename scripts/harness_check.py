"""The benchmark harness checked: its latency samples against bare loops of the same calls, and its fastest PyTorch row
against a loop a practitioner would write by hand. This checks the workbook's own harness, so it lives beside the
workbook, not in it (utils/benchmark times; this script vouches for the timing).

    python scripts/harness_check.py BENCH_CSV [--rounds 10] [--iterations N] [--warmup 10]

BENCH_CSV is what `python -m utils bench` wrote on this machine (`make bench` runs both). For every configuration,
batch and scope in it that runs here:

1. The harness's own cost. For every configuration that runs here and every batch, on one open runtime with the batch bound, rounds
alternate between two sides (which side goes first alternates too, so drift hits both alike):

(a) the harness: `measure()` with `latency_step(runtime)`, the step the sweep takes its latency samples from;
(b) a bare loop that does the same runtime calls and nothing else: `run_bound()` between two `perf_counter_ns`
    reads for host-clock runtimes; for runtimes on a CUDA stream, the runtime's `stage_calls()` between just two
    events, synchronise on the second, elapsed time.

Each round yields each side's p50 per-iteration latency; each side's figure is the median over rounds, and the
overhead is harness / bare - 1, in percent. Target: at most 3 % at every batch (TARGET_PERCENT). Beside it, the
rounds' own overheads (each round's harness p50 over the bare p50 of the same round) give the comparison's
resolution: half their interquartile range. An overhead over 3 % by less than that spread (an eager loop at small
batch on a shared host scatters several percent either way) is said to be unresolved, not hidden.

Why the harness's latency step is the bare loop's two events: the stage split (h2d / compute / d2h) needs two
more events between the stages, and recording them between the launches delays the launches where eager PyTorch
on the GPU waits on the host. The old harness timed every iteration with four events and measured pytorch-cuda at
batch 1 6.4 % above a bare two-event loop (H200). So the latency samples now come from two-event iterations and
the split from a separate, smaller set of four-event iterations (see utils.benchmark.harness). Measured with this
check on an H200 (10 rounds of 40): the two-event step +0.4 % at batch 1 and within noise (-1.7 % to +0.1 %) at
batches 8 and 32; a four-event step +1.8 % at batch 1 and +2.3 % at batch 8; pytorch-cuda-graphs within 0.3 %.

2. On a GPU, the fastest stable PyTorch row against a plain PyTorch loop. Check 1 proves the harness adds little to the runtime calls it times; this proves the runtime's calls are not
slower than PyTorch can go: the fastest stable PyTorch row of a sweep (by p50 throughput) is re-measured by a loop
with no workbook code in it: the model in the row's dtype and memory layout, one static input, eager, one CUDA
graph or torch.compile as the row says, CUDA events around each iteration (with the host copies in the host
scope), the p50. Target: the row reaches at least TARGET_RATIO of the loop.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from utils.benchmark.harness import DEFAULT_WARMUP, Step, clock_of, latency_step, measure, percentile
from utils.benchmark.results import configuration_label
from utils.benchmark.sweep import (
    DEFAULT_BATCHES,
    DEFAULT_SEED,
    Configuration,
    check_batches,
    check_configuration,
    configurations,
    make_inputs,
    runnable_configurations,
)
from utils.errors import WorkbookError

if TYPE_CHECKING:
    import numpy as np

    from utils.benchmark.results import BenchmarkRow
    from utils.runtimes.base import Runtime

TARGET_PERCENT = 3.0
DEFAULT_ROUNDS = 10

# A bare loop: run `n` iterations, return each one's milliseconds.
BareLoop = Callable[[int], list[float]]


@dataclass(frozen=True)
class HarnessOverhead:
    """One configuration at one batch: each side's median over rounds of its per-round p50, in ms."""

    backend: str
    precision: str
    batch: int
    clock: str  # "cuda-events" or "perf_counter_ns"
    rounds: int
    iterations: int  # per round and side
    harness_p50_ms: float
    bare_p50_ms: float
    scope: str = "host"
    options: tuple[str, ...] = ()
    # Half the interquartile range of the rounds' own overheads (harness p50 / bare p50 of the same round), in
    # percent: how far apart the rounds were. An overhead smaller than this is not resolved by the comparison.
    spread_percent: float | None = None

    @property
    def percent(self) -> float:
        return (self.harness_p50_ms / self.bare_p50_ms - 1.0) * 100.0

    @property
    def within_target(self) -> bool:
        return self.percent <= TARGET_PERCENT

    @property
    def noisy(self) -> bool:
        """Over the target, but by less than the rounds scatter: the comparison cannot tell it from noise."""
        return (not self.within_target and self.spread_percent is not None
                and self.percent - self.spread_percent <= TARGET_PERCENT)

    @property
    def label(self) -> str:
        return configuration_label(self.backend, self.precision, self.options) + (
            f" ({self.scope})" if self.scope != "host" else "")


def default_iterations(batch: int) -> int:
    """Timed iterations per side (over all rounds) when none are given: more for small, fast batches."""
    return max(40, 400 // batch)


def compare_with_bare(harness_step: Step, bare_loop: BareLoop, *, rounds: int, iterations: int,
                      warmup: int = 0) -> tuple[float, float]:
    """(harness, bare): the median over `rounds` of each side's p50 over `iterations` iterations, interleaved
    (see `compare_rounds`)."""
    harness, bare = compare_rounds(harness_step, bare_loop, rounds=rounds, iterations=iterations, warmup=warmup)
    return statistics.median(harness), statistics.median(bare)


def round_spread_percent(harness: Sequence[float], bare: Sequence[float]) -> float:
    """Half the interquartile range of the rounds' overheads, in percent (0 for fewer than two rounds)."""
    overheads = sorted((h / b - 1.0) * 100.0 for h, b in zip(harness, bare, strict=True))
    if len(overheads) < 2:
        return 0.0
    return (percentile(overheads, 75) - percentile(overheads, 25)) / 2


def compare_rounds(harness_step: Step, bare_loop: BareLoop, *, rounds: int, iterations: int,
                   warmup: int = 0) -> tuple[list[float], list[float]]:
    """Each side's p50 over `iterations` iterations in each of `rounds` rounds: (harness p50s, bare p50s).

    Even rounds run the harness first, odd rounds the bare loop first. `warmup` iterations of each side run first,
    untimed.
    """
    if rounds < 1 or iterations < 1:
        raise WorkbookError(f"{rounds} rounds of {iterations} iterations is too few; give at least 1 of each")
    for _ in range(warmup):
        harness_step()
    if warmup:
        bare_loop(warmup)
    harness: list[float] = []
    bare: list[float] = []
    for index in range(rounds):
        for side in ("harness", "bare") if index % 2 == 0 else ("bare", "harness"):
            if side == "harness":
                harness.append(percentile(measure(harness_step, warmup=0, iterations=iterations).samples_ms, 50))
            else:
                bare.append(percentile(bare_loop(iterations), 50))
    return harness, bare


def bare_loop(runtime: Runtime, scope: str = "host") -> BareLoop:
    """The same runtime calls the harness times, with nothing else: see the module docstring. In the "device"
    scope that is `device_call()` alone, between two events or, without an event timer, two host clock reads."""
    if scope == "device":
        calls: tuple = (runtime.device_call(),)
        timer = runtime.event_timer(2)
    else:
        calls = runtime.stage_calls()
        timer = runtime.event_timer(2) if calls else None
    if timer is None:
        run, clock = (calls[0] if scope == "device" else runtime.run_bound), time.perf_counter_ns

        def host_loop(n: int) -> list[float]:
            samples = []
            for _ in range(n):
                start = clock()
                run()
                samples.append((clock() - start) / 1e6)
            return samples

        return host_loop

    def event_loop(n: int) -> list[float]:
        samples = []
        for _ in range(n):
            timer.record(0)
            for call in calls:
                call()
            timer.record(1)
            timer.synchronize()
            samples.append(timer.elapsed_ms(0, 1))
        return samples

    return event_loop


def runtime_overhead(runtime: Runtime, batch: int, inputs: np.ndarray, *, rounds: int = DEFAULT_ROUNDS,
                     iterations: int | None = None, warmup: int = DEFAULT_WARMUP,
                     scopes: Sequence[str] | None = None) -> list[HarnessOverhead]:
    """The harness's overhead on an open runtime at one batch, in each of `scopes` it answers (default: all it has).
    `iterations` per side, spread over the rounds."""
    total = iterations or default_iterations(batch)
    rounds = max(1, min(rounds, total // 2)) if total >= 2 else 1
    per_round = max(1, total // rounds)
    runtime.bind(inputs)
    results = []
    for scope in [s for s in (scopes or runtime.scopes) if s in runtime.scopes]:
        harness, bare = compare_rounds(latency_step(runtime, scope), bare_loop(runtime, scope), rounds=rounds,
                                       iterations=per_round, warmup=warmup)
        results.append(HarnessOverhead(runtime.name, runtime.precision, batch, clock_of(runtime, scope), rounds,
                                       per_round, statistics.median(harness), statistics.median(bare), scope,
                                       runtime.options, round_spread_percent(harness, bare)))
    return results


def harness_overhead(model_name: str, configs: Sequence[Configuration] | None = None,
                     batches: Sequence[int] = DEFAULT_BATCHES, *, rounds: int = DEFAULT_ROUNDS,
                     iterations: int | None = None, warmup: int = DEFAULT_WARMUP, seed: int = DEFAULT_SEED,
                     skipped: dict[str, str] | None = None, scopes: Sequence[str] | None = None) -> list[HarnessOverhead]:
    """The overhead for every configuration (default: every default one that runs here) at every batch and scope,
    side by side. Each runtime is opened once; one that cannot run is left out, its reason in `skipped` under its
    label, as in `run_sweep`."""
    from utils.runtimes import open_runtime

    batches = check_batches(batches)
    wanted = [check_configuration(c) for c in configs] if configs is not None else configurations()
    skipped = skipped if skipped is not None else {}
    results = []
    for name, precision, options in runnable_configurations(wanted, skipped):
        try:
            with open_runtime(name, model_name, precision, max_batch=max(batches), options=options) as runtime:
                for batch in batches:
                    results += runtime_overhead(runtime, batch, make_inputs(model_name, batch, seed), rounds=rounds,
                                                iterations=iterations, warmup=warmup, scopes=scopes)
        except WorkbookError as exc:
            skipped[configuration_label(name, precision, options)] = str(exc)
    return results


def format_overhead(results: Sequence[HarnessOverhead]) -> str:
    """One line per configuration and batch: both medians and the overhead against the target."""
    width = max((len(r.label) for r in results), default=0)
    return "\n".join(
        f"harness overhead {r.label:<{width}} batch {r.batch:>3}: {r.percent:+6.2f} %  "
        f"(harness p50 {r.harness_p50_ms:.4f} ms, bare {r.bare_p50_ms:.4f} ms, {r.clock}, "
        f"{r.rounds} rounds x {r.iterations}{_spread(r)}; target <= {TARGET_PERCENT:g} %: "
        f"{'ok' if r.within_target else 'OVER'}{', rounds too scattered to tell' if r.noisy else ''})"
        for r in results)


def _spread(result: HarnessOverhead) -> str:
    return f", rounds +/-{result.spread_percent:.2f} %" if result.spread_percent is not None else ""


def overhead_summary(results: Sequence[HarnessOverhead]) -> str:
    """One line for the whole run: how many comparisons, the worst, and how many missed the target."""
    if not results:
        return "no harness overhead was compared"
    worst = max(results, key=lambda r: r.percent)
    over = [r for r in results if not r.within_target]
    noisy = sum(r.noisy for r in over)
    count = f"{len(results)} comparison{'s' if len(results) != 1 else ''}"
    return (f"over all {count}, the worst harness overhead {worst.percent:+.2f} % ({worst.label} "
            f"batch {worst.batch}); {len(over)} over the {TARGET_PERCENT:g} % target"
            + (f", {noisy} of them by less than their rounds scatter" if noisy else ""))


# --- the fastest PyTorch row against a plain PyTorch loop ------------------------------------------------------------

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


def main(argv: list[str] | None = None) -> int:
    from utils.benchmark import read_csv

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("bench_csv", type=Path, help="what `python -m utils bench` wrote on this machine")
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="alternating rounds (default: %(default)s)")
    parser.add_argument("--iterations", type=int, default=None, help="timed iterations per side and batch")
    parser.add_argument("--warmup", type=int, default=DEFAULT_WARMUP, help="untimed iterations per side")
    args = parser.parse_args(argv)
    try:
        rows = read_csv(args.bench_csv)
        if not rows:
            raise WorkbookError(f"{args.bench_csv} has no rows; run python -m utils bench first")
        ran = list(dict.fromkeys((r.backend, r.precision, tuple(filter(None, r.options.split("+")))) for r in rows))
        skipped: dict[str, str] = {}
        results = harness_overhead(rows[0].model, ran, sorted({r.batch for r in rows}), rounds=args.rounds,
                                   iterations=args.iterations, warmup=args.warmup,
                                   scopes=sorted({r.scope for r in rows}), skipped=skipped)
        print(format_overhead(results))
        print(overhead_summary(results))
        for label, reason in skipped.items():
            print(f"not compared, {label}: {reason}")
        if any(r.backend in PYTORCH_BACKENDS and r.device == "cuda" for r in rows):
            try:
                print(format_standalone(standalone_check(rows, iterations=args.iterations or DEFAULT_ITERATIONS)))
            except WorkbookError as exc:
                print(f"no standalone-loop check: {exc}")
    except WorkbookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
