"""The benchmark harness: statistics, the timing loop, CSV, skip reasons, and short real sweeps on the CPU."""

from __future__ import annotations

import argparse
import datetime
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from utils import benchmark
from utils.errors import WorkbookError
from utils.gpu import GpuInfo, current_gpu

MODEL = "efficientnet_lite0"
GPU_BACKENDS = ("pytorch-cuda", "pytorch-cuda-graphs", "onnxruntime-cuda", "tensorrt-fp32", "tensorrt-fp16")
needs_gpu = pytest.mark.skipif(current_gpu() is None, reason="needs an NVIDIA GPU; none is visible here")
needs_no_gpu = pytest.mark.skipif(current_gpu() is not None,
                                  reason="checks the skip reasons of a machine without a GPU")


def _row(**changes: object) -> benchmark.BenchmarkRow:
    base = benchmark.BenchmarkRow(
        model=MODEL, backend="pytorch-cpu", device="cpu", precision="fp32", batch=1, warmup=3, iterations=5,
        timer=benchmark.TIMER_CPU, p50_ms=10.0, p90_ms=12.0, p99_ms=13.0, mean_ms=10.5, min_ms=9.0, max_ms=13.1,
        std_ms=1.0, throughput_ips=1 / 0.0105, h2d_ms=None, compute_ms=None, d2h_ms=None, host_peak_delta_mib=1.5,
        device_peak_mib=None, machine="Test CPU, 2.0GHz", cpu_count=2, gpu="", torch_version="2.0",
        onnxruntime_version="1.0", tensorrt_version="", date="2026-01-01T00:00:00+00:00",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


# --- statistics -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("samples", [[5.0], [3.0, 1.0], [0.9, 1.7, 1.1, 12.0, 1.3, 1.2, 1.05, 30.0, 1.4, 1.15],
                                     list(np.random.default_rng(1).lognormal(0, 1, 257))])
def test_percentiles_match_numpy(samples: list[float]) -> None:
    for q in (0, 1, 10, 25, 50, 90, 99, 99.9, 100):
        assert benchmark.percentile(samples, q) == pytest.approx(float(np.percentile(samples, q)), rel=1e-12, abs=1e-12)
    stats = benchmark.latency_stats(samples)
    assert (stats.p50_ms, stats.p90_ms, stats.p99_ms) == pytest.approx(tuple(np.percentile(samples, [50, 90, 99])))
    assert stats.mean_ms == pytest.approx(np.mean(samples))
    assert stats.std_ms == pytest.approx(np.std(samples))
    assert stats.min_ms == min(samples) and stats.max_ms == max(samples) and stats.count == len(samples)


def test_percentile_refuses_nothing_and_out_of_range() -> None:
    with pytest.raises(WorkbookError, match="no samples"):
        benchmark.percentile([], 50)
    with pytest.raises(WorkbookError, match="outside 0 to 100"):
        benchmark.percentile([1.0], 101)


# --- the timing loop --------------------------------------------------------------------------------------------


def test_warmup_iterations_are_run_but_not_counted() -> None:
    calls: list[int] = []

    def step() -> float:
        calls.append(len(calls))
        return float(len(calls))  # the 1-based call number, as its "latency"

    result = benchmark.measure(step, warmup=3, iterations=5)
    assert len(calls) == 8
    assert result.samples_ms == [4.0, 5.0, 6.0, 7.0, 8.0]
    assert result.warmup == 3 and result.stats.count == 5


def test_time_budget_stops_the_loop() -> None:
    def step() -> float:
        time.sleep(0.01)
        return 10.0

    started = time.perf_counter()
    result = benchmark.measure(step, warmup=0, time_budget_s=0.1)
    elapsed = time.perf_counter() - started
    assert 3 <= len(result.samples_ms) <= 11  # about 0.1 s / 10 ms, never far past the budget
    assert elapsed < 0.5
    capped = benchmark.measure(step, warmup=0, iterations=2, time_budget_s=10.0)
    assert len(capped.samples_ms) == 2  # whichever limit comes first


