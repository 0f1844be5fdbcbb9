"""CUDA graphs of TensorRT's `execute_async_v3`, through cuda-python's runtime API (`cuda.bindings.runtime`).

NVIDIA's pattern (trtexec's `sampleInference.cpp`; the TensorRT repository's Python demos): run the enqueue once
outside capture, so TensorRT's deferred initialisation is not captured; then `cudaStreamBeginCapture`, the same
enqueue, `cudaStreamEndCapture`, `cudaGraphInstantiate`; replay with `cudaGraphLaunch` on the same stream. The graph
holds the tensor addresses and shapes of the capture, so a new input shape needs a new graph. An engine whose
layers cannot run under capture makes the enqueue or the end of capture fail: trtexec then runs without a graph,
and here it is a one-line error. pycuda (through 2026.1) has no stream capture, hence cuda-python; the stream can be
pycuda's, passed by its handle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from utils.errors import WorkbookError
from utils.tensorrt.cuda_binding import check_cuda, cuda_runtime, installed_bindings


def cuda_graphs_unavailable() -> str | None:
    if "cuda-python" not in installed_bindings():
        return "CUDA graphs of TensorRT need cuda-python: pip install cuda-python (cuda.bindings)"
    return None


class CapturedGraph:
    """`enqueue` (which queues work on `stream_handle`) captured as a CUDA graph, ready to `launch`."""

    def __init__(self, stream_handle: int, enqueue: Callable[[], Any]) -> None:
        runtime = cuda_runtime()
        self.stream = runtime.cudaStream_t(int(stream_handle))
        enqueue()  # outside capture: TensorRT's deferred work is not recorded in the graph
        check_cuda(runtime.cudaStreamSynchronize(self.stream), "cudaStreamSynchronize")
        check_cuda(runtime.cudaStreamBeginCapture(self.stream, runtime.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal),
                   "cudaStreamBeginCapture")
        try:
            enqueue()
        except WorkbookError as exc:
            runtime.cudaStreamEndCapture(self.stream)
            raise WorkbookError(f"the engine cannot be captured in a CUDA graph ({exc}); time it without graphs") from None
        graph = check_cuda(runtime.cudaStreamEndCapture(self.stream), "cudaStreamEndCapture (the engine has layers "
                                                                       "CUDA graphs cannot capture)")
        try:
            self.exec = check_cuda(runtime.cudaGraphInstantiate(graph, 0), "cudaGraphInstantiate")
        finally:
            runtime.cudaGraphDestroy(graph)

    def launch(self) -> None:
        check_cuda(cuda_runtime().cudaGraphLaunch(self.exec, self.stream), "cudaGraphLaunch")

    def close(self) -> None:
        if getattr(self, "exec", None) is not None:
            cuda_runtime().cudaGraphExecDestroy(self.exec)
            self.exec = None
