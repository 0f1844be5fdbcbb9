"""The process's one TensorRT logger: bounded error capture, one-line summaries, verbose output only on request."""

from __future__ import annotations

import pytest

from utils.tensorrt import logger as trt_logger
from utils.tensorrt.api import tensorrt_or_none

trt = tensorrt_or_none()
needs_tensorrt = pytest.mark.skipif(trt is None, reason="needs TensorRT or TensorRT-RTX for its ILogger (pip install -r requirements.txt)")


def test_a_capture_keeps_a_bounded_number_of_errors_and_counts_the_rest():
    capture = trt_logger.Capture()
    for index in range(trt_logger.MAX_KEPT_ERRORS + 5):
        capture.add_error(f"error {index}\n  with a second line")
    assert len(capture.errors) == trt_logger.MAX_KEPT_ERRORS and capture.dropped == 5
    assert capture.summary() == f"error 0 with a second line (and {trt_logger.MAX_KEPT_ERRORS + 4} more errors)"
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
        logger.record(severity.WARNING, "this API is deprecated")
    assert capture.errors == ["parse failed", "internal"]
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
