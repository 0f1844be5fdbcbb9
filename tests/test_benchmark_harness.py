"""utils.benchmark.harness: statistics, the timing loop, and the steps that time a Runtime."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.benchmark_doubles import FakeCpuRuntime, FakeGpuRuntime
from utils.benchmark import harness
from utils.environment import pytorch_gpu_unavailable
from utils.errors import WorkbookError

MODEL = "efficientnet_lite0"
needs_gpu = pytest.mark.skipif(pytorch_gpu_unavailable() is not None, reason=f"needs a GPU PyTorch can use: {pytorch_gpu_unavailable()}")


# --- statistics -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("samples", [[5.0], [3.0, 1.0], [0.9, 1.7, 1.1, 12.0, 1.3, 1.2, 1.05, 30.0, 1.4, 1.15],
                                     list(np.random.default_rng(1).lognormal(0, 1, 257))])
def test_percentiles_match_numpy(samples: list[float]) -> None:
    for q in (0, 1, 10, 25, 50, 90, 99, 99.9, 100):
        assert harness.percentile(samples, q) == pytest.approx(float(np.percentile(samples, q)), rel=1e-12, abs=1e-12)
    stats = harness.latency_stats(samples)
    assert (stats.p50_ms, stats.p90_ms, stats.p99_ms) == pytest.approx(tuple(np.percentile(samples, [50, 90, 99])))
    assert stats.mean_ms == pytest.approx(np.mean(samples))
    assert stats.std_ms == pytest.approx(np.std(samples))
    assert stats.min_ms == min(samples) and stats.max_ms == max(samples) and stats.count == len(samples)


def test_percentile_refuses_nothing_and_out_of_range() -> None:
    with pytest.raises(WorkbookError, match="no samples"):
        harness.percentile([], 50)
    with pytest.raises(WorkbookError, match="outside 0 to 100"):
        harness.percentile([1.0], 101)
    with pytest.raises(WorkbookError, match="no timed iterations"):
        harness.latency_stats([])


def test_throughput_is_batch_over_mean_latency() -> None:
    stats = harness.Measurement(samples_ms=[10.0, 20.0, 30.0, 100.0], warmup=0, wall_s=0.16).stats
    assert stats.mean_ms == pytest.approx(40.0)
    assert stats.throughput(8) == pytest.approx(8 / 0.040)
    assert stats.p50_ms == pytest.approx(25.0)  # the median, not the mean


# --- the timing loop --------------------------------------------------------------------------------------------


def test_warmup_iterations_are_run_but_not_counted() -> None:
    calls: list[int] = []

    def step() -> float:
        calls.append(len(calls))
        return float(len(calls))  # the 1-based call number, as its "latency"

    result = harness.measure(step, warmup=3, iterations=5)
    assert len(calls) == 8
    assert result.samples_ms == [4.0, 5.0, 6.0, 7.0, 8.0]
    assert result.warmup == 3 and result.stats.count == 5


def test_without_limits_the_default_count_is_timed() -> None:
    result = harness.measure(lambda: 1.0, warmup=0)
    assert len(result.samples_ms) == harness.DEFAULT_ITERATIONS


def test_time_budget_stops_the_loop() -> None:
    def step() -> float:
        time.sleep(0.01)
        return 10.0

    started = time.perf_counter()
    result = harness.measure(step, warmup=0, time_budget_s=0.1)
    elapsed = time.perf_counter() - started
    assert 3 <= len(result.samples_ms) <= 11  # about 0.1 s / 10 ms, never far past the budget
    assert elapsed < 0.5
    capped = harness.measure(step, warmup=0, iterations=2, time_budget_s=10.0)
    assert len(capped.samples_ms) == 2  # whichever limit comes first


def test_stage_tuples_become_stage_samples() -> None:
    values = iter([(6.0, 1.0, 4.0, 1.0), (8.0, 2.0, 5.0, 1.0), (7.0, 1.5, 4.5, 1.0)])
    result = harness.measure(lambda: next(values), warmup=0, iterations=3, stages=harness.STAGES)
    assert result.samples_ms == [6.0, 8.0, 7.0]
    assert result.stage_p50_ms("h2d") == 1.5 and result.stage_p50_ms("compute") == 4.5
    assert result.stage_p50_ms("d2h") == 1.0
    assert harness.measure(lambda: 1.0, warmup=0, iterations=1).stage_p50_ms("h2d") is None


@pytest.mark.parametrize("limits, message", [({"iterations": 0}, "too few"), ({"time_budget_s": 0}, "not positive"),
                                             ({"warmup": -1}, "negative")])
def test_measure_refuses_nonsense_limits(limits: dict, message: str) -> None:
    with pytest.raises(WorkbookError, match=message):
        harness.measure(lambda: 1.0, **limits)


def test_cpu_timed_measures_the_call() -> None:
    step = harness.cpu_timed(time.sleep, 0.02)
    assert 19.0 <= step() < 200.0


# --- steps on runtimes ----------------------------------------------------------------------------------------------


def test_a_cpu_runtime_is_timed_by_the_host_clock_around_run_bound() -> None:
    runtime = FakeCpuRuntime(cost_s=0.004)
    assert not harness.uses_events(runtime)
    step = harness.latency_step(runtime)
    value = step()
    assert isinstance(value, float) and value >= 4.0  # at least the 4 ms of CPU time run_bound takes
    assert runtime.log == ["run"]
    with pytest.raises(WorkbookError, match="host clock"):
        harness.event_step(runtime)
    with pytest.raises(WorkbookError, match="no h2d/compute/d2h stages"):
        harness.stage_split_step(runtime)


def test_the_latency_step_of_a_gpu_runtime_is_its_stages_between_two_events() -> None:
    runtime = FakeGpuRuntime(stage_ms=(1.0, 4.0, 0.5))
    assert harness.uses_events(runtime)
    step = harness.latency_step(runtime)
    runtime.log.clear()
    assert step() == pytest.approx(5.5)
    assert runtime.log == ["record0", "h2d", "compute", "d2h", "record1", "sync"]  # what a bare loop does


def test_the_stage_split_puts_an_event_between_each_stage() -> None:
    runtime = FakeGpuRuntime(stage_ms=(1.0, 4.0, 0.5))
    step = harness.stage_split_step(runtime)
    runtime.log.clear()
    assert step() == pytest.approx((5.5, 1.0, 4.0, 0.5))
    assert runtime.log == ["record0", "h2d", "record1", "compute", "record2", "d2h", "record3", "sync"]


def test_measure_runtime_takes_latency_from_two_event_iterations_and_interleaves_a_few_split_ones() -> None:
    runtime = FakeGpuRuntime(stage_ms=(1.0, 4.0, 0.5))
    measurement = harness.measure_runtime(runtime, warmup=2, iterations=30, stage_iterations=7)
    assert measurement.samples_ms == pytest.approx([5.5] * 30) and measurement.warmup == 2
    assert {stage: len(values) for stage, values in measurement.stage_samples_ms.items()} == {
        "h2d": 7, "compute": 7, "d2h": 7}
    assert (measurement.stage_p50_ms("h2d"), measurement.stage_p50_ms("compute"),
            measurement.stage_p50_ms("d2h")) == pytest.approx((1.0, 4.0, 0.5))
    # Two warm-up iterations, then a four-event iteration after every fourth of the 30 timed ones (30 // 7 = 4).
    records = [entry for entry in runtime.log if entry.startswith("record")]
    timed, split = ["record0", "record1"], ["record0", "record1", "record2", "record3"]
    assert records == timed * 2 + (timed * 4 + split) * 7 + timed * 2


def test_measure_runtime_splits_no_more_iterations_than_it_timed() -> None:
    runtime = FakeGpuRuntime()
    assert len(harness.measure_runtime(runtime, warmup=0, iterations=3).stage_samples_ms["compute"]) == 3
    assert harness.measure_runtime(runtime, warmup=0, iterations=3, stage_iterations=0).stage_samples_ms == {}
    assert harness.measure_runtime(FakeCpuRuntime(), warmup=0, iterations=3).stage_samples_ms == {}


def test_measure_runtime_on_a_time_budget_spaces_the_split_for_the_default_count() -> None:
    runtime = FakeGpuRuntime()
    measurement = harness.measure_runtime(runtime, warmup=0, time_budget_s=0.2, stage_iterations=5)
    every = harness.DEFAULT_ITERATIONS // 5
    assert len(measurement.samples_ms) > 5 * every  # the fake runtime takes no time: the budget fits many
    assert len(measurement.stage_samples_ms["compute"]) == 5
    records = [entry for entry in runtime.log if entry.startswith("record")]
    assert records[:2 * every + 4] == ["record0", "record1"] * every + ["record0", "record1", "record2", "record3"]


# --- on a GPU ---------------------------------------------------------------------------------------------------


@needs_gpu
def test_pytorch_cuda_steps_time_the_gpu_work() -> None:
    from utils.benchmark.sweep import make_inputs
    from utils.runtimes import open_runtime

    with open_runtime("pytorch-cuda", MODEL, max_batch=8) as runtime:
        runtime.bind(make_inputs(MODEL, 8))
        assert harness.uses_events(runtime)
        measurement = harness.measure_runtime(runtime, warmup=5, iterations=30, stage_iterations=10)
        stats = measurement.stats
        stages = [measurement.stage_p50_ms(stage) for stage in harness.STAGES]
        assert all(value is not None and value > 0 for value in stages), stages
        # The events bracket the GPU work inside each host-timed iteration (launch and synchronisation excluded), so
        # the fastest event-timed iteration is no slower than the fastest host-timed one.
        host = harness.measure(harness.cpu_step(runtime), warmup=0, iterations=30).stats
        assert stats.min_ms <= host.min_ms * 1.05
