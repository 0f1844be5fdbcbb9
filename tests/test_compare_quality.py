"""Per-layer quality that compares across layers: SQNR and cosine, and top-k agreement of whole models."""

from __future__ import annotations

import math

import numpy as np
import pytest

from utils.compare import quality
from utils.errors import WorkbookError


def test_sqnr_of_known_noise():
    reference = np.ones(1000, np.float32)
    assert quality.sqnr_db(reference, reference * 1.1) == pytest.approx(20.0)  # noise power 0.01 of the signal's
    assert quality.sqnr_db(reference, reference * 1.001) == pytest.approx(60.0, abs=1e-3)
    assert quality.sqnr_db(reference, reference) == math.inf
    assert quality.sqnr_db(np.zeros(4), np.ones(4)) == -math.inf
    assert quality.sqnr_db(reference, np.full(1000, np.inf, np.float32)) == -math.inf  # an FP16 overflow


def test_fp16_rounding_is_about_what_its_mantissa_allows():
    values = np.random.default_rng(0).normal(size=100_000).astype(np.float32)
    rounded = values.astype(np.float16).astype(np.float32)
    assert 70 < quality.sqnr_db(values, rounded) < 80  # 11-bit significand: ~6 dB per bit


def test_cosine_ignores_scale_and_sees_direction():
    a = np.array([1.0, 2.0, 3.0])
    assert quality.cosine_similarity(a, 5 * a) == pytest.approx(1.0)
    assert quality.cosine_similarity(a, -a) == pytest.approx(-1.0)
    assert quality.cosine_similarity(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(0.0)
    assert quality.cosine_similarity(np.zeros(3), np.zeros(3)) == 1.0
    with pytest.raises(WorkbookError, match="shapes \\(3,\\) and \\(2,\\) cannot be compared"):
        quality.cosine_similarity(a, a[:2])


def test_layer_quality_keeps_network_order_and_common_tensors():
    rng = np.random.default_rng(1)
    reference = {"conv": rng.normal(size=(2, 8)), "relu": rng.normal(size=(2, 8)), "logits": rng.normal(size=(2, 4))}
    target = {"logits": reference["logits"] + 0.01, "conv": reference["conv"].copy(), "only_here": np.zeros(3),
              "relu": np.zeros((3, 8))}
    rows = quality.layer_quality(reference, target)
    assert [r.name for r in rows] == ["conv", "logits"]  # relu differs in shape, only_here is not in the reference
    assert rows[0].sqnr_db == math.inf and rows[0].cosine == pytest.approx(1.0) and rows[0].max_abs == 0.0
    assert rows[1].max_abs == pytest.approx(0.01)
    with pytest.raises(WorkbookError, match="share no tensor"):
        quality.layer_quality({"a": np.zeros(2)}, {"b": np.zeros(2)})


def test_top_k_agreement():
    reference = np.array([[5.0, 4, 3, 2, 1, 0], [0, 1, 2, 3, 4, 5]])
    swapped_first_two = np.array([[4.0, 5, 3, 2, 1, 0], [0, 1, 2, 3, 4, 5]])
    assert quality.top_k_agreement(reference, reference) == 1.0
    assert quality.top_k_agreement(reference, swapped_first_two) == 0.5  # one input's top-1 changed
    assert quality.top_k_agreement(reference, swapped_first_two, k=2) == 1.0  # same two classes, other order
    last_out = np.array([[5.0, 4, 3, 2, 0, 1], [0, 1, 2, 3, 4, 5]])
    assert quality.top_k_agreement(reference, last_out, k=5) == pytest.approx(0.9)  # 4 of 5 shared for one input
    with pytest.raises(WorkbookError, match="top-7 is out of range for 6 classes"):
        quality.top_k_agreement(reference, reference, k=7)


def test_quality_figures_render(tmp_path):
    from utils.compare import plots
    from utils.files import save_figure

    rng = np.random.default_rng(2)
    reference = {f"t{i}": rng.normal(size=256) for i in range(6)}
    half = {k: v.astype(np.float16).astype(np.float64) for k, v in reference.items()}
    coarse = {k: np.round(v * 8) / 8 for k, v in reference.items()}
    figure = plots.quality_by_layer({"FP16": quality.layer_quality(reference, half),
                                     "INT8": quality.layer_quality(reference, coarse)})
    (ax,) = figure.axes
    assert [line.get_label() for line in ax.get_lines()][:2] == ["FP16", "INT8"]
    assert all(y > 20 for y in ax.get_lines()[1].get_ydata())  # 1/8 steps keep ~25 dB of a unit normal
    histogram = plots.log_error_histogram(reference["t0"], half["t0"], name="t0")
    assert histogram.axes[0].get_xscale() == "log"
    assert save_figure(histogram, tmp_path / "h.png").read_bytes().startswith(b"\x89PNG")


def probabilities(*rows):
    """Logits whose softmax is each row, padded to six classes of 0.01 each."""
    return np.log(np.array([list(row) + [0.01] * (6 - len(row)) for row in rows]))


def test_a_near_tie_is_not_confident_and_a_clear_lead_is():
    logits = probabilities((0.40, 0.38, 0.18), (0.60, 0.25, 0.11), (0.52, 0.40, 0.04))
    assert quality.confident(logits).tolist() == [False, True, True]  # leads of 0.02, 0.35 and 0.12
    assert quality.confident(logits, margin=0.2).tolist() == [False, True, False]


def test_agreement_counts_flips_on_confident_inputs_apart():
    reference = probabilities((0.40, 0.38, 0.18), (0.60, 0.25, 0.11), (0.70, 0.20, 0.06), (0.20, 0.70, 0.06))
    target = reference.copy()
    target[0, :2] = reference[0, [1, 0]]  # the near tie flips
    result = quality.agreement(reference, target)
    assert (result.top1, result.top5, result.confident_top1, result.confident, result.inputs) == (0.75, 1.0, 1.0, 3, 4)
    target[1, :2] = reference[1, [1, 0]]  # a confident input flips
    result = quality.agreement(reference, target)
    assert result.confident_top1 == pytest.approx(2 / 3) and result.sqnr_db == quality.sqnr_db(reference, target)
    assert math.isnan(quality.agreement(reference[:1], target[:1]).confident_top1)  # no confident input
