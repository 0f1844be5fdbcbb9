"""Matplotlib figures for comparisons: value histograms with Polygraphy's bins, differences on log bins, error by layer.

Figures are built with `matplotlib.figure.Figure` (no pyplot state), so they work headless and in notebooks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.figure import Figure
    from PIL import Image

    from utils.compare.quality import TensorQuality
    from utils.compare.stats import OutputStats
    from utils.onnx.search import SearchResult
    from utils.onnx.sensitivity import SensitivityProfile

# Polygraphy's text histograms: np.histogram's default of 10 bins (comparator/util.py: str_histogram).
HISTOGRAM_BINS = 10


def histogram(values: np.ndarray, value_range: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Counts and edges exactly as Polygraphy computes them for its text histograms."""
    import numpy as np

    finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
    return np.histogram(finite, bins=HISTOGRAM_BINS, range=value_range)


def shared_range(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """The range Polygraphy uses when it prints two outputs' histograms together: min of mins to max of maxes."""
    import numpy as np

    return (float(min(np.nanmin(a), np.nanmin(b))), float(max(np.nanmax(a), np.nanmax(b))))


def comparison_histograms(reference: np.ndarray, target: np.ndarray, *, name: str,
                          reference_label: str = "reference", target_label: str = "target") -> Figure:
    """Three panels: both runs' values overlaid on Polygraphy's bins, then the absolute and the relative difference on
    logarithmic bins. Polygraphy prints differences on 10 linear bins, which put nearly every element into the
    first one (a few large relative differences next to zeros stretch the range); log bins show the spread."""
    import numpy as np
    from matplotlib.figure import Figure

    from utils.compare.stats import differences

    ref = reference.astype(np.float32)
    tgt = target.astype(np.float32)
    absdiff, reldiff = differences(reference, target)

    figure = Figure(figsize=(13, 3.6), layout="constrained")
    values_ax, abs_ax, rel_ax = figure.subplots(1, 3)
    value_range = shared_range(ref, tgt)
    for data, label, colour in ((ref, reference_label, "tab:blue"), (tgt, target_label, "tab:orange")):
        counts, edges = histogram(data, value_range)
        values_ax.stairs(counts, edges, label=label, color=colour, fill=True, alpha=0.45)
    values_ax.set(title=f"{name}: values", xlabel="value", ylabel="elements")
    values_ax.legend(fontsize="small")

    for ax, diff, title in ((abs_ax, absdiff, "absolute difference"), (rel_ax, reldiff, "relative difference")):
        _log_histogram(ax, np.asarray(diff, np.float64).ravel(), colour="tab:red")
        ax.set(title=f"{title} (max {np.nanmax(diff):.3g})", xlabel=f"{title}, log bins", ylabel="elements")
    figure.suptitle(f"{reference_label} vs {target_label}", fontsize="medium")
    return figure


def _log_histogram(ax: Any, values: np.ndarray, *, colour: str, bins: int = 30, zeros_in_legend: bool = True) -> None:
    """Positive finite values on log-spaced bins; how many are exactly zero goes into the legend."""
    import numpy as np

    positive = values[np.isfinite(values) & (values > 0)]
    zeros = int(np.count_nonzero(values == 0))
    if positive.size:
        low, high = np.log10(positive.min()), np.log10(positive.max())
        edges = np.logspace(low, max(high, low + 1e-6) + 1e-9, bins + 1)
        ax.hist(positive, bins=edges, color=colour, alpha=0.6, label=f"{zeros} exactly 0" if zeros else None)
        ax.set_xscale("log")
        if zeros and zeros_in_legend:
            ax.legend(fontsize="small")
    else:
        ax.text(0.5, 0.5, f"all {values.size} exactly equal", ha="center", va="center", transform=ax.transAxes)


def error_growth(stats: Sequence[OutputStats], *, atol: float, rtol: float) -> Figure:
    """Largest and mean absolute difference of every compared tensor, in network order, against `atol`.

    Tensors that fail Polygraphy's elementwise check (beyond `atol` and `rtol`) are marked, unless all or none do:
    then the title says so. The largest difference and the last tensor are named.
    """
    import numpy as np
    from matplotlib.figure import Figure

    figure = Figure(figsize=(12, 4), layout="constrained")
    ax = figure.subplots()
    index = np.arange(len(stats))
    largest = [max(s.max_abs, 1e-12) for s in stats]
    # Relative differences are left out: next to zeros in the reference (ReLU outputs) they are 0 or ~1e15.
    ax.semilogy(index, largest, ".-", label="max absolute difference", lw=0.8)
    ax.semilogy(index, [max(s.mean_abs, 1e-12) for s in stats], ".-", label="mean absolute difference", lw=0.8)
    ax.axhline(atol, color="tab:blue", ls="--", lw=0.8, label=f"atol = {atol:g}")
    failed = [i for i, s in enumerate(stats) if not s.passed]
    verdict = f"{len(failed)} of {len(stats)} tensors fail atol = {atol:g} and rtol = {rtol:g}"
    if 0 < len(failed) < len(stats):
        ax.plot(failed, [largest[i] for i in failed], "x", color="tab:red", label="fails")
    worst = int(np.argmax(largest))
    for i in sorted({worst, len(stats) - 1}):
        ax.annotate(_short(stats[i].output), (i, largest[i]), textcoords="offset points", xytext=(-4, 6),
                    ha="right" if i > len(stats) / 2 else "left", fontsize="small")
    ax.set_ylim(top=max(largest) * 4)  # room for the names under the title
    ax.set(xlabel="tensor, in network order (index into stats.csv)", ylabel="absolute difference",
           title=f"How the absolute error grows through the network: {verdict}")
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.18), ncols=4, frameon=False)
    return figure


