"""utils.benchmark.standalone: the fastest PyTorch row against a plain PyTorch loop of it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.test_benchmark_results import _row
from utils.benchmark import standalone
from utils.environment import pytorch_gpu_unavailable
from utils.errors import WorkbookError
from utils.gpu import current_gpu


def _gpu_row(backend: str, batch: int, p50_ms: float, **changes: object) -> object:
    return replace(_row(backend=backend, device="cuda", batch=batch, p50_ms=p50_ms, p99_ms=p50_ms * 1.1,
                        timer="cuda-events (torch)"), **changes)  # type: ignore[arg-type]


def test_the_fastest_stable_pytorch_row_on_the_device_is_picked() -> None:
    rows = [
        _gpu_row("pytorch-cuda", 8, 1.0),  # 8,000 img/s
        _gpu_row("pytorch-cuda-graphs", 64, 2.0, options="channels-last"),  # 32,000 img/s
        _gpu_row("pytorch-compile", 256, 4.0, p99_ms=9.0),  # 64,000 img/s but p99 2.25x p50: flagged, not ranked
        _gpu_row("onnxruntime-cuda-iobinding", 256, 1.0),  # not PyTorch
        _row(backend="pytorch-cpu", batch=256, p50_ms=0.5, p99_ms=0.6),  # another device
    ]
    best = standalone.fastest_pytorch_row(rows)  # type: ignore[arg-type]
    assert (best.backend, best.batch, best.options) == ("pytorch-cuda-graphs", 64, "channels-last")
    assert standalone.fastest_pytorch_row(rows, "cpu").backend == "pytorch-cpu"  # type: ignore[arg-type]


def test_no_pytorch_row_is_one_line_that_says_what_to_run() -> None:
    with pytest.raises(WorkbookError, match="no stable PyTorch row on cuda.*run bench with a PyTorch backend"):
        standalone.fastest_pytorch_row([_gpu_row("onnxruntime-cuda", 8, 1.0)])  # type: ignore[list-item]


def test_the_ratio_and_its_target() -> None:
    row = _gpu_row("pytorch-cuda-graphs", 64, 2.0)
    good = standalone.StandaloneCheck(row, 32_000.0, 33_000.0)  # type: ignore[arg-type]
    bad = standalone.StandaloneCheck(row, 32_000.0, 40_000.0)  # type: ignore[arg-type]
    assert good.ratio == pytest.approx(0.9697, abs=1e-4) and good.within_target
    assert bad.ratio == pytest.approx(0.8) and not bad.within_target
    line = standalone.format_standalone(bad)
    assert "pytorch-cuda-graphs/fp32 [host] batch 64" in line and "32,000 img/s" in line and "40,000" in line
    assert "ratio 0.800" in line and "UNDER" in line and "proves little" not in line
    slow_loop = standalone.StandaloneCheck(row, 2_869.0, 1_790.0)  # type: ignore[arg-type]
    assert slow_loop.within_target and slow_loop.loop_slower
    assert "ok; the plain loop was the slower one, so this run proves little" in standalone.format_standalone(slow_loop)
    assert not good.loop_slower


def test_the_loop_leaves_the_cudnn_and_tf32_flags_as_it_found_them() -> None:
    import torch

    before = (torch.backends.cudnn.benchmark, torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    standalone.standalone_pytorch(_row(backend="pytorch-cpu", batch=1), iterations=1)
    assert (torch.backends.cudnn.benchmark, torch.backends.cudnn.allow_tf32,
            torch.backends.cuda.matmul.allow_tf32) == before


@pytest.mark.skipif(current_gpu() is not None, reason="checks the message where no GPU is visible")
def test_a_gpu_row_without_a_gpu_is_refused_in_one_line() -> None:
    with pytest.raises(WorkbookError, match="ran on a GPU and none is visible here"):
        standalone.standalone_pytorch(_gpu_row("pytorch-cuda", 1, 1.0))  # type: ignore[arg-type]


def test_a_non_pytorch_row_is_refused() -> None:
    with pytest.raises(WorkbookError, match="is not a PyTorch row"):
        standalone.standalone_pytorch(_row(backend="onnxruntime-cpu"))


@pytest.mark.parametrize("scope,precision,options", [("host", "fp32", ""), ("device", "fp32", ""),
                                                      ("device", "fp16", "channels-last+autocast")])
def test_the_loop_runs_the_real_model_on_the_cpu(scope: str, precision: str, options: str) -> None:
    row = _row(backend="pytorch-cpu", batch=2, scope=scope, precision=precision, options=options)
    assert standalone.standalone_pytorch(row, iterations=3) > 0


@pytest.mark.skipif(pytorch_gpu_unavailable() is not None, reason=f"needs a GPU PyTorch can use: {pytorch_gpu_unavailable()}")
@pytest.mark.parametrize("backend,options", [("pytorch-cuda", ""), ("pytorch-cuda-graphs", "channels-last"),
                                             ("pytorch-cuda-graphs", "channels-last+autocast")])
def test_the_loop_runs_each_gpu_configuration(backend: str, options: str) -> None:
    ips = standalone.standalone_pytorch(_gpu_row(backend, 8, 1.0, precision="fp16", options=options), iterations=10)
    assert ips > 0
