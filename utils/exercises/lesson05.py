"""Checks for the exercises of 05_benchmark: drop the warm-up, the 99th percentile, throughput in images per second.

The notebook times a fresh runtime without a warm-up (`raw_ms`, one latency per iteration in milliseconds, in the
order they ran); each check recomputes the expected answer from those timings with the harness's own statistics
(`utils.benchmark.percentile`, linear interpolation like numpy's default), so it holds on any machine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from utils.exercises.registry import NotYetRight, as_number, close_to, exercise

SLOW_START = 1.1  # a first iteration this much slower than the steady median shows the warm-up


def _number(answer: Any, what: str) -> float:
    value = as_number(answer, what)
    if not math.isfinite(value):
        raise NotYetRight(f"{what} is a finite number; {value} is not")
    return value


def _where_p99(count: int) -> str:
    """Where linear interpolation puts p99 among `count` sorted samples, in words."""
    rank = (count - 1) * 0.99
    if count < 2 or abs(rank - round(rank)) < 1e-9:
        return f"with {count} samples p99 is sample {round(rank) + 1} of {count}, sorted"
    if int(rank) == count - 2:
        return f"with {count} samples p99 interpolates between the two slowest"
    return f"with {count} samples p99 interpolates between samples {int(rank) + 1} and {int(rank) + 2} of {count}, sorted"


def _steady(raw_ms: Sequence[float], warmup: int) -> list[float]:
    return [float(t) for t in raw_ms][warmup:]


@exercise("05.1")
def drop_warmup(answer: Any, *, raw_ms: Sequence[float], warmup: int) -> str:
    """The timed iterations after the first `warmup` ones, in the order they ran."""
    import numpy as np

    raw = [float(t) for t in raw_ms]
    expected = raw[warmup:]
    try:
        steady = np.asarray(answer, dtype=np.float64)
    except (TypeError, ValueError):
        raise NotYetRight(f"give the timings as a list or array of milliseconds, not a {type(answer).__name__}") from None
    if steady.ndim != 1:
        raise NotYetRight(f"give a flat list of {len(expected)} timings, not an array of shape {list(steady.shape)}; "
                          "hint: raw_ms[...] with a slice")

    def same(values: Sequence[float]) -> bool:
        return len(values) == steady.size and bool(np.allclose(steady, values, rtol=1e-9, atol=0))

    if same(expected):
        first, median = raw[0], float(np.median(expected))
        if first > SLOW_START * median:
            return (f"the first iteration took {first:.3g} ms, {first / median:.2g}x the steady median ({median:.3g} "
                    "ms): it paid for allocations, algorithm choices and cold caches, once, as a serving process does "
                    "at start-up and never per request")
        return (f"the first iteration took {first:.3g} ms against a steady median of {median:.3g} ms: this runtime "
                "warms up quickly here, but on a GPU the first iterations (lazy module loading, cuDNN algorithm "
                "choice) can take many times longer")
    if same(raw):
        raise NotYetRight(f"that is every iteration, warm-up included; drop the first {warmup}; hint: raw_ms[{warmup}:]")
    if same(raw[:warmup]):
        raise NotYetRight(f"those are the {warmup} warm-up iterations, the ones to throw away; keep the rest; hint: "
                          f"raw_ms[{warmup}:]")
    if warmup and same(raw[:-warmup]):
        raise NotYetRight(f"you dropped the last {warmup} iterations; warm-up comes first; hint: raw_ms[{warmup}:]")
    if same(sorted(expected)) or same(sorted(raw)[warmup:]) or same(sorted(raw)[:-warmup] if warmup else sorted(raw)):
        raise NotYetRight("these are sorted: drop the first iterations in the order they ran (warm-up is a time, not "
                          "a speed), and keep the slow ones after it: they are the tail p99 reports; hint: "
                          f"raw_ms[{warmup}:]")
    if steady.size != len(expected):
        raise NotYetRight(f"{steady.size} timings; after dropping {warmup} warm-up iterations from {len(raw)} there "
                          f"are {len(expected)}; hint: raw_ms[{warmup}:]")
    raise NotYetRight(f"these are not the timings after the first {warmup}; hint: raw_ms[{warmup}:], unchanged")


@exercise("05.2")
def p99(answer: Any, *, raw_ms: Sequence[float], warmup: int) -> str:
    """The 99th percentile (linear interpolation) of the timings after warm-up, in milliseconds."""
    from utils.benchmark.harness import percentile

    value = _number(answer, "the 99th percentile")
    steady = _steady(raw_ms, warmup)
    expected = percentile(steady, 99)
    if close_to(value, expected):
        return (f"p99 = {expected:.3g} ms against p50 = {percentile(steady, 50):.3g} ms; {_where_p99(len(steady))}: "
                "the tail needs hundreds of iterations to be measured steadily")
    ordered = sorted(steady)
    mistakes = [
        (percentile(steady, 50), "that is the median (p50), not the 99th percentile; hint: np.percentile(steady_ms, 99)"),
        (sum(steady) / len(steady), "that is the mean; p99 is the latency 99 % of iterations stay under; hint: "
                                    "np.percentile(steady_ms, 99)"),
        (ordered[-1], f"that is the slowest iteration (max), or a nearest-rank percentile landing on it; "
                      f"{_where_p99(len(steady))}; hint: np.percentile(steady_ms, 99)"),
        (percentile(steady, 90), "that is p90; hint: np.percentile(steady_ms, 99)"),
        (percentile(steady, 0.99), "that is the 0.99th percentile, near the fastest: np.percentile takes q from 0 "
                                   "to 100, not a fraction; hint: np.percentile(steady_ms, 99)"),
        (percentile([float(t) for t in raw_ms], 99), f"that includes the {warmup} warm-up iterations; hint: the "
                                                      "percentile of steady_ms, the timings after warm-up"),
        (expected / 1e3, "that is in seconds; the timings are in milliseconds, and so is the answer"),
    ]
    for wrong, message in mistakes:
        if close_to(value, wrong):
            raise NotYetRight(message)
    side = "above the slowest iteration" if value > ordered[-1] else "below p50" if value < percentile(steady, 50) \
        else "not the 99th percentile"
    raise NotYetRight(f"{value:.4g} ms is {side}; hint: np.percentile(steady_ms, 99) (linear interpolation)")


@exercise("05.3")
def throughput(answer: Any, *, raw_ms: Sequence[float], warmup: int, batch: int) -> str:
    """Images per second: `batch` images every mean latency (after warm-up), as the harness defines it."""
    from utils.benchmark.harness import percentile

    value = _number(answer, "the throughput")
    steady = _steady(raw_ms, warmup)
    mean_ms = sum(steady) / len(steady)
    expected = batch / (mean_ms / 1e3)
    if close_to(value, expected):
        return (f"{expected:.4g} images/s: {batch} images every {mean_ms:.3g} ms; one image every "
                f"{mean_ms / batch:.3g} ms on average, though each waits the whole {mean_ms:.3g} ms")
    raw = [float(t) for t in raw_ms]
    mistakes = [
        (batch / mean_ms, "that is images per millisecond; the timings are in ms; hint: divide by mean latency in "
                          "seconds, mean_ms / 1e3"),
        (1e3 / mean_ms, f"that is batches per second; each batch holds {batch} images; hint: batch / seconds per batch"),
        (1.0 / mean_ms, f"that is batches per millisecond; hint: {batch} images / (mean_ms / 1e3) seconds"),
        (batch * mean_ms / 1e3, "that is upside down (seconds times images); hint: images / seconds"),
        (batch / (percentile(steady, 50) / 1e3), "that uses the median (p50); the workbook's throughput uses the mean "
                                                 "latency, which counts the slow iterations too; hint: "
                                                 "np.mean(steady_ms)"),
        (batch / (min(steady) / 1e3), "that uses the fastest iteration, a best case no run sustains; hint: the mean"),
        (batch / (sum(raw) / len(raw) / 1e3), f"that includes the {warmup} warm-up iterations; hint: the mean of "
                                               "steady_ms"),
    ]
    for wrong, message in mistakes:
        if close_to(value, wrong):
            raise NotYetRight(message)
    raise NotYetRight(f"{value:.4g} images/s is not batch / mean latency; hint: {batch} / (np.mean(steady_ms) / 1e3)")
