"""The TensorRT logger: one per process, keeping the errors of the operation in progress for its error message.

TensorRT registers the first logger it is given and ignores later ones ("The logger passed into
createInferBuilder differs from one already registered"), so a new logger per build would never hear the
second build's errors. The workbook therefore gives TensorRT one logger for the whole process and opens a
`capture()` around each build or load. A capture keeps at most `MAX_KEPT_ERRORS` messages (and counts the
rest); informational and verbose messages are printed when asked for and never stored.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from utils.tensorrt.api import TensorRT

MAX_KEPT_ERRORS = 8


@dataclass
class Capture:
    """The errors TensorRT logged during one operation."""

    verbose: bool = False
    errors: list[str] = field(default_factory=list)
    dropped: int = 0

    def add_error(self, message: str) -> None:
        if len(self.errors) < MAX_KEPT_ERRORS:
            self.errors.append(" ".join(message.split()))
        else:
            self.dropped += 1

    def summary(self) -> str:
        """The first error on one line, with how many more followed; or that none was logged."""
        if not self.errors:
            return "TensorRT logged no error"
        more = len(self.errors) - 1 + self.dropped
        return self.errors[0] + (f" (and {more} more error{'s' if more > 1 else ''})" if more else "")


class WorkbookLogger:
    """Forwards TensorRT's messages: errors to the open capture, warnings to stdout, the rest only when verbose."""

    def __init__(self, tensorrt: TensorRT) -> None:
        trt = tensorrt.module
        self._severity = trt.ILogger.Severity
        self._capture: Capture | None = None
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
        elif severity == self._severity.WARNING and "deprecated" not in message.lower():
            print(f"[TensorRT] {message}")
        elif capture is not None and capture.verbose:
            print(f"[TensorRT] {message}")

    @contextlib.contextmanager
    def capture(self, verbose: bool = False) -> Iterator[Capture]:
        """Collect the errors logged inside the block (captures do not nest: the inner one takes over)."""
        previous, self._capture = self._capture, Capture(verbose=verbose)
        try:
            yield self._capture
        finally:
            self._capture = previous


@functools.cache
def shared_logger(tensorrt: TensorRT) -> WorkbookLogger:
    """The process's one logger for this TensorRT module."""
    return WorkbookLogger(tensorrt)
