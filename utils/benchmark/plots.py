"""The benchmark's three figures: latency percentiles, throughput against batch size with the physical limit, and
speed-ups over the best peer and over PyTorch eager.

Each configuration is labelled "runtime/precision[+options]" (e.g. "tensorrt/fp16+batch-profile"), as in the
sweep's skip list; a row timed in the "device" scope is marked so. CPU and GPU rows never share a ratio axis.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from utils.benchmark.harness import PERCENTILES
from utils.benchmark.results import (
    BASELINES,
    TAIL_LIMIT,
    BenchmarkRow,
    ordered_configurations,
    speedups,
)
from utils.errors import WorkbookError

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _require_rows(rows: Sequence[BenchmarkRow]) -> None:
    if not rows:
        raise WorkbookError("no benchmark rows to plot; run a sweep with at least one backend that runs here")


def _series(rows: Sequence[BenchmarkRow]) -> list[tuple[tuple[str, str, str], str]]:
    """(configuration, scope) pairs present, in configuration order, host before device."""
    present = {(r.configuration, r.scope) for r in rows}
    return [(c, scope) for c in ordered_configurations(rows) for scope in ("host", "device") if (c, scope) in present]


def _name(configuration: tuple[str, str, str], scope: str) -> str:
    from utils.benchmark.results import configuration_label

    return configuration_label(*configuration) + (" [device]" if scope == "device" else "")


def plot_latency_percentiles(rows: Sequence[BenchmarkRow]) -> Figure:
    """One panel per batch size: p50, p90 and p99 latency of every configuration (and scope) as grouped bars."""
    import numpy as np
    from matplotlib.figure import Figure

    _require_rows(rows)
    batches = sorted({r.batch for r in rows})
    series = _series(rows)
    panel_width = max(4.0, 0.55 * len(series) + 1.5)
    figure = Figure(figsize=(min(panel_width * len(batches), 20.0), 4.8), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(batches), squeeze=False)[0])
    width = 0.8 / len(PERCENTILES)
    latencies = [getattr(r, f"p{q}_ms") for r in rows for q in PERCENTILES]
    log_scale = max(latencies) / max(min(latencies), 1e-9) > 30  # one scale for every panel: CPU and GPU together
    for ax, batch in zip(axes, batches, strict=True):
        by_series = {(r.configuration, r.scope): r for r in rows if r.batch == batch}
        x = np.arange(len(series))
        for k, q in enumerate(PERCENTILES):
            values = [getattr(by_series[c], f"p{q}_ms") if c in by_series else np.nan for c in series]
            ax.bar(x + (k - 1) * width, values, width, label=f"p{q}")
        if log_scale:
            ax.set_yscale("log")
        ax.set_xticks(x, [_name(*c) for c in series], rotation=40, ha="right", fontsize="x-small")
        ax.set(title=f"batch {batch}", ylabel="latency (ms)")
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize="small")
    figure.suptitle(f"{rows[0].model}: latency percentiles", fontsize="medium")
    return figure


def _distinct_colours(count: int) -> list[Any]:
    """One colour per line: matplotlib's default cycle repeats after 10, and a GPU sweep draws more lines than that."""
    from matplotlib import colormaps

    palette = colormaps["tab10" if count <= 10 else "tab20"]
    return [palette(index % palette.N) for index in range(count)]


