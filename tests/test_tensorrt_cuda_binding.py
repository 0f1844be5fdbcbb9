"""utils.tensorrt.cuda_binding and cuda_memory without a GPU: which binding is chosen, and the cuda-python binding's
buffers, copies, streams and events on `HostCudaRuntime` (tests/engine_doubles.py), whose device memory is host memory.

The same code against a real GPU, with both bindings: tests/test_tensorrt_runner.py.
"""

from __future__ import annotations

import gc
import importlib.util
import weakref

import numpy as np
import pytest

from utils.errors import WorkbookError
from utils.gpu import current_gpu
from utils.tensorrt import cuda_binding
from utils.tensorrt.cuda_binding import BINDING_ENV_VAR, binding_name

needs_cuda_bindings = pytest.mark.skipif(
    importlib.util.find_spec("cuda") is None or importlib.util.find_spec("cuda.bindings") is None,
    reason="needs cuda-python's cuda.bindings (its enums; installed with torch on Linux)")


@pytest.fixture(autouse=True)
def _no_binding_forced(monkeypatch):
    monkeypatch.delenv(BINDING_ENV_VAR, raising=False)


def installed(monkeypatch, *modules: str) -> None:
    """Make `importlib.util.find_spec` find only `modules` of the two bindings' modules."""
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        if name in ("pycuda", "cuda.bindings"):
            return object() if name in modules else None
        return real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


# --- choosing a binding ----------------------------------------------------------------------------------------------


def test_auto_prefers_cuda_python_the_default_install_then_pycuda(monkeypatch):
    """cuda-python is what requirements-gpu.txt installs (binary wheels); pycuda, which needs nvcc, is the option."""
    installed(monkeypatch, "pycuda", "cuda.bindings")
    assert binding_name() == binding_name("auto") == "cuda-python"
    installed(monkeypatch, "cuda.bindings")
    assert binding_name() == "cuda-python"
    installed(monkeypatch, "pycuda")
    assert binding_name() == "pycuda"


def test_an_explicit_choice_wins_over_auto_and_the_environment(monkeypatch):
    installed(monkeypatch, "pycuda", "cuda.bindings")
    assert binding_name("cuda-python") == "cuda-python"
    monkeypatch.setenv(BINDING_ENV_VAR, "cuda-python")
    assert binding_name() == "cuda-python"
    assert binding_name("pycuda") == "pycuda"


def test_neither_binding_installed_is_a_one_line_error_naming_both_installs(monkeypatch):
    installed(monkeypatch)
    with pytest.raises(WorkbookError, match=r"pip install -r requirements-gpu.txt \(cuda-python, binary wheels\), or pycuda where "
                                            r"the CUDA toolkit's nvcc is installed") as error:
        binding_name()
    assert "\n" not in str(error.value)
    assert cuda_binding.cuda_binding_unavailable() == str(error.value)


def test_a_missing_explicit_binding_says_what_to_install_or_choose(monkeypatch):
    installed(monkeypatch, "cuda.bindings")
    with pytest.raises(WorkbookError, match=r"^the CUDA binding pycuda is not installed: pip install pycuda .*nvcc.*, or choose cuda-python$"):
        binding_name("pycuda")
    installed(monkeypatch, "pycuda")
    monkeypatch.setenv(BINDING_ENV_VAR, "cuda-python")
    with pytest.raises(WorkbookError, match=rf"cuda-python \({BINDING_ENV_VAR}=cuda-python\) is not installed: pip install cuda-python"):
        binding_name()


def test_an_unknown_binding_name_lists_the_choices(monkeypatch):
    installed(monkeypatch, "pycuda", "cuda.bindings")
    with pytest.raises(WorkbookError, match=r"^there is no CUDA binding 'cupy'; use one of: cuda-python, pycuda, auto$"):
        binding_name("cupy")
    monkeypatch.setenv(BINDING_ENV_VAR, "cuda_python")
    with pytest.raises(WorkbookError, match=rf"^{BINDING_ENV_VAR}='cuda_python' is not a CUDA binding; use one of"):
        binding_name()
    assert cuda_binding.cuda_binding_unavailable() is not None


