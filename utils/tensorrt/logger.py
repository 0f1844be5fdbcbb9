"""The TensorRT logger: one per process, keeping what TensorRT logged during the operation in progress.

TensorRT registers the first logger it is given and ignores later ones ("The logger passed into
createInferBuilder differs from one already registered"), so a new logger per build would never hear the
second build's errors. The workbook therefore gives TensorRT one logger for the whole process and opens a
`capture()` around each build or load. A capture keeps at most `MAX_KEPT_MESSAGES` errors and as many warnings
(and counts the rest); informational and verbose messages are printed when asked for and never stored.

When a TensorRT constructor fails (`Builder`, `Runtime`, `OnnxParser`), pybind11 raises only "TypeError:
pybind11::init(): factory function returned nullptr" (NVIDIA/TensorRT #2913, #4321), and the reason is what
TensorRT logged just before, often as a warning ("CUDA initialization failure with error: 35"). A capture opened
with `operation=` turns such an exception into a one-line error carrying those messages and what to do.

Warnings are printed as they come, deprecation notices included (TensorRT 10's notices about weak typing and the
FP16 flag are the migration the workbook teaches), each distinct message once per process.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from utils.errors import WorkbookError

if TYPE_CHECKING:
    from utils.tensorrt.api import TensorRT

MAX_KEPT_MESSAGES = 8
# What to do, for messages TensorRT logs when it cannot start (first match wins; matched in lower case).
ADVICE = (
    ("cuda initialization failure", "TensorRT could not start CUDA: check nvidia-smi, and that the driver supports the "
                                    "CUDA this TensorRT was built for (pip install tensorrt-cu12 for a CUDA 12 driver)"),
    ("cannot open shared object", "a TensorRT library is missing: reinstall TensorRT (pip install -r requirements-gpu.txt)"),
    ("libnvinfer", "a TensorRT library is missing: reinstall TensorRT (pip install -r requirements-gpu.txt)"),
    ("out of memory", "the GPU ran out of memory: free it (other processes, a notebook kernel) or use a smaller batch"),
)
DEFAULT_ADVICE = "see TensorRT's messages above, or run again with --verbose to see all of them"


def _one_line(message: str) -> str:
    return " ".join(message.split())


@dataclass
class Capture:
    """The errors and warnings TensorRT logged during one operation."""

    verbose: bool = False
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    dropped: int = 0

    def add_error(self, message: str) -> None:
        if len(self.errors) < MAX_KEPT_MESSAGES:
            self.errors.append(_one_line(message))
        else:
            self.dropped += 1

    def add_warning(self, message: str) -> None:
        if len(self.warnings) < MAX_KEPT_MESSAGES:
            self.warnings.append(_one_line(message))

    def summary(self) -> str:
        """The first error on one line, with how many more followed; or that none was logged."""
        if not self.errors:
            return "TensorRT logged no error"
        more = len(self.errors) - 1 + self.dropped
        return self.errors[0] + (f" (and {more} more error{'s' if more > 1 else ''})" if more else "")

    def failure_summary(self) -> str:
        """For a failure TensorRT may have explained only in a warning: the errors, else the warnings."""
        if self.errors or not self.warnings:
            return self.summary()
        return "TensorRT warned: " + "; ".join(self.warnings)

    def advice(self) -> str:
        logged = " ".join(self.errors + self.warnings).lower()
        return next((advice for pattern, advice in ADVICE if pattern in logged), DEFAULT_ADVICE)


class WorkbookLogger:
    """Forwards TensorRT's messages: errors to the open capture, warnings to stdout, the rest only when verbose."""

    def __init__(self, tensorrt: TensorRT) -> None:
        trt = tensorrt.module
        self._severity = trt.ILogger.Severity
        self._capture: Capture | None = None
        self._warnings_shown: set[str] = set()
        outer = self

        class _Logger(trt.ILogger):  # type: ignore[misc, name-defined]
            def __init__(self) -> None:
                trt.ILogger.__init__(self)

            def log(self, severity: Any, msg: str) -> None:
                outer.record(severity, msg)

        self.trt_logger = _Logger()

    def record(self, severity: Any, message: str) -> None:
        capture = self._capture
        if severity in (self._severity.INTERNAL_ERROR, self._severity.ERROR):
            if capture is not None:
                capture.add_error(message)
            else:
                print(f"[TensorRT] ERROR: {message}")
        elif severity == self._severity.WARNING:
            if capture is not None:
                capture.add_warning(message)
            if message not in self._warnings_shown:
                self._warnings_shown.add(message)
                print(f"[TensorRT] {message}")
        elif capture is not None and capture.verbose:
            print(f"[TensorRT] {message}")

    @contextlib.contextmanager
    def capture(self, verbose: bool = False, operation: str | None = None) -> Iterator[Capture]:
        """Collect what TensorRT logs inside the block (captures do not nest: the inner one takes over).

        With `operation` ("creating TensorRT's builder"), an exception other than a WorkbookError leaving the block
        becomes a one-line WorkbookError with the exception, what TensorRT logged, and what to do."""
        previous, self._capture = self._capture, Capture(verbose=verbose)
        capture = self._capture
        try:
            yield capture
        except WorkbookError:
            raise
        except Exception as exc:
            if operation is None:
                raise
            raise WorkbookError(f"{operation} failed ({type(exc).__name__}: {_one_line(str(exc))}); "
                                f"{capture.failure_summary()}; {capture.advice()}") from None
        finally:
            self._capture = previous


@functools.cache
def shared_logger(tensorrt: TensorRT) -> WorkbookLogger:
    """The process's one logger for this TensorRT module."""
    return WorkbookLogger(tensorrt)
