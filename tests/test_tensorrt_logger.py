"""The process's one TensorRT logger: bounded error capture, one-line summaries, verbose output only on request."""

from __future__ import annotations

import pytest

from utils.errors import WorkbookError
from utils.tensorrt import logger as trt_logger
from utils.tensorrt.api import tensorrt_or_none

trt = tensorrt_or_none()
needs_tensorrt = pytest.mark.skipif(trt is None, reason="needs TensorRT or TensorRT-RTX for its ILogger (pip install -r requirements.txt)")


def test_a_capture_keeps_a_bounded_number_of_errors_and_counts_the_rest():
    capture = trt_logger.Capture()
    for index in range(trt_logger.MAX_KEPT_MESSAGES + 5):
        capture.add_error(f"error {index}\n  with a second line")
    assert len(capture.errors) == trt_logger.MAX_KEPT_MESSAGES and capture.dropped == 5
    assert capture.summary() == f"error 0 with a second line (and {trt_logger.MAX_KEPT_MESSAGES + 4} more errors)"
    assert trt_logger.Capture().summary() == "TensorRT logged no error"


@needs_tensorrt
def test_the_logger_is_shared_and_routes_by_severity(capsys):
    logger = trt_logger.shared_logger(trt)
    assert trt_logger.shared_logger(trt) is logger  # TensorRT keeps the first logger it is given
    severity = trt.module.ILogger.Severity
    with logger.capture() as capture:
        logger.record(severity.ERROR, "parse failed")
        logger.record(severity.INTERNAL_ERROR, "internal")
        logger.record(severity.VERBOSE, "tactic 7 chosen")
        logger.record(severity.WARNING, "weights truncated")
    assert capture.errors == ["parse failed", "internal"] and capture.warnings == ["weights truncated"]
    assert capsys.readouterr().out == "[TensorRT] weights truncated\n"
    with logger.capture(verbose=True):
        logger.record(severity.INFO, "building")
    assert capsys.readouterr().out == "[TensorRT] building\n"
    logger.record(severity.ERROR, "outside any capture")
    assert capsys.readouterr().out == "[TensorRT] ERROR: outside any capture\n"


@needs_tensorrt
def test_a_capture_ends_with_its_block_even_on_errors():
    logger = trt_logger.shared_logger(trt)
    with pytest.raises(RuntimeError), logger.capture() as capture:
        raise RuntimeError("build crashed")
    logger.record(trt.module.ILogger.Severity.ERROR, "later")
    assert capture.errors == []


@needs_tensorrt
def test_deprecation_notices_are_shown_once_each(capsys):
    """TensorRT 10's notices about weak typing and the FP16 flag are the migration the workbook teaches: shown, not
    hidden, and each distinct one once per process (a notebook builds many engines)."""
    logger = trt_logger.shared_logger(trt)
    warning = trt.module.ILogger.Severity.WARNING
    notice = "BuilderFlag::kFP16 is deprecated (test notice 1). Use a strongly typed network instead"
    for _ in range(3):
        logger.record(warning, notice)
    logger.record(warning, "Weakly typed networks are deprecated (test notice 2)")
    assert capsys.readouterr().out == f"[TensorRT] {notice}\n[TensorRT] Weakly typed networks are deprecated (test notice 2)\n"


@needs_tensorrt
def test_a_failed_constructor_reports_what_tensorrt_logged_and_what_to_do():
    """pybind11 turns a constructor's nullptr into a bare TypeError; TensorRT said why just before, as a warning."""
    logger = trt_logger.shared_logger(trt)
    warning = trt.module.ILogger.Severity.WARNING
    with pytest.raises(WorkbookError) as failure, logger.capture(operation="creating TensorRT's builder"):
        logger.trt_logger.log(warning, "CUDA initialization failure with error: 35. Please check your CUDA installation")
        raise TypeError("pybind11::init(): factory function returned nullptr")
    message = str(failure.value)
    assert "\n" not in message
    assert message.startswith("creating TensorRT's builder failed (TypeError: pybind11::init(): factory function returned nullptr)")
    assert "CUDA initialization failure with error: 35" in message and "nvidia-smi" in message


@needs_tensorrt
def test_errors_take_precedence_and_unknown_failures_point_to_verbose():
    logger = trt_logger.shared_logger(trt)
    severity = trt.module.ILogger.Severity
    with pytest.raises(WorkbookError, match=r"failed \(RuntimeError: boom\); no plan \(test\); see TensorRT's messages"), \
            logger.capture(operation="loading model.engine"):
        logger.record(severity.WARNING, "a warning (test)")
        logger.record(severity.ERROR, "no plan (test)")
        raise RuntimeError("boom")


@needs_tensorrt
def test_only_a_capture_with_an_operation_converts_exceptions():
    logger = trt_logger.shared_logger(trt)
    with pytest.raises(TypeError), logger.capture():
        raise TypeError("not converted")
    with pytest.raises(WorkbookError, match="^already one line$"), logger.capture(operation="building"):
        raise WorkbookError("already one line")


@needs_tensorrt
def test_a_builder_that_cannot_start_gives_one_line_from_build_engine(tmp_path, lite0_onnx, monkeypatch):
    """The wiring in utils.tensorrt.build: TensorRT's Builder fails as it does without a usable CUDA (#2913)."""
    from utils.tensorrt.build import build_engine

    def failing_builder(trt_logger):
        trt_logger.log(trt.module.ILogger.Severity.WARNING, "CUDA initialization failure with error: 35 (test)")
        raise TypeError("pybind11::init(): factory function returned nullptr")

    if not trt.is_rtx:
        pytest.skip("needs TensorRT-RTX, which builds without a GPU; the full TensorRT refuses before creating a builder")
    monkeypatch.setattr(trt.module, "Builder", failing_builder)
    monkeypatch.setattr("utils.gpu.current_gpu", lambda: None)
    with pytest.raises(WorkbookError, match=r"^setting up TensorRT-RTX .*'s builder for efficientnet_lite0.onnx failed \(TypeError: .*\); "
                                            r"TensorRT warned: CUDA initialization failure with error: 35 \(test\); TensorRT could not start CUDA"):
        build_engine(lite0_onnx, tmp_path / "lite0.engine")


@needs_tensorrt
def test_a_runtime_that_cannot_start_gives_one_line_when_loading(tmp_path, monkeypatch):
    from utils.tensorrt.engine_file import deserialize_engine

    def failing_runtime(trt_logger):
        trt_logger.log(trt.module.ILogger.Severity.ERROR, "libnvinfer_builder_resource.so: cannot open shared object file (test)")
        raise TypeError("pybind11::init(): factory function returned nullptr")

    engine = tmp_path / "model.engine"
    engine.write_bytes(b"not checked: the runtime fails first")
    monkeypatch.setattr(trt.module, "Runtime", failing_runtime)
    with pytest.raises(WorkbookError, match=r"failed \(TypeError: .*\); libnvinfer_builder_resource.so: cannot open shared object "
                                            r"file \(test\); a TensorRT library is missing"):
        deserialize_engine(engine, trt)
