"""Runtimes whose cost the tests control, for testing the benchmark harness without a model or a GPU.

`FakeGpuRuntime` has the three stages and CUDA-event interface of a GPU runtime, but its "GPU" is a simulated
clock: each stage call advances it by a fixed number of milliseconds and an event records the clock. Every call
is logged, so a test can check exactly which calls a step makes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from utils.runtimes.base import Runtime


class FakeEventTimer:
    def __init__(self, runtime: FakeGpuRuntime, count: int) -> None:
        self.runtime = runtime
        self.times = [float("nan")] * count

    def record(self, index: int) -> None:
        self.times[index] = self.runtime.clock_ms
        self.runtime.log.append(f"record{index}")

    def synchronize(self) -> None:
        self.runtime.log.append("sync")

    def elapsed_ms(self, start: int, end: int) -> float:
        return self.times[end] - self.times[start]


class FakeGpuRuntime(Runtime):
    name = "pytorch-cuda"  # a real runtime name, so rows made from it have a device and a timer
    device = "cuda"
    timer = "fake events"
    description = "a simulated GPU clock"

    def __init__(self, stage_ms: tuple[float, float, float] = (1.0, 4.0, 0.5)) -> None:
        super().__init__("efficientnet_lite0")
        self.stage_ms = stage_ms
        self.clock_ms = 0.0
        self.log: list[str] = []
        self.bound: Any = None

    def bind(self, batch: np.ndarray) -> None:
        self.bound = batch
        self.log.append(f"bind{batch.shape[0]}")

    def _stage(self, index: int, label: str) -> None:
        self.clock_ms += self.stage_ms[index]
        self.log.append(label)

    def stage_calls(self) -> tuple:
        return (lambda: self._stage(0, "h2d"), lambda: self._stage(1, "compute"), lambda: self._stage(2, "d2h"))

    def run_bound(self) -> None:
        for call in self.stage_calls():
            call()
        self.log.append("sync")

    def output(self) -> np.ndarray:
        return np.zeros((self.bound.shape[0], 1000), np.float32)

    def event_timer(self, count: int) -> FakeEventTimer:
        return FakeEventTimer(self, count)


class FakeCpuRuntime(Runtime):
    """`run_bound` logs, and takes `cost_s` of CPU time (busy-waiting on the thread clock); the host clock times it."""

    name = "onnxruntime-cpu"
    device = "cpu"
    timer = "perf_counter_ns"
    description = "does nothing"

    def __init__(self, cost_s: float = 0.0) -> None:
        super().__init__("efficientnet_lite0")
        self.log: list[str] = []
        self.cost_s = cost_s

    def bind(self, batch: np.ndarray) -> None:
        self.log.append(f"bind{batch.shape[0]}")

    def run_bound(self) -> None:
        import time

        self.log.append("run")
        end = time.thread_time() + self.cost_s
        while time.thread_time() < end:
            pass


def use_identity_engine(monkeypatch) -> None:
    """Make the `tensorrt` runtime run the identity test double (tests/engine_doubles.py) sized for image batches
    of 1 to 32, on real pycuda buffers, wherever a GPU and pycuda are there, TensorRT or not."""
    from pathlib import Path

    import utils.artifacts
    import utils.tensorrt.runner
    from tests.engine_doubles import IdentityEngine
    from utils.runtimes.tensorrt import TensorRTRuntime

    class ImageIdentityEngine(IdentityEngine):
        def __init__(self) -> None:
            super().__init__()
            self.profile = tuple((n, 3, 224, 224) for n in (1, 8, 32))

    real_runner = utils.tensorrt.runner.TensorRTRunner
    monkeypatch.setattr(utils.tensorrt.runner, "TensorRTRunner", lambda path: real_runner(engine=ImageIdentityEngine()))
    monkeypatch.setattr(utils.artifacts, "engine", lambda *args, **kwargs: Path("identity.engine"))
    monkeypatch.setattr(TensorRTRuntime, "unavailable_reason", classmethod(lambda cls: None))
