"""Benchmark rows: what one row holds, the machine it was measured on, the CSV, the tables and the speed-ups.

A row is one configuration (runtime name in the `backend` column, `precision` beside it) at one batch size.
Every row records the machine (CPU model), GPU, library versions and the date, so rows from different machines
can sit in one CSV.
"""

from __future__ import annotations

import csv
import datetime
import functools
import io
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from utils.benchmark.harness import Measurement
from utils.benchmark.memory import mib
from utils.errors import WorkbookError
from utils.files import write_text_atomic

PRECISIONS = ("fp32", "fp16", "int8")
# Speed-ups compare like with like: GPU runtimes against eager PyTorch on the GPU, CPU ones against it on the CPU.
BASELINES = {"cpu": ("pytorch-cpu", "fp32"), "cuda": ("pytorch-cuda", "fp32")}


@dataclass(frozen=True)
class BenchmarkRow:
    """One runtime at one precision and batch size. Latencies in ms; stage columns are p50s, empty where not
    measured (see utils.benchmark.harness for how). `host_peak_delta_mib`: how far the resident set rose while
    this batch was timed; `device_peak_mib`: the runtime's device memory at its peak since it was opened, weights
    included (a sweep opens each runtime once, so this is the peak over this batch and the ones before it)."""

    model: str
    backend: str  # the runtime's name: pytorch-cpu, ..., tensorrt
    device: str
    precision: str
    batch: int
    warmup: int
    iterations: int
    timer: str
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    min_ms: float
    max_ms: float
    std_ms: float
    throughput_ips: float
    h2d_ms: float | None
    compute_ms: float | None
    d2h_ms: float | None
    host_peak_delta_mib: float | None
    device_peak_mib: float | None
    machine: str
    cpu_count: int
    gpu: str
    torch_version: str
    onnxruntime_version: str
    tensorrt_version: str
    date: str

    @property
    def configuration(self) -> tuple[str, str]:
        return (self.backend, self.precision)


CSV_COLUMNS = tuple(f.name for f in fields(BenchmarkRow))
METADATA_COLUMNS = ("machine", "cpu_count", "gpu", "torch_version", "onnxruntime_version", "tensorrt_version", "date")


def configuration_label(backend: str, precision: str) -> str:
    """"tensorrt/fp16": how a configuration is named in plots, skip lists and overhead reports."""
    return f"{backend}/{precision}"


# --- the machine ------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else platform.processor(), else the architecture."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "Hardware", "cpu model") and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


@functools.lru_cache(maxsize=1)
def environment() -> dict[str, Any]:
    """The metadata every row carries, except the date."""
    from utils.environment import imported_version, package_version
    from utils.gpu import current_gpu
    from utils.tensorrt.api import tensorrt_or_none

    try:
        trt = tensorrt_or_none()
    except WorkbookError:  # e.g. $WORKBOOK_TENSORRT names no flavour
        trt = None
    gpu = current_gpu()
    return {"machine": cpu_model(), "cpu_count": os.cpu_count() or 0, "gpu": gpu.name if gpu else "",
            "torch_version": package_version("torch") or "",
            "onnxruntime_version": imported_version("onnxruntime") or "",
            "tensorrt_version": trt.display_name if trt else ""}


def iso_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def make_row(model_name: str, backend: str, precision: str, batch: int, measurement: Measurement, *,
             timer: str | None = None, host_peak_bytes: int | None = None,
             device_peak_bytes: int | None = None) -> BenchmarkRow:
    """One row from a measurement; device and (unless given) timer are the runtime class's."""
    from utils.runtimes import runtime_class

    cls = runtime_class(backend)
    stats = measurement.stats
    return BenchmarkRow(
        model=model_name, backend=backend, device=cls.device, precision=precision, batch=batch,
        warmup=measurement.warmup, iterations=stats.count, timer=timer or cls.timer,
        p50_ms=stats.p50_ms, p90_ms=stats.p90_ms, p99_ms=stats.p99_ms, mean_ms=stats.mean_ms,
        min_ms=stats.min_ms, max_ms=stats.max_ms, std_ms=stats.std_ms, throughput_ips=stats.throughput(batch),
        h2d_ms=measurement.stage_p50_ms("h2d"), compute_ms=measurement.stage_p50_ms("compute"),
        d2h_ms=measurement.stage_p50_ms("d2h"), host_peak_delta_mib=mib(host_peak_bytes),
        device_peak_mib=mib(device_peak_bytes), **environment(), date=iso_now(),
    )


# --- CSV ------------------------------------------------------------------------------------------------------


def _parse_field(kind: str, text: str) -> Any:
    if text == "":
        return None if "None" in kind else ("" if kind == "str" else None)
    base = kind.replace(" | None", "")
    if base == "int":
        return int(text)
    if base == "float":
        return float(text)
    return text


