"""mypy against tensorrt-stubs really checks the TensorRT API, and the stubs never reach the project's environment.

The stubs are installed only into a folder mypy reads (build/stubs-src, or a temporary one here), never into the
environment: there their bare `tensorrt/` folder would make `import tensorrt` succeed as an empty namespace
package, which breaks every library that probes for TensorRT.
"""

from __future__ import annotations

import glob
import importlib
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("prepare_tensorrt_stubs", ROOT / "scripts" / "prepare_tensorrt_stubs.py")
assert _spec is not None and _spec.loader is not None
prepare_tensorrt_stubs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(prepare_tensorrt_stubs)

needs_mypy = pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed (requirements-dev.txt)")

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


def _pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", *args, "--disable-pip-version-check", "--retries", "1", "--timeout", "30"],
                          capture_output=True, text=True, timeout=600)


def _has_stubs(directory: Path) -> bool:
    version = prepare_tensorrt_stubs.STUBS_VERSION
    return ((directory / f"tensorrt_stubs-{version}.dist-info").is_dir()
            and all(sorted((directory / package).glob("*.pyi")) for package in prepare_tensorrt_stubs.PACKAGES))


@pytest.fixture(scope="session")
def stubs_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tensorrt-stubs as `make typecheck` installs them: build/stubs-src if it is there, else pip --target a temporary folder."""
    made_by_make = ROOT / prepare_tensorrt_stubs.DEFAULT_SOURCE
    if _has_stubs(made_by_make):
        return made_by_make
    directory = tmp_path_factory.mktemp("stubs-src")
    # --no-deps: the stubs declare a dependency on the real tensorrt, which they do not need (and which needs a GPU machine).
    installed = _pip("install", "--quiet", "--no-deps", "--target", str(directory), prepare_tensorrt_stubs.STUBS_REQUIREMENT)
    if installed.returncode != 0:
        listed = _pip("index", "versions", "--json", "tensorrt-stubs")
        if listed.returncode != 0 or not listed.stdout.strip():
            pytest.skip(f"the package index cannot be reached to install {prepare_tensorrt_stubs.STUBS_REQUIREMENT}: "
                        f"{(installed.stderr.strip().splitlines() or ['pip failed'])[-1]}")
        pytest.fail(f"the index lists {json.loads(listed.stdout).get('versions')} but "
                    f"`{prepare_tensorrt_stubs.install_command(directory)}` failed:\n{installed.stderr}")
    assert _has_stubs(directory), sorted(p.name for p in directory.iterdir())
    return directory


@pytest.fixture(scope="session")
def stubs(stubs_source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("stubs")
    assert prepare_tensorrt_stubs.main(["--source", str(stubs_source), str(directory)]) == 0
    return directory


def mypy(source: str, directory: Path, stubs: Path) -> subprocess.CompletedProcess:
    path = directory / "snippet.py"
    path.write_text(source)
    config = directory / "mypy.ini"
    config.write_text("[mypy]\n[mypy-tensorrt.*,tensorrt_bindings.*]\nignore_errors = True\n")
    env = {**os.environ, "MYPYPATH": str(stubs)}
    return subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(config), "--no-incremental", str(path)],
                          capture_output=True, text=True, env=env, cwd=directory, timeout=600)


@needs_mypy
def test_named_tensor_api_type_checks(tmp_path, stubs):
    result = mypy(NAMED_TENSOR_API, tmp_path, stubs)
    assert result.returncode == 0, result.stdout


@needs_mypy
def test_calls_removed_in_tensorrt_10_are_errors(tmp_path, stubs):
    result = mypy(REMOVED_IN_TENSORRT_10, tmp_path, stubs)
    assert result.returncode == 1
    for removed in ('"max_workspace_size"', '"build_engine"', '"execute_async_v2"'):
        assert removed in result.stdout, result.stdout


def test_a_missing_stubs_folder_is_a_one_line_error_saying_how_to_install(tmp_path, capsys):
    assert prepare_tensorrt_stubs.main(["--source", str(tmp_path / "nowhere"), str(tmp_path / "stubs")]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error
    assert f"pip install --no-deps --target {tmp_path / 'nowhere'} {prepare_tensorrt_stubs.STUBS_REQUIREMENT}" in error
    assert not (tmp_path / "stubs").exists()


def test_makefile_installs_the_stubs_only_into_the_folder_mypy_reads():
    makefile = (ROOT / "Makefile").read_text()
    assert f"TRT_STUBS_VERSION := {prepare_tensorrt_stubs.STUBS_VERSION}\n" in makefile
    installs = [line.strip() for line in makefile.splitlines() if re.search(r"pip install .*tensorrt-stubs", line)]
    assert installs, "the Makefile no longer installs tensorrt-stubs for `make typecheck`"
    for line in installs:
        assert "--target $(STUBS_SRC)" in line and "--no-deps" in line, line
    assert "--source $(STUBS_SRC)" in makefile


def test_mypy_files_name_existing_tensorrt_facing_code():
    """A stale path in [tool.mypy] files (the modules moved before) would make `make typecheck` check nothing."""
    tomllib = pytest.importorskip("tomllib", reason="Python 3.11+ reads pyproject.toml with tomllib")
    files = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]["files"]
    for pattern in files:
        assert glob.glob(pattern, root_dir=ROOT), f"[tool.mypy] files entry {pattern!r} matches no file"
    checked = {path for pattern in files for path in glob.glob(pattern, root_dir=ROOT)}
    assert {"utils/tensorrt/api.py", "utils/tensorrt/build.py", "utils/tensorrt/runner.py", "utils/runtimes/tensorrt.py",
            "utils/artifacts.py"} <= checked, sorted(checked)


def _real_tensorrt_reason() -> str | None:
    """Why `import tensorrt` may succeed here: a real TensorRT (one with `Builder`) is installed."""
    probe = subprocess.run([sys.executable, "-c", "import tensorrt; print(hasattr(tensorrt, 'Builder'))"],
                           capture_output=True, text=True, timeout=300)
    return "a real TensorRT is installed here" if probe.stdout.strip() == "True" else None


def test_import_tensorrt_fails_without_tensorrt(monkeypatch):
    """No stubs in the environment: `import tensorrt` raises ImportError, in this process and in a fresh interpreter."""
    reason = _real_tensorrt_reason()
    if reason:
        pytest.skip(reason)
    fresh = subprocess.run([sys.executable, "-c", "import tensorrt; print(tensorrt.__path__)"],
                           capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert fresh.returncode != 0 and "ModuleNotFoundError: No module named 'tensorrt'" in fresh.stderr, (
        f"`import tensorrt` succeeds without TensorRT ({fresh.stdout.strip()}): is tensorrt-stubs installed into the "
        f"environment? pip uninstall tensorrt-stubs (`make typecheck` keeps them in build/stubs-src)")
    monkeypatch.delitem(sys.modules, "tensorrt", raising=False)
    with pytest.raises(ImportError):
        importlib.import_module("tensorrt")