def plot_throughput(rows: Sequence[BenchmarkRow]) -> Figure:
    """Throughput (images/s) against batch size for every configuration (and scope), batch on a log2 axis, CPU
    dashed; for GPU rows, the physical limit of each precision (batch / roofline bound, device scope) dotted."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    _require_rows(rows)
    figure = Figure(figsize=(9, 5.2), layout="constrained")
    ax = figure.subplots()
    series = _series(rows)
    colours = _distinct_colours(len(series))
    for (config, scope), colour in zip(series, colours):
        mine = sorted((r for r in rows if r.configuration == config and r.scope == scope), key=lambda r: r.batch)
        style = "--" if mine[0].device == "cpu" else ("-" if scope == "host" else "-.")
        ax.plot([r.batch for r in mine], [r.throughput_ips for r in mine], marker="o", ls=style, lw=1.2, ms=3,
                color=colour, label=_name(config, scope))
    for precision in sorted({r.precision for r in rows if r.bound_ms and r.scope == "device"}):
        limit = {r.batch: r.bound_ms for r in rows if r.bound_ms and r.scope == "device" and r.precision == precision
                 and "tf32" not in r.options.split("+")}
        if limit:
            batches = sorted(limit)
            ax.plot(batches, [b / (limit[b] / 1e3) for b in batches], ls=":", lw=2.2, color="black",
                    alpha=0.35 + 0.3 * (precision == "fp16"), label=f"physical limit, {precision} (roofline)")
    batches = sorted({r.batch for r in rows})
    ax.set_xscale("log", base=2)
    ax.set_xticks(batches, [str(b) for b in batches])
    values = [r.throughput_ips for r in rows if r.throughput_ips > 0]
    if values and max(values) / min(values) > 20:  # GPU and CPU runtimes together span orders of magnitude
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    else:
        ax.set_ylim(bottom=0)
    ax.set(xlabel="batch size", ylabel="throughput (images/s)", title=f"{rows[0].model}: throughput against batch size")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return figure


def plot_speedup(rows: Sequence[BenchmarkRow], scope: str = "host") -> Figure:
    """Speed-ups from p50 of every row of one scope: over the fastest non-TensorRT row of its device and batch, and
    over eager FP32 PyTorch of its device; one row of panels per device, so CPU and GPU never share an axis. A row
    whose p99 is over TAIL_LIMIT times its p50 is hatched and not taken as the best peer."""
    import numpy as np
    from matplotlib.figure import Figure

    _require_rows(rows)
    chosen = [s for s in speedups(rows) if s.row.scope == scope]
    devices = [d for d in ("cuda", "cpu") if any(s.row.device == d for s in chosen)]
    figure = Figure(figsize=(13, 3.9 * max(len(devices), 1)), layout="constrained")
    axes = figure.subplots(max(len(devices), 1), 2, squeeze=False)
    if not devices:
        axes[0][0].text(0.5, 0.5, f"no {scope}-scope rows", ha="center", va="center", transform=axes[0][0].transAxes)
    for device, (peer_ax, eager_ax) in zip(devices, axes, strict=False):
        mine = [s for s in chosen if s.row.device == device]
        configs = [c for c in ordered_configurations([s.row for s in mine])]
        batches = sorted({s.row.batch for s in mine})
        by_key = {(s.row.configuration, s.row.batch): s for s in mine}
        x = np.arange(len(configs))
        width = 0.8 / max(len(batches), 1)
        for ax, field, title in ((peer_ax, "over_best_peer", "over the fastest non-TensorRT row"),
                                 (eager_ax, "over_eager", f"over eager {BASELINES[device][0]} fp32")):
            for k, batch in enumerate(batches):
                found = [by_key.get((c, batch)) for c in configs]
                values = [getattr(s, field) if s and getattr(s, field) else np.nan for s in found]
                bars = ax.bar(x + (k - (len(batches) - 1) / 2) * width, values, width, label=f"batch {batch}")
                for bar, s in zip(bars, found, strict=True):
                    if s is not None and s.unstable:
                        bar.set_hatch("//")
            ax.axhline(1.0, color="black", lw=0.8)
            ax.set_yscale("log")
            ax.set_xticks(x, [_name(c, scope) for c in configs], rotation=40, ha="right", fontsize="x-small")
            ax.set(ylabel="speed-up (x, p50 latency)", title=f"{device.upper()}, {scope} scope: {title}")
            ax.grid(axis="y", alpha=0.3, which="both")
        peer_ax.legend(fontsize="x-small", title=f"hatched: p99 > {TAIL_LIMIT:g} x p50", title_fontsize="x-small")
    figure.suptitle(f"{rows[0].model}: speed-ups, {scope} scope", fontsize="medium")
    return figure


PLOTS: dict[str, Callable[[Sequence[BenchmarkRow]], Figure]] = {
    "latency": plot_latency_percentiles, "throughput": plot_throughput, "speedup": plot_speedup,
    "speedup-device": lambda rows: plot_speedup(rows, scope="device"),
}


def save_plots(rows: Sequence[BenchmarkRow], directory: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """The figures as PNG files (written atomically), the device-scope speed-ups where there are device rows:
    name -> path. Named by utils.artifacts
    (`bench_<model>_<figure>.png`), in build/benchmarks or, if given, in `directory`."""
    from utils import artifacts
    from utils.files import save_figure

    _require_rows(rows)
    model = rows[0].model
    wanted = [name for name in PLOTS if name != "speedup-device" or any(r.scope == "device" for r in rows)]
    paths = {name: artifacts.benchmark_figure_path(model, name) for name in wanted}
    if directory is not None:
        paths = {name: Path(directory) / path.name for name, path in paths.items()}
    return {name: save_figure(PLOTS[name](rows), path) for name, path in paths.items()}


__all__ = ["PLOTS", "plot_latency_percentiles", "plot_speedup", "plot_throughput", "save_plots"]