def _short(tensor_name: str, width: int = 40) -> str:
    return tensor_name if len(tensor_name) <= width else "..." + tensor_name[-(width - 3):]


def quality_by_layer(runs: dict[str, Sequence[TensorQuality]]) -> Figure:
    """SQNR of every tensor, in network order, one line per reduced-precision run against the same FP32 reference
    (FP16 and INT8 on one chart). Tensors that are equal to the reference (infinite SQNR) sit on the top edge."""
    import math

    import numpy as np
    from matplotlib.figure import Figure

    figure = Figure(figsize=(12, 4), layout="constrained")
    ax = figure.subplots()
    finite = [q.sqnr_db for rows in runs.values() for q in rows if math.isfinite(q.sqnr_db)]
    ceiling = max(finite, default=100.0) + 10.0
    for label, rows in runs.items():
        values = [min(q.sqnr_db, ceiling) if not math.isnan(q.sqnr_db) else np.nan for q in rows]
        values = [max(v, -10.0) for v in values]  # an overflow (-inf) is drawn at the bottom edge
        ax.plot(np.arange(len(values)), values, ".-", lw=0.8, label=label)
    ax.axhline(20.0, color="grey", ls=":", lw=0.8, label="20 dB: noise a tenth of the signal")
    ax.set(xlabel="tensor, in network order", ylabel="SQNR against FP32 (dB)", title="How much signal each layer keeps",
           ylim=(-12.0, ceiling + 5.0))
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.18), ncols=4, frameon=False)
    return figure


def log_error_histogram(reference: np.ndarray, target: np.ndarray, *, name: str, bins: int = 40) -> Figure:
    """|reference - target| on logarithmic bins: where Polygraphy's 10 linear bins put almost every element in the
    first bin, these show the orders of magnitude the errors span. Exact zeros are counted in the title."""
    import numpy as np
    from matplotlib.figure import Figure

    from utils.compare.stats import differences

    absdiff, _ = differences(reference, target)
    values = absdiff[np.isfinite(absdiff)].ravel()
    figure = Figure(figsize=(6.5, 3.6), layout="constrained")
    ax = figure.subplots()
    _log_histogram(ax, np.asarray(values, np.float64), colour="tab:red", bins=bins, zeros_in_legend=False)
    ax.set(title=f"{name}: |difference| on log bins ({int(np.count_nonzero(values == 0))} exactly equal)",
           xlabel="absolute difference", ylabel="elements")
    return figure


def search_progress(result: SearchResult) -> Figure:
    """A precision search's history (`utils.onnx.search`): the logit SQNR of every model it evaluated against the
    number of nodes kept in higher precision, numbered by model run (run 1 is the FP32 reference; bisection steps
    marked), with the target and the model written. An overflow (-inf) is drawn on the bottom edge."""
    import math

    from matplotlib.figure import Figure

    steps = result.history
    finite = [s.sqnr_db for s in steps if math.isfinite(s.sqnr_db)] + [result.target_sqnr_db]
    floor, ceiling = min(finite) - 10.0, max(finite) + 10.0
    figure = Figure(figsize=(8, 3.8), layout="constrained")
    ax = figure.subplots()
    kept = [len(s.kept) for s in steps]
    shown = [min(max(s.sqnr_db, floor), ceiling) if not math.isnan(s.sqnr_db) else floor for s in steps]
    searched = [i for i, s in enumerate(steps) if not s.final]
    ax.plot([kept[i] for i in searched], [shown[i] for i in searched], "o:", lw=0.8, color="tab:blue",
            label="model evaluated")
    bisected = [i for i, s in enumerate(steps) if s.phase == "bisect"]
    if bisected:
        ax.plot([kept[i] for i in bisected], [shown[i] for i in bisected], "s", mfc="none", color="tab:purple", ms=9,
                label="bisection step")
    for i in searched:  # numbered as the search counts its model runs: run 1 is the FP32 reference
        ax.annotate(str(i + 2), (kept[i], shown[i]), textcoords="offset points", xytext=(4, 4), fontsize="x-small")
    overflowed = [i for i, s in enumerate(steps) if s.sqnr_db == -math.inf]
    if overflowed:
        ax.plot([kept[i] for i in overflowed], [floor] * len(overflowed), "v", color="tab:red", ms=9,
                label="overflow (inf/NaN)")
    final = len(result.kept)
    ax.plot([final], [min(max(result.sqnr_db, floor), ceiling)], "*", color="tab:green", ms=14,
            label=f"model written: {final} kept")
    ax.axhline(result.target_sqnr_db, color="grey", ls="--", lw=0.8, label=f"target {result.target_sqnr_db:g} dB")
    ax.set(xlabel=f"nodes kept in FP32 (of {result.node_count})", ylabel="logit SQNR against FP32 (dB)",
           title=f"{result.precision.upper()} search: {result.evaluations} model runs, target "
                 f"{'met' if result.met else 'missed'}", ylim=(floor - 2.0, ceiling))
    ax.set_xlim(left=-0.5)
    ax.legend(fontsize="small", loc="best")
    return figure


