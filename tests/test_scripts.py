"""The scripts: the original demo's comparison script (its syntax, its refusals where TensorRT cannot run) and
scripts/gpu_checks.py (what it measures and writes, with the GPU faked)."""

import csv
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from tests.script_modules import load_script
from utils.environment import engine_execution_unavailable
from utils.gpu import current_gpu

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "compare_onnx_trt_diff.sh"


def run_script(*args):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "PYTHON": sys.executable}
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=300, env=env)


def test_script_is_valid_bash():
    assert subprocess.run(["bash", "-n", str(SCRIPT)]).returncode == 0


def test_missing_onnx_is_a_one_line_error(tmp_path):
    completed = run_script(str(tmp_path / "none.onnx"))
    assert completed.returncode == 2
    assert "does not exist; export it with: python -m utils export" in completed.stderr


@pytest.mark.skipif(engine_execution_unavailable() is None, reason="TensorRT can run here; this tests the refusal")
@pytest.mark.parametrize("options", [[], ["--fp16"], ["--int8", "--model", "efficientnet_lite0"]])
def test_without_a_runnable_tensorrt_it_says_why(tmp_path, lite0_onnx, options):
    completed = run_script(str(lite0_onnx), str(tmp_path / "out"), *options)
    assert completed.returncode == 2
    assert f"cannot run TensorRT here: {engine_execution_unavailable()}" in completed.stderr
    assert not (tmp_path / "out").exists()
    assert completed.stderr.count("\n") == 1


def test_every_tensor_is_marked_the_way_polygraphy_0_55_still_reads():
    """Polygraphy 0.53.6 deprecates `--onnx-outputs mark all` (it warns) and 0.55 removes it; `*` marks every tensor."""
    text = SCRIPT.read_text(encoding="utf-8")
    assert "mark all" not in text.replace("`mark all`", "") and "--onnx-outputs '*'" in text
    assert 'find_command("polygraphy")' in text  # not only a `polygraphy` on PATH


def test_unknown_options_show_the_usage(tmp_path, lite0_onnx):
    completed = run_script(str(lite0_onnx), "--int4")
    assert completed.returncode == 2 and "usage:" in completed.stderr and "--int8 [--model NAME]" in completed.stderr


# --- scripts/gpu_checks.py: its wiring, checked without a GPU --------------------------------------------------------

GPU_CHECKS = SCRIPT.parent / "gpu_checks.py"


@pytest.fixture()
def gpu_checks():
    return load_script("gpu_checks")


class FakeDeviceTensor:
    """`DeviceTensor`'s interface; records what the script queues on which stream."""

    queued: list = []

    def __init__(self, name, max_shape, dtype, binding=None):
        self.name, self.max_shape, self.dtype, self.binding = name, tuple(max_shape), np.dtype(dtype), binding
        self.host = np.zeros(self.max_shape, self.dtype)
        self.freed = False

    def host_view(self, shape):
        return self.host.reshape(shape)

    def upload(self, array, stream):
        FakeDeviceTensor.queued.append((self.binding, self.name, "upload", "host_view" if array.base is self.host or array is self.host else "numpy", stream.binding))

    def download(self, shape, stream):
        FakeDeviceTensor.queued.append((self.binding, self.name, "download", tuple(shape), stream.binding))
        return self.host.reshape(shape)

    def free(self):
        self.freed = True


class FakeStream:
    def __init__(self, binding):
        self.binding, self.closed = binding, False

    def close(self):
        self.closed = True


