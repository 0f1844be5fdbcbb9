"""What `python -m utils diff` does: compare two saved runs, write stats.csv, histograms and the error-growth plot."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from utils.compare.stats import DEFAULT_ATOL, DEFAULT_RTOL, OutputStats

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class DiffReport:
    stats: list[OutputStats]
    stats_csv: Path
    figures: list[Path]

    @property
    def passed(self) -> bool:
        return all(row.passed for row in self.stats)

    @property
    def failed_outputs(self) -> list[str]:
        return [row.output for row in self.stats if not row.passed]


def figure_file_name(output_name: str) -> str:
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in output_name).strip("_") or "output"
    return f"hist_{safe}.png"


def diff_saved_results(reference_path: str | os.PathLike[str], target_path: str | os.PathLike[str],
                       out_dir: str | os.PathLike[str], *, atol: float = DEFAULT_ATOL, rtol: float = DEFAULT_RTOL,
                       max_histograms: int = 12) -> DiffReport:
    """What `python -m utils diff` does with two `--save-outputs` files: stats.csv, histograms, the error growth."""
    from utils.compare.runs import first_iteration, load_results
    from utils.compare.stats import compare_runs

    reference, target = load_results(reference_path), load_results(target_path)
    rows = compare_runs(reference, target, atol=atol, rtol=rtol)  # inputs are checked before anything is written
    return write_report(rows, first_iteration(reference), first_iteration(target), out_dir, atol=atol, rtol=rtol,
                        max_histograms=max_histograms)


def write_report(rows: list[OutputStats], reference: tuple[str, Mapping[str, np.ndarray]],
                 target: tuple[str, Mapping[str, np.ndarray]], out_dir: str | os.PathLike[str], *,
                 atol: float = DEFAULT_ATOL, rtol: float = DEFAULT_RTOL, max_histograms: int = 12) -> DiffReport:
    """stats.csv, histogram PNGs and the layer-by-layer error plot for `rows` (`compare.output_stats` of Polygraphy's
    results), `reference` and `target` each (runner name, outputs by name). Histograms are drawn for the reference's
    last output (the model output when every tensor is marked) and for the failing outputs with the largest relative
    error, `max_histograms` in all."""
    from utils.compare.plots import comparison_histograms, error_growth
    from utils.compare.stats import write_stats_csv
    from utils.files import ensure_writable_dir, save_figure

    out_dir = Path(out_dir)
    ensure_writable_dir(out_dir)
    (reference_name, reference_outputs), (target_name, target_outputs) = reference, target
    failing = sorted((r for r in rows if not r.passed), key=lambda r: r.max_rel, reverse=True)
    chosen = [rows[-1].output] + [r.output for r in failing if r.output != rows[-1].output]
    figures = []
    for name in chosen[:max_histograms]:
        figure = comparison_histograms(reference_outputs[name], target_outputs[name], name=name,
                                             reference_label=reference_name, target_label=target_name)
        figures.append(save_figure(figure, out_dir / figure_file_name(name)))
    if len(rows) > 1:
        figures.append(save_figure(error_growth(rows, atol=atol, rtol=rtol), out_dir / "error_growth.png"))
    csv_path = write_stats_csv(rows, out_dir / "stats.csv")  # last: a stats.csv means its figures are there too
    return DiffReport(stats=rows, stats_csv=csv_path, figures=figures)