def test_cuda_python_is_missing_when_its_parent_package_is(monkeypatch):
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        if name == "cuda.bindings":
            raise ModuleNotFoundError("No module named 'cuda'")
        return None if name == "pycuda" else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    assert cuda_binding.installed_bindings() == []


def test_a_binding_object_is_used_as_given():
    given = object()
    assert cuda_binding.cuda_binding(given) is given  # type: ignore[arg-type]


# --- cuda-python's (error, value) results ----------------------------------------------------------------------------


@needs_cuda_bindings
def test_check_cuda_returns_the_values_or_names_the_error():
    from cuda.bindings import runtime

    from utils.tensorrt import cuda_graph

    success, failure = runtime.cudaError_t.cudaSuccess, runtime.cudaError_t.cudaErrorMemoryAllocation
    assert cuda_binding.check_cuda((success, 42), "cudaMalloc") == 42
    assert cuda_binding.check_cuda((success, 1, 2), "cudaMemGetInfo") == (1, 2)
    assert cuda_binding.check_cuda((success,), "cudaFree") == ()
    with pytest.raises(WorkbookError, match=r"^cudaMalloc of 1 byte failed with cudaErrorMemoryAllocation$"):
        cuda_binding.check_cuda((failure, None), "cudaMalloc of 1 byte")
    assert cuda_graph.check_cuda is cuda_binding.check_cuda  # one helper for both modules


@needs_cuda_bindings
@pytest.mark.skipif(current_gpu() is not None, reason="checks the error of a machine without a GPU")
def test_cuda_python_without_a_gpu_is_a_one_line_error():
    with pytest.raises(WorkbookError, match="cuda-python|CUDA device") as error:
        cuda_binding.CudaPythonBinding()
    assert "\n" not in str(error.value) and "nvidia-smi" in str(error.value)


# --- the cuda-python binding on host memory --------------------------------------------------------------------------


@pytest.fixture()
def host_runtime():
    pytest.importorskip("cuda.bindings", reason="HostCudaRuntime uses cuda-python's enums")
    from tests.engine_doubles import HostCudaRuntime

    return HostCudaRuntime()


@pytest.fixture()
def binding(host_runtime):
    return cuda_binding.CudaPythonBinding(host_runtime)


def test_a_failed_set_device_is_a_one_line_error(host_runtime):
    host_runtime.failing["cudaSetDevice"] = host_runtime.cudaError_t.cudaErrorNoDevice
    with pytest.raises(WorkbookError, match=r"^no CUDA device is usable through cuda-python \(cudaErrorNoDevice\); check nvidia-smi"):
        cuda_binding.CudaPythonBinding(host_runtime)
    host_runtime.failing["cudaSetDevice"] = host_runtime.cudaError_t.cudaErrorInsufficientDriver
    with pytest.raises(WorkbookError, match=r"pip install \"cuda-python>=12.8,<13\""):
        cuda_binding.CudaPythonBinding(host_runtime)


def test_pinned_arrays_live_in_cuda_malloc_host_memory_until_the_last_view_is_collected(binding, host_runtime):
    array = binding.pinned_empty(6, np.dtype(np.float16))
    assert array.dtype == np.float16 and array.shape == (6,) and array.flags.writeable and array.flags.c_contiguous
    (address,) = host_runtime.pinned
    assert array.ctypes.data == address
    view = array[:4].reshape(2, 2)
    del array
    gc.collect()
    assert address in host_runtime.pinned  # a view keeps the memory
    del view
    gc.collect()
    assert host_runtime.pinned == {} and host_runtime.calls.count("cudaFreeHost") == 1


def test_an_empty_tensor_still_gets_a_pinned_array(binding):
    assert binding.pinned_empty(0, np.dtype(np.float32)).shape == (0,)


def test_a_failed_allocation_names_the_call_and_the_error(binding, host_runtime):
    host_runtime.failing["cudaMalloc"] = host_runtime.cudaError_t.cudaErrorMemoryAllocation
    with pytest.raises(WorkbookError, match=r"^cudaMalloc of 256.0 MiB \(GPU memory\) failed with cudaErrorMemoryAllocation$"):
        binding.device_alloc(256 << 20)


