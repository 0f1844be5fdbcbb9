"""utils.benchmark.sweep: configurations, skip reasons, inputs, and short real sweeps (GPU ones where there is one)."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import pytest

import utils.runtimes
from tests.benchmark_doubles import use_identity_engine
from utils.benchmark import results, sweep
from utils.environment import pytorch_gpu_unavailable
from utils.errors import WorkbookError
from utils.gpu import GpuInfo, current_gpu
from utils.runtimes import RUNTIMES
from utils.runtimes.onnxruntime import OnnxRuntimeCpu

MODEL = "efficientnet_lite0"
needs_gpu = pytest.mark.skipif(pytorch_gpu_unavailable() is not None, reason=f"needs a GPU PyTorch can use: {pytorch_gpu_unavailable()}")
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


def test_default_configurations_are_the_gpu_peers_where_a_gpu_is(everything_runs: None,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import utils.environment

    monkeypatch.setattr(utils.environment, "gpu_unavailable", lambda: None)
    assert sweep.configurations() == list(sweep.GPU_CONFIGURATIONS)
    assert ("pytorch-cuda", "fp32", ()) in sweep.GPU_CONFIGURATIONS  # the eager baseline of the speed-ups
    assert ("tensorrt-graphs", "fp16", ("batch-profile",)) in sweep.GPU_CONFIGURATIONS
    assert all(name.startswith(("pytorch-c", "onnxruntime-cuda", "tensorrt")) and name != "pytorch-cpu"
               for name, _, _ in sweep.GPU_CONFIGURATIONS)
    assert sweep.configurations(None, ["fp32"]) == [c for c in sweep.GPU_CONFIGURATIONS if c[1] == "fp32"]
    assert list(sweep.available_configurations())[:2] == [("pytorch-cpu", "fp32", ()), ("onnxruntime-cpu", "fp32", ())]


def test_runtimes_named_take_their_default_precisions_and_options(everything_runs: None) -> None:
    assert sweep.configurations(["tensorrt", "pytorch-cpu"]) == [("tensorrt", "fp32", ()), ("tensorrt", "fp16", ()),
                                                                 ("pytorch-cpu", "fp32", ())]
    assert sweep.configurations(["pytorch-cuda-graphs+tf32+channels-last"], ["fp32"]) == [
        ("pytorch-cuda-graphs", "fp32", ("channels-last", "tf32"))]
    assert sweep.configurations(["onnxruntime-cpu"], ["fp16", "fp16", "int8"]) == [
        ("onnxruntime-cpu", "fp16", ()), ("onnxruntime-cpu", "int8", ())]


@pytest.mark.parametrize("backends, precisions, message", [
    (["onnxruntime-cuda"], ["int8"], "onnxruntime-cuda runs fp32, fp16, not int8; a row of onnxruntime-cuda/int8 cannot exist"),
    (["pytorch-cpu"], ["fp16"], "pytorch-cpu runs fp32, not fp16"),
    (["pytorch-cuda+nhwc"], None, "pytorch-cuda has no option 'nhwc'; it takes channels-last, tf32"),
    (["onnxruntime-cpu+tf32"], None, "onnxruntime-cpu has no option 'tf32'; it takes none"),
])
def test_combinations_that_cannot_exist_are_refused_before_anything_runs(backends, precisions, message) -> None:
    with pytest.raises(WorkbookError, match=message.replace("(", r"\(").replace(")", r"\)")):
        sweep.configurations(backends, precisions)


def test_on_a_machine_without_a_gpu_the_defaults_are_the_cpu_runtimes(monkeypatch: pytest.MonkeyPatch) -> None:
    import utils.environment

    reasons = dict.fromkeys(RUNTIMES, "no GPU")
    reasons["onnxruntime-cpu"] = None
    monkeypatch.setattr(utils.runtimes, "available_runtimes", lambda: reasons)
    monkeypatch.setattr(utils.environment, "gpu_unavailable", lambda: "no GPU")
    assert sweep.configurations() == [("onnxruntime-cpu", "fp32", ())]
    assert sweep.available_configurations()[("tensorrt", "fp16", ("batch-profile",))] == "no GPU"


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
    assert reasons[("pytorch-cpu", "fp32", ())] is None and reasons[("onnxruntime-cpu", "fp32", ())] is None
    for (name, _, _), reason in reasons.items():
        if utils.runtimes.runtime_class(name).device == "cuda":
            assert reason and "\n" not in reason, name
            assert "GPU" in reason or "no TensorRT is installed" in reason, (name, reason)
    assert {name for name, _, _ in reasons} == set(RUNTIMES)


@needs_no_gpu
def test_sweep_skips_unavailable_configurations_with_their_reason(capsys: pytest.CaptureFixture[str]) -> None:
    skipped: dict[str, str] = {}
    rows = sweep.run_sweep(MODEL, ["pytorch-cuda", "tensorrt+batch-profile"], [1], iterations=1, progress=False,
                           skipped=skipped)
    assert rows == []
    assert set(skipped) == {"pytorch-cuda/fp32", "pytorch-cuda/fp16", "tensorrt/fp32+batch-profile",
                            "tensorrt/fp16+batch-profile"}
    assert skipped["pytorch-cuda/fp32"] == utils.runtimes.available_runtimes()["pytorch-cuda"]
    assert f"skipped tensorrt/fp16+batch-profile: {skipped['tensorrt/fp16+batch-profile']}" in capsys.readouterr().out


def test_a_scope_the_runtime_does_not_answer_is_skipped_with_the_reason() -> None:
    skipped: dict[str, str] = {}
    assert sweep.run_sweep(MODEL, ["onnxruntime-cpu"], [1], iterations=1, progress=False, skipped=skipped,
                           scopes=["device"]) == []
    assert skipped == {"onnxruntime-cpu/fp32": "onnxruntime-cpu answers the host scope, not device"}
    with pytest.raises(WorkbookError, match="unknown scope 'gpu'"):
        sweep.run_sweep(MODEL, ["onnxruntime-cpu"], [1], iterations=1, progress=False, scopes=["gpu"])


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
    assert reasons[("tensorrt", "fp32", ("batch-profile",))].startswith("no TensorRT is installed")
    assert reasons[("tensorrt", "fp16", ("batch-profile",))] == reasons[("tensorrt", "fp32", ("batch-profile",))]

    rtx_module = types.SimpleNamespace(ComputeCapability=types.SimpleNamespace(SM80=0, SM86=1, SM89=2, SM120=3))
    rtx = TensorRT(module=rtx_module, flavour="tensorrt_rtx", version="1.2.0", import_name="tensorrt_rtx")
    monkeypatch.setattr(utils.tensorrt.api, "load_tensorrt", lambda: rtx)
    assert sweep.available_configurations()[("tensorrt", "fp16", ("batch-profile",))].startswith(
        "TensorRT-RTX 1.2.0 engines cannot run on NVIDIA H100")
    monkeypatch.setattr(utils.gpu, "current_gpu", lambda: None)
    assert "needs an NVIDIA GPU: no NVIDIA GPU found" in sweep.available_configurations()[
        ("tensorrt", "fp16", ("batch-profile",))]


# --- real runs on the CPU -----------------------------------------------------------------------------------------


def test_cpu_sweep_rows_carry_the_metadata(tmp_path: Path) -> None:
    rows = sweep.run_sweep(MODEL, ["pytorch-cpu", "onnxruntime-cpu"], [1], iterations=2, warmup=1, progress=False)
    assert [(r.backend, r.precision, r.batch, r.iterations, r.warmup, r.scope) for r in rows] == [
        ("pytorch-cpu", "fp32", 1, 2, 1, "host"), ("onnxruntime-cpu", "fp32", 1, 2, 1, "host")]
    for row in rows:
        assert row.model == MODEL and row.device == "cpu" and row.timer == "perf_counter_ns"
        assert row.bound_ms is None and row.roofline_fraction is None and row.options == ""
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
def test_pytorch_cuda_and_cuda_graph_rows_in_both_scopes() -> None:
    rows = sweep.run_sweep(MODEL, ["pytorch-cuda", "pytorch-cuda-graphs+channels-last"], [1, 8], precisions=["fp32"],
                           iterations=30, warmup=5, progress=False)
    assert [(r.backend, r.options, r.batch, r.scope) for r in rows] == [
        ("pytorch-cuda", "", 1, "host"), ("pytorch-cuda", "", 1, "device"),
        ("pytorch-cuda", "", 8, "host"), ("pytorch-cuda", "", 8, "device"),
        ("pytorch-cuda-graphs", "channels-last", 1, "host"), ("pytorch-cuda-graphs", "channels-last", 1, "device"),
        ("pytorch-cuda-graphs", "channels-last", 8, "host"), ("pytorch-cuda-graphs", "channels-last", 8, "device")]
    for row in rows:
        assert row.device == "cuda" and row.timer == "cuda-events (torch)" and row.gpu == current_gpu().name
        assert 0 < row.p50_ms <= row.p90_ms <= row.p99_ms
        assert row.device_peak_mib > 10  # the weights alone are about 18 MiB
        assert row.bound_ms > 0 and 0 < row.roofline_fraction and row.limited_by in ("memory", "compute", "copies")
        if row.scope == "host":
            assert row.h2d_ms > 0 and row.compute_ms > 0 and row.d2h_ms > 0
        else:
            assert row.h2d_ms is None  # compute only: no stages to split
    by_key = {(r.backend, r.batch, r.scope): r for r in rows}
    assert by_key[("pytorch-cuda", 8, "host")].h2d_ms > by_key[("pytorch-cuda", 1, "host")].h2d_ms
    assert by_key[("pytorch-cuda-graphs", 8, "host")].setup_s > 0  # the capture, reported beside the latency

    # The replayed graph, FP16 and channels_last compute what eager FP32 PyTorch computes.
    batch = sweep.make_inputs(MODEL, 8)
    outputs = {}
    for name, precision, options in (("pytorch-cuda", "fp32", ()), ("pytorch-cuda-graphs", "fp32", ("channels-last",)),
                                     ("pytorch-cuda-graphs", "fp16", ("channels-last",))):
        with utils.runtimes.open_runtime(name, MODEL, precision, max_batch=8, options=options) as runtime:
            outputs[(name, precision)] = runtime.infer(batch)
    reference = outputs[("pytorch-cuda", "fp32")]
    np.testing.assert_allclose(outputs[("pytorch-cuda-graphs", "fp32")], reference, rtol=1e-3, atol=1e-3)
    assert np.array_equal(outputs[("pytorch-cuda-graphs", "fp16")].argmax(1), reference.argmax(1))


@needs_gpu
def test_tf32_is_off_for_fp32_unless_asked_and_restored_afterwards() -> None:
    import torch

    before = torch.backends.cudnn.allow_tf32
    with utils.runtimes.open_runtime("pytorch-cuda", MODEL, max_batch=1) as runtime:
        assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
        assert runtime.options == ()
    with utils.runtimes.open_runtime("pytorch-cuda", MODEL, max_batch=1, options=["tf32"]):
        assert torch.backends.cudnn.allow_tf32
    assert torch.backends.cudnn.allow_tf32 == before


@needs_gpu
def test_onnxruntime_cuda_rows_are_host_timed_and_io_binding_answers_both_scopes() -> None:
    reason = utils.runtimes.available_runtimes()["onnxruntime-cuda"]
    if reason is not None:
        pytest.skip(reason)
    skipped: dict[str, str] = {}
    rows = sweep.run_sweep(MODEL, ["onnxruntime-cuda", "onnxruntime-cuda-iobinding"], [1, 8], precisions=["fp16"],
                           iterations=20, warmup=5, progress=False, skipped=skipped)
    assert skipped == {}
    assert [(r.backend, r.batch, r.scope) for r in rows] == [
        ("onnxruntime-cuda", 1, "host"), ("onnxruntime-cuda", 8, "host"),
        ("onnxruntime-cuda-iobinding", 1, "host"), ("onnxruntime-cuda-iobinding", 1, "device"),
        ("onnxruntime-cuda-iobinding", 8, "host"), ("onnxruntime-cuda-iobinding", 8, "device")]
    for row in rows:
        assert row.device == "cuda" and row.timer == "perf_counter_ns"  # each call returns when the GPU is done
        assert row.h2d_ms is None and row.compute_ms is None and row.d2h_ms is None
        assert 0 < row.p50_ms <= row.p99_ms and row.device_peak_mib > 0
    batch = sweep.make_inputs(MODEL, 8)
    outputs = []
    for name in ("onnxruntime-cuda", "onnxruntime-cuda-iobinding", "onnxruntime-cuda-graphs"):
        with utils.runtimes.open_runtime(name, MODEL, "fp16", max_batch=8) as runtime:
            outputs.append(runtime.infer(batch))
    for other in outputs[1:]:
        np.testing.assert_allclose(other, outputs[0], rtol=1e-2, atol=1e-2)


@needs_gpu
def test_tensorrt_rows_at_both_precisions() -> None:
    from utils.runtimes.tensorrt import TensorRTRuntime

    reason = TensorRTRuntime.unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    rows = sweep.run_sweep(MODEL, ["tensorrt+batch-profile"], [1, 32], iterations=30, warmup=5, progress=False,
                           scopes=["host"])
    assert [(r.backend, r.precision, r.batch) for r in rows] == [
        ("tensorrt", "fp32", 1), ("tensorrt", "fp32", 32), ("tensorrt", "fp16", 1), ("tensorrt", "fp16", 32)]
    for row in rows:
        assert row.timer == "cuda-events (pycuda or cuda-python)" and row.tensorrt_version
        assert row.h2d_ms > 0 and row.compute_ms > 0 and row.d2h_ms > 0


@needs_gpu
def test_tensorrt_runtime_stages_with_an_identity_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The TensorRT runtime's own work (pinned staging, pycuda events on the runner's stream, the stage split) on
    real device memory, with the identity test double standing in for a TensorRT engine."""
    pytest.importorskip("pycuda", reason="pycuda is not installed; pip install -r requirements-gpu.txt")
    use_identity_engine(monkeypatch)

    rows = sweep.run_sweep(MODEL, ["tensorrt"], [1, 32], precisions=["fp32"], iterations=20, warmup=3,
                           progress=False)
    assert [(r.backend, r.batch, r.scope, r.timer) for r in rows] == [
        ("tensorrt", 1, "host", "cuda-events (pycuda or cuda-python)"), ("tensorrt", 1, "device", "cuda-events (pycuda or cuda-python)"),
        ("tensorrt", 32, "host", "cuda-events (pycuda or cuda-python)"), ("tensorrt", 32, "device", "cuda-events (pycuda or cuda-python)")]
    host = [row for row in rows if row.scope == "host"]
    for row in host:
        assert row.h2d_ms > 0 and row.compute_ms > 0 and row.d2h_ms > 0
        assert row.device_peak_mib >= 2 * 32 * 3 * 224 * 224 * 4 / 2**20 * 0.99  # both buffers, sized for batch 32
    assert host[1].h2d_ms > host[0].h2d_ms  # 32 images take longer to copy than one

    batch = sweep.make_inputs(MODEL, 8)
    with utils.runtimes.open_runtime("tensorrt", MODEL, max_batch=32) as runtime:
        np.testing.assert_array_equal(runtime.infer(batch), batch)  # identity: the batch came back


