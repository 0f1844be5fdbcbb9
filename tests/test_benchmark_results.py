"""utils.benchmark.results: rows, machine metadata, the CSV, tables and speed-ups."""

from __future__ import annotations

import datetime
from dataclasses import replace
from pathlib import Path

import pytest

from utils import artifacts
from utils.benchmark import results
from utils.benchmark.harness import Measurement
from utils.errors import WorkbookError

MODEL = "efficientnet_lite0"


def _row(**changes: object) -> results.BenchmarkRow:
    base = results.BenchmarkRow(
        model=MODEL, backend="pytorch-cpu", device="cpu", precision="fp32", batch=1, warmup=3, iterations=5,
        timer="perf_counter_ns", p50_ms=10.0, p90_ms=12.0, p99_ms=13.0, mean_ms=10.5, min_ms=9.0, max_ms=13.1,
        std_ms=1.0, throughput_ips=1 / 0.0105, h2d_ms=None, compute_ms=None, d2h_ms=None, host_peak_delta_mib=1.5,
        device_peak_mib=None, machine="Test CPU, 2.0GHz", cpu_count=2, gpu="", torch_version="2.0",
        onnxruntime_version="1.0", tensorrt_version="", date="2026-01-01T00:00:00+00:00",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


# --- rows ---------------------------------------------------------------------------------------------------------


def test_make_row_takes_device_and_timer_from_the_runtime_and_statistics_from_the_samples() -> None:
    measurement = Measurement(samples_ms=[10.0, 20.0, 30.0, 100.0], warmup=4, wall_s=0.16,
                              stage_samples_ms={"h2d": [1.0, 3.0], "compute": [5.0, 7.0], "d2h": [0.5, 0.5]})
    row = results.make_row(MODEL, "tensorrt", "fp16", 8, measurement, host_peak_bytes=3 * 2**20,
                           device_peak_bytes=2**30)
    assert (row.backend, row.precision, row.device, row.timer) == ("tensorrt", "fp16", "cuda", "cuda-events (pycuda or cuda-python)")
    assert (row.batch, row.warmup, row.iterations) == (8, 4, 4)
    assert row.mean_ms == pytest.approx(40.0) and row.p50_ms == pytest.approx(25.0)
    assert row.throughput_ips == pytest.approx(8 / 0.040)
    assert (row.h2d_ms, row.compute_ms, row.d2h_ms) == (2.0, 6.0, 0.5)
    assert (row.host_peak_delta_mib, row.device_peak_mib) == (3.0, 1024.0)
    assert datetime.datetime.fromisoformat(row.date).tzinfo is not None
    cpu = results.make_row(MODEL, "onnxruntime-cpu", "fp32", 1, measurement, timer="custom clock")
    assert (cpu.device, cpu.timer, cpu.h2d_ms, cpu.device_peak_mib) == ("cpu", "custom clock", 2.0, None)
    with pytest.raises(WorkbookError, match="unknown backend 'tensorflow'"):
        results.make_row(MODEL, "tensorflow", "fp32", 1, measurement)


def test_environment_describes_this_machine() -> None:
    from utils.gpu import current_gpu

    env = results.environment()
    assert set(env) == set(results.METADATA_COLUMNS) - {"date"}
    assert env["machine"] == results.cpu_model() and env["machine"]
    assert env["cpu_count"] >= 1 and env["torch_version"].startswith("2.")
    assert env["gpu"] == (current_gpu().name if current_gpu() else "")


def test_configuration_labels() -> None:
    assert results.configuration_label("tensorrt", "fp16") == "tensorrt/fp16"
    assert results.configuration_label("pytorch-cuda-graphs", "fp16", ("channels-last", "tf32")) == \
        "pytorch-cuda-graphs/fp16+channels-last+tf32"
    row = _row(backend="tensorrt", precision="fp16", options="batch-profile")
    assert row.configuration == ("tensorrt", "fp16", "batch-profile") and row.label == "tensorrt/fp16+batch-profile"


# --- CSV ----------------------------------------------------------------------------------------------------------


def test_csv_round_trip_preserves_rows(tmp_path: Path) -> None:
    rows = [
        _row(),
        _row(backend="tensorrt", device="cuda", precision="fp16", batch=32, timer="cuda-events (pycuda)",
             p50_ms=1 / 3, h2d_ms=0.123456789012, compute_ms=2.5, d2h_ms=0.01, device_peak_mib=123.25,
             gpu="NVIDIA H100 80GB HBM3", machine='CPU "quoted", with commas', tensorrt_version="TensorRT 10.13.0.35"),
    ]
    path = results.write_csv(rows, tmp_path / "deep" / "bench.csv")
    assert path.read_text().splitlines()[0].split(",") == list(results.CSV_COLUMNS)
    assert results.read_csv(path) == rows
    assert [p.name for p in path.parent.iterdir()] == ["bench.csv"]  # no temporary file left behind


def test_csvs_from_before_the_scope_and_roofline_columns_still_read(tmp_path: Path) -> None:
    """The committed H100 reference and learners' older CSVs lack the newer columns; they read with the defaults."""
    from utils.runtimes import RUNTIME_CLASSES

    old = artifacts.PROJECT_ROOT / "benchmarks" / "reference_h100.csv"
    header = tuple(old.read_text().splitlines()[0].split(","))
    assert header == tuple(c for c in results.CSV_COLUMNS if c not in results.OPTIONAL_COLUMNS)
    reference = results.read_csv(old)
    assert reference and all(r.gpu and r.device == "cuda" and r.scope == "host" and r.options == "" for r in reference)
    for row in reference:  # every row names a runtime and a precision it runs, as the workbook names them today
        assert row.precision in RUNTIME_CLASSES[row.backend].precisions, row


def test_read_csv_refuses_missing_files_other_csvs_and_bad_values(tmp_path: Path) -> None:
    with pytest.raises(WorkbookError, match="does not exist"):
        results.read_csv(tmp_path / "nope.csv")
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(WorkbookError, match="lacks the columns"):
        results.read_csv(other)
    broken = tmp_path / "broken.csv"
    text = results.write_csv([_row()], broken).read_text()
    broken.write_text(text.replace(",10.0,", ",ten,", 1))
    with pytest.raises(WorkbookError, match="malformed value") as error:
        results.read_csv(broken)
    assert "\n" not in str(error.value)


# --- tables and speed-ups -----------------------------------------------------------------------------------------


def test_format_table_has_one_line_per_row_with_its_configuration_and_dashes_for_missing_stages() -> None:
    table = results.format_table([_row(), _row(backend="tensorrt", device="cuda", precision="fp16", batch=8,
                                                h2d_ms=0.25, compute_ms=1.0, d2h_ms=0.05, options="batch-profile",
                                                roofline_fraction=0.31, limited_by="memory", p99_ms=20.0)])
    header, first, second = table.splitlines()
    assert header.split()[:4] == ["configuration", "scope", "batch", "p50"]
    assert first.split()[:5] == ["pytorch-cpu/fp32", "host", "1", "10.00", "12.00"] and " - " in first
    assert second.split()[:3] == ["tensorrt/fp16+batch-profile", "host", "8"] and "0.250" in second
    assert "31% memory" in second and "20.00!" in second  # p99 over TAIL_LIMIT x p50: flagged
    assert len({len(line) for line in table.splitlines()}) == 1  # fixed width


def test_side_by_side_pairs_rows_by_configuration_scope_and_batch() -> None:
    mine = [_row(p50_ms=2.0), _row(backend="tensorrt", device="cuda", precision="fp16", p50_ms=0.5)]
    reference = [_row(p50_ms=4.0), _row(backend="tensorrt", device="cuda", precision="fp32", p50_ms=0.75),
                 _row(backend="tensorrt", device="cuda", precision="fp16", p50_ms=0.25, scope="device")]
    lines = results.side_by_side(mine, reference, reference_label="H100").splitlines()
    assert "H100 p50 ms" in lines[0]
    body = [line.split() for line in lines[1:]]
    assert [line[:3] for line in body] == [["pytorch-cpu/fp32", "host", "1"], ["tensorrt/fp32", "host", "1"],
                                           ["tensorrt/fp16", "host", "1"], ["tensorrt/fp16", "device", "1"]]
    assert body[0][3:5] == ["2.000", "4.000"]
    assert body[1][3:5] == ["-", "0.750"] and body[2][3:5] == ["0.500", "-"] and body[3][3:5] == ["-", "0.250"]


def test_speedups_from_p50_over_the_best_peer_and_over_eager_within_a_device_batch_and_scope() -> None:
    rows = [_row(backend="pytorch-cpu", p50_ms=20.0, p99_ms=21.0), _row(backend="onnxruntime-cpu", p50_ms=5.0, p99_ms=6.0),
            _row(backend="pytorch-cuda", device="cuda", p50_ms=4.0, p99_ms=4.2),
            _row(backend="pytorch-cuda-graphs", device="cuda", precision="fp16", options="channels-last", p50_ms=1.0,
                 p99_ms=1.1),
            _row(backend="onnxruntime-cuda", device="cuda", p50_ms=0.8, p99_ms=3.0),  # fast, but an unstable tail
            _row(backend="tensorrt", device="cuda", precision="fp16", p50_ms=0.5, p99_ms=0.55),
            _row(backend="tensorrt", device="cuda", precision="fp16", p50_ms=0.25, p99_ms=0.3, scope="device"),
            _row(backend="onnxruntime-cpu", batch=8, p50_ms=30.0, p99_ms=31.0)]  # no pytorch-cpu at batch 8
    found = {(s.row.backend, s.row.scope, s.row.batch): s for s in results.speedups(rows)}
    trt = found[("tensorrt", "host", 1)]
    assert trt.best_peer == "pytorch-cuda-graphs/fp16+channels-last" and trt.over_best_peer == pytest.approx(2.0)
    assert trt.over_eager == pytest.approx(8.0)
    assert found[("onnxruntime-cuda", "host", 1)].unstable  # flagged, and never the best peer
    assert found[("pytorch-cuda", "host", 1)].over_best_peer == pytest.approx(0.25)
    assert found[("onnxruntime-cpu", "host", 1)].best_peer == "onnxruntime-cpu/fp32"  # CPU rows among themselves
    assert found[("onnxruntime-cpu", "host", 1)].over_eager == pytest.approx(4.0)
    device = found[("tensorrt", "device", 1)]  # alone in its scope: no peer, no eager row there
    assert device.best_peer is None and device.over_best_peer is None and device.over_eager is None
    assert found[("onnxruntime-cpu", "host", 8)].over_eager is None
    text = results.format_speedups(rows)
    assert "unstable: p99 3.8 x p50, not ranked" in text and "2.00x" in text


def test_ordered_configurations_follow_the_runtimes_then_fp32_before_fp16() -> None:
    rows = [_row(backend="tensorrt", precision="fp16"), _row(backend="onnxruntime-cpu"), _row(backend="tensorrt"),
            _row(backend="pytorch-cpu"), _row(backend="pytorch-cpu", batch=8)]
    assert results.ordered_configurations(rows) == [("pytorch-cpu", "fp32", ""), ("onnxruntime-cpu", "fp32", ""),
                                                    ("tensorrt", "fp32", ""), ("tensorrt", "fp16", "")]


def test_rows_record_the_onnxruntime_that_is_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    """With onnxruntime-gpu shadowing onnxruntime, both packages' metadata name the `onnxruntime` module; the row
    must say which one ran (seen on the GPU machine: metadata 1.30.0, imported 1.31.1)."""
    import onnxruntime

    from utils import environment

    results.environment.cache_clear()
    monkeypatch.setattr(onnxruntime, "__version__", "9.9.9-imported")
    monkeypatch.setattr(environment, "package_version", lambda name: "1.0.0-metadata")
    try:
        assert results.environment()["onnxruntime_version"] == "9.9.9-imported"
    finally:
        results.environment.cache_clear()
