"""The one interface every runtime implements: open a model, `infer(batch) -> logits`, close.

Modelled on Polygraphy's `BaseRunner`. Classification, comparison, the benchmark and the notebooks all run
models through it, so a backend name means the same thing everywhere.

For timing, an iteration is split the way a GPU application runs it: `bind(batch)` once (stage the batch in
the runtime's own input memory), then `run_bound()` per iteration. GPU runtimes also expose the iteration's
three stages (`stage_calls()`: host-to-device copy, compute, device-to-host copy) and CUDA events on the
stream that carries them (`event_timer()`), so the benchmark can time them without knowing the backend.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from utils.errors import WorkbookError

if TYPE_CHECKING:
    import numpy as np

GPU_STAGES = ("h2d", "compute", "d2h")


class EventTimer(Protocol):
    """CUDA events on the stream a runtime queues its work on."""

    def record(self, index: int) -> None: ...

    def synchronize(self) -> None:
        """Wait until the last recorded event has completed."""

    def elapsed_ms(self, start: int, end: int) -> float: ...


class Runtime:
    """A model on one backend. Subclasses set the class attributes and implement `bind`, `run_bound`, `output`."""

    name: ClassVar[str]
    device: ClassVar[str]  # "cpu" or "cuda"
    timer: ClassVar[str]  # the clock the benchmark uses for it
    description: ClassVar[str]
    precisions: ClassVar[tuple[str, ...]] = ("fp32",)

    def __init__(self, model_name: str, precision: str = "fp32", *, max_batch: int = 32) -> None:
        """`max_batch`: the largest batch `infer` will be given (TensorRT sizes its engine's profile by it)."""
        if precision not in self.precisions:
            raise WorkbookError(f"{self.name} runs {', '.join(self.precisions)}, not {precision}; choose another --precision or backend")
        self.model_name = model_name
        self.precision = precision
        self.max_batch = max_batch

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why this runtime cannot run on this machine, or None. Decided in utils.environment."""
        return None

    # --- running -------------------------------------------------------------------------------------------

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """Logits [batch, classes] on the host for one float32 NCHW batch."""
        self.bind(batch)
        self.run_bound()
        return self.output()

    def bind(self, batch: np.ndarray) -> None:
        """Stage `batch` as the input of the following `run_bound` calls."""
        raise NotImplementedError

    def run_bound(self) -> None:
        """One whole iteration on the bound batch; its result is on the host when this returns."""
        raise NotImplementedError

    def output(self) -> np.ndarray:
        """A copy of the last iteration's logits."""
        raise NotImplementedError

    # --- what the benchmark needs --------------------------------------------------------------------------

    def stage_calls(self) -> tuple[Callable[[], Any], ...]:
        """For GPU runtimes: (queue the input copy, queue the compute, queue the output copy); empty elsewhere."""
        return ()

    def event_timer(self, count: int) -> EventTimer | None:
        """`count` CUDA events on the runtime's stream, or None where a host clock times it exactly."""
        return None

    def device_memory_bytes(self) -> int | None:
        """Device memory the runtime has held at its peak since it was opened (weights included), or None."""
        return None

    # --- lifetime --------------------------------------------------------------------------------------------

    def close(self) -> None:
        pass

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{self.name} runtime: {self.model_name}, {self.precision}>"
