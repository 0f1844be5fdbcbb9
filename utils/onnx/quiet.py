"""Running NVIDIA ModelOpt quietly: its log, progress bars and prints are kept, and a failure is one WorkbookError.

ModelOpt (`modelopt.onnx`: INT8 quantization in `utils.onnx.quantize`, FP16 AutoCast in `utils.onnx.precision`)
logs every step to stdout, ONNX Runtime's calibrator prints progress bars, and on a machine without NVML it logs
"Failed to get GPU count" at ERROR level and carries on. None of that is news to a learner, so all of it is captured;
a real failure becomes one line that names what was being done.

`import tensorrt` must raise ImportError or give the real TensorRT: ModelOpt probes it, and a bare `tensorrt/`
folder (the tensorrt-stubs package) makes it crash. The Makefile keeps the stubs out of the environment, and
TensorRT-RTX's `tensorrt_rtx` module is not probed, so nothing needs hiding here.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator

from utils.errors import WorkbookError


@contextlib.contextmanager
def _captured_file_descriptors() -> Iterator[None]:
    """What C libraries write to file descriptors 1 and 2 goes to a temporary file (then dropped), not the terminal."""
    saved: list[tuple[int, int]] = []
    sink = tempfile.TemporaryFile()
    try:
        for fd in (1, 2):
            try:
                for stream in (sys.stdout, sys.stderr):
                    if stream is not None:
                        stream.flush()
                saved.append((fd, os.dup(fd)))
                os.dup2(sink.fileno(), fd)
            except (OSError, ValueError):  # no such descriptor (an embedded interpreter): leave it alone
                pass
        yield
    finally:
        for fd, copy in saved:
            os.dup2(copy, fd)
            os.close(copy)
        sink.close()


@contextlib.contextmanager
def quiet_modelopt(what: str) -> Iterator[io.StringIO]:
    """Run the block with ModelOpt's console output captured (Python-level output in the yielded buffer).

    Any exception other than a `WorkbookError`, KeyboardInterrupt or SystemExit becomes
    `WorkbookError("<what> failed (<type>: <first line>)")`.
    """
    log = io.StringIO()
    with _captured_file_descriptors():
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from modelopt.onnx.logging_config import configure_logging, logger

                configure_logging(logging.INFO)  # its handler now writes to `log`; calls that reconfigure do too
                logger.propagate = False  # nor to handlers a notebook or test runner put on the root logger
                yield log
        except WorkbookError:
            raise
        except Exception as exc:
            raise WorkbookError(f"{what} failed ({_first_line(exc, log.getvalue())})") from None
        finally:
            if "modelopt.onnx.logging_config" in sys.modules:  # back to ModelOpt's default: the real stdout
                sys.modules["modelopt.onnx.logging_config"].configure_logging(logging.INFO)


def _first_line(exc: Exception, log: str) -> str:
    text = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    if not text:  # a bare AssertionError, say: the last error ModelOpt logged says more
        errors = [line.split(" - ERROR - ", 1)[1].strip() for line in log.splitlines() if " - ERROR - " in line
                  and "GPU count" not in line]
        text = errors[-1] if errors else ""
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
