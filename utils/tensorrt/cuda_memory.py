"""Pinned host memory, device memory and a stream, with pycuda: the buffers the TensorRT runner hands to TensorRT.

pycuda is imported lazily, and it attaches to the device's *primary* context (`pycuda.autoprimaryctx`), the
one PyTorch uses, so both can live in one process without "invalid device context" errors.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from utils.errors import WorkbookError

if TYPE_CHECKING:
    import numpy as np


@functools.lru_cache(maxsize=1)
def pycuda_driver() -> Any:
    """`pycuda.driver`, with the primary context of device 0 current, or a one-line error."""
    try:
        import pycuda.driver as driver
    except ImportError:
        raise WorkbookError("pycuda is not installed; pip install -r requirements-gpu.txt on a machine with an NVIDIA GPU") from None
    try:
        import pycuda.autoprimaryctx  # noqa: F401  (retains and pushes the primary context)
    except Exception as exc:  # pycuda raises its own LogicError/RuntimeError when there is no device or driver
        raise WorkbookError(f"no CUDA device is usable ({str(exc).splitlines()[0]}); check nvidia-smi and the driver") from None
    return driver


class DeviceTensor:
    """One tensor's pinned host buffer and device buffer, both sized for its largest shape."""

    def __init__(self, name: str, max_shape: tuple[int, ...], dtype: np.dtype) -> None:
        import numpy as np

        driver = pycuda_driver()
        self._driver = driver
        self.name = name
        self.dtype = np.dtype(dtype)
        self.max_shape = tuple(int(d) for d in max_shape)
        count = int(np.prod(self.max_shape))
        self.host = driver.pagelocked_empty(count, self.dtype)
        self.device = driver.mem_alloc(max(self.host.nbytes, 1))
        self.shape = self.max_shape
        self._filled_view: np.ndarray | None = None

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
        count = math.prod(shape)
        if count > self.host.size:
            raise WorkbookError(f"tensor {self.name!r} of shape {shape} does not fit its buffer of shape {self.max_shape}; stay within the engine's profile")
        return self.host[:count].reshape(shape)

    def upload(self, array: np.ndarray, stream: Any) -> None:
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
        self._driver.memcpy_htod_async(self.device, view, stream)

    def download(self, shape: tuple[int, ...], stream: Any) -> np.ndarray:
        """Queue a device-to-host copy of the first `shape` elements; the view is valid after `stream.synchronize()`."""
        view = self._view(tuple(shape))
        self.shape = view.shape
        self._driver.memcpy_dtoh_async(view, self.device, stream)
        return view

    def free(self) -> None:
        if self.device is not None:
            self.device.free()
            self.device = None


def new_stream() -> Any:
    return pycuda_driver().Stream()


def median_event_seconds(queue: Callable[[], None], stream: Any, repeats: int = 20, warmup: int = 3) -> float:
    """The median time of the work `queue()` puts on `stream`, between two CUDA events, after `warmup` rounds."""
    import statistics

    driver = pycuda_driver()
    start, end = driver.Event(), driver.Event()
    times = []
    for _ in range(warmup + repeats):
        start.record(stream)
        queue()
        end.record(stream)
        end.synchronize()
        times.append(end.time_since(start) / 1e3)
    return statistics.median(times[warmup:])


def plain_copy_seconds(nbytes: int, direction: str, repeats: int = 20) -> float:
    """The median time of a plain pinned `memcpy_htod_async` / `memcpy_dtoh_async` of `nbytes`, by CUDA events.

    The baseline the runner's own copies are compared with in the benchmark.
    """
    import numpy as np

    driver = pycuda_driver()
    host = driver.pagelocked_empty(nbytes, np.uint8)
    device = driver.mem_alloc(nbytes)
    stream = driver.Stream()
    try:
        if direction == "htod":
            return median_event_seconds(lambda: driver.memcpy_htod_async(device, host, stream), stream, repeats)
        return median_event_seconds(lambda: driver.memcpy_dtoh_async(host, device, stream), stream, repeats)
    finally:
        device.free()


class PycudaEventTimer:
    """pycuda events recorded on one stream (the runner's), for timing the work queued on it."""

    def __init__(self, stream: Any, count: int) -> None:
        driver = pycuda_driver()
        self.stream = stream
        self.events = [driver.Event() for _ in range(count)]

    def record(self, index: int) -> None:
        self.events[index].record(self.stream)

    def synchronize(self) -> None:
        self.events[-1].synchronize()

    def elapsed_ms(self, start: int, end: int) -> float:
        return float(self.events[end].time_since(self.events[start]))
