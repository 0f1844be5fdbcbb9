"""ONNX Runtime on the CPU and on the GPU (CUDAExecutionProvider, from the onnxruntime-gpu package).

On the GPU there are three ways to call it, each a runtime, from what a first script does to what a tuned server
does:

* `onnxruntime-cuda`: `session.run(None, {name: numpy_array})`, host arrays in and out. ONNX Runtime copies the
  input to the device and the output back inside the call, with its own pageable buffers.
* `onnxruntime-cuda-iobinding`: I/O binding. The input and output live in device OrtValues bound once; an
  iteration is `update_inplace` (the host-to-device copy), `run_with_iobinding`, and the output copied back. Its
  "device" scope is `run_with_iobinding` alone on device-resident data.
* `onnxruntime-cuda-graphs`: I/O binding with the CUDA provider's `enable_cuda_graph`: the first run captures the
  whole model into a CUDA graph, later runs replay it (one launch instead of one per kernel). A graph holds fixed
  addresses and shapes, so each batch size gets its own session.

Options: `nhwc` (the provider's `prefer_nhwc`: convolutions in NHWC, the layout tensor cores prefer) and `tf32`.
FP32 runs with TF32 off unless asked (`use_tf32` = 0), as the workbook's TensorRT FP32 engines and PyTorch rows do.
`session.run` and `run_with_iobinding` return when the GPU has finished, so a host clock times them exactly.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from utils.errors import WorkbookError
from utils.onnx.sessions import CPU_PROVIDER
from utils.runtimes.base import Runtime

if TYPE_CHECKING:
    import numpy as np
    import onnxruntime

CUDA_PROVIDER = "CUDAExecutionProvider"


def create_session(onnx_path: str | os.PathLike[str], provider: str = CPU_PROVIDER,
                   provider_options: dict[str, str] | None = None) -> onnxruntime.InferenceSession:
    """An InferenceSession on `provider` (exact Q/DQ arithmetic: `utils.onnx.sessions`), or a one-line error if the
    file is bad or the provider does not start."""
    from utils.onnx.export import load_onnx
    from utils.onnx.sessions import inference_session

    load_onnx(onnx_path)
    first: str | tuple[str, dict[str, str]] = (provider, provider_options) if provider_options else provider
    providers = [first] + ([CPU_PROVIDER] if provider != CPU_PROVIDER else [])
    try:
        session = inference_session(Path(onnx_path), providers)
    except Exception as exc:  # ONNX Runtime raises its own types for a provider that will not start
        message = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise WorkbookError(f"onnxruntime could not open {Path(onnx_path).name} on {provider}: {message}") from None
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
                 onnx_file: str | os.PathLike[str] | None = None, options: Sequence[str] = ()) -> None:
        from utils import artifacts

        super().__init__(model_name, precision, max_batch=max_batch, options=options)
        self.onnx_file = Path(onnx_file) if onnx_file else artifacts.onnx_model(model_name, precision)
        self.session = self._open_session()
        self.input_name = self.session.get_inputs()[0].name
        self.feed: dict[str, Any] = {}
        self._result: Any = None

    def provider_options(self) -> dict[str, str] | None:
        return None

    def _open_session(self) -> onnxruntime.InferenceSession:
        return create_session(self.onnx_file, self.provider, self.provider_options())

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
    description = "InferenceSession.run(None, feed) with host arrays, CUDAExecutionProvider"
    precisions = ("fp32", "fp16")
    supported_options = ("nhwc", "tf32")
    provider = CUDA_PROVIDER

    @classmethod
    def unavailable_reason(cls) -> str | None:
        from utils.environment import gpu_unavailable, onnxruntime_provider_unavailable

        return gpu_unavailable() or onnxruntime_provider_unavailable(cls.provider)

    def __init__(self, model_name: str, precision: str = "fp32", *, max_batch: int = 32,
                 onnx_file: str | os.PathLike[str] | None = None, options: Sequence[str] = ()) -> None:
        import torch

        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        self._free_before = self._free_lowest = torch.cuda.mem_get_info()[0]
        super().__init__(model_name, precision, max_batch=max_batch, onnx_file=onnx_file, options=options)

    def provider_options(self) -> dict[str, str] | None:
        return {"use_tf32": "1" if "tf32" in self.options else "0",
                "prefer_nhwc": "1" if "nhwc" in self.options else "0"}

    def device_memory_bytes(self) -> int | None:
        import torch

        # ONNX Runtime allocates outside PyTorch's allocator; the driver's free-memory count sees it.
        self._free_lowest = min(self._free_lowest, torch.cuda.mem_get_info()[0])
        return int(self._free_before - self._free_lowest)


class OnnxRuntimeCudaIoBinding(OnnxRuntimeCuda):
    """Device OrtValues for the input and the output, bound once per batch; see the module docstring."""

    name = "onnxruntime-cuda-iobinding"
    description = "run_with_iobinding on device OrtValues, CUDAExecutionProvider"
    scopes = ("host", "device")

    def bind(self, batch: np.ndarray) -> None:
        import numpy as np
        import onnxruntime

        self.host_in = np.ascontiguousarray(batch, dtype=np.float32)
        self.device_in = onnxruntime.OrtValue.ortvalue_from_numpy(self.host_in, "cuda", 0)
        output = self.session.get_outputs()[0]
        shape = [batch.shape[0], *output.shape[1:]]
        self.device_out = onnxruntime.OrtValue.ortvalue_from_shape_and_type(shape, np.float32, "cuda", 0)
        self.binding = self.session.io_binding()
        self.binding.bind_ortvalue_input(self.input_name, self.device_in)
        self.binding.bind_ortvalue_output(output.name, self.device_out)
        self._compute()  # the first run allocates (and, with CUDA graphs, captures)
        self._result = self.device_out.numpy()

    def _upload(self) -> None:
        self.device_in.update_inplace(self.host_in)

    def _compute(self) -> None:
        self.session.run_with_iobinding(self.binding)

    def _download(self) -> None:
        self._result = self.device_out.numpy()

    def run_bound(self) -> None:
        self._upload()
        self._compute()
        self._download()

    def device_call(self) -> Callable[[], Any]:
        return self._compute

    def close(self) -> None:
        self.binding = self.device_in = self.device_out = None
        super().close()


class OnnxRuntimeCudaGraphs(OnnxRuntimeCudaIoBinding):
    """I/O binding with `enable_cuda_graph`; a session per batch size, since a captured graph fixes its shapes."""

    name = "onnxruntime-cuda-graphs"
    description = "run_with_iobinding replaying a CUDA graph (enable_cuda_graph), one session per batch size"

    def provider_options(self) -> dict[str, str] | None:
        return {**(super().provider_options() or {}), "enable_cuda_graph": "1"}

    def bind(self, batch: np.ndarray) -> None:
        started = time.perf_counter()
        if getattr(self, "_bound_batch", None) is not None and self._bound_batch != batch.shape[0]:
            self.session = self._open_session()  # a new graph for a new shape
        self._bound_batch = batch.shape[0]
        super().bind(batch)
        self.setup_s = time.perf_counter() - started
        if not self.session.get_provider_options().get(CUDA_PROVIDER, {}).get("enable_cuda_graph") == "1":
            raise WorkbookError("onnxruntime did not turn on enable_cuda_graph for the CUDA provider")