def test_stage_tuples_become_stage_samples() -> None:
    values = iter([(6.0, 1.0, 4.0, 1.0), (8.0, 2.0, 5.0, 1.0), (7.0, 1.5, 4.5, 1.0)])
    result = benchmark.measure(lambda: next(values), warmup=0, iterations=3, stages=benchmark.STAGES)
    assert result.samples_ms == [6.0, 8.0, 7.0]
    assert result.stage_p50_ms("h2d") == 1.5 and result.stage_p50_ms("compute") == 4.5
    assert result.stage_p50_ms("d2h") == 1.0


def test_measure_refuses_nonsense_limits() -> None:
    with pytest.raises(WorkbookError):
        benchmark.measure(lambda: 1.0, iterations=0)
    with pytest.raises(WorkbookError):
        benchmark.measure(lambda: 1.0, time_budget_s=0)
    with pytest.raises(WorkbookError):
        benchmark.measure(lambda: 1.0, warmup=-1)


def test_cpu_timed_measures_the_call() -> None:
    step = benchmark.cpu_timed(time.sleep, 0.02)
    assert 19.0 <= step() < 200.0


def test_throughput_is_batch_over_mean_latency() -> None:
    measurement = benchmark.Measurement(samples_ms=[10.0, 20.0, 30.0, 100.0], warmup=0, wall_s=0.16)
    row = benchmark.make_row(MODEL, benchmark.BACKEND_INFO["onnxruntime-cpu"], 8, measurement)
    assert row.mean_ms == pytest.approx(40.0)
    assert row.throughput_ips == pytest.approx(8 / 0.040)
    assert row.p50_ms == pytest.approx(25.0)  # the median, not the mean


def test_host_peak_sees_native_memory_that_is_already_freed() -> None:
    peak = benchmark.HostPeak()
    peak.start()
    block = np.ones(64 * 2**20 // 8)  # 64 MiB, touched, then freed before stop()
    del block
    assert peak.stop() >= 48 * 2**20


# --- CSV ----------------------------------------------------------------------------------------------------------


def test_csv_round_trip_preserves_rows(tmp_path: Path) -> None:
    rows = [
        _row(),
        _row(backend="tensorrt-fp16", device="cuda", precision="fp16", batch=32, timer=benchmark.TIMER_PYCUDA,
             p50_ms=1 / 3, h2d_ms=0.123456789012, compute_ms=2.5, d2h_ms=0.01, device_peak_mib=123.25,
             gpu="NVIDIA H100 80GB HBM3", machine='CPU "quoted", with commas', tensorrt_version="TensorRT 10.13.0.35"),
    ]
    path = benchmark.write_csv(rows, tmp_path / "deep" / "bench.csv")
    assert path.read_text().splitlines()[0].split(",") == list(benchmark.CSV_COLUMNS)
    assert benchmark.read_csv(path) == rows
    assert [p.name for p in path.parent.iterdir()] == ["bench.csv"]  # no temporary file left behind


def test_read_csv_refuses_missing_files_and_other_csvs(tmp_path: Path) -> None:
    with pytest.raises(WorkbookError, match="does not exist"):
        benchmark.read_csv(tmp_path / "nope.csv")
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(WorkbookError, match="lacks the columns"):
        benchmark.read_csv(other)


def test_speedups_compare_within_the_same_device_class() -> None:
    rows = [_row(backend="pytorch-cpu", mean_ms=20.0), _row(backend="onnxruntime-cpu", mean_ms=5.0),
            _row(backend="pytorch-cuda", device="cuda", mean_ms=4.0),
            _row(backend="tensorrt-fp16", device="cuda", mean_ms=0.5),
            _row(backend="onnxruntime-cpu", batch=8, mean_ms=30.0)]  # no pytorch-cpu at batch 8: left out
    ratios = benchmark.speedups(rows)
    assert ratios == {("pytorch-cpu", 1): 1.0, ("onnxruntime-cpu", 1): 4.0, ("pytorch-cuda", 1): 1.0,
                      ("tensorrt-fp16", 1): 8.0}


def test_plots_are_figures_and_save_as_png(tmp_path: Path) -> None:
    from matplotlib.figure import Figure

    rows = [_row(backend=b, batch=n, mean_ms=m * n, p50_ms=m * n, p90_ms=1.2 * m * n, p99_ms=1.5 * m * n,
                 throughput_ips=n / (m * n / 1e3))
            for b, m in (("pytorch-cpu", 20.0), ("onnxruntime-cpu", 5.0)) for n in (1, 8)]
    for plot in (benchmark.plot_latency_percentiles, benchmark.plot_throughput, benchmark.plot_speedup):
        assert isinstance(plot(rows), Figure)
    paths = benchmark.save_plots(rows, tmp_path)
    assert sorted(paths) == ["latency", "speedup", "throughput"]
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in paths.values())