def _format_field(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def write_csv(rows: Sequence[BenchmarkRow], path: str | os.PathLike[str]) -> Path:
    """All rows, one line each with every column of BenchmarkRow, written atomically."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([_format_field(getattr(row, column)) for column in CSV_COLUMNS])
    return write_text_atomic(path, buffer.getvalue())


def read_csv(path: str | os.PathLike[str]) -> list[BenchmarkRow]:
    path = Path(path)
    if not path.is_file():
        raise WorkbookError(f"benchmark CSV {path} does not exist; run `python -m utils bench` to make one")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = set(CSV_COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise WorkbookError(f"{path} lacks the columns {', '.join(sorted(missing))}; it is not a benchmark CSV "
                                "written by utils.benchmark.write_csv")
        kinds = {f.name: str(f.type) for f in fields(BenchmarkRow)}
        try:
            return [BenchmarkRow(**{c: _parse_field(kinds[c], record[c] or "") for c in CSV_COLUMNS})
                    for record in reader]
        except ValueError as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise WorkbookError(f"{path} has a malformed value ({message}); rewrite it with write_csv") from None


# --- order, tables and speed-ups --------------------------------------------------------------------------------


def _configuration_order(configuration: tuple[str, str]) -> tuple[int, int, str]:
    from utils.runtimes import RUNTIMES

    backend, precision = configuration
    return (RUNTIMES.index(backend) if backend in RUNTIMES else len(RUNTIMES),
            PRECISIONS.index(precision) if precision in PRECISIONS else len(PRECISIONS), backend + precision)


def ordered_configurations(rows: Sequence[BenchmarkRow]) -> list[tuple[str, str]]:
    """The (backend, precision) pairs present in `rows`, in the runtimes' order, fp32 before fp16."""
    return sorted({r.configuration for r in rows}, key=_configuration_order)


def _render(lines: Sequence[Sequence[str]]) -> str:
    """Fixed-width columns: the first two left-aligned, the rest right-aligned."""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]

    def render(line: Sequence[str]) -> str:
        cells = zip(line, widths, strict=True)
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(cells))

    return "\n".join(render(line) for line in lines)


def _cell(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_table(rows: Sequence[BenchmarkRow]) -> str:
    """A compact fixed-width table: latency percentiles, throughput, the GPU stages and memory."""
    header = ("backend", "precision", "batch", "p50 ms", "p90 ms", "p99 ms", "mean ms", "min ms", "img/s",
              "h2d ms", "compute ms", "d2h ms", "host MiB", "dev MiB")
    lines = [header]
    for r in rows:
        lines.append((r.backend, r.precision, str(r.batch), _cell(r.p50_ms), _cell(r.p90_ms), _cell(r.p99_ms),
                      _cell(r.mean_ms), _cell(r.min_ms), _cell(r.throughput_ips, 1), _cell(r.h2d_ms, 3),
                      _cell(r.compute_ms, 3), _cell(r.d2h_ms, 3), _cell(r.host_peak_delta_mib, 1),
                      _cell(r.device_peak_mib, 1)))
    return _render(lines)


def side_by_side(rows: Sequence[BenchmarkRow], reference: Sequence[BenchmarkRow], reference_label: str = "ref") -> str:
    """The learner's p50 and throughput next to a reference CSV's, for every configuration and batch in either."""
    ours = {(*r.configuration, r.batch): r for r in rows}
    theirs = {(*r.configuration, r.batch): r for r in reference}
    keys = sorted(set(ours) | set(theirs), key=lambda k: (_configuration_order((k[0], k[1])), k[2]))
    header = ("backend", "precision", "batch", "p50 ms", f"{reference_label} p50 ms", "img/s",
              f"{reference_label} img/s")
    lines = [header]
    for key in keys:
        mine, ref = ours.get(key), theirs.get(key)
        lines.append((key[0], key[1], str(key[2]), _cell(mine.p50_ms if mine else None, 3),
                      _cell(ref.p50_ms if ref else None, 3), _cell(mine.throughput_ips if mine else None, 1),
                      _cell(ref.throughput_ips if ref else None, 1)))
    return _render(lines)


def speedups(rows: Sequence[BenchmarkRow]) -> dict[tuple[str, str, int], float]:
    """(backend, precision, batch) -> baseline mean latency / this mean latency, against eager FP32 PyTorch on the
    same device class (BASELINES). Rows whose baseline was not measured at that batch are left out."""
    by_key = {(*r.configuration, r.batch): r for r in rows}
    result = {}
    for r in rows:
        baseline = BASELINES.get(r.device)
        base_row = by_key.get((*baseline, r.batch)) if baseline else None
        if base_row is not None and r.mean_ms > 0:
            result[(r.backend, r.precision, r.batch)] = base_row.mean_ms / r.mean_ms
    return result


__all__ = ["BASELINES", "CSV_COLUMNS", "METADATA_COLUMNS", "PRECISIONS", "BenchmarkRow", "configuration_label",
           "cpu_model", "environment", "format_table", "iso_now", "make_row", "ordered_configurations", "read_csv",
           "side_by_side", "speedups", "write_csv"]
