"""The one interface every runtime implements: open a model, `infer(batch) -> logits`, close.

Modelled on Polygraphy's `BaseRunner`. Classification, comparison, the benchmark and the notebooks all run
models through it, so a backend name means the same thing everywhere.

For timing, an iteration is split the way a GPU application runs it: `bind(batch)` once (stage the batch in
the runtime's own input memory), then `run_bound()` per iteration. GPU runtimes also expose the iteration's
three stages (`stage_calls()`: host-to-device copy, compute, device-to-host copy) and CUDA events on the
stream that carries them (`event_timer()`), so the benchmark can time them without knowing the backend.

Two questions, two scopes. "host": a host batch in, host logits out, copies included (what an application that
holds its images in host memory sees; `run_bound`). "device": the input already on the GPU in the model's own
type and layout, only the model's work (what `trtexec --noDataTransfers` and most published GPU numbers measure;
`device_call`). A runtime lists the scopes it answers in `scopes`. A runtime without an event timer finishes its
work before each of its calls returns, so a host clock times it exactly.

Options (`supported_options`, chosen with `open_runtime(..., options=[...])`) switch on what a practitioner would
try on top of a backend and precision: `channels-last` memory layout, `tf32` for FP32 arithmetic, `nhwc` kernels,
one TensorRT engine per batch size. A row names its options beside its backend and precision.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from utils.errors import WorkbookError

if TYPE_CHECKING:
    import numpy as np

GPU_STAGES = ("h2d", "compute", "d2h")
SCOPES = ("host", "device")


def check_options(name: str, supported: Sequence[str], options: Sequence[str]) -> None:
    unknown = [option for option in options if option not in supported]
    if unknown:
        offered = f"it takes {', '.join(supported)}" if supported else "it takes none"
        raise WorkbookError(f"{name} has no option {unknown[0]!r}; {offered}")


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
    supported_options: ClassVar[tuple[str, ...]] = ()
    scopes: ClassVar[tuple[str, ...]] = ("host",)

    def __init__(self, model_name: str, precision: str = "fp32", *, max_batch: int = 32,
                 options: Sequence[str] = ()) -> None:
        """`max_batch`: the largest batch `infer` will be given (TensorRT sizes its engine's profile by it)."""
        check_options(self.name, self.supported_options, options)
        if precision not in self.precisions:
            raise WorkbookError(f"{self.name} runs {', '.join(self.precisions)}, not {precision}; choose another --precision or backend")
        self.model_name = model_name
        self.precision = precision
        self.max_batch = max_batch
        self.options = tuple(sorted(set(options)))
        self.setup_s: float | None = None  # what the last `bind` spent preparing beyond a copy (a compile, a capture)

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

    def device_call(self) -> Callable[[], Any]:
        """One iteration on the bound batch already on the device (the "device" scope): queued on the stream the
        event timer records on, or, without an event timer, finished when the call returns."""
        calls = self.stage_calls()
        if "device" not in self.scopes or not calls:
            raise WorkbookError(f"{self.name} takes its input from the host only; a device-resident timing needs one "
                                f"of the runtimes whose scopes include 'device'")
        return calls[1]

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
        options = f", {'+'.join(self.options)}" if self.options else ""
        return f"<{self.name} runtime: {self.model_name}, {self.precision}{options}>"
