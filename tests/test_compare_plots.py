"""utils.compare.plots: figures drawn from comparison and search results."""

from __future__ import annotations

import math
from pathlib import Path

from utils.compare import plots
from utils.onnx.search import SearchResult, SearchStep


def _result(history: list[SearchStep], kept: list[str], sqnr: float, target: float = 40.0) -> SearchResult:
    return SearchResult(kept=kept, sqnr_db=sqnr, evaluations=len(history) + 1, met=sqnr >= target, node_count=20,
                        precision="fp16", target_sqnr_db=target, out_path=Path("out.onnx"), measured_by="test",
                        seconds=1.0, history=history)


def _line(ax, label):
    return next(line for line in ax.get_lines() if line.get_label() == label)


def test_search_progress_plots_each_evaluation_against_nodes_kept_with_the_target_and_the_model_written() -> None:
    history = [SearchStep((), -math.inf, "big"), SearchStep(("big",), 12.0, "big_relu"),
               SearchStep(("big", "big_relu", "scale_down"), 55.0, None),
               SearchStep(("big", "big_relu"), 20.0, None, "bisect"),
               SearchStep(("big", "big_relu", "scale_down"), 54.0, None, "final")]
    figure = plots.search_progress(_result(history, ["big", "big_relu", "scale_down"], 54.0))
    (ax,) = figure.get_axes()
    evaluated = _line(ax, "model evaluated")
    assert list(evaluated.get_xdata()) == [0, 1, 3, 2]  # the final model is drawn as the star, not on the search line
    bottom = ax.get_ylim()[0]
    assert evaluated.get_ydata()[0] > bottom and evaluated.get_ydata()[0] < 12.0  # -inf clamped onto the bottom edge
    overflow = _line(ax, "overflow (inf/NaN)")
    assert list(overflow.get_xdata()) == [0]
    star = _line(ax, "model written: 3 kept")
    assert list(star.get_xdata()) == [3] and list(star.get_ydata()) == [54.0]
    assert list(_line(ax, "target 40 dB").get_ydata()) == [40.0, 40.0]
    assert list(_line(ax, "bisection step").get_xdata()) == [2]
    assert [text.get_text() for text in ax.texts] == ["2", "3", "4", "5"]  # run 1: the FP32 reference
    assert "of 20" in ax.get_xlabel() and "met" in ax.get_title() and "6 model runs" in ax.get_title()


def test_search_progress_without_an_overflow_has_no_overflow_marker_and_says_a_missed_target() -> None:
    history = [SearchStep((), 14.0, "a"), SearchStep(("a",), 15.0, None)]
    figure = plots.search_progress(_result(history, ["a"], 15.0, target=25.0))
    (ax,) = figure.get_axes()
    labels = [line.get_label() for line in ax.get_lines()]
    assert "overflow (inf/NaN)" not in labels and "bisection step" not in labels
    assert "missed" in ax.get_title()
    low, high = ax.get_ylim()
    assert low < 14.0 and high > 25.0  # the target is on the chart even when no model came near it


def _stats(max_abs: list[float], passed: list[bool]):
    from utils.compare.stats import OutputStats

    return [OutputStats(output=f"/blocks/blocks.{i}/conv/Conv_output_0", shape="(2, 8)", max_abs=m, mean_abs=m / 10,
                        median_abs=m / 20, max_rel=1.0, mean_rel=0.1, median_rel=0.01, passed=p)
            for i, (m, p) in enumerate(zip(max_abs, passed))]


def test_error_growth_marks_failures_only_when_they_tell_tensors_apart_and_names_the_worst() -> None:
    everything_fails = plots.error_growth(_stats([1e-3, 5e-2, 2e-2], [False] * 3), atol=1e-3, rtol=1e-3)
    (ax,) = everything_fails.get_axes()
    assert "fails" not in [line.get_label() for line in ax.get_lines()]
    assert "3 of 3 tensors fail atol = 0.001 and rtol = 0.001" in ax.get_title()
    assert [text.get_text() for text in ax.texts] == ["/blocks/blocks.1/conv/Conv_output_0", "/blocks/blocks.2/conv/Conv_output_0"]

    some_fail = plots.error_growth(_stats([1e-4, 5e-2, 2e-4], [True, False, True]), atol=1e-3, rtol=1e-3)
    (ax,) = some_fail.get_axes()
    assert list(_line(ax, "fails").get_xdata()) == [1]
    assert "1 of 3 tensors fail" in ax.get_title()


def test_differences_are_drawn_on_log_bins_with_the_exact_zeros_counted() -> None:
    import numpy as np

    reference = np.array([1.0, 2.0, 0.0, 4.0, 8.0], np.float32)
    target = reference + np.array([0.0, 1e-4, 0.0, 1e-2, 1.0], np.float32)  # differences spread over four decades
    _, absolute, relative = plots.comparison_histograms(reference, target, name="logits").get_axes()
    for ax in (absolute, relative):
        assert ax.get_xscale() == "log"
        assert ax.get_legend().get_texts()[0].get_text() == "2 exactly 0"
        edges = sorted({patch.get_x() for patch in ax.patches})
        assert edges[0] <= 1e-4 * 1.01 and edges[-1] > 1e-2  # not one linear bin holding everything
