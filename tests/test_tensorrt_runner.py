"""The TensorRT runner, with `IdentityEngine` (tests/engine_doubles.py) in place of a TensorRT engine.

TensorRT itself cannot run in this project's CI, so the engine is a test double; the buffers, copies, stream and
bookkeeping under test are the runner's real code. Without a GPU: what TensorRT reports by return value (a context
it could not create, an address it refused) and the tensor modes, on `bind_buffers`; and the whole runner on the
cuda-python binding over `HostCudaRuntime`, whose device memory is host memory. With a GPU, once per CUDA binding
(pycuda and cuda-python, each skipped with its reason where it is not installed): the runner on real device memory.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from tests.engine_doubles import IdentityEngine
from utils.errors import WorkbookError
from utils.gpu import current_gpu
from utils.tensorrt.cuda_binding import BINDING_ENV_VAR

HAS_CUDA_PYTHON = importlib.util.find_spec("cuda") is not None and importlib.util.find_spec("cuda.bindings") is not None
needs_gpu = pytest.mark.skipif(current_gpu() is None, reason="needs an NVIDIA GPU; none is visible here")
needs_cuda_python = pytest.mark.skipif(not HAS_CUDA_PYTHON, reason="needs cuda-python (pip install cuda-python)")
BINDINGS = [
    pytest.param("pycuda", marks=pytest.mark.skipif(importlib.util.find_spec("pycuda") is None,
                                                    reason="needs pycuda (pip install -r requirements-gpu.txt)")),
    pytest.param("cuda-python", marks=needs_cuda_python),
]


def gpu_test(function):
    """A test against a real GPU: marked `gpu`, and skipped with the reason where none is visible."""
    return pytest.mark.gpu(needs_gpu(function))


# --- without a GPU: what TensorRT reports by return value ------------------------------------------------------------


class RecordedBuffer:
    """What `bind_buffers` needs of a buffer."""

    def __init__(self, name: str, shape: tuple[int, ...], dtype: np.dtype, address: int) -> None:
        self.name, self.max_shape, self.dtype, self.device_address = name, shape, dtype, address
        self.freed = False

    def free(self) -> None:
        self.freed = True


@pytest.fixture()
def allocations():
    return []


@pytest.fixture()
def allocate(allocations):
    def allocate(name, shape, dtype):
        allocations.append(RecordedBuffer(name, shape, dtype, address=0x10000 * (len(allocations) + 1)))
        return allocations[-1]

    return allocate


def test_inputs_are_told_from_outputs_by_the_enum_member_not_its_text(allocate):
    from utils.tensorrt.runner import bind_buffers

    engine = IdentityEngine(features=10, max_batch=4)
    assert str(engine.get_tensor_mode("input")) == "1"  # what a str()-reading runner would have seen
    bound = bind_buffers(engine, allocate)
    assert list(bound.inputs) == ["input"] and list(bound.outputs) == ["output"]
    assert bound.profile_shapes == {"input": ((1, 10), (8, 10), (4, 10))}
    assert bound.inputs["input"].max_shape == (4, 10) and bound.outputs["output"].max_shape == (4, 10)
    assert bound.context.addresses == {"input": 0x10000, "output": 0x20000}


def test_a_context_tensorrt_could_not_create_is_a_one_line_error(allocate, allocations):
    from utils.tensorrt.runner import bind_buffers

    with pytest.raises(WorkbookError, match=r"could not create an execution context .*; free GPU memory, or rebuild "
                                            r"the engine with a smaller maximum batch \(--batch\)$") as error:
        bind_buffers(IdentityEngine(context_memory=False), allocate)
    assert "\n" not in str(error.value)
    assert allocations == []  # nothing was allocated for a context that does not exist


def test_a_refused_tensor_address_names_the_tensor_and_frees_the_buffers(allocate, allocations):
    from utils.tensorrt.runner import bind_buffers

    with pytest.raises(WorkbookError, match=r"^TensorRT refused the device address of tensor 'output' \(set_tensor_address returned False"):
        bind_buffers(IdentityEngine(refused_addresses=("output",)), allocate)
    assert [(buffer.name, buffer.freed) for buffer in allocations] == [("input", True), ("output", True)]


def test_the_runner_on_the_cuda_python_binding_over_host_memory(monkeypatch):
    pytest.importorskip("cuda.bindings", reason="HostCudaRuntime uses cuda-python's enums")
    import utils.gpu
    from tests.engine_doubles import HostCudaRuntime
    from utils.tensorrt.cuda_binding import CudaPythonBinding
    from utils.tensorrt.runner import TensorRTRunner

    monkeypatch.setattr(utils.gpu, "require_gpu", lambda what: None)
    runtime = HostCudaRuntime()
    engine = IdentityEngine(features=6, max_batch=4, device_copy=runtime.copy_device_to_device)
    with TensorRTRunner(engine=engine, cuda_binding=CudaPythonBinding(runtime)) as runner:
        assert runner.cuda_binding.name == "cuda-python" and runner.batch_range == (1, 4)
        data = np.arange(18, dtype=np.float32).reshape(3, 6)
        result = runner.infer({"input": data})["output"]
        np.testing.assert_array_equal(result, data)
        view = runner.input_view("input", (2, 6))
        view[:] = 5
        np.testing.assert_array_equal(runner.infer({"input": view})["output"], np.full((2, 6), 5, np.float32))
        assert engine.contexts[0].executions == 2
    assert runtime.device == {} and runtime.streams == set()  # close() freed the device buffers and the stream


def test_the_runner_refuses_an_unknown_binding_before_touching_the_engine(monkeypatch):
    import utils.gpu
    from utils.tensorrt.runner import TensorRTRunner

    monkeypatch.setattr(utils.gpu, "require_gpu", lambda what: None)
    engine = IdentityEngine()
    with pytest.raises(WorkbookError, match="there is no CUDA binding 'cupy'"):
        TensorRTRunner(engine=engine, cuda_binding="cupy")
    assert engine.contexts == []


# --- on a GPU, once per binding --------------------------------------------------------------------------------------


@pytest.fixture(params=BINDINGS)
def binding_name(request):
    return request.param


@pytest.fixture()
def runner(binding_name):
    from utils.tensorrt.runner import TensorRTRunner

    with TensorRTRunner(engine=IdentityEngine(), cuda_binding=binding_name) as runner:
        yield runner


@gpu_test
def test_buffers_are_sized_from_the_profile_maximum(runner, binding_name):
    assert runner.cuda_binding.name == binding_name
    assert runner.batch_range == (1, 32)
    assert runner.inputs["input"].max_shape == (32, 1000)
    assert runner.outputs["output"].capacity_bytes == 32 * 1000 * 4
    context = runner.context
    assert context.addresses == {"input": runner.inputs["input"].device_address,
                                 "output": runner.outputs["output"].device_address}


@gpu_test
@pytest.mark.parametrize("batch", [1, 7, 32])
def test_round_trip_through_device_memory_is_exact(runner, batch):
    data = np.random.default_rng(batch).normal(size=(batch, 1000)).astype(np.float32)
    result = runner.infer({"input": data})["output"]
    assert result.shape == (batch, 1000)
    np.testing.assert_array_equal(result, data)


@gpu_test
def test_batch_written_into_the_pinned_view_is_sent_without_staging(runner, monkeypatch):
    view = runner.input_view("input", (4, 1000))
    view[:] = np.arange(4000, dtype=np.float32).reshape(4, 1000)
    monkeypatch.setattr(np, "copyto", lambda *a, **k: pytest.fail("staging copy made for the pinned view"))
    result = runner.infer({"input": view})["output"]
    monkeypatch.undo()
    np.testing.assert_array_equal(result, np.arange(4000, dtype=np.float32).reshape(4, 1000))


@gpu_test
def test_results_are_copies_not_views_of_the_pinned_buffer(runner):
    first = runner.infer({"input": np.ones((2, 1000), np.float32)})["output"]
    runner.infer({"input": np.zeros((2, 1000), np.float32)})
    assert np.all(first == 1)


@gpu_test
def test_batch_outside_the_profile_is_a_one_line_error(runner):
    with pytest.raises(WorkbookError, match="outside the engine's profile .* rebuild with a wider --batch"):
        runner.infer({"input": np.zeros((33, 1000), np.float32)})
    with pytest.raises(WorkbookError, match="not given"):
        runner.infer({})


@gpu_test
@needs_cuda_python
def test_host_and_device_buffers_are_pinned_and_device_memory(runner):
    """cudaPointerGetAttributes sees pycuda's allocations too: both bindings work in the same primary context."""
    from cuda.bindings import runtime

    from utils.tensorrt.cuda_binding import check_cuda

    for buffer in [*runner.inputs.values(), *runner.outputs.values()]:
        host = check_cuda(runtime.cudaPointerGetAttributes(buffer.host.ctypes.data), "cudaPointerGetAttributes")
        device = check_cuda(runtime.cudaPointerGetAttributes(buffer.device_address), "cudaPointerGetAttributes")
        assert host.type == runtime.cudaMemoryType.cudaMemoryTypeHost
        assert device.type == runtime.cudaMemoryType.cudaMemoryTypeDevice