def test_copy_bandwidth_times_the_runner_buffers_against_plain_copies_of_each_binding(gpu_checks, monkeypatch):
    from utils.tensorrt import cuda_memory

    FakeDeviceTensor.queued = []
    streams = []

    def new_stream(binding):
        streams.append(FakeStream(binding))
        return streams[-1]

    monkeypatch.setattr(cuda_memory, "DeviceTensor", FakeDeviceTensor)
    monkeypatch.setattr(cuda_memory, "new_stream", new_stream)
    runner_seconds = iter(([0.004, 0.008, 0.002] + [0.005, 0.009, 0.003]) * 4)  # two rounds: the first is faster

    def median_event_seconds(queue, stream, repeats):
        assert repeats == 5
        queue()
        return next(runner_seconds)

    monkeypatch.setattr(cuda_memory, "median_event_seconds", median_event_seconds)
    plain = {"pycuda": iter([0.003, 0.003, 0.002, 0.002] * 2), "cuda-python": iter([0.0025] * 8)}  # the second is faster
    monkeypatch.setattr(cuda_memory, "plain_copy_seconds", lambda nbytes, direction, repeats, binding: next(plain[binding]))
    rows = gpu_checks.runner_copy_bandwidth([1, 2], repeats=5, bindings=["pycuda", "cuda-python"], rounds=2)

    assert [tuple(row) for row in rows] == [gpu_checks.COPY_COLUMNS] * 16
    nbytes = 3 * 224 * 224 * 4
    per_binding = [("htod", 1, nbytes), ("htod", 1, nbytes), ("dtoh", 1, nbytes),
                   ("htod", 2, 2 * nbytes), ("htod", 2, 2 * nbytes), ("dtoh", 2, 2 * nbytes)]
    assert [(r["binding"], r["direction"], r["batch"], r["bytes"]) for r in rows[:12]] == [
        (binding, *row) for binding in ("pycuda", "cuda-python") for row in per_binding]
    assert [r["ratio"] for r in rows[:12]] == [0.5, 0.25, 1.0] * 2 + [0.625, 0.312, 1.25] * 2
    assert rows[0]["runner_gbps"] == round(nbytes / 0.004 / 1e9, 2) and rows[0]["plain_gbps"] == round(nbytes / 0.002 / 1e9, 2)
    # Then each binding's plain copies against the other's: cuda-python's take 0.0025 s to pycuda's 0.002 s.
    assert [(r["binding"], r["direction"], r["batch"], r["what"], r["ratio"]) for r in rows[12:]] == [
        ("cuda-python vs pycuda", direction, batch, gpu_checks.BETWEEN_BINDINGS, 0.8)
        for batch in (1, 2) for direction in ("htod", "dtoh")]
    # First the batch already in pinned memory, then a numpy array that needs staging, then the download; twice.
    assert FakeDeviceTensor.queued[:3] == [("pycuda", "input", "upload", "host_view", "pycuda"),
                                           ("pycuda", "input", "upload", "numpy", "pycuda"),
                                           ("pycuda", "output", "download", (1, 3, 224, 224), "pycuda")]
    assert FakeDeviceTensor.queued[3:6] == FakeDeviceTensor.queued[:3]
    assert FakeDeviceTensor.queued[12][0] == FakeDeviceTensor.queued[12][-1] == "cuda-python"
    assert [(stream.binding, stream.closed) for stream in streams] == [("pycuda", True), ("cuda-python", True)]
    # The target holds for the runner's copies without staging: here only the downloads (ratios 1.0 and 1.25) make it.
    shortfalls = gpu_checks.copy_shortfalls(rows)
    assert len(shortfalls) == 2 + 2 and all(gpu_checks.NO_STAGING in line for line in shortfalls)


def _fake_gpu(monkeypatch, unavailable=None):
    import utils.gpu
    import utils.runtimes

    monkeypatch.setattr(utils.gpu, "require_gpu", lambda what: types.SimpleNamespace(name="Fake H100", compute_capability="9.0"))
    monkeypatch.setattr(utils.runtimes, "available_runtimes", lambda: {name: (unavailable or {}).get(name) for name in utils.runtimes.RUNTIMES})


