"""scripts/emulation_check.py: the FP16 emulation against FP16 models run for real, on the FP16-overflow network."""

import math

import pytest

from tests.script_modules import load_script
from utils.environment import onnxruntime_provider_unavailable
from utils.errors import WorkbookError
from utils.onnx.fragile import fp16_overflow_net, samples
from utils.onnx.precision import convert_to_fp16

emulation_check = load_script("emulation_check")
layer_predictions, prediction_summary = emulation_check.layer_predictions, emulation_check.prediction_summary

CUDA_MISSING = onnxruntime_provider_unavailable("CUDAExecutionProvider")


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    """The FP32 network, its all-FP16 AutoCast model and AutoCast's own split (which keeps the overflow in FP32)."""
    folder = tmp_path_factory.mktemp("emulation")
    fp32 = fp16_overflow_net(folder / "net.onnx")
    paths = {name: convert_to_fp16(fp32, folder / f"{name}.onnx", reference_inputs=samples()["input"], data_max=data_max)
             for name, data_max in (("all_fp16", math.inf), ("autocast", 512.0))}
    return fp32, paths


def test_the_emulation_shows_the_overflow_that_the_cpu_provider_hides(nets):
    fp32, paths = nets
    rows = layer_predictions(fp32, paths["all_fp16"], samples(seed=7), providers=("cpu",))
    summary = prediction_summary(rows, "cpu")
    by_tensor = {row.tensor: row for row in rows}
    assert summary.overflow_emulated[0] == "big.out" and "logits" in summary.overflow_emulated
    # The CPU provider stores big.out as FP16 (inf) but computes what follows in FP32 from it, and the logits survive.
    assert by_tensor["big.out"].measured_sqnr_db["cpu"] == -math.inf
    assert math.isfinite(by_tensor["logits"].measured_sqnr_db["cpu"])
    assert not summary.overflow_agrees


def test_before_the_overflow_the_emulation_tracks_the_real_fp16_rounding(nets):
    fp32, paths = nets
    rows = layer_predictions(fp32, paths["all_fp16"], samples(seed=7), providers=("cpu",))
    first = [row for row in rows if row.tensor in ("conv0.out", "relu0", "conv1.out", "relu1")]
    for row in first:  # storage rounding of FP16: 60-80 dB in both; the CPU computes in FP32, so it is no worse
        assert 55 < row.emulated_sqnr_db < 85 and abs(row.emulated_sqnr_db - row.measured_sqnr_db["cpu"]) < 6


def test_autocasts_own_split_keeps_the_fragile_nodes_in_fp32_and_nothing_overflows(nets):
    fp32, paths = nets
    rows = layer_predictions(fp32, paths["autocast"], samples(seed=7), providers=("cpu",))
    fp32_tensors = {row.tensor for row in rows if not row.fp16}
    assert {"big.out", "big_relu", "scaled"} <= fp32_tensors  # the outputs of FP16_FRAGILE_NODES
    summary = prediction_summary(rows, "cpu")
    assert summary.overflow_emulated == summary.overflow_measured == ()
    assert summary.tensors >= 10 and summary.rank_correlation > 0.5


def test_asking_for_a_provider_this_onnxruntime_lacks_is_one_line(nets):
    if CUDA_MISSING is None:
        pytest.skip("this machine's onnxruntime has CUDAExecutionProvider; the refusal is for machines without it")
    fp32, paths = nets
    with pytest.raises(WorkbookError, match="install onnxruntime-gpu"):
        layer_predictions(fp32, paths["all_fp16"], samples(), providers=("cuda",))


@pytest.mark.skipif(CUDA_MISSING is not None, reason=f"needs ONNX Runtime CUDA: {CUDA_MISSING}")
def test_on_cuda_the_emulation_predicts_where_the_overflow_starts_and_spreads(nets):
    fp32, paths = nets
    rows = layer_predictions(fp32, paths["all_fp16"], samples(seed=7), providers=("cuda",))
    summary = prediction_summary(rows, "cuda")
    assert summary.overflow_measured[0] == "big.out" and "logits" in summary.overflow_measured
    assert summary.overflow_agrees