@gpu_test
def test_close_frees_device_memory(binding_name):
    from utils.tensorrt.cuda_binding import cuda_binding
    from utils.tensorrt.runner import TensorRTRunner

    binding = cuda_binding(binding_name)
    before = binding.mem_get_info()[0]
    big = IdentityEngine(features=1 << 20, max_batch=64)  # 256 MiB per tensor
    with TensorRTRunner(engine=big, cuda_binding=binding_name) as runner:
        during = binding.mem_get_info()[0]
        runner.infer({"input": np.ones((2, 1 << 20), np.float32)})
    after = binding.mem_get_info()[0]
    assert before - during >= 2 * 256 * 2**20
    assert after >= before - 16 * 2**20


@gpu_test
def test_runner_coexists_with_torch_in_one_process(runner):
    import torch

    on_gpu = torch.arange(1000, dtype=torch.float32, device="cuda").reshape(1, 1000)
    result = runner.infer({"input": on_gpu.cpu().numpy()})["output"]
    assert torch.equal(torch.from_numpy(result).cuda(), on_gpu)


@gpu_test
@pytest.mark.skipif(importlib.util.find_spec("pycuda") is None or not HAS_CUDA_PYTHON,
                    reason="needs both pycuda and cuda-python")
def test_both_bindings_run_side_by_side_in_one_process():
    from utils.tensorrt.runner import TensorRTRunner

    data = np.random.default_rng(0).normal(size=(8, 1000)).astype(np.float32)
    with TensorRTRunner(engine=IdentityEngine(), cuda_binding="pycuda") as pycuda_runner, \
            TensorRTRunner(engine=IdentityEngine(), cuda_binding="cuda-python") as cuda_python_runner:
        np.testing.assert_array_equal(pycuda_runner.infer({"input": data})["output"], data)
        np.testing.assert_array_equal(cuda_python_runner.infer({"input": data})["output"], data)
        np.testing.assert_array_equal(pycuda_runner.infer({"input": -data})["output"], -data)


