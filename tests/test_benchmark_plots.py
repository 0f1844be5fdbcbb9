"""utils.benchmark.plots: the three figures, and where save_plots writes them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from utils import artifacts
from utils.benchmark import plots
from utils.benchmark.results import BenchmarkRow
from utils.errors import WorkbookError

MODEL = "efficientnet_lite0"


def _rows() -> list[BenchmarkRow]:
    base = BenchmarkRow(
        model=MODEL, backend="pytorch-cpu", device="cpu", precision="fp32", batch=1, warmup=3, iterations=5,
        timer="perf_counter_ns", p50_ms=1.0, p90_ms=1.0, p99_ms=1.0, mean_ms=1.0, min_ms=1.0, max_ms=1.0,
        std_ms=0.0, throughput_ips=1.0, h2d_ms=None, compute_ms=None, d2h_ms=None, host_peak_delta_mib=1.5,
        device_peak_mib=None, machine="Test CPU", cpu_count=2, gpu="", torch_version="2.0",
        onnxruntime_version="1.0", tensorrt_version="", date="2026-01-01T00:00:00+00:00",
    )
    configs = (("pytorch-cpu", "cpu", "fp32", 20.0), ("onnxruntime-cpu", "cpu", "fp32", 5.0),
               ("tensorrt", "cuda", "fp32", 0.8), ("tensorrt", "cuda", "fp16", 0.4))
    return [replace(base, backend=b, device=d, precision=p, batch=n, mean_ms=m * n, p50_ms=m * n, p90_ms=1.2 * m * n,
                    p99_ms=1.5 * m * n, throughput_ips=n / (m * n / 1e3))
            for b, d, p, m in configs for n in (1, 8)]


def test_latency_figure_has_a_panel_per_batch_and_a_bar_group_per_configuration() -> None:
    figure = plots.plot_latency_percentiles(_rows())
    axes = figure.get_axes()
    assert [ax.get_title() for ax in axes] == ["batch 1", "batch 8"]
    labels = [tick.get_text() for tick in axes[0].get_xticklabels()]
    assert labels == ["pytorch-cpu/fp32", "onnxruntime-cpu/fp32", "tensorrt/fp32", "tensorrt/fp16"]
    assert axes[0].get_yscale() == "log"  # 0.4 ms to 30 ms: CPU and GPU on one scale
    assert len(axes[0].patches) == 3 * 4  # p50, p90, p99 for each configuration


def test_throughput_figure_has_a_line_per_configuration_dashed_on_the_cpu() -> None:
    ax = plots.plot_throughput(_rows()).get_axes()[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines) == ["pytorch-cpu/fp32", "onnxruntime-cpu/fp32", "tensorrt/fp32", "tensorrt/fp16"]
    assert lines["pytorch-cpu/fp32"].get_linestyle() == "--" and lines["tensorrt/fp16"].get_linestyle() == "-"
    assert list(lines["onnxruntime-cpu/fp32"].get_xdata()) == [1, 8]


def test_speedup_figure_keeps_cpu_and_gpu_apart_and_compares_with_the_best_peer() -> None:
    rows = _rows() + [replace(r, backend="pytorch-cuda", device="cuda", p50_ms=2.0 * r.batch, p99_ms=2.2 * r.batch)
                      for r in _rows()[:2]]
    figure = plots.plot_speedup(rows)
    axes = figure.get_axes()
    assert [ax.get_title() for ax in axes] == [
        "CUDA, host scope: over the fastest non-TensorRT row", "CUDA, host scope: over eager pytorch-cuda fp32",
        "CPU, host scope: over the fastest non-TensorRT row", "CPU, host scope: over eager pytorch-cpu fp32"]
    assert [t.get_text() for t in axes[0].get_xticklabels()] == ["pytorch-cuda/fp32", "tensorrt/fp32", "tensorrt/fp16"]
    # tensorrt/fp16 at batch 8: p50 3.2 ms against pytorch-cuda's 16 ms
    assert round(axes[0].patches[5].get_height(), 6) == 5.0
    assert [t.get_text() for t in axes[2].get_xticklabels()] == ["pytorch-cpu/fp32", "onnxruntime-cpu/fp32"]
    # the CPU peers: onnxruntime-cpu is the fastest, so pytorch-cpu is 0.25 of it; over eager it is 4x
    assert sorted(round(bar.get_height(), 6) for bar in axes[2].patches) == [0.25, 0.25, 1.0, 1.0]
    assert sorted(round(bar.get_height(), 6) for bar in axes[3].patches) == [1.0, 1.0, 4.0, 4.0]


def test_an_unstable_row_is_hatched_and_not_taken_as_the_best_peer() -> None:
    from utils.benchmark.results import speedups

    rows = [r for r in _rows() if r.device == "cpu" and r.batch == 1]
    rows[1] = replace(rows[1], p99_ms=10 * rows[1].p50_ms)  # onnxruntime-cpu: fast but with a long tail
    found = {s.row.backend: s for s in speedups(rows)}
    assert found["onnxruntime-cpu"].unstable and found["pytorch-cpu"].best_peer == "pytorch-cpu/fp32"
    ax = plots.plot_speedup(rows).get_axes()[0]
    assert [bar.get_hatch() for bar in ax.patches] == [None, "//"]


def test_throughput_draws_the_physical_limit_of_device_rows() -> None:
    rows = [replace(r, scope="device", bound_ms=0.1 * r.batch, roofline_fraction=0.25, limited_by="memory")
            for r in _rows() if r.backend == "tensorrt"]
    lines = {line.get_label(): line for line in plots.plot_throughput(rows).get_axes()[0].get_lines()}
    assert "physical limit, fp16 (roofline)" in lines and "tensorrt/fp16 [device]" in lines
    assert list(lines["physical limit, fp16 (roofline)"].get_ydata()) == pytest.approx([10_000.0, 10_000.0])


def test_save_plots_writes_pngs_named_by_artifacts(tmp_path: Path) -> None:
    rows = _rows()
    paths = plots.save_plots(rows, tmp_path / "figures")
    assert sorted(paths) == ["latency", "speedup", "throughput"]  # no device rows: no device-scope speed-ups
    for name, path in paths.items():
        assert path == tmp_path / "figures" / artifacts.benchmark_figure_path(MODEL, name).name
        assert path.read_bytes().startswith(b"\x89PNG")
    default = plots.save_plots(rows + [replace(rows[-1], scope="device")])  # build/benchmarks
    assert default == {name: artifacts.benchmark_figure_path(MODEL, name) for name in plots.PLOTS}
    assert all(path.is_file() for path in default.values())


def test_no_rows_is_a_user_error() -> None:
    for plot in plots.PLOTS.values():
        with pytest.raises(WorkbookError, match="no benchmark rows"):
            plot([])


def test_every_throughput_line_has_its_own_colour_beyond_ten_lines():
    """A GPU sweep draws a dozen lines; matplotlib's default cycle repeats its colours after ten."""
    base = _rows()[0]
    rows = [replace(base, backend="pytorch-cuda-graphs", device="cuda", options=f"option{i}", batch=n)
            for i in range(12) for n in (1, 8)]
    (ax,) = plots.plot_throughput(rows).get_axes()
    colours = [str(line.get_color()) for line in ax.get_lines()]
    assert len(colours) == 12 and len(set(colours)) == 12