# --- availability -------------------------------------------------------------------------------------------------


@needs_no_gpu
def test_gpu_backends_report_why_they_are_skipped() -> None:
    reasons = benchmark.available_backends()
    assert list(reasons) == list(benchmark.BACKENDS)
    assert reasons["pytorch-cpu"] is None and reasons["onnxruntime-cpu"] is None
    for name in GPU_BACKENDS:
        reason = reasons[name]
        assert reason and "\n" not in reason, name
        assert "GPU" in reason or "no TensorRT is installed" in reason, (name, reason)


@needs_no_gpu
def test_sweep_skips_unavailable_backends_with_their_reason() -> None:
    skipped: dict[str, str] = {}
    rows = benchmark.run_sweep(MODEL, ["pytorch-cuda", "tensorrt-fp16"], [1], iterations=1, progress=False,
                               skipped=skipped)
    assert rows == []
    assert set(skipped) == {"pytorch-cuda", "tensorrt-fp16"} and all(skipped.values())


def test_sweep_skips_a_backend_whose_set_up_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise WorkbookError("engine build failed: out of workspace; give a larger --workspace")

    monkeypatch.setitem(benchmark._PREPARERS, "onnxruntime-cpu", broken)
    skipped: dict[str, str] = {}
    rows = benchmark.run_sweep(MODEL, ["onnxruntime-cpu"], [1, 2], iterations=1, progress=False, skipped=skipped)
    assert rows == []
    assert skipped == {"onnxruntime-cpu": "engine build failed: out of workspace; give a larger --workspace"}


