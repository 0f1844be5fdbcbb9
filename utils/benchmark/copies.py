"""Do the TensorRT runtime's own copies run at the hardware's speed? Its h2d/d2h copies against plain pinned ones."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from utils.benchmark.sweep import DEFAULT_SEED, make_inputs


@dataclass(frozen=True)
class CopyBandwidth:
    direction: str  # "htod" or "dtoh"
    nbytes: int
    runner_ms: float
    plain_ms: float

    @property
    def runner_gbps(self) -> float:
        return self.nbytes / (self.runner_ms / 1e3) / 1e9

    @property
    def plain_gbps(self) -> float:
        return self.nbytes / (self.plain_ms / 1e3) / 1e9

    @property
    def ratio(self) -> float:
        """The runner's bandwidth as a fraction of a plain pinned copy's (target: >= 0.9)."""
        return self.plain_ms / self.runner_ms


def copy_bandwidth(model_name: str, batch: int | None = None, precision: str = "fp32", repeats: int = 50,
                   *, seed: int = DEFAULT_SEED) -> list[CopyBandwidth]:
    """The TensorRT runtime's own host-to-device and device-to-host copies against plain pinned copies.

    The runtime is opened and the batch bound (written into the runner's pinned input buffer); then each of its
    copies (`DeviceTensor.upload` / `download` on the runner's buffers and stream) is timed alone between two
    CUDA events of the runner's binding, like `plain_copy_seconds`, and the median of `repeats` is compared with `plain_copy_seconds`
    of the same byte count. `batch` defaults to the largest the engine takes: copies of well under a megabyte
    are dominated by launch latency, not bandwidth. A one-line WorkbookError says why TensorRT cannot run here.
    """
    from utils.artifacts import DEFAULT_ENGINE_BATCH
    from utils.runtimes import open_runtime
    from utils.tensorrt.cuda_memory import median_event_seconds, plain_copy_seconds

    with open_runtime("tensorrt", model_name, precision, max_batch=batch or DEFAULT_ENGINE_BATCH[2]) as runtime:
        runner = runtime.runner  # type: ignore[attr-defined]
        stream = runner.stream
        runtime.bind(make_inputs(model_name, batch or runner.batch_range[1], seed))
        feeds, output_shapes = runtime.feeds, runtime.output_shapes  # type: ignore[attr-defined]

        def timed(queue: Callable[[], None]) -> float:
            return median_event_seconds(queue, stream, repeats) * 1e3

        def upload() -> None:
            for name, buffer in runner.inputs.items():
                buffer.upload(feeds[name], stream)

        def download() -> None:
            for name, buffer in runner.outputs.items():
                buffer.download(output_shapes[name], stream)

        htod_bytes = sum(feed.nbytes for feed in feeds.values())
        dtoh_bytes = sum(int(math.prod(shape)) * runner.outputs[name].dtype.itemsize
                         for name, shape in output_shapes.items())
        runner_ms = {"htod": timed(upload), "dtoh": timed(download)}
        binding = runner.cuda_binding
    return [CopyBandwidth(direction, nbytes, runner_ms[direction],
                          plain_copy_seconds(nbytes, direction, repeats, binding=binding) * 1e3)
            for direction, nbytes in (("htod", htod_bytes), ("dtoh", dtoh_bytes))]


__all__ = ["CopyBandwidth", "copy_bandwidth"]
