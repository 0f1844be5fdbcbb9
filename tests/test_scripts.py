"""The original demo's comparison script: its syntax, and its refusals where TensorRT cannot run."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from utils.environment import engine_execution_unavailable

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
def test_without_a_runnable_tensorrt_it_says_why(tmp_path, lite0_onnx):
    completed = run_script(str(lite0_onnx), str(tmp_path / "out"))
    assert completed.returncode == 2
    assert f"cannot run TensorRT here: {engine_execution_unavailable()}" in completed.stderr
    assert not (tmp_path / "out").exists()
