"""The physical limit: a row's bound from the graph's FLOPs and bytes and the GPU's peaks."""

import pytest

from tests.test_onnx_cost import small_net
from utils.benchmark.roofline import PUBLISHED, DevicePeaks, bound, published_peaks
from utils.environment import pytorch_gpu_unavailable
from utils.onnx.cost import model_cost

# Round peaks: 100 TFLOP/s FP16, 10 FP32, 20 TF32, 200 INT8; 1 TB/s memory; 10 GB/s PCIe.
PEAKS = DevicePeaks("test GPU", {"fp32": 10.0, "tf32": 20.0, "fp16": 100.0, "int8": 200.0}, 1.0, 10.0)


def test_a_small_network_is_memory_bound_and_its_bound_adds_the_copies_on_the_host():
    cost = model_cost(small_net())
    device = bound(cost, 4, "fp16", PEAKS)
    memory_ms = cost.layerwise_bytes(4, "fp16") / 1e12 * 1e3
    assert device.limited_by == "memory" and device.ms == pytest.approx(memory_ms)
    host = bound(cost, 4, "fp16", PEAKS, scope="host")
    copies_ms = 4 * 4 * (300 + 5) / 10e9 * 1e3
    assert host.ms == pytest.approx(memory_ms + copies_ms) and host.limited_by == "copies"
    assert device.fraction(2 * device.ms) == pytest.approx(0.5)


def test_compute_bound_at_the_peak_of_the_rows_precision():
    cost = model_cost(small_net())
    slow = DevicePeaks("slow", {"fp32": 1e-6, "tf32": 2e-6, "fp16": 1e-5, "int8": 2e-5}, 1.0, 10.0)
    fp32, tf32 = bound(cost, 1, "fp32", slow), bound(cost, 1, "fp32", slow, options=("tf32",))
    assert fp32.limited_by == "compute" and fp32.ms == pytest.approx(cost.flops(1) / 1e6 * 1e3)
    assert tf32.ms == pytest.approx(fp32.ms / 2)


def test_published_peaks_name_their_source():
    h200 = published_peaks("NVIDIA H200")
    assert h200 is PUBLISHED["H200"] and h200["memory_tbps"] == 4.8 and "datasheet" in h200["source"]
    assert published_peaks("NVIDIA A10") is None


def test_lite0_does_about_15_flops_per_byte_in_fp16(lite0_onnx):
    """Why it stays far from peak FLOP/s: an H200 needs ~200 FLOPs per byte (989 TFLOP/s / 4.8 TB/s)."""
    cost = model_cost(lite0_onnx)
    intensity = cost.flops(64) / cost.layerwise_bytes(64, "fp16")
    assert 10 < intensity < 20
    assert PUBLISHED["H200"]["fp16"] * 1e12 / (PUBLISHED["H200"]["memory_tbps"] * 1e12) > 150


@pytest.mark.skipif(pytorch_gpu_unavailable() is not None, reason=f"needs a GPU PyTorch can use: {pytorch_gpu_unavailable()}")
def test_measured_peaks_are_below_the_datasheet():
    from utils.benchmark.roofline import measure_peaks

    peaks = measure_peaks(gemm=4096, copy_mib=512, repeats=3)
    assert 0 < peaks.tflops["fp32"] < peaks.tflops["tf32"] < peaks.tflops["fp16"] <= peaks.tflops["int8"] * 1.05
    assert peaks.memory_tbps > 0.1 and peaks.pcie_gbps > 1
    published = published_peaks(peaks.gpu)
    if published:
        assert peaks.tflops["fp16"] <= 1.05 * published["fp16"] and peaks.memory_tbps <= 1.05 * published["memory_tbps"]