def test_device_memory_is_freed_once(binding, host_runtime):
    memory = binding.device_alloc(64)
    assert int(memory) in host_runtime.device
    memory.free()
    memory.free()
    assert host_runtime.device == {} and host_runtime.calls.count("cudaFree") == 1
    collected = binding.device_alloc(64)
    del collected
    gc.collect()
    assert host_runtime.device == {}  # freed when collected, as pycuda's DeviceAllocation


def test_device_tensor_round_trip_through_device_memory(binding, host_runtime):
    from utils.tensorrt.cuda_memory import DeviceTensor

    stream = binding.new_stream()
    tensor = DeviceTensor("x", (4, 3), np.float32, binding)
    assert tensor.capacity_bytes == 48 and tensor.device_address in host_runtime.device
    data = np.arange(6, dtype=np.float32).reshape(2, 3)
    tensor.upload(data, stream)
    tensor.host[:] = -1  # the device holds its own copy
    result = tensor.download((2, 3), stream)
    stream.synchronize()
    np.testing.assert_array_equal(result, data)
    with pytest.raises(WorkbookError, match="does not fit its buffer of shape"):
        tensor.upload(np.zeros((5, 3), np.float32), stream)
    tensor.free()
    stream.close()
    assert host_runtime.device == {} and host_runtime.streams == set()


def test_an_upload_of_the_host_view_makes_no_staging_copy(binding, monkeypatch):
    from utils.tensorrt.cuda_memory import DeviceTensor

    stream = binding.new_stream()
    tensor = DeviceTensor("x", (4, 3), np.float32, binding)
    view = tensor.host_view((2, 3))
    view[:] = 7
    monkeypatch.setattr(np, "copyto", lambda *a, **k: pytest.fail("staging copy made for the pinned view"))
    tensor.upload(view, stream)
    monkeypatch.undo()
    tensor.host[:] = 0
    np.testing.assert_array_equal(tensor.download((2, 3), stream), np.full((2, 3), 7, np.float32))


def test_a_failed_copy_is_a_one_line_error(binding, host_runtime):
    from utils.tensorrt.cuda_memory import DeviceTensor

    stream = binding.new_stream()
    tensor = DeviceTensor("x", (4,), np.float32, binding)
    stream.close()  # a copy on a destroyed stream
    with pytest.raises(WorkbookError, match=r"^cudaMemcpyAsync \(host to device\) failed with cudaErrorInvalidValue$"):
        tensor.upload(np.zeros(4, np.float32), stream)


def test_event_timing_and_the_plain_copy_baseline(binding, host_runtime):
    from utils.tensorrt.cuda_memory import EventTimer, median_event_seconds, plain_copy_seconds

    stream = binding.new_stream()
    assert median_event_seconds(lambda: None, stream, repeats=3, warmup=1) >= 0
    timer = EventTimer(stream, 3)
    for index in range(3):
        timer.record(index)
    timer.synchronize()
    assert 0 <= timer.elapsed_ms(0, 1) <= timer.elapsed_ms(0, 2)
    assert plain_copy_seconds(1 << 10, "htod", repeats=3, binding=binding) >= 0
    assert plain_copy_seconds(1 << 10, "dtoh", repeats=3, binding=binding) >= 0
    assert host_runtime.device == {} and host_runtime.streams == {stream.handle}  # the baseline's own are gone
    with pytest.raises(WorkbookError, match="neither 'htod' nor 'dtoh'"):
        plain_copy_seconds(16, "dtod", binding=binding)
    stream.close()
    with pytest.raises(WorkbookError, match=r"^cudaEventRecord failed with cudaErrorInvalidResourceHandle$"):
        timer.record(0)  # on a destroyed stream


def test_events_and_streams_are_destroyed_when_collected(binding, host_runtime):
    stream, event = binding.new_stream(), binding.new_event()
    stream_ref, event_ref = weakref.ref(stream), weakref.ref(event)
    del stream, event
    gc.collect()
    assert stream_ref() is None and event_ref() is None
    assert host_runtime.streams == set() and host_runtime.events == {}