@gpu_test
def test_the_environment_variable_chooses_the_binding(binding_name, monkeypatch):
    from utils.tensorrt.runner import TensorRTRunner

    monkeypatch.setenv(BINDING_ENV_VAR, binding_name)
    with TensorRTRunner(engine=IdentityEngine()) as runner:
        assert runner.cuda_binding.name == binding_name


@gpu_test
@needs_cuda_python
def test_the_execution_replays_as_a_cuda_graph_on_the_runner_stream(runner):
    from utils.tensorrt.cuda_graph import CapturedGraph

    data = np.full((4, 1000), 3, np.float32)
    runner.copy_inputs({"input": data})
    graph = CapturedGraph(runner.stream.handle, runner.execute)
    try:
        runner.copy_inputs({"input": data * 2})
        graph.launch()
        np.testing.assert_array_equal(runner.copy_outputs()["output"], data * 2)
    finally:
        graph.close()


@gpu_test
@pytest.mark.parametrize("direction", ["htod", "dtoh"])
def test_plain_copy_baseline_scales_with_the_bytes_copied(binding_name, direction):
    """Above a few MiB a pinned copy is bandwidth-bound: four times the bytes take clearly longer. (About four times
    as long: scripts/gpu_checks.py reports the bandwidth at each size; a timing bound here failed on a shared H100.)"""
    from utils.tensorrt.cuda_memory import plain_copy_seconds

    small, large = (plain_copy_seconds(n << 20, direction, repeats=10, binding=binding_name) for n in (16, 64))
    assert large > 2 * small
