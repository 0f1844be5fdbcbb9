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
from utils.benchmark.roofline import Bound
from utils.errors import WorkbookError
from utils.files import write_text_atomic

PRECISIONS = ("fp32", "fp16", "int8")
# The eager PyTorch row of each device, which the second speed-up is over: FP32, NCHW, TF32 off.
BASELINES = {"cpu": ("pytorch-cpu", "fp32"), "cuda": ("pytorch-cuda", "fp32")}
# A row whose p99 is more than this many times its p50 is flagged as unstable and not ranked.
TAIL_LIMIT = 1.5


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
    scope: str = "host"  # "host": host batch in, host logits out; "device": device-resident input, compute only
    options: str = ""  # the runtime's options, "+"-joined ("channels-last+tf32")
    setup_s: float | None = None  # what binding the batch cost beyond a copy (a compile, a graph capture)
    bound_ms: float | None = None  # the least time this batch can take on this GPU (utils.benchmark.roofline)
    roofline_fraction: float | None = None  # bound_ms / p50_ms
    limited_by: str = ""  # what sets the bound: "memory", "compute" or "copies"

    @property
    def configuration(self) -> tuple[str, str, str]:
        return (self.backend, self.precision, self.options)

    @property
    def label(self) -> str:
        return configuration_label(self.backend, self.precision, self.options)

    @property
    def tail_ratio(self) -> float:
        return self.p99_ms / self.p50_ms if self.p50_ms > 0 else float("inf")

    @property
    def unstable(self) -> bool:
        return self.tail_ratio > TAIL_LIMIT


CSV_COLUMNS = tuple(f.name for f in fields(BenchmarkRow))
# Columns a CSV from before they existed may lack: their defaults are read instead.
OPTIONAL_COLUMNS = ("scope", "options", "setup_s", "bound_ms", "roofline_fraction", "limited_by")
METADATA_COLUMNS = ("machine", "cpu_count", "gpu", "torch_version", "onnxruntime_version", "tensorrt_version", "date")


def configuration_label(backend: str, precision: str, options: str | Sequence[str] = "") -> str:
    """"tensorrt/fp16", "pytorch-cuda-graphs/fp16+channels-last": how a configuration is named in plots, skip
    lists and overhead reports."""
    joined = options if isinstance(options, str) else "+".join(options)
    return f"{backend}/{precision}" + (f"+{joined}" if joined else "")


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
             device_peak_bytes: int | None = None, scope: str = "host", options: Sequence[str] = (),
             setup_s: float | None = None, bound: Bound | None = None) -> BenchmarkRow:
    """One row from a measurement; device and (unless given) timer are the runtime class's; `bound` (from
    `utils.benchmark.roofline`) gives the roofline columns."""
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
        device_peak_mib=mib(device_peak_bytes), **environment(), date=iso_now(), scope=scope,
        options="+".join(options), setup_s=setup_s, bound_ms=bound.ms if bound else None,
        roofline_fraction=bound.fraction(stats.p50_ms) if bound else None, limited_by=bound.limited_by if bound else "",
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
        present = set(reader.fieldnames or ())
        missing = set(CSV_COLUMNS) - present - set(OPTIONAL_COLUMNS)
        if missing:
            raise WorkbookError(f"{path} lacks the columns {', '.join(sorted(missing))}; it is not a benchmark CSV "
                                "written by utils.benchmark.write_csv")
        kinds = {f.name: str(f.type) for f in fields(BenchmarkRow)}
        columns = [c for c in CSV_COLUMNS if c in present]
        try:
            return [BenchmarkRow(**{c: _parse_field(kinds[c], record[c] or "") for c in columns}) for record in reader]
        except ValueError as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise WorkbookError(f"{path} has a malformed value ({message}); rewrite it with write_csv") from None


# --- order, tables and speed-ups --------------------------------------------------------------------------------


def _configuration_order(configuration: tuple[str, ...]) -> tuple[int, int, str]:
    from utils.runtimes import RUNTIMES

    backend, precision, *options = configuration
    return (RUNTIMES.index(backend) if backend in RUNTIMES else len(RUNTIMES),
            PRECISIONS.index(precision) if precision in PRECISIONS else len(PRECISIONS), "+".join(options))


def ordered_configurations(rows: Sequence[BenchmarkRow]) -> list[tuple[str, str, str]]:
    """The (backend, precision, options) present in `rows`, in the runtimes' order, fp32 before fp16."""
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
    """A compact fixed-width table: latency percentiles, throughput, the GPU stages, the roofline and memory;
    "!" after p99 flags a row whose tail is over TAIL_LIMIT times its p50."""
    header = ("configuration", "scope", "batch", "p50 ms", "p90 ms", "p99 ms", "mean ms", "img/s", "h2d ms",
              "compute ms", "d2h ms", "bound", "setup s", "host MiB", "dev MiB")
    lines = [header]
    for r in rows:
        bound = f"{r.roofline_fraction:.0%} {r.limited_by}" if r.roofline_fraction is not None else "-"
        lines.append((r.label, r.scope, str(r.batch), _cell(r.p50_ms), _cell(r.p90_ms),
                      _cell(r.p99_ms) + ("!" if r.unstable else ""), _cell(r.mean_ms), _cell(r.throughput_ips, 1),
                      _cell(r.h2d_ms, 3), _cell(r.compute_ms, 3), _cell(r.d2h_ms, 3), bound, _cell(r.setup_s, 1),
                      _cell(r.host_peak_delta_mib, 1), _cell(r.device_peak_mib, 1)))
    return _render(lines)


