"""utils.benchmark.sweep: configurations, skip reasons, inputs, and short real sweeps (GPU ones where there is one)."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import pytest

import utils.runtimes
from tests.benchmark_doubles import use_identity_engine
from utils.benchmark import results, sweep
from utils.errors import WorkbookError
from utils.gpu import GpuInfo, current_gpu
from utils.runtimes import RUNTIMES
from utils.runtimes.onnxruntime import OnnxRuntimeCpu

MODEL = "efficientnet_lite0"
GPU_RUNTIMES = ("pytorch-cuda", "pytorch-cuda-graphs", "onnxruntime-cuda", "tensorrt")
needs_gpu = pytest.mark.skipif(current_gpu() is None, reason="needs an NVIDIA GPU; none is visible here")
needs_no_gpu = pytest.mark.skipif(current_gpu() is not None,
                                  reason="checks the skip reasons of a machine without a GPU")


@pytest.fixture
def everything_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(utils.runtimes, "available_runtimes", lambda: dict.fromkeys(RUNTIMES))


# --- inputs and configurations ----------------------------------------------------------------------------------


def test_inputs_are_seeded_nchw_float32_of_the_models_shape() -> None:
    batch = sweep.make_inputs(MODEL, 4, seed=3)
    assert batch.shape == (4, 3, 224, 224) and batch.dtype == np.float32
    np.testing.assert_array_equal(batch, sweep.make_inputs(MODEL, 4, seed=3))
    assert not np.array_equal(batch, sweep.make_inputs(MODEL, 4, seed=4))
    assert 0.9 < float(batch.std()) < 1.1  # standard normal
    with pytest.raises(WorkbookError, match="not positive"):
        sweep.make_inputs(MODEL, 0)


def test_default_configurations_add_fp16_for_gpu_runtimes_that_run_it(everything_runs: None) -> None:
    expected = [("pytorch-cpu", "fp32"), ("pytorch-cuda", "fp32"), ("pytorch-cuda-graphs", "fp32"),
                ("onnxruntime-cpu", "fp32"), ("onnxruntime-cuda", "fp32"), ("onnxruntime-cuda", "fp16"),
                ("tensorrt", "fp32"), ("tensorrt", "fp16")]
    assert list(sweep.available_configurations()) == expected
    assert sweep.configurations() == expected
    assert sweep.configurations(["tensorrt", "pytorch-cpu"]) == [("tensorrt", "fp32"), ("tensorrt", "fp16"),
                                                                 ("pytorch-cpu", "fp32")]
    # Precisions alone: every runtime that runs here at the ones it supports.
    assert sweep.configurations(None, ["fp16"]) == [("onnxruntime-cpu", "fp16"), ("onnxruntime-cuda", "fp16"),
                                                    ("tensorrt", "fp16")]
    # Both: every pair; the sweep skips those a runtime does not run.
    assert sweep.configurations(["pytorch-cpu", "tensorrt"], ["fp16", "fp16"]) == [("pytorch-cpu", "fp16"),
                                                                                   ("tensorrt", "fp16")]


def test_configurations_only_include_what_runs_here_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    reasons = dict.fromkeys(RUNTIMES, "no GPU")
    reasons["onnxruntime-cpu"] = None
    monkeypatch.setattr(utils.runtimes, "available_runtimes", lambda: reasons)
    assert sweep.configurations() == [("onnxruntime-cpu", "fp32")]
    assert sweep.available_configurations()[("tensorrt", "fp16")] == "no GPU"


def test_unknown_names_and_batches_are_user_errors() -> None:
    with pytest.raises(WorkbookError, match="unknown backend 'jax'"):
        sweep.configurations(["pytorch-cpu", "jax"])
    with pytest.raises(WorkbookError, match="unknown precision 'int4'"):
        sweep.configurations(None, ["fp32", "int4"])
    with pytest.raises(WorkbookError, match="no backend named"):
        sweep.configurations([])
    with pytest.raises(WorkbookError, match="unknown backend"):
        sweep.run_sweep(MODEL, ["pytorch-cpu", "jax"], [1], iterations=1, progress=False)
    with pytest.raises(WorkbookError, match="positive integers"):
        sweep.run_sweep(MODEL, ["pytorch-cpu"], [1, 0], iterations=1, progress=False)
    with pytest.raises(WorkbookError, match="too few"):
        sweep.run_sweep(MODEL, ["pytorch-cpu"], [1], iterations=0, progress=False)
    with pytest.raises(WorkbookError, match="unknown model"):
        sweep.run_sweep("alexnet", ["pytorch-cpu"], [1], iterations=1, progress=False)
    assert sweep.check_batches([8, 1, 8]) == [8, 1]


# --- skips ----------------------------------------------------------------------------------------------------------


@needs_no_gpu
def test_gpu_configurations_report_why_they_are_skipped() -> None:
    reasons = sweep.available_configurations()
    assert reasons[("pytorch-cpu", "fp32")] is None and reasons[("onnxruntime-cpu", "fp32")] is None
    for (name, _), reason in reasons.items():
        if name in GPU_RUNTIMES:
            assert reason and "\n" not in reason, name
            assert "GPU" in reason or "no TensorRT is installed" in reason, (name, reason)
    assert {name for name, _ in reasons} == set(RUNTIMES)


@needs_no_gpu
def test_sweep_skips_unavailable_configurations_with_their_reason(capsys: pytest.CaptureFixture[str]) -> None:
    skipped: dict[str, str] = {}
    rows = sweep.run_sweep(MODEL, ["pytorch-cuda", "tensorrt"], [1], iterations=1, progress=False, skipped=skipped)
    assert rows == []
    assert set(skipped) == {"pytorch-cuda/fp32", "tensorrt/fp32", "tensorrt/fp16"}
    assert skipped["pytorch-cuda/fp32"] == utils.runtimes.available_runtimes()["pytorch-cuda"]
    assert f"skipped tensorrt/fp16: {skipped['tensorrt/fp16']}" in capsys.readouterr().out


def test_sweep_skips_a_runtime_that_fails_to_open(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    def broken(self: object, *args: object, **kwargs: object) -> None:
        raise WorkbookError("engine build failed: out of workspace; give a larger --workspace")

    monkeypatch.setattr(OnnxRuntimeCpu, "__init__", broken)
    skipped: dict[str, str] = {}
    rows = sweep.run_sweep(MODEL, ["onnxruntime-cpu"], [1, 2], iterations=1, progress=False, skipped=skipped)
    assert rows == []
    assert skipped == {"onnxruntime-cpu/fp32": "engine build failed: out of workspace; give a larger --workspace"}
    assert "skipped onnxruntime-cpu/fp32: engine build failed" in capsys.readouterr().out


def test_a_precision_the_runtime_does_not_run_is_skipped_with_the_reason() -> None:
    skipped: dict[str, str] = {}
    assert sweep.run_sweep(MODEL, ["pytorch-cpu"], [1], precisions=["fp16"], iterations=1, progress=False,
                           skipped=skipped) == []
    assert skipped == {"pytorch-cpu/fp16": "pytorch-cpu runs fp32, not fp16; choose another --precision or backend"}


def test_tensorrt_skip_reasons_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    import utils.gpu
    import utils.tensorrt.api
    from utils.tensorrt.api import TensorRT

    def no_tensorrt() -> TensorRT:
        raise WorkbookError("no TensorRT is installed here; pip install tensorrt")

    h100 = GpuInfo("NVIDIA H100 80GB HBM3", "9.0", 79.2)
    monkeypatch.setattr(utils.tensorrt.api, "load_tensorrt", no_tensorrt)
    monkeypatch.setattr(utils.gpu, "current_gpu", lambda: h100)
    reasons = sweep.available_configurations()
    assert reasons[("tensorrt", "fp32")].startswith("no TensorRT is installed")
    assert reasons[("tensorrt", "fp16")] == reasons[("tensorrt", "fp32")]

    rtx_module = types.SimpleNamespace(ComputeCapability=types.SimpleNamespace(SM80=0, SM86=1, SM89=2, SM120=3))
    rtx = TensorRT(module=rtx_module, flavour="tensorrt_rtx", version="1.2.0", import_name="tensorrt_rtx")
    monkeypatch.setattr(utils.tensorrt.api, "load_tensorrt", lambda: rtx)
    assert sweep.available_configurations()[("tensorrt", "fp16")].startswith(
        "TensorRT-RTX 1.2.0 engines cannot run on NVIDIA H100")
    monkeypatch.setattr(utils.gpu, "current_gpu", lambda: None)
    assert "needs an NVIDIA GPU and none is visible" in sweep.available_configurations()[("tensorrt", "fp16")]


# --- real runs on the CPU -----------------------------------------------------------------------------------------


def test_cpu_sweep_rows_carry_the_metadata(tmp_path: Path) -> None:
    rows = sweep.run_sweep(MODEL, ["pytorch-cpu", "onnxruntime-cpu"], [1], iterations=2, warmup=1, progress=False)
    assert [(r.backend, r.precision, r.batch, r.iterations, r.warmup) for r in rows] == [
        ("pytorch-cpu", "fp32", 1, 2, 1), ("onnxruntime-cpu", "fp32", 1, 2, 1)]
    for row in rows:
        assert row.model == MODEL and row.device == "cpu" and row.timer == "perf_counter_ns"
        assert 0 < row.min_ms <= row.p50_ms <= row.p90_ms <= row.p99_ms <= row.max_ms
        assert row.throughput_ips == pytest.approx(1 / (row.mean_ms / 1e3))
        assert row.h2d_ms is None and row.compute_ms is None and row.d2h_ms is None and row.device_peak_mib is None
        assert row.machine and row.cpu_count >= 1 and row.torch_version and row.onnxruntime_version
        assert row.gpu == (current_gpu().name if current_gpu() else "")
        assert datetime.datetime.fromisoformat(row.date).tzinfo is not None
        assert row.host_peak_delta_mib is not None and row.host_peak_delta_mib >= 0
    assert results.read_csv(results.write_csv(rows, tmp_path / "rows.csv")) == rows


def test_each_runtime_is_opened_once_for_the_largest_batch_and_binds_each(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[int] = []
    bound: list[int] = []
    real_init, real_bind = OnnxRuntimeCpu.__init__, OnnxRuntimeCpu.bind

    def counting_init(self: OnnxRuntimeCpu, *args: object, max_batch: int = 32, **kwargs: object) -> None:
        opened.append(max_batch)
        real_init(self, *args, max_batch=max_batch, **kwargs)  # type: ignore[arg-type]

    def counting_bind(self: OnnxRuntimeCpu, batch: np.ndarray) -> None:
        bound.append(batch.shape[0])
        real_bind(self, batch)

    monkeypatch.setattr(OnnxRuntimeCpu, "__init__", counting_init)
    monkeypatch.setattr(OnnxRuntimeCpu, "bind", counting_bind)
    rows = sweep.run_sweep(MODEL, ["onnxruntime-cpu"], [2, 1], iterations=3, warmup=0, progress=False)
    assert opened == [2] and bound == [2, 1]
    assert [(r.batch, r.iterations) for r in rows] == [(2, 3), (1, 3)]


def test_a_runtime_that_fails_at_a_later_batch_keeps_its_earlier_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    real_bind = OnnxRuntimeCpu.bind

    def bind(self: OnnxRuntimeCpu, batch: np.ndarray) -> None:
        if batch.shape[0] > 1:
            raise WorkbookError("batch 2 does not fit")
        real_bind(self, batch)

    monkeypatch.setattr(OnnxRuntimeCpu, "bind", bind)
    skipped: dict[str, str] = {}
    rows = sweep.run_sweep(MODEL, ["onnxruntime-cpu"], [1, 2], iterations=1, warmup=0, progress=False, skipped=skipped)
    assert [r.batch for r in rows] == [1]
    assert skipped == {"onnxruntime-cpu/fp32": "batch 2 does not fit"}


# --- on a GPU -----------------------------------------------------------------------------------------------------


@needs_gpu
def test_pytorch_cuda_and_cuda_graph_rows() -> None:
    rows = sweep.run_sweep(MODEL, ["pytorch-cuda", "pytorch-cuda-graphs"], [1, 8], iterations=30, warmup=5,
                           progress=False)
    assert [(r.backend, r.precision, r.batch) for r in rows] == [
        ("pytorch-cuda", "fp32", 1), ("pytorch-cuda", "fp32", 8),
        ("pytorch-cuda-graphs", "fp32", 1), ("pytorch-cuda-graphs", "fp32", 8)]
    for row in rows:
        assert row.device == "cuda" and row.timer == "cuda-events (torch)" and row.gpu == current_gpu().name
        assert 0 < row.p50_ms <= row.p90_ms <= row.p99_ms
        assert row.h2d_ms > 0 and row.compute_ms > 0 and row.d2h_ms > 0
        assert row.device_peak_mib > 10  # the weights alone are about 18 MiB
    by_key = {(r.backend, r.batch): r for r in rows}
    assert by_key[("pytorch-cuda", 8)].h2d_ms > by_key[("pytorch-cuda", 1)].h2d_ms  # 8 images copy longer than 1

    # The replayed graph computes what eager PyTorch computes.
    batch = sweep.make_inputs(MODEL, 8)
    outputs = {}
    for name in ("pytorch-cuda", "pytorch-cuda-graphs"):
        with utils.runtimes.open_runtime(name, MODEL, max_batch=8) as runtime:
            outputs[name] = runtime.infer(batch)
    np.testing.assert_allclose(outputs["pytorch-cuda-graphs"], outputs["pytorch-cuda"], rtol=1e-3, atol=1e-3)


@needs_gpu
def test_onnxruntime_cuda_rows_are_host_timed_at_both_precisions() -> None:
    reason = utils.runtimes.available_runtimes()["onnxruntime-cuda"]
    if reason is not None:
        pytest.skip(reason)
    skipped: dict[str, str] = {}
    rows = sweep.run_sweep(MODEL, ["onnxruntime-cuda"], [1, 8], iterations=20, warmup=5, progress=False,
                           skipped=skipped)
    assert skipped == {}
    assert [(r.precision, r.batch) for r in rows] == [("fp32", 1), ("fp32", 8), ("fp16", 1), ("fp16", 8)]
    for row in rows:
        assert row.device == "cuda" and row.timer == "perf_counter_ns"  # session.run returns with host outputs
        assert row.h2d_ms is None and row.compute_ms is None and row.d2h_ms is None
        assert 0 < row.p50_ms <= row.p99_ms and row.device_peak_mib > 0


@needs_gpu
def test_tensorrt_rows_at_both_precisions() -> None:
    from utils.runtimes.tensorrt import TensorRTRuntime

    reason = TensorRTRuntime.unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    rows = sweep.run_sweep(MODEL, ["tensorrt"], [1, 32], iterations=30, warmup=5, progress=False)
    assert [(r.backend, r.precision, r.batch) for r in rows] == [
        ("tensorrt", "fp32", 1), ("tensorrt", "fp32", 32), ("tensorrt", "fp16", 1), ("tensorrt", "fp16", 32)]
    for row in rows:
        assert row.timer == "cuda-events (pycuda)" and row.tensorrt_version
        assert row.h2d_ms > 0 and row.compute_ms > 0 and row.d2h_ms > 0


@needs_gpu
def test_tensorrt_runtime_stages_with_an_identity_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The TensorRT runtime's own work (pinned staging, pycuda events on the runner's stream, the stage split) on
    real device memory, with the identity test double standing in for a TensorRT engine."""
    pytest.importorskip("pycuda", reason="pycuda is not installed; pip install -r requirements-gpu.txt")
    use_identity_engine(monkeypatch)

    rows = sweep.run_sweep(MODEL, ["tensorrt"], [1, 32], precisions=["fp32"], iterations=20, warmup=3,
                           progress=False)
    assert [(r.backend, r.batch, r.timer) for r in rows] == [("tensorrt", 1, "cuda-events (pycuda)"),
                                                             ("tensorrt", 32, "cuda-events (pycuda)")]
    for row in rows:
        assert row.h2d_ms > 0 and row.compute_ms > 0 and row.d2h_ms > 0
        assert row.device_peak_mib >= 2 * 32 * 3 * 224 * 224 * 4 / 2**20 * 0.99  # both buffers, sized for batch 32
    assert rows[1].h2d_ms > rows[0].h2d_ms  # 32 images take longer to copy than one

    batch = sweep.make_inputs(MODEL, 8)
    with utils.runtimes.open_runtime("tensorrt", MODEL, max_batch=32) as runtime:
        np.testing.assert_array_equal(runtime.infer(batch), batch)  # identity: the batch came back


def test_onnxruntime_int8_rows_on_the_cpu() -> None:
    """INT8 is asked for by name (it is not a default): the Q/DQ model with FP32 elsewhere, on the CPU provider."""
    skipped: dict[str, str] = {}
    rows = sweep.run_sweep(MODEL, ["onnxruntime-cpu", "pytorch-cpu"], [1], precisions=["int8"], iterations=3, warmup=1,
                           progress=False, skipped=skipped)
    assert [(r.backend, r.precision, r.batch, r.iterations) for r in rows] == [("onnxruntime-cpu", "int8", 1, 3)], skipped
    assert "pytorch-cpu runs fp32, not int8" in skipped["pytorch-cpu/int8"]
