"""The benchmark's three figures: latency percentiles, throughput against batch size, speed-up over PyTorch eager.

Each configuration is labelled "runtime/precision" (e.g. "tensorrt/fp16"), as in the sweep's skip list.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from utils.benchmark.harness import PERCENTILES
from utils.benchmark.results import (
    BASELINES,
    BenchmarkRow,
    configuration_label,
    ordered_configurations,
    speedups,
)
from utils.errors import WorkbookError

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _require_rows(rows: Sequence[BenchmarkRow]) -> None:
    if not rows:
        raise WorkbookError("no benchmark rows to plot; run a sweep with at least one backend that runs here")


def plot_latency_percentiles(rows: Sequence[BenchmarkRow]) -> Figure:
    """One panel per batch size: p50, p90 and p99 latency of every configuration as grouped bars."""
    import numpy as np
    from matplotlib.figure import Figure

    _require_rows(rows)
    batches = sorted({r.batch for r in rows})
    configs = ordered_configurations(rows)
    panel_width = max(4.0, 0.9 * len(configs) + 1.5)
    figure = Figure(figsize=(min(panel_width * len(batches), 18.0), 4.2), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(batches), squeeze=False)[0])
    width = 0.8 / len(PERCENTILES)
    latencies = [getattr(r, f"p{q}_ms") for r in rows for q in PERCENTILES]
    log_scale = max(latencies) / max(min(latencies), 1e-9) > 30  # one scale for every panel: CPU and GPU together
    for ax, batch in zip(axes, batches, strict=True):
        by_config = {r.configuration: r for r in rows if r.batch == batch}
        x = np.arange(len(configs))
        for k, q in enumerate(PERCENTILES):
            values = [getattr(by_config[c], f"p{q}_ms") if c in by_config else np.nan for c in configs]
            ax.bar(x + (k - 1) * width, values, width, label=f"p{q}")
        if log_scale:
            ax.set_yscale("log")
        ax.set_xticks(x, [configuration_label(*c) for c in configs], rotation=30, ha="right", fontsize="small")
        ax.set(title=f"batch {batch}", ylabel="latency (ms)")
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize="small")
    figure.suptitle(f"{rows[0].model}: latency percentiles", fontsize="medium")
    return figure


def plot_throughput(rows: Sequence[BenchmarkRow]) -> Figure:
    """Throughput (images/s) against batch size for every configuration, batch on a log2 axis; CPU dashed."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    _require_rows(rows)
    figure = Figure(figsize=(7, 4.2), layout="constrained")
    ax = figure.subplots()
    for config in ordered_configurations(rows):
        mine = sorted((r for r in rows if r.configuration == config), key=lambda r: r.batch)
        on_cpu = mine[0].device == "cpu"
        ax.plot([r.batch for r in mine], [r.throughput_ips for r in mine], marker="o", ls="--" if on_cpu else "-",
                label=configuration_label(*config))
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
    ax.legend(fontsize="small")
    return figure


def plot_speedup(rows: Sequence[BenchmarkRow]) -> Figure:
    """Speed-up over eager FP32 PyTorch (GPU runtimes over pytorch-cuda, CPU ones over pytorch-cpu), per batch."""
    import numpy as np
    from matplotlib.figure import Figure

    _require_rows(rows)
    ratios = speedups(rows)
    batches = sorted({r.batch for r in rows})
    devices = {r.configuration: r.device for r in rows}
    configs = [c for c in ordered_configurations(rows) if any((*c, batch) in ratios for batch in batches)]
    figure = Figure(figsize=(max(6.0, 1.0 * len(configs) + 3), 4.2), layout="constrained")
    ax = figure.subplots()
    if not configs:
        ax.text(0.5, 0.5, "no baseline: measure pytorch-cpu or pytorch-cuda too", ha="center", va="center",
                transform=ax.transAxes)
    x = np.arange(len(configs))
    width = 0.8 / max(len(batches), 1)
    for k, batch in enumerate(batches):
        values = [ratios.get((*c, batch), np.nan) for c in configs]
        bars = ax.bar(x + (k - (len(batches) - 1) / 2) * width, values, width, label=f"batch {batch}")
        ax.bar_label(bars, fmt="%.2g", fontsize="x-small")
    ax.axhline(1.0, color="black", lw=0.8)
    ax.set_xticks(x, [f"{configuration_label(*c)}\n(vs {BASELINES[devices[c]][0]})" for c in configs],
                  fontsize="x-small")
    ax.set(ylabel="speed-up (x, mean latency)", title=f"{rows[0].model}: speed-up over PyTorch eager")
    ax.grid(axis="y", alpha=0.3)
    if batches and configs:
        ax.legend(fontsize="small")
    return figure


PLOTS: dict[str, Callable[[Sequence[BenchmarkRow]], Figure]] = {
    "latency": plot_latency_percentiles, "throughput": plot_throughput, "speedup": plot_speedup,
}


def save_plots(rows: Sequence[BenchmarkRow], directory: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """The three figures as PNG files (written atomically): name -> path. Named by utils.artifacts
    (`bench_<model>_<figure>.png`), in build/benchmarks or, if given, in `directory`."""
    from utils import artifacts
    from utils.files import save_figure

    _require_rows(rows)
    model = rows[0].model
    paths = {name: artifacts.benchmark_figure_path(model, name) for name in PLOTS}
    if directory is not None:
        paths = {name: Path(directory) / path.name for name, path in paths.items()}
    return {name: save_figure(PLOTS[name](rows), path) for name, path in paths.items()}


__all__ = ["PLOTS", "plot_latency_percentiles", "plot_speedup", "plot_throughput", "save_plots"]
