"""The pycuda runner against real device memory. Needs an NVIDIA GPU and pycuda; skipped with the reason elsewhere.

TensorRT itself cannot run in this project's CI, so the engine here is `IdentityEngine`, a test double (see
tests/engine_doubles.py); the buffers, copies, stream and bookkeeping under test are the runner's real code.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from utils.errors import WorkbookError
from utils.gpu import current_gpu

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(current_gpu() is None, reason="needs an NVIDIA GPU; none is visible here"),
    pytest.mark.skipif(importlib.util.find_spec("pycuda") is None, reason="needs pycuda (pip install -r requirements-gpu.txt)"),
]


@pytest.fixture()
def runner():
    from tests.engine_doubles import IdentityEngine
    from utils.tensorrt.runner import TensorRTRunner

    with TensorRTRunner(engine=IdentityEngine()) as runner:
        yield runner


def test_buffers_are_sized_from_the_profile_maximum(runner):
    assert runner.batch_range == (1, 32)
    assert runner.inputs["input"].max_shape == (32, 1000)
    assert runner.outputs["output"].capacity_bytes == 32 * 1000 * 4
    context = runner.context
    assert context.addresses == {"input": runner.inputs["input"].device_address,
                                 "output": runner.outputs["output"].device_address}


@pytest.mark.parametrize("batch", [1, 7, 32])
def test_round_trip_through_device_memory_is_exact(runner, batch):
    data = np.random.default_rng(batch).normal(size=(batch, 1000)).astype(np.float32)
    result = runner.infer({"input": data})["output"]
    assert result.shape == (batch, 1000)
    np.testing.assert_array_equal(result, data)


def test_batch_written_into_the_pinned_view_is_sent_without_staging(runner, monkeypatch):
    view = runner.input_view("input", (4, 1000))
    view[:] = np.arange(4000, dtype=np.float32).reshape(4, 1000)
    monkeypatch.setattr(np, "copyto", lambda *a, **k: pytest.fail("staging copy made for the pinned view"))
    result = runner.infer({"input": view})["output"]
    monkeypatch.undo()
    np.testing.assert_array_equal(result, np.arange(4000, dtype=np.float32).reshape(4, 1000))


def test_results_are_copies_not_views_of_the_pinned_buffer(runner):
    first = runner.infer({"input": np.ones((2, 1000), np.float32)})["output"]
    runner.infer({"input": np.zeros((2, 1000), np.float32)})
    assert np.all(first == 1)


def test_batch_outside_the_profile_is_a_one_line_error(runner):
    with pytest.raises(WorkbookError, match="outside the engine's profile .* rebuild with a wider --batch"):
        runner.infer({"input": np.zeros((33, 1000), np.float32)})
    with pytest.raises(WorkbookError, match="not given"):
        runner.infer({})


def test_close_frees_device_memory():
    from tests.engine_doubles import IdentityEngine
    from utils.tensorrt.cuda_memory import pycuda_driver
    from utils.tensorrt.runner import TensorRTRunner

    driver = pycuda_driver()
    before = driver.mem_get_info()[0]
    big = IdentityEngine(features=1 << 20, max_batch=64)  # 256 MiB per tensor
    with TensorRTRunner(engine=big) as runner:
        during = driver.mem_get_info()[0]
        runner.infer({"input": np.ones((2, 1 << 20), np.float32)})
    after = driver.mem_get_info()[0]
    assert before - during >= 2 * 256 * 2**20
    assert after >= before - 16 * 2**20


def test_runner_coexists_with_torch_in_one_process(runner):
    import torch

    on_gpu = torch.arange(1000, dtype=torch.float32, device="cuda").reshape(1, 1000)
    result = runner.infer({"input": on_gpu.cpu().numpy()})["output"]
    assert torch.equal(torch.from_numpy(result).cuda(), on_gpu)


@pytest.mark.parametrize("direction", ["htod", "dtoh"])
def test_plain_copy_baseline_scales_with_the_bytes_copied(direction):
    """Above a few MiB a pinned copy is bandwidth-bound: four times the bytes take clearly longer. (About four times
    as long: scripts/gpu_checks.py reports the bandwidth at each size; a timing bound here failed on a shared H100.)"""
    from utils.tensorrt.cuda_memory import plain_copy_seconds

    small, large = (plain_copy_seconds(n << 20, direction, repeats=10) for n in (16, 64))
    assert large > 2 * small