@needs_gpu
def test_tensorrt_graphs_replay_the_identity_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """A CUDA graph captured from execute_async_v3 (the test double's copy kernel) replays the same work."""
    pytest.importorskip("pycuda", reason="pycuda is not installed; pip install -r requirements-gpu.txt")
    from utils.runtimes.tensorrt import TensorRTGraphs
    from utils.tensorrt.cuda_graph import cuda_graphs_unavailable

    if cuda_graphs_unavailable():
        pytest.skip(cuda_graphs_unavailable())
    use_identity_engine(monkeypatch)
    monkeypatch.setattr(TensorRTGraphs, "unavailable_reason", classmethod(lambda cls: None))
    batch = sweep.make_inputs(MODEL, 8)
    with utils.runtimes.open_runtime("tensorrt-graphs", MODEL, max_batch=32) as runtime:
        np.testing.assert_array_equal(runtime.infer(batch), batch)
        assert runtime.setup_s > 0
        runtime.bind(batch[:2] * 2)  # a new shape: a new graph
        runtime.run_bound()
        np.testing.assert_array_equal(runtime.output(), batch[:2] * 2)


def test_onnxruntime_int8_rows_on_the_cpu() -> None:
    """INT8 is asked for by name (it is not a default): the Q/DQ model with FP32 elsewhere, on the CPU provider."""
    skipped: dict[str, str] = {}
    rows = sweep.run_sweep(MODEL, ["onnxruntime-cpu"], [1], precisions=["int8"], iterations=3, warmup=1,
                           progress=False, skipped=skipped)
    assert [(r.backend, r.precision, r.batch, r.iterations) for r in rows] == [("onnxruntime-cpu", "int8", 1, 3)], skipped
