"""The harness's own cost: its latency samples against a bare loop of exactly the same runtime calls.

For every configuration that runs here and every batch, on one open runtime with the batch bound, rounds
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
module on an H200 (10 rounds of 40): the two-event step +0.4 % at batch 1 and within noise (-1.7 % to +0.1 %) at
batches 8 and 32; a four-event step +1.8 % at batch 1 and +2.3 % at batch 8; pytorch-cuda-graphs within 0.3 %.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

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
)
from utils.errors import WorkbookError

if TYPE_CHECKING:
    import numpy as np

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
    from utils.runtimes import available_runtimes, open_runtime

    batches = check_batches(batches)
    wanted = [check_configuration(c) for c in configs] if configs is not None else configurations()
    skipped = skipped if skipped is not None else {}
    reasons = available_runtimes()
    results = []
    for name, precision, options in wanted:
        label = configuration_label(name, precision, options)
        reason = reasons[name]
        if reason is not None:
            skipped[label] = reason
            continue
        try:
            with open_runtime(name, model_name, precision, max_batch=max(batches), options=options) as runtime:
                for batch in batches:
                    results += runtime_overhead(runtime, batch, make_inputs(model_name, batch, seed), rounds=rounds,
                                                iterations=iterations, warmup=warmup, scopes=scopes)
        except WorkbookError as exc:
            skipped[label] = str(exc)
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


__all__ = ["DEFAULT_ROUNDS", "TARGET_PERCENT", "BareLoop", "HarnessOverhead", "bare_loop", "compare_rounds", "compare_with_bare",
           "default_iterations", "format_overhead", "harness_overhead", "overhead_summary", "round_spread_percent", "runtime_overhead"]
