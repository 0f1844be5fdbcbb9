"""ONNX Runtime on the CPU and on the GPU (CUDAExecutionProvider, from the onnxruntime-gpu package)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from utils.errors import WorkbookError
from utils.onnx.sessions import CPU_PROVIDER
from utils.runtimes.base import Runtime

if TYPE_CHECKING:
    import numpy as np
    import onnxruntime

CUDA_PROVIDER = "CUDAExecutionProvider"


def create_session(onnx_path: str | os.PathLike[str], provider: str = CPU_PROVIDER) -> onnxruntime.InferenceSession:
    """An InferenceSession on `provider` (exact Q/DQ arithmetic: `utils.onnx.sessions`), or a one-line error if the
    file is bad or the provider does not start."""
    from utils.onnx.export import load_onnx
    from utils.onnx.sessions import inference_session

    load_onnx(onnx_path)
    session = inference_session(Path(onnx_path), list(dict.fromkeys([provider, CPU_PROVIDER])))
    if session.get_providers()[0] != provider:
        raise WorkbookError(f"onnxruntime could not start {provider} (it fell back to {session.get_providers()[0]}); "
                            "check the CUDA and cuDNN libraries onnxruntime-gpu needs")
    return session


class OnnxRuntimeCpu(Runtime):
    """The timed call is exactly `session.run(None, feed)` with the feed dict built once by `bind`."""

    name = "onnxruntime-cpu"
    device = "cpu"
    timer = "perf_counter_ns"
    description = "InferenceSession.run(None, feed), CPUExecutionProvider"
    precisions = ("fp32", "fp16", "int8")  # int8: the Q/DQ model with FP32 elsewhere (utils.artifacts)
    provider = CPU_PROVIDER

    @classmethod
    def unavailable_reason(cls) -> str | None:
        from utils.environment import onnxruntime_provider_unavailable

        return onnxruntime_provider_unavailable(cls.provider)

    def __init__(self, model_name: str, precision: str = "fp32", *, max_batch: int = 32,
                 onnx_file: str | os.PathLike[str] | None = None) -> None:
        from utils import artifacts

        super().__init__(model_name, precision, max_batch=max_batch)
        self.onnx_file = Path(onnx_file) if onnx_file else artifacts.onnx_model(model_name, precision)
        self.session = create_session(self.onnx_file, self.provider)
        self.input_name = self.session.get_inputs()[0].name
        self.feed: dict[str, Any] = {}
        self._result: Any = None

    def bind(self, batch: np.ndarray) -> None:
        self.feed = {self.input_name: batch}

    def run_bound(self) -> None:
        self._result = self.session.run(None, self.feed)[0]

    def output(self) -> np.ndarray:
        return self._result.copy()

    def close(self) -> None:
        self.session = None


class OnnxRuntimeCuda(OnnxRuntimeCpu):
    """`session.run` returns once the outputs are on the host, so a host clock times it exactly."""

    name = "onnxruntime-cuda"
    device = "cuda"
    description = "InferenceSession.run(None, feed), CUDAExecutionProvider"
    precisions = ("fp32", "fp16")
    provider = CUDA_PROVIDER

    @classmethod
    def unavailable_reason(cls) -> str | None:
        from utils.environment import gpu_unavailable, onnxruntime_provider_unavailable

        return gpu_unavailable() or onnxruntime_provider_unavailable(cls.provider)

    def __init__(self, model_name: str, precision: str = "fp32", *, max_batch: int = 32,
                 onnx_file: str | os.PathLike[str] | None = None) -> None:
        import torch

        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        self._free_before = self._free_lowest = torch.cuda.mem_get_info()[0]
        super().__init__(model_name, precision, max_batch=max_batch, onnx_file=onnx_file)

    def device_memory_bytes(self) -> int | None:
        import torch

        # ONNX Runtime allocates outside PyTorch's allocator; the driver's free-memory count sees it.
        self._free_lowest = min(self._free_lowest, torch.cuda.mem_get_info()[0])
        return int(self._free_before - self._free_lowest)