def test_tensorrt_skip_reasons(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    import utils.gpu
    import utils.tensorrt_api
    from utils.tensorrt_api import TensorRT

    def no_tensorrt() -> TensorRT:
        raise WorkbookError("no TensorRT is installed here; pip install tensorrt")

    h100 = GpuInfo("NVIDIA H100 80GB HBM3", "9.0", 79.2)
    monkeypatch.setattr(utils.tensorrt_api, "load_tensorrt", no_tensorrt)
    monkeypatch.setattr(utils.gpu, "current_gpu", lambda: h100)
    assert benchmark.backend_reason("tensorrt-fp32").startswith("no TensorRT is installed")

    rtx_module = types.SimpleNamespace(ComputeCapability=types.SimpleNamespace(SM80=0, SM86=1, SM89=2, SM120=3))
    rtx = TensorRT(module=rtx_module, flavour="tensorrt_rtx", version="1.2.0", import_name="tensorrt_rtx")
    monkeypatch.setattr(utils.tensorrt_api, "load_tensorrt", lambda: rtx)
    assert benchmark.backend_reason("tensorrt-fp16").startswith("TensorRT-RTX 1.2.0 engines cannot run on NVIDIA H100")
    monkeypatch.setattr(utils.gpu, "current_gpu", lambda: None)
    assert "needs an NVIDIA GPU and none is visible" in benchmark.backend_reason("tensorrt-fp16")


def test_unknown_backends_and_batches_are_user_errors() -> None:
    with pytest.raises(WorkbookError, match="unknown backend"):
        benchmark.backend_reason("tensorflow")
    with pytest.raises(WorkbookError, match="unknown backend"):
        benchmark.run_sweep(MODEL, ["pytorch-cpu", "jax"], [1], iterations=1, progress=False)
    with pytest.raises(WorkbookError, match="1,8,32"):
        benchmark.parse_batches("1,eight")
    assert benchmark.parse_batches("32,1,8,8") == [1, 8, 32]


# --- real runs on the CPU -----------------------------------------------------------------------------------------


def test_onnxruntime_harness_overhead_is_a_finite_percentage() -> None:
    overhead = benchmark.overhead_vs_direct_onnxruntime(MODEL, batch=1, iterations=10, warmup=1)
    assert math.isfinite(overhead)
    assert -50 < overhead < 50  # the real target (<= 3 %) needs a quiet machine and hundreds of iterations


def test_cpu_sweep_rows_carry_the_metadata(tmp_path: Path) -> None:
    rows = benchmark.run_sweep(MODEL, ["pytorch-cpu", "onnxruntime-cpu"], [1], iterations=2, warmup=1, progress=False)
    assert [(r.backend, r.batch, r.iterations, r.warmup) for r in rows] == [
        ("pytorch-cpu", 1, 2, 1), ("onnxruntime-cpu", 1, 2, 1)]
    for row in rows:
        assert row.model == MODEL and row.device == "cpu" and row.timer == benchmark.TIMER_CPU
        assert 0 < row.min_ms <= row.p50_ms <= row.p90_ms <= row.p99_ms <= row.max_ms
        assert row.throughput_ips == pytest.approx(1 / (row.mean_ms / 1e3))
        assert row.machine and row.cpu_count >= 1 and row.torch_version and row.onnxruntime_version
        assert row.gpu == (current_gpu().name if current_gpu() else "")
        assert datetime.datetime.fromisoformat(row.date).tzinfo is not None
        assert row.host_peak_delta_mib is not None and row.host_peak_delta_mib >= 0
    assert benchmark.read_csv(benchmark.write_csv(rows, tmp_path / "rows.csv")) == rows


def test_bench_command_writes_csv_and_plots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    benchmark.add_bench_arguments(parser)
    args = parser.parse_args(["--model", MODEL, "--backend", "onnxruntime-cpu", "--batch", "2,1", "--iterations", "2",
                              "--warmup", "1", "--csv", str(tmp_path / "b.csv"), "--plots", str(tmp_path / "plots"),
                              "--no-progress"])
    assert benchmark.run_bench_command(args) == 0
    rows = benchmark.read_csv(tmp_path / "b.csv")
    assert [(r.backend, r.batch) for r in rows] == [("onnxruntime-cpu", 1), ("onnxruntime-cpu", 2)]
    assert len(list((tmp_path / "plots").glob("*.png"))) == 3
    out = capsys.readouterr().out
    assert "onnxruntime-cpu" in out and "p50 ms" in out and "img/s" in out


@needs_no_gpu
def test_bench_command_with_only_unrunnable_backends_is_a_user_error(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    benchmark.add_bench_arguments(parser)
    args = parser.parse_args(["--model", MODEL, "--backend", "pytorch-cuda", "--batch", "1", "--no-progress",
                              "--csv", str(tmp_path / "b.csv")])
    with pytest.raises(WorkbookError, match="no backend could run: pytorch-cuda: no CUDA GPU"):
        benchmark.run_bench_command(args)
    assert not (tmp_path / "b.csv").exists()


# --- GPU only -----------------------------------------------------------------------------------------------------


@needs_gpu
def test_pytorch_cuda_and_cuda_graph_rows() -> None:
    rows = benchmark.run_sweep(MODEL, ["pytorch-cuda", "pytorch-cuda-graphs"], [1, 8], iterations=30, warmup=5,
                               progress=False)
    assert [(r.backend, r.batch) for r in rows] == [("pytorch-cuda", 1), ("pytorch-cuda", 8),
                                                    ("pytorch-cuda-graphs", 1), ("pytorch-cuda-graphs", 8)]
    for row in rows:
        assert row.device == "cuda" and row.timer == benchmark.TIMER_TORCH and row.gpu == current_gpu().name
        assert 0 < row.p50_ms <= row.p90_ms <= row.p99_ms
        assert row.h2d_ms > 0 and row.compute_ms > 0 and row.d2h_ms > 0
        assert row.h2d_ms + row.compute_ms + row.d2h_ms == pytest.approx(row.p50_ms, rel=0.25)
        assert row.device_peak_mib > 10  # the weights alone are about 18 MiB

    # The replayed graph computes what eager PyTorch computes.
    outputs = {}
    for name in ("pytorch-cuda", "pytorch-cuda-graphs"):
        with benchmark.prepared_backend(name, MODEL, 8) as prepared, prepared.running():
            prepared.step()
            outputs[name] = prepared.host_out.numpy().copy()
    np.testing.assert_allclose(outputs["pytorch-cuda-graphs"], outputs["pytorch-cuda"], rtol=1e-3, atol=1e-3)


@needs_gpu
def test_tensorrt_copies_reach_plain_copy_bandwidth() -> None:
    pytest.importorskip("pycuda", reason="pycuda is not installed; pip install -r requirements-gpu.txt")
    reason = benchmark.backend_reason("tensorrt-fp32")
    if reason is not None:
        pytest.skip(reason)
    results = {r.direction: r for r in benchmark.copy_bandwidth(MODEL, batch=32)}
    assert results["htod"].nbytes == 32 * 3 * 224 * 224 * 4
    assert results["htod"].ratio >= 0.9, results["htod"]
    assert results["dtoh"].ratio > 0  # 128 KB of logits: latency-bound, reported but not held to the target


@needs_gpu
def test_tensorrt_backend_stages_and_copies_with_an_identity_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The TensorRT backend's own work (pinned staging, pycuda events on the runner's stream, stage split, copy
    bandwidth) on real device memory, with the identity test double standing in for a TensorRT engine."""
    pytest.importorskip("pycuda", reason="pycuda is not installed; pip install -r requirements-gpu.txt")
    import utils.trt_runner
    from tests.engine_doubles import IdentityEngine

    class ImageIdentityEngine(IdentityEngine):
        def __init__(self) -> None:
            super().__init__()
            self.profile = tuple((n, 3, 224, 224) for n in (1, 8, 32))

    real_runner = utils.trt_runner.TensorRTRunner
    real_reason = benchmark.backend_reason
    monkeypatch.setattr(utils.trt_runner, "TensorRTRunner", lambda path: real_runner(engine=ImageIdentityEngine()))
    monkeypatch.setattr(benchmark, "backend_reason", lambda n: None if n.startswith("tensorrt-") else real_reason(n))
    monkeypatch.setattr(benchmark._Resources, "engine_path", lambda self, precision: Path("identity.engine"))

    rows = benchmark.run_sweep(MODEL, ["tensorrt-fp32"], [1, 32], iterations=20, warmup=3, progress=False)
    assert [(r.backend, r.batch, r.timer) for r in rows] == [("tensorrt-fp32", 1, benchmark.TIMER_PYCUDA),
                                                             ("tensorrt-fp32", 32, benchmark.TIMER_PYCUDA)]
    for row in rows:
        assert row.h2d_ms > 0 and row.compute_ms > 0 and row.d2h_ms > 0
        assert row.h2d_ms + row.compute_ms + row.d2h_ms == pytest.approx(row.p50_ms, rel=0.25)
        assert row.device_peak_mib >= 2 * row.batch * 3 * 224 * 224 * 4 / 2**20 * 0.99  # both buffers, at least
    assert rows[1].h2d_ms > rows[0].h2d_ms  # 32 images take longer to copy than one

    with benchmark.prepared_backend("tensorrt-fp32", MODEL, 8) as prepared:
        prepared.step()
        view = prepared.runner.outputs["output"].host[: 8 * 3 * 224 * 224].reshape(8, 3, 224, 224)
        np.testing.assert_array_equal(view, benchmark.make_inputs(MODEL, 8))  # identity: the batch came back

    results = {r.direction: r for r in benchmark.copy_bandwidth(MODEL, batch=32)}
    assert results["htod"].nbytes == results["dtoh"].nbytes == 32 * 3 * 224 * 224 * 4
    assert results["htod"].ratio >= 0.9, results["htod"]
    assert results["dtoh"].ratio >= 0.9, results["dtoh"]