def side_by_side(rows: Sequence[BenchmarkRow], reference: Sequence[BenchmarkRow], reference_label: str = "ref") -> str:
    """The learner's p50 and throughput next to a reference CSV's, for every configuration, scope and batch in
    either."""
    ours = {(*r.configuration, r.scope, r.batch): r for r in rows}
    theirs = {(*r.configuration, r.scope, r.batch): r for r in reference}
    keys = sorted(set(ours) | set(theirs), key=lambda k: (_configuration_order(k[:3]), k[3] != "host", k[4]))
    header = ("configuration", "scope", "batch", "p50 ms", f"{reference_label} p50 ms", "img/s",
              f"{reference_label} img/s")
    lines = [header]
    for key in keys:
        mine, ref = ours.get(key), theirs.get(key)
        lines.append((configuration_label(*key[:3]), key[3], str(key[4]), _cell(mine.p50_ms if mine else None, 3),
                      _cell(ref.p50_ms if ref else None, 3), _cell(mine.throughput_ips if mine else None, 1),
                      _cell(ref.throughput_ips if ref else None, 1)))
    return _render(lines)


@dataclass(frozen=True)
class Speedup:
    """One row's speed-ups from p50 latencies, against rows of the same device, batch and scope only."""

    row: BenchmarkRow
    best_peer: str | None  # the fastest stable row that is not TensorRT, as "configuration"
    over_best_peer: float | None  # best peer's p50 / this p50 (< 1: slower than the best peer)
    over_eager: float | None  # eager FP32 PyTorch's p50 / this p50 (BASELINES)

    @property
    def unstable(self) -> bool:
        return self.row.unstable


def is_tensorrt(row: BenchmarkRow) -> bool:
    return row.backend.startswith("tensorrt")


def speedups(rows: Sequence[BenchmarkRow]) -> list[Speedup]:
    """For every row: the speed-up over the fastest non-TensorRT row measured on the same device, at the same batch
    and scope (rows whose p99 is over TAIL_LIMIT times their p50 are not candidates), and over eager FP32 PyTorch of
    that device. CPU rows are only ever compared with CPU rows, GPU rows with GPU rows."""
    groups: dict[tuple[str, int, str], list[BenchmarkRow]] = {}
    for r in rows:
        groups.setdefault((r.device, r.batch, r.scope), []).append(r)
    result = []
    for r in rows:
        group = groups[(r.device, r.batch, r.scope)]
        peers = [p for p in group if not is_tensorrt(p) and not p.unstable]
        best = min(peers, key=lambda p: p.p50_ms) if peers else None
        baseline = BASELINES.get(r.device)
        eager = next((p for p in group if baseline and (p.backend, p.precision) == baseline and not p.options), None)
        result.append(Speedup(r, best.label if best else None, best.p50_ms / r.p50_ms if best else None,
                              eager.p50_ms / r.p50_ms if eager else None))
    return result


def format_speedups(rows: Sequence[BenchmarkRow]) -> str:
    """Each row's speed-ups from p50 (see `speedups`), grouped by device, scope and batch; unstable rows flagged."""
    lines = [("configuration", "scope", "batch", "p50 ms", "vs best peer", "best peer", "vs eager", "")]
    for s in sorted(speedups(rows), key=lambda s: (s.row.device, s.row.scope, s.row.batch, s.row.p50_ms)):
        lines.append((s.row.label, f"{s.row.device} {s.row.scope}", str(s.row.batch), _cell(s.row.p50_ms, 3),
                      f"{s.over_best_peer:.2f}x" if s.over_best_peer else "-", s.best_peer or "-",
                      f"{s.over_eager:.2f}x" if s.over_eager else "-",
                      f"unstable: p99 {s.row.tail_ratio:.1f} x p50, not ranked" if s.unstable else ""))
    return _render(lines)


__all__ = ["BASELINES", "CSV_COLUMNS", "METADATA_COLUMNS", "OPTIONAL_COLUMNS", "PRECISIONS", "TAIL_LIMIT", "BenchmarkRow",
           "Speedup", "configuration_label", "format_speedups", "is_tensorrt",
           "cpu_model", "environment", "format_table", "iso_now", "make_row", "ordered_configurations", "read_csv",
           "side_by_side", "speedups", "write_csv"]