def test_reference_sweep_includes_onnxruntime_cuda(gpu_checks, monkeypatch, tmp_path, capsys):
    import utils.benchmark

    _fake_gpu(monkeypatch)
    monkeypatch.setattr(gpu_checks, "runner_copy_bandwidth", lambda batches, repeats: [
        {"direction": "htod", "batch": b, "bytes": 1 << 20, "what": "x", "runner_gbps": 1.0, "plain_gbps": 1.0, "ratio": 1.0}
        for b in batches])
    sweeps = []

    def run_sweep(model_name, runtimes=None, batches=(1, 8, 32), **options):
        sweeps.append((model_name, list(runtimes), list(batches), options["iterations"]))
        return []

    monkeypatch.setattr(utils.benchmark, "run_sweep", run_sweep)
    assert gpu_checks.main([str(tmp_path / "out"), "--models", "efficientnet_lite0", "--batches", "1,4", "--iterations", "7"]) == 0
    assert sweeps == [("efficientnet_lite0", ["pytorch-cuda", "pytorch-cuda-graphs", "onnxruntime-cuda"], [1, 4], 7)]
    copies = (tmp_path / "out" / "copy_bandwidth.csv").read_text().splitlines()
    assert copies[0] == "binding,direction,batch,bytes,what,runner_gbps,plain_gbps,ratio" and len(copies) == 1 + 4
    assert (tmp_path / "out" / "reference_gpu.csv").read_text().startswith(",".join(utils.benchmark.CSV_COLUMNS))


def test_gpu_checks_refuse_before_measuring_when_onnxruntime_cuda_cannot_run(gpu_checks, monkeypatch, tmp_path, capsys):
    _fake_gpu(monkeypatch, unavailable={"onnxruntime-cuda": "onnxruntime has no CUDAExecutionProvider"})
    monkeypatch.setattr(gpu_checks, "runner_copy_bandwidth", lambda *args: pytest.fail("measured before refusing"))
    assert gpu_checks.main([str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "onnxruntime-cuda cannot run here (onnxruntime has no CUDAExecutionProvider)" in error
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(current_gpu() is not None, reason="a GPU is visible here; this tests the refusal without one")
def test_gpu_checks_without_a_gpu_is_one_line_and_writes_nothing(tmp_path):
    completed = subprocess.run([sys.executable, str(GPU_CHECKS), str(tmp_path / "out")], capture_output=True, text=True,
                               timeout=300, cwd=SCRIPT.parent.parent)
    assert completed.returncode == 2, completed.stderr
    assert completed.stderr.startswith("error: These checks need") and completed.stderr.count("\n") == 1, completed.stderr
    assert not (tmp_path / "out").exists()


def test_the_precision_check_writes_one_row_per_layer_and_network(gpu_checks, monkeypatch, tmp_path, capsys):
    import emulation_check as emulation  # beside gpu_checks.py, which put scripts/ on sys.path

    # The check's CUDA column comes from CUDAExecutionProvider; here the CPU provider stands in for it, so the
    # wiring (networks, columns, summaries) is tested and the two columns must agree exactly.
    monkeypatch.setitem(emulation.PROVIDERS, "cuda", "CPUExecutionProvider")
    monkeypatch.setattr(gpu_checks, "precision_models", lambda model, folder: gpu_checks.fragile_precision_models(folder))
    gpu_checks.precision_layers("efficientnet_lite0", tmp_path)
    with open(tmp_path / "precision_layers.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == gpu_checks.PRECISION_COLUMNS
    networks = [row["network"] for row in rows]
    assert networks.count("fp16_overflow all-fp16") == networks.count("fp16_overflow autocast") == 20
    assert all(row["cpu_db"] == row["cuda_db"] for row in rows)
    overflowed = [row["tensor"] for row in rows if row["network"] == "fp16_overflow all-fp16" and row["emulated_db"] == "-inf"]
    assert overflowed[0] == "big.out" and overflowed[-1] == "logits"
    printed = capsys.readouterr().out
    assert "int8_outlier int8 (max): CPU run vs cuda" in printed and "fp16_overflow autocast: emulation vs cuda" in printed
