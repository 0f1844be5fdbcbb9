"""mypy against tensorrt-stubs really checks the TensorRT API: calls removed in TensorRT 10 are caught."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed (requirements-dev.txt)"),
    pytest.mark.skipif(importlib.util.find_spec("tensorrt_bindings") is None,
                       reason="tensorrt-stubs is not installed (pip install --no-deps tensorrt-stubs)"),
]

ROOT = Path(__file__).resolve().parent.parent

NAMED_TENSOR_API = """
import tensorrt

def run(engine: tensorrt.ICudaEngine, context: tensorrt.IExecutionContext, stream: int) -> None:
    name = engine.get_tensor_name(0)
    context.set_input_shape(name, (1, 3, 224, 224))
    context.execute_async_v3(stream)
"""

REMOVED_IN_TENSORRT_10 = """
import tensorrt

def build(builder: tensorrt.Builder, network: tensorrt.INetworkDefinition, config: tensorrt.IBuilderConfig) -> None:
    config.max_workspace_size = 1 << 30
    builder.build_engine(network, config)

def run(context: tensorrt.IExecutionContext, bindings: list[int], stream: int) -> None:
    context.execute_async_v2(bindings, stream)
"""


@pytest.fixture(scope="module")
def stubs(tmp_path_factory):
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from prepare_tensorrt_stubs import main
    finally:
        sys.path.pop(0)
    directory = tmp_path_factory.mktemp("stubs")
    assert main(str(directory)) == 0
    return directory


def mypy(source: str, directory: Path, stubs: Path) -> subprocess.CompletedProcess:
    path = directory / "snippet.py"
    path.write_text(source)
    config = directory / "mypy.ini"
    config.write_text("[mypy]\n[mypy-tensorrt.*,tensorrt_bindings.*]\nignore_errors = True\n")
    env = {**os.environ, "MYPYPATH": str(stubs)}
    return subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(config), "--no-incremental", str(path)],
                          capture_output=True, text=True, env=env, cwd=directory, timeout=600)


def test_named_tensor_api_type_checks(tmp_path, stubs):
    result = mypy(NAMED_TENSOR_API, tmp_path, stubs)
    assert result.returncode == 0, result.stdout


def test_calls_removed_in_tensorrt_10_are_errors(tmp_path, stubs):
    result = mypy(REMOVED_IN_TENSORRT_10, tmp_path, stubs)
    assert result.returncode == 1
    for removed in ('"max_workspace_size"', '"build_engine"', '"execute_async_v2"'):
        assert removed in result.stdout, result.stdout
