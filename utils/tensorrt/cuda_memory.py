"""Pinned host buffers, device buffers, streams and CUDA-event timing: what the TensorRT runner hands to TensorRT.

Written once on top of `utils.tensorrt.cuda_binding`, so pycuda and cuda-python give the same buffers, copies and
timings. A stream remembers its binding: whatever times the work queued on a stream (`median_event_seconds`,
`EventTimer`) uses that stream's events; a `DeviceTensor` copies with the binding that allocated it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from utils.errors import WorkbookError
from utils.tensorrt.cuda_binding import CudaBinding, CudaStream, cuda_binding

if TYPE_CHECKING:
    import numpy as np

__all__ = ["DeviceTensor", "EventTimer", "median_event_seconds", "new_stream", "plain_copy_seconds"]


class DeviceTensor:
    """One tensor's pinned host buffer and device buffer, both sized for its largest shape.

    `binding`: a CudaBinding, or the name of one (None: the process default, see `cuda_binding`)."""

    def __init__(self, name: str, max_shape: tuple[int, ...], dtype: np.dtype,
                 binding: CudaBinding | str | None = None) -> None:
        import numpy as np

        self.binding = cuda_binding(binding)
        self.name = name
        self.dtype = np.dtype(dtype)
        self.max_shape = tuple(int(d) for d in max_shape)
        count = int(np.prod(self.max_shape))
        self.host = self.binding.pinned_empty(count, self.dtype)
        self.device = self.binding.device_alloc(max(self.host.nbytes, 1))
        self.shape = self.max_shape
        self._filled_view: np.ndarray | None = None
        self._views: dict[tuple[int, ...], np.ndarray] = {}

    @property
    def device_address(self) -> int:
        return int(self.device)

    @property
    def capacity_bytes(self) -> int:
        return int(self.host.nbytes)

    def host_view(self, shape: tuple[int, ...]) -> np.ndarray:
        """The pinned host buffer as an array of `shape`: fill it in place and `upload` skips the staging copy."""
        self._filled_view = self._view(tuple(shape))
        return self._filled_view

    def _view(self, shape: tuple[int, ...]) -> np.ndarray:
        # Kept per shape: a copy's event timing includes its host time, and making the view takes about half a
        # microsecond, a few percent of a 0.6 MiB copy (15 us on an H200).
        view = self._views.get(shape)
        if view is None:
            count = math.prod(shape)
            if count > self.host.size:
                raise WorkbookError(f"tensor {self.name!r} of shape {shape} does not fit its buffer of shape {self.max_shape}; stay within the engine's profile")
            view = self._views[shape] = self.host[:count].reshape(shape)
        return view

    def upload(self, array: np.ndarray, stream: CudaStream) -> None:
        """Copy `array` into pinned memory (unless it is `host_view`'s array), then asynchronously to the device.

        The staging copy runs at host-memory speed (about 10 GB/s), several times slower than the transfer
        from pinned memory; writing the batch straight into `host_view` avoids it.
        """
        if array is self._filled_view:
            view = array
        else:
            import numpy as np

            view = self._view(array.shape)
            np.copyto(view, array, casting="same_kind")
        self.shape = array.shape
        self.binding.copy_htod_async(self.device, view, stream)

    def download(self, shape: tuple[int, ...], stream: CudaStream) -> np.ndarray:
        """Queue a device-to-host copy of the first `shape` elements; the view is valid after `stream.synchronize()`."""
        view = self._view(tuple(shape))
        self.shape = view.shape
        self.binding.copy_dtoh_async(view, self.device, stream)
        return view

    def free(self) -> None:
        """Free the device buffer; the pinned host buffer goes when the last array viewing it is collected."""
        if self.device is not None:
            self.device.free()
            self.device = None  # type: ignore[assignment]


def new_stream(binding: CudaBinding | str | None = None) -> CudaStream:
    return cuda_binding(binding).new_stream()


def median_event_seconds(queue: Callable[[], None], stream: CudaStream, repeats: int = 20, warmup: int = 3) -> float:
    """The median time of the work `queue()` puts on `stream`, between two CUDA events, after `warmup` rounds."""
    import statistics

    start, end = stream.binding.new_event(), stream.binding.new_event()
    times = []
    for _ in range(warmup + repeats):
        start.record(stream)
        queue()
        end.record(stream)
        end.synchronize()
        times.append(end.time_since(start) / 1e3)
    return statistics.median(times[warmup:])


def plain_copy_seconds(nbytes: int, direction: str, repeats: int = 20, binding: CudaBinding | str | None = None) -> float:
    """The median time of one plain pinned asynchronous copy of `nbytes` ("htod" or "dtoh"), by CUDA events, with
    `binding` (None: the process default).

    The baseline the runner's own copies are compared with in the benchmark.
    """
    import numpy as np

    if direction not in ("htod", "dtoh"):
        raise WorkbookError(f"copy direction {direction!r} is neither 'htod' nor 'dtoh'")
    chosen = cuda_binding(binding)
    host = chosen.pinned_empty(nbytes, np.dtype(np.uint8))
    device = chosen.device_alloc(nbytes)
    stream = chosen.new_stream()
    try:
        if direction == "htod":
            return median_event_seconds(lambda: chosen.copy_htod_async(device, host, stream), stream, repeats)
        return median_event_seconds(lambda: chosen.copy_dtoh_async(host, device, stream), stream, repeats)
    finally:
        device.free()
        stream.close()


class EventTimer:
    """CUDA events recorded on one stream (the runner's), for timing the work queued on it; the stream's binding."""

    def __init__(self, stream: CudaStream, count: int) -> None:
        self.stream = stream
        self.events = [stream.binding.new_event() for _ in range(count)]

    def record(self, index: int) -> None:
        self.events[index].record(self.stream)

    def synchronize(self) -> None:
        self.events[-1].synchronize()

    def elapsed_ms(self, start: int, end: int) -> float:
        return float(self.events[end].time_since(self.events[start]))