def photo_grid(groups: dict[str, Sequence[tuple[str, Image.Image]]], *, per_row: int = 7) -> Figure:
    """Thumbnails of named photos, one block of rows per group (e.g. "calibration", "evaluation"), each group's
    name in the title of its first photo."""
    from matplotlib.figure import Figure

    rows = [(group, chunk) for group, photos in groups.items()
            for chunk in (list(photos)[i:i + per_row] for i in range(0, len(photos), per_row))]
    figure = Figure(figsize=(1.6 * per_row, 1.75 * len(rows)), layout="constrained")
    axes = figure.subplots(len(rows), per_row, squeeze=False)
    shown: set[str] = set()
    for (group, chunk), row_axes in zip(rows, axes):
        for index, ax in enumerate(row_axes):
            ax.set_axis_off()
            if index < len(chunk):
                name, photo = chunk[index]
                ax.imshow(photo)
                first = index == 0 and group not in shown
                ax.set_title(f"{group.upper()}: {name}" if first else name, fontsize="x-small",
                             weight="bold" if first else "normal")
        shown.add(group)
    return figure


def per_input_sqnr(reference: np.ndarray, targets: dict[str, np.ndarray]) -> Figure:
    """The spread behind a logit SQNR: each input's own SQNR (its logits against the reference's) as one box per
    model, with the set's SQNR (all inputs' noise and signal summed) marked."""
    import numpy as np
    from matplotlib.figure import Figure

    from utils.compare.quality import sqnr_db

    labels = list(targets)
    per_input = [[sqnr_db(ref, out) for ref, out in zip(reference, targets[label])] for label in labels]
    figure = Figure(figsize=(8, 3.6), layout="constrained")
    ax = figure.subplots()
    ax.boxplot([np.clip(values, -20, 80) for values in per_input], tick_labels=labels, showfliers=True)
    ax.plot(range(1, len(labels) + 1), [sqnr_db(reference, targets[label]) for label in labels], "D", color="tab:red",
            label="whole set")
    ax.axhline(20, color="grey", ls=":", lw=0.8)
    ax.tick_params(axis="x", labelsize="small")
    ax.set(ylabel="logit SQNR per input (dB)", title=f"logit SQNR against FP32, {len(reference)} inputs each")
    ax.legend(fontsize="small", loc="lower left")
    return figure


def sensitivity_bars(profile: SensitivityProfile, *, top: int = 15) -> Figure:
    """Each of the `top` most sensitive nodes' share of the INT8 model's logit noise, measured with only that node
    quantized (`utils.onnx.sensitivity`), with the rest summed in one bar."""
    from matplotlib.figure import Figure

    rows = profile.nodes[:top]
    rest = sum(row.noise_share for row in profile.nodes[top:])
    names = [row.node.strip("/").replace("/Conv", "").replace("blocks/", "") for row in rows]
    figure = Figure(figsize=(8, 0.28 * (len(rows) + 1) + 1.2), layout="constrained")
    ax = figure.subplots()
    ax.barh(range(len(rows)), [row.noise_share for row in rows], color="tab:blue")
    ax.barh([len(rows)], [rest], color="lightgrey")
    ax.set_yticks(range(len(rows) + 1), names + [f"the other {len(profile.nodes) - len(rows)} nodes"], fontsize="x-small")
    ax.invert_yaxis()
    ax.set(xlabel="share of the fully quantized model's logit noise, that node alone quantized",
           title=f"INT8 sensitivity: {len(profile.nodes)} nodes, {profile.samples} inputs, "
                 f"all quantized {profile.full_sqnr_db:.1f} dB")
    return figure
