"""Checks for the exercises of 05_benchmark: pick a configuration for a latency budget, explain a speed-up by what
limits each batch size, how close a row comes to the physical limit, and a timing loop of one's own.

Each check recomputes the expected answer from the rows it is given (the committed H200 reference, or the learner's
own sweep) and the model's cost read off its graph, so it holds for any CSV and machine.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from utils.exercises.registry import NotYetRight, as_number, close_to, exercise

if TYPE_CHECKING:
    from utils.benchmark.results import BenchmarkRow
    from utils.onnx.cost import ModelCost


def _fits(rows: Sequence[BenchmarkRow], budget_ms: float, scope: str) -> list[BenchmarkRow]:
    return [r for r in rows if r.scope == scope and r.p99_ms <= budget_ms]


@exercise("05.1")
def configuration_for_a_budget(answer: Any, *, rows: Sequence[BenchmarkRow], budget_ms: float,
                               scope: str = "host") -> str:
    """(configuration label, batch): of the rows of `scope` whose p99 is within `budget_ms`, the most images/s."""
    if not isinstance(answer, tuple | list) or len(answer) != 2:
        raise NotYetRight("give a pair (label, batch), e.g. ('pytorch-cuda-graphs/fp16', 8)")
    label, batch = answer
    fitting = _fits(rows, budget_ms, scope)
    if not fitting:
        raise NotYetRight(f"no {scope}-scope row has a p99 within {budget_ms:g} ms; check the budget")
    best = max(fitting, key=lambda r: r.throughput_ips)
    chosen = next((r for r in rows if r.label == label and r.batch == batch and r.scope == scope), None)
    if chosen is None:
        raise NotYetRight(f"no {scope}-scope row is {label!r} at batch {batch!r}; labels look like {best.label!r}")
    if chosen is best:
        return (f"{best.label} at batch {best.batch}: {best.throughput_ips:,.0f} images/s with p99 {best.p99_ms:.2f} ms "
                f"(p50 {best.p50_ms:.2f} ms); a larger batch would break the budget or serve fewer images")
    if chosen.p99_ms > budget_ms:
        hint = ("its p50 fits, but a budget holds for the slow requests too: judge by p99"
                if chosen.p50_ms <= budget_ms else "it is over the budget")
        raise NotYetRight(f"{label} at batch {batch} has p99 {chosen.p99_ms:.2f} ms, over {budget_ms:g} ms: {hint}")
    fastest_latency = min(fitting, key=lambda r: r.p50_ms)
    if chosen is fastest_latency:
        raise NotYetRight(f"{label} at batch {batch} answers fastest ({chosen.p50_ms:.2f} ms), but the question is the "
                          f"most images per second within the budget: a larger batch that still fits serves more")
    raise NotYetRight(f"{label} at batch {batch} fits ({chosen.p99_ms:.2f} ms) and serves {chosen.throughput_ips:,.0f} "
                      "images/s; another row within the budget serves more: compare throughput_ips")


@exercise("05.2")
def graphs_speedup(answer: Any, *, rows: Sequence[BenchmarkRow], precision: str = "fp32",
                   scope: str = "device") -> str:
    """(speed-up at the smallest batch, at the largest): eager `pytorch-cuda` p50 over `pytorch-cuda-graphs` p50, both
    at `precision` without options, in `scope`."""
    if not isinstance(answer, tuple | list) or len(answer) != 2:
        raise NotYetRight("give a pair (speed-up at the smallest batch, speed-up at the largest)")
    small, large = (as_number(value, "a speed-up") for value in answer)
    pick = {(r.backend, r.batch): r for r in rows if r.precision == precision and not r.options and r.scope == scope}
    batches = sorted({b for (name, b) in pick if name == "pytorch-cuda" and ("pytorch-cuda-graphs", b) in pick})
    if not batches:
        raise NotYetRight(f"the rows lack pytorch-cuda and pytorch-cuda-graphs at {precision}, {scope} scope")
    ratios = [pick[("pytorch-cuda", b)].p50_ms / pick[("pytorch-cuda-graphs", b)].p50_ms for b in (batches[0], batches[-1])]
    if close_to(small, ratios[0]) and close_to(large, ratios[1]):
        return (f"{ratios[0]:.1f}x at batch {batches[0]}, {ratios[1]:.2f}x at batch {batches[-1]}: at batch "
                f"{batches[0]} the GPU waits for Python to launch each kernel, and one graph launch removes that; at "
                f"batch {batches[-1]} each kernel runs long enough to hide its launch, so the graph saves little")
    if close_to(small, 1 / ratios[0]) or close_to(large, 1 / ratios[1]):
        raise NotYetRight("upside down: a speed-up is the slower (eager) p50 over the faster (graphs) one")
    means = [pick[("pytorch-cuda", b)].mean_ms / pick[("pytorch-cuda-graphs", b)].mean_ms for b in (batches[0], batches[-1])]
    if close_to(small, means[0]) and close_to(large, means[1]):
        raise NotYetRight("that uses mean latencies; a slow iteration drags a mean, so speed-ups here are from p50")
    raise NotYetRight(f"not the p50 ratios at batches {batches[0]} and {batches[-1]}; hint: eager.p50_ms / graphs.p50_ms")


@exercise("05.3")
def roofline_fraction(answer: Any, *, row: BenchmarkRow, cost: ModelCost, peaks: Mapping[str, Any]) -> str:
    """The row's p50 against its memory-bound limit: `cost.layerwise_bytes(batch, precision)` at `peaks`'
    memory bandwidth (TB/s), as a fraction (bound time / p50)."""
    value = as_number(answer, "a fraction")
    bound_ms = cost.layerwise_bytes(row.batch, row.precision) / (float(peaks["memory_tbps"]) * 1e12) * 1e3
    expected = bound_ms / row.p50_ms
    if close_to(value, expected):
        compute_ms = cost.flops(row.batch) / (float(peaks[row.precision]) * 1e12) * 1e3
        return (f"{expected:.0%} of the memory-bound limit ({bound_ms:.2f} ms against {row.p50_ms:.2f} ms); the "
                f"arithmetic alone would take {compute_ms:.3f} ms at the published peak, {bound_ms / compute_ms:.0f}x "
                "less: memory, not tensor cores, sets this model's limit")
    if close_to(value, 1 / expected):
        raise NotYetRight("upside down: the fraction is the bound's time over the measured p50, at most about 1")
    if close_to(value, 100 * expected):
        raise NotYetRight("that is a percentage; give the fraction (0.42, not 42)")
    fp32_ms = cost.layerwise_bytes(row.batch, "fp32") / (float(peaks["memory_tbps"]) * 1e12) * 1e3
    if row.precision != "fp32" and close_to(value, fp32_ms / row.p50_ms):
        raise NotYetRight(f"those are FP32 bytes; the row moves {row.precision} values: layerwise_bytes(batch, "
                          f"{row.precision!r})")
    compute_ms = cost.flops(row.batch) / (float(peaks[row.precision]) * 1e12) * 1e3
    if math.isclose(value, compute_ms / row.p50_ms, rel_tol=0.02):
        raise NotYetRight("that is the compute bound; this model is limited by memory traffic: use layerwise_bytes and "
                          "the memory bandwidth")
    raise NotYetRight(f"{value:.4g} is not bound / p50; hint: cost.layerwise_bytes(row.batch, row.precision) / "
                      "(peaks['memory_tbps'] * 1e12) seconds, against row.p50_ms / 1e3")


BATCHING_GAIN = 1.5  # eight images take at least this many times one image's p50 on any CPU or GPU measured


@exercise("05.4")
def own_timing_loop(answer: Any, *, iterations: int, warmup: int, batch: int, first_batch: int,
                    first_p50_ms: float) -> str:
    """Milliseconds of each of `iterations` timed `session.run` calls at `batch`, the warm-up left out; judged against
    the notebook's own loop at `first_batch` (p50 `first_p50_ms`)."""
    import numpy as np

    if isinstance(answer, str | bytes) or not hasattr(answer, "__len__"):
        raise NotYetRight("give the list of every timed run's milliseconds, e.g. [3.1, 3.0, ...]")
    values = np.asarray([as_number(value, "a latency") for value in answer], dtype=float)
    if len(values) == iterations + warmup:
        raise NotYetRight(f"{len(values)} times: the {warmup} warm-up runs are in them; time only the {iterations} after")
    if len(values) != iterations:
        raise NotYetRight(f"{len(values)} times; time each of the {iterations} runs after the warm-up once")
    if not (values > 0).all():
        raise NotYetRight("a latency is positive: take the clock before session.run and subtract it from the one after")
    p50 = float(np.median(values))
    if p50 < first_p50_ms / 100:
        raise NotYetRight(f"a median of {p50:.2g}: seconds, not milliseconds? perf_counter_ns() differences / 1e6 are ms")
    if p50 > first_p50_ms * 1000 * batch:
        raise NotYetRight(f"a median of {p50:.3g}: nanoseconds, not milliseconds? divide perf_counter_ns differences by 1e6")
    if batch > first_batch and p50 < BATCHING_GAIN * first_p50_ms:
        raise NotYetRight(f"p50 {p50:.2f} ms, about the {first_batch}-image loop's {first_p50_ms:.2f} ms: did the input "
                          f"hold {batch} images? its first axis is the batch")
    per_image = (first_p50_ms / first_batch, p50 / batch)
    gain = per_image[0] / per_image[1]
    return (f"batch {batch}: p50 {p50:.2f} ms, {1e3 * batch / p50:,.0f} images/s against {1e3 * first_batch / first_p50_ms:,.0f} "
            f"at batch {first_batch}: {gain:.1f}x the throughput for {p50 / first_p50_ms:.1f}x the latency; whether that is "
            "worth it depends on the latency budget (exercise 05.1)")
