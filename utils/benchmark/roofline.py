"""The physical limit: how fast an inference could possibly run on this GPU, and how close each row gets.

A row's bound is the longer of two times: its arithmetic at the GPU's peak rate for that precision (FLOPs from the
ONNX graph, `utils.onnx.cost`), and its memory traffic at the GPU's memory bandwidth (every weight read once, every
intermediate activation written and read once, at the row's element size). Rows in the "host" scope add the input
and output copies over PCIe at the measured pinned-copy rate. `fraction` = bound / measured p50: 1.0 would be the
hardware's limit (a fused engine can move less than layer by layer, so it may even pass 1).

The peaks are measured in the same run (`measure_peaks`: large GEMMs in FP32 with TF32 off, in TF32, in FP16 and in
INT8, a large device-to-device copy, a pinned host-to-device copy), because what a kernel can reach on this GPU,
clocks and driver included, is the honest limit; `PUBLISHED` keeps the datasheet numbers beside them.

Why EfficientNet-Lite0 stays far from peak FLOP/s: its depthwise convolutions do 9 multiply-adds per input value
and channel, against hundreds for a dense 3x3 convolution, so the model does about 15 FLOPs per byte it moves in
FP16 (`ModelCost.flops / layerwise_bytes`), while an H200 needs about 200 FLOPs per byte (989 TFLOP/s over
4.8 TB/s) before its tensor cores become the limit. The model is bound by memory bandwidth at every batch size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from utils.onnx.cost import ModelCost

# Dense (no sparsity) peaks from NVIDIA's datasheets: H100 SXM5 and H200 SXM (Hopper, compute capability 9.0).
# TFLOP/s for fp32 (CUDA cores), tf32, fp16 and int8 (TOPS) tensor cores; memory TB/s.
PUBLISHED = {
    "H200": {"fp32": 67.0, "tf32": 494.7, "fp16": 989.4, "int8": 1978.9, "memory_tbps": 4.8,
             "source": "NVIDIA H200 Tensor Core GPU datasheet (H200 SXM)"},
    "H100": {"fp32": 67.0, "tf32": 494.7, "fp16": 989.4, "int8": 1978.9, "memory_tbps": 3.35,
             "source": "NVIDIA H100 Tensor Core GPU datasheet (H100 SXM)"},
}


@dataclass(frozen=True)
class DevicePeaks:
    gpu: str
    tflops: dict[str, float]  # "fp32" (TF32 off), "tf32", "fp16", "int8" (TOPS): measured GEMM rates
    memory_tbps: float  # device-to-device copy, bytes read plus bytes written
    pcie_gbps: float  # pinned host-to-device copy
    source: str = "measured"

    def compute_rate(self, precision: str, options: Sequence[str] = ()) -> float:
        """FLOP/s for a row: FP32 with the `tf32` option at the TF32 rate."""
        key = "tf32" if precision == "fp32" and "tf32" in options else precision
        return self.tflops[key] * 1e12


def published_peaks(gpu_name: str) -> dict[str, float | str] | None:
    """The datasheet numbers for a GPU whose name contains one of PUBLISHED's keys, else None."""
    return next((values for key, values in PUBLISHED.items() if key in gpu_name), None)


@dataclass(frozen=True)
class Bound:
    ms: float
    limited_by: str  # "memory", "compute" or "copies"

    def fraction(self, p50_ms: float) -> float:
        return self.ms / p50_ms if p50_ms > 0 else 0.0


def bound(cost: ModelCost, batch: int, precision: str, peaks: DevicePeaks, *, options: Sequence[str] = (),
          scope: str = "device") -> Bound:
    """The least time one batch can take on this GPU (see the module docstring)."""
    compute_ms = cost.flops(batch) / peaks.compute_rate(precision, options) * 1e3
    memory_ms = cost.layerwise_bytes(batch, precision) / (peaks.memory_tbps * 1e12) * 1e3
    copies_ms = 0.0
    if scope == "host":
        copies_ms = 4 * batch * (cost.input_elements + cost.output_elements) / (peaks.pcie_gbps * 1e9) * 1e3
    on_device, limited_by = max((compute_ms, "compute"), (memory_ms, "memory"))
    if copies_ms > on_device:
        limited_by = "copies"
    return Bound(on_device + copies_ms, limited_by)


def _median_event_seconds(action: Callable[[], object], repeats: int) -> float:
    import statistics

    import torch

    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    action()
    samples = []
    for _ in range(repeats):
        start.record()
        action()
        end.record()
        end.synchronize()
        samples.append(start.elapsed_time(end) / 1e3)
    return statistics.median(samples)


def _gemm_rate(kind: str, size: int, repeats: int) -> float:
    """Tera-operations per second of one `size`^3 GEMM: FP32 with TF32 off, TF32, FP16, or INT8 (torch._int_mm)."""
    import torch

    if kind == "int8":
        a = torch.randint(-127, 127, (size, size), device="cuda", dtype=torch.int8)
        b = torch.randint(-127, 127, (size, size), device="cuda", dtype=torch.int8).t()  # column-major, as cuBLASLt wants
        seconds = _median_event_seconds(lambda: torch._int_mm(a, b), repeats)
    else:
        torch.backends.cuda.matmul.allow_tf32 = kind == "tf32"
        dtype = torch.float16 if kind == "fp16" else torch.float32
        a, b = (torch.randn(size, size, device="cuda", dtype=dtype) for _ in range(2))
        seconds = _median_event_seconds(lambda: torch.mm(a, b), repeats)
    return 2 * size ** 3 / seconds / 1e12


def _copy_rate(nbytes: int, repeats: int, *, from_host: bool) -> float:
    """Bytes per second of a device-to-device copy (read plus written) or a pinned host-to-device copy (moved)."""
    import torch

    source = torch.empty(nbytes, dtype=torch.uint8, pin_memory=True) if from_host else \
        torch.empty(nbytes, dtype=torch.uint8, device="cuda")
    target = torch.empty(nbytes, dtype=torch.uint8, device="cuda")
    seconds = _median_event_seconds(lambda: target.copy_(source, non_blocking=True), repeats)
    return (1 if from_host else 2) * nbytes / seconds


def measure_peaks(*, gemm: int = 8192, copy_mib: int = 2048, repeats: int = 10) -> DevicePeaks:
    """This GPU's reachable rates, with PyTorch and CUDA events: GEMMs of `gemm`^3, a `copy_mib` device copy and a
    256 MiB pinned host-to-device copy, each the median of `repeats` timed runs after a warm-up."""
    import torch

    saved = torch.backends.cuda.matmul.allow_tf32
    try:
        rates = {kind: _gemm_rate(kind, gemm, repeats) for kind in ("fp32", "tf32", "fp16", "int8")}
        memory = _copy_rate(copy_mib << 20, repeats, from_host=False) / 1e12
        pcie = _copy_rate(256 << 20, repeats, from_host=True) / 1e9
    finally:
        torch.backends.cuda.matmul.allow_tf32 = saved
        torch.cuda.empty_cache()
    return DevicePeaks(torch.cuda.get_device_name(0), rates, memory, pcie)
