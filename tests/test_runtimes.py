"""One interface for every runtime: the CPU runtimes run here; GPU ones on the GPU machine, skipped with the reason."""

from __future__ import annotations

import numpy as np
import pytest

from utils.compare.stats import max_abs_difference
from utils.errors import WorkbookError
from utils.runtimes import RUNTIMES, available_runtimes, open_runtime, runtime_class

MODEL = "efficientnet_lite0"
available = available_runtimes()


def needs(name):
    return pytest.mark.skipif(available[name] is not None, reason=f"{name} cannot run here: {available[name]}")


def test_backend_names_are_the_same_everywhere():
    from utils.cli import build_parser

    assert RUNTIMES == ("pytorch-cpu", "pytorch-cuda", "pytorch-cuda-graphs", "pytorch-compile", "onnxruntime-cpu",
                        "onnxruntime-cuda", "onnxruntime-cuda-iobinding", "onnxruntime-cuda-graphs", "tensorrt",
                        "tensorrt-graphs")
    classify = build_parser()._subparsers._group_actions[0].choices["classify"]
    (backend,) = [a for a in classify._actions if a.dest == "backend"]
    assert tuple(backend.choices) == RUNTIMES
    assert {runtime_class(name).name for name in RUNTIMES} == set(RUNTIMES)


def test_options_are_checked_by_name_before_anything_opens():
    with pytest.raises(WorkbookError, match="pytorch-cpu has no option 'channels-last'; it takes none"):
        open_runtime("pytorch-cpu", MODEL, options=["channels-last"])
    with pytest.raises(WorkbookError, match="onnxruntime-cuda has no option 'batch-profile'; it takes nhwc, tf32"):
        open_runtime("onnxruntime-cuda", MODEL, options=["batch-profile"])
    for name in RUNTIMES:
        cls = runtime_class(name)
        assert set(cls.scopes) <= {"host", "device"} and "host" in cls.scopes
        # CPU runtimes answer the host question only; on the GPU only session.run with host arrays does
        assert ("device" in cls.scopes) == (cls.device == "cuda" and name != "onnxruntime-cuda"), name


def test_a_host_only_runtime_refuses_a_device_resident_call():
    with open_runtime("onnxruntime-cpu", MODEL) as runtime:
        with pytest.raises(WorkbookError, match="takes its input from the host only"):
            runtime.device_call()


def test_every_unavailable_runtime_says_why_in_one_line():
    assert available["pytorch-cpu"] is None and available["onnxruntime-cpu"] is None
    for name, reason in available.items():
        assert reason is None or (reason.strip() and "\n" not in reason), name


def test_open_refuses_unknown_names_precisions_and_unavailable_runtimes():
    with pytest.raises(WorkbookError, match="unknown backend 'pytorch'; choose one of: pytorch-cpu"):
        open_runtime("pytorch", MODEL)
    with pytest.raises(WorkbookError, match="pytorch-cpu runs fp32, not fp16"):
        open_runtime("pytorch-cpu", MODEL, "fp16")
    for name, reason in available.items():
        if reason is not None:
            with pytest.raises(WorkbookError, match=f"{name} cannot run here: "):
                open_runtime(name, MODEL)


@pytest.fixture(scope="module")
def cpu_logits(sample_batch):
    with open_runtime("pytorch-cpu", MODEL) as runtime:
        return runtime.infer(sample_batch)


def test_pytorch_and_onnxruntime_agree_through_the_interface(sample_batch, cpu_logits):
    with open_runtime("onnxruntime-cpu", MODEL) as runtime:
        ort = runtime.infer(sample_batch)
        again = runtime.infer(sample_batch[:1])  # another batch size through the same session
    assert ort.shape == (2, 1000) and again.shape == (1, 1000)
    assert max_abs_difference(ort, cpu_logits) < 1e-4
    assert max_abs_difference(again, ort[:1]) < 1e-4


def test_onnxruntime_fp16_runs_the_fp16_twin(sample_batch, cpu_logits):
    with open_runtime("onnxruntime-cpu", MODEL, "fp16") as runtime:
        assert runtime.onnx_file.name.endswith("_fp16.onnx")
        half = runtime.infer(sample_batch)
    assert half.dtype == np.float32 and np.array_equal(half.argmax(1), cpu_logits.argmax(1))
    assert 1e-4 < max_abs_difference(half, cpu_logits) < 0.1


def test_bound_iterations_and_outputs_are_copies(sample_batch):
    with open_runtime("onnxruntime-cpu", MODEL) as runtime:
        runtime.bind(sample_batch)
        runtime.run_bound()
        first = runtime.output()
        first[:] = 0
        assert runtime.output().any()  # the runtime's own result was not changed through the copy
        assert runtime.stage_calls() == () and runtime.event_timer(2) is None


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["pytorch-cuda", "pytorch-cuda-graphs", "onnxruntime-cuda", "tensorrt"])
def test_gpu_runtimes_match_the_cpu(name, sample_batch, cpu_logits):
    if available[name] is not None:
        pytest.skip(f"{name} cannot run here: {available[name]}")
    tolerance = 0.05  # TF32 or reduced-precision convolution algorithms on the GPU
    with open_runtime(name, MODEL, max_batch=8) as runtime:
        logits = runtime.infer(sample_batch)
        single = runtime.infer(sample_batch[:1])
        assert runtime.device == "cuda"
        if runtime.stage_calls():
            assert len(runtime.stage_calls()) == 3 and runtime.event_timer(4) is not None
        memory = runtime.device_memory_bytes()
        assert memory is not None and memory > 1 << 20  # at least the weights (lite0: 18 MB in FP32)
    assert np.array_equal(logits.argmax(1), cpu_logits.argmax(1))
    assert max_abs_difference(logits, cpu_logits) < tolerance
    assert max_abs_difference(single, logits[:1]) < tolerance


@pytest.mark.gpu
def test_onnxruntime_cuda_fp16_keeps_the_classes(sample_batch, cpu_logits):
    if available["onnxruntime-cuda"] is not None:
        pytest.skip(f"onnxruntime-cuda cannot run here: {available['onnxruntime-cuda']}")
    with open_runtime("onnxruntime-cuda", MODEL, "fp16") as runtime:
        half = runtime.infer(sample_batch)
    assert np.array_equal(half.argmax(1), cpu_logits.argmax(1))
    assert 1e-3 < max_abs_difference(half, cpu_logits) < 0.5  # real FP16 arithmetic drifts more than the CPU's casts


def test_onnxruntime_int8_runs_the_workbooks_qdq_model_and_keeps_the_classes(sample_batch, cpu_logits):
    """The workbook's INT8 model: calibrated on its own 256 inputs, Q/DQ with FP32 elsewhere."""
    import onnx

    from utils.onnx.quantize import qdq_summary

    with open_runtime("onnxruntime-cpu", MODEL, "int8") as runtime:
        assert runtime.onnx_file.name.endswith("_int8.onnx")
        logits = runtime.infer(sample_batch)
    summary = qdq_summary(onnx.load(str(runtime.onnx_file)))
    assert summary.qdq_pairs > 50 and summary.nonzero_zero_points == 0
    assert np.array_equal(logits.argmax(1), cpu_logits.argmax(1))
    assert max_abs_difference(logits, cpu_logits) < 2.0  # measured: 0.86 on the four photos
