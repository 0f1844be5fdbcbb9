"""CUDA graphs of execute_async_v3: captured as trtexec captures them (thread-local mode, one enqueue before capture).

The first test records the calls made to a double of cuda-python's runtime module (no GPU needed); the second captures
the identity test double's copy on a real GPU while another thread allocates device memory."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import numpy as np

from tests.engine_doubles import IdentityEngine
from tests.test_tensorrt_runner import gpu_test, needs_cuda_python
from utils.tensorrt import cuda_graph


class RecordingRuntime:
    """The calls CapturedGraph makes, as cuda.bindings.runtime takes them: (error, value...) tuples, enum members."""

    cudaError_t = SimpleNamespace(cudaSuccess=0)
    cudaStreamCaptureMode = SimpleNamespace(cudaStreamCaptureModeGlobal="global",
                                            cudaStreamCaptureModeThreadLocal="thread-local",
                                            cudaStreamCaptureModeRelaxed="relaxed")

    def __init__(self):
        self.calls = []

    def cudaStream_t(self, handle):
        return handle

    def __getattr__(self, name):
        def call(*args):
            self.calls.append((name, *args))
            return {"cudaStreamEndCapture": (0, "graph"), "cudaGraphInstantiate": (0, "exec")}.get(name, (0,))
        return call


def test_capture_is_thread_local_after_one_enqueue_outside_it(monkeypatch):
    runtime = RecordingRuntime()
    monkeypatch.setattr(cuda_graph, "cuda_runtime", lambda: runtime)
    monkeypatch.setattr("utils.tensorrt.cuda_binding.cuda_runtime", lambda: runtime)
    enqueued = []
    graph = cuda_graph.CapturedGraph(7, lambda: enqueued.append(len(runtime.calls)))
    names = [call[0] for call in runtime.calls]
    assert names == ["cudaStreamSynchronize", "cudaStreamBeginCapture", "cudaStreamEndCapture", "cudaGraphInstantiate",
                     "cudaGraphDestroy"]
    assert runtime.calls[1] == ("cudaStreamBeginCapture", 7, "thread-local")  # as trtexec's sampleDevice.h
    assert enqueued == [0, 2]  # once before capture (TensorRT's deferred setup), once inside it
    graph.launch()
    assert runtime.calls[-1] == ("cudaGraphLaunch", "exec", 7)


@gpu_test
@needs_cuda_python
def test_another_threads_cuda_call_during_capture_leaves_it_valid():
    """In global mode, another thread's cudaMalloc while a capture is open invalidates it (and fails itself); the
    Jupyter kernel and PyTorch run such threads. Thread-local capture is not affected."""
    from cuda.bindings import runtime

    from utils.tensorrt.runner import TensorRTRunner

    with TensorRTRunner(engine=IdentityEngine(), cuda_binding="cuda-python") as runner:
        data = np.full((4, 1000), 5, np.float32)
        runner.copy_inputs({"input": data})
        errors = []

        def other_thread():
            error, pointer = runtime.cudaMalloc(1 << 20)
            errors.append(error)
            if error == runtime.cudaError_t.cudaSuccess:
                runtime.cudaFree(pointer)

        def enqueue_while_another_thread_allocates():
            thread = threading.Thread(target=other_thread)
            thread.start()
            thread.join()
            runner.execute()

        graph = cuda_graph.CapturedGraph(runner.stream.handle, enqueue_while_another_thread_allocates)
        try:
            assert errors == [runtime.cudaError_t.cudaSuccess] * 2
            runner.copy_inputs({"input": data * 3})
            graph.launch()
            np.testing.assert_array_equal(runner.copy_outputs()["output"], data * 3)
        finally:
            graph.close()


def test_the_graph_needs_cuda_python(monkeypatch):
    monkeypatch.setattr(cuda_graph, "installed_bindings", lambda: ["pycuda"])
    assert cuda_graph.cuda_graphs_unavailable() == "CUDA graphs of TensorRT need cuda-python: pip install cuda-python (cuda.bindings)"
