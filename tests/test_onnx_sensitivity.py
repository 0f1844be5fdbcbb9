"""Each quantized node's effect on the logits, measured alone: on a network with one fragile layer, on one whose
noise one layer adds and the next amplifies, and on EfficientNet-Lite0, where it names the first depthwise
convolution (nothing here names it in advance)."""

import math

import onnx
import pytest

from tests.test_onnx_search import inherited_noise_net
from utils.onnx.fragile import INT8_FRAGILE_NODE, int8_outlier_net, samples
from utils.onnx.quantize import int8_profile, quantize_int8
from utils.onnx.sensitivity import DOMINANT_SHARE, NodeSensitivity, SensitivityProfile, int8_sensitivity


@pytest.fixture(scope="module")
def outlier_profile(tmp_path_factory):
    folder = tmp_path_factory.mktemp("outlier")
    net = int8_outlier_net(folder / "net.onnx")
    quantized = quantize_int8(net, folder / "q.onnx", samples(16), exclude_nodes=())
    return int8_sensitivity(onnx.load(str(net)), onnx.load(str(quantized)), samples(8), split=1)


def test_the_fragile_node_comes_first_and_its_activations_are_the_cause(outlier_profile):
    first = outlier_profile.nodes[0]
    assert first.node == INT8_FRAGILE_NODE and first.noise_share > 0.9
    assert outlier_profile.dominant() == [INT8_FRAGILE_NODE]
    # One per-tensor scale for an input with a 1000x outlier channel: the activations, not the weights.
    assert first.activations_sqnr_db < first.weights_sqnr_db - 10
    assert all(row.weights_sqnr_db is None for row in outlier_profile.nodes[1:])  # only the first was split
    assert outlier_profile.runs == 2 + len(outlier_profile.nodes) + 2 and outlier_profile.samples == 8
    shares = [row.noise_share for row in outlier_profile.nodes]
    assert shares == sorted(shares, reverse=True)


def test_the_prediction_adds_the_shares_up(outlier_profile):
    profile = outlier_profile
    assert profile.predicted_sqnr_db([]) == pytest.approx(profile.full_sqnr_db)
    assert profile.predicted_sqnr_db([row.node for row in profile.nodes]) == math.inf
    gains = [profile.predicted_sqnr_db([row.node for row in profile.nodes[:k]]) for k in range(len(profile.nodes))]
    assert gains == sorted(gains) and gains[1] > profile.full_sqnr_db + 10


def test_a_node_that_only_amplifies_upstream_noise_is_not_blamed(tmp_path):
    net = inherited_noise_net(tmp_path / "net.onnx")
    quantized = quantize_int8(net, tmp_path / "q.onnx", samples(16), exclude_nodes=())
    profile = int8_sensitivity(onnx.load(str(net)), onnx.load(str(quantized)), samples(8))
    share = {row.node: row.noise_share for row in profile.nodes}
    assert profile.nodes[0].node == "conv2" and share["conv2"] > 10 * share["conv3"]


def test_dominant_takes_the_threshold_and_the_limit():
    rows = [NodeSensitivity(f"n{i}", "Conv", 20.0, share) for i, share in enumerate((0.6, 0.3, DOMINANT_SHARE, 0.1))]
    profile = SensitivityProfile(rows, 15.0, 8, 6)
    assert profile.dominant() == ["n0", "n1", "n2"]
    assert profile.dominant(limit=2) == ["n0", "n1"] and profile.dominant(share=0.5) == ["n0"]
    assert SensitivityProfile.from_json(profile.to_json()) == profile


def test_on_efficientnet_lite0_the_first_depthwise_convolution_dominates(lite0_onnx):
    from utils.calibration import calibration_inputs

    profile = int8_profile(lite0_onnx, calibration_inputs("efficientnet_lite0", count=16), split=2)
    first, second = profile.nodes[:2]
    assert first.node == "/blocks/blocks.0/blocks.0.0/conv_dw/Conv" and first.noise_share > 0.4
    assert first.noise_share > 4 * second.noise_share
    assert profile.dominant() == [first.node]
    # Its filters nearly cancel, so rounding either operand costs more than quantizing any other node entirely.
    assert max(first.weights_sqnr_db, first.activations_sqnr_db) < second.sqnr_db
    assert len(profile.nodes) >= 50 and 0.9 < sum(row.noise_share for row in profile.nodes) < 1.6  # noise roughly adds
