"""External commands are found as a shell finds them, else through their Python entry point, else a one-line error."""

import subprocess

import pytest

from utils.commands import command_unavailable, find_command
from utils.errors import WorkbookError


def test_a_command_on_path_is_run_from_there(tmp_path, monkeypatch):
    tool = tmp_path / "trtexec"
    tool.write_text("#!/bin/sh\necho timed\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_command("trtexec") == [str(tool)]
    assert command_unavailable("trtexec") is None


def test_polygraphy_runs_without_its_script_on_path(monkeypatch, tmp_path):
    """pip --user/--target installs put the script where PATH does not reach (seen on an H100, 2026-12-07): the
    console-script entry point still runs it with this interpreter."""
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no polygraphy script anywhere on PATH
    command = find_command("polygraphy")
    completed = subprocess.run([*command, "-v"], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0 and "Polygraphy | Version" in completed.stdout


@pytest.mark.parametrize("name, hint", [("trtexec", "TensorRT's bin/ folder"), ("nsys", "Nsight Systems"),
                                        ("tensorrt_rtx", "TensorRT-RTX's zip")])
def test_a_missing_command_says_what_to_install(monkeypatch, tmp_path, name, hint):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(WorkbookError, match=f"^the {name} command is not on PATH; .*{hint}") as info:
        find_command(name)
    assert "\n" not in str(info.value)
    assert command_unavailable(name) == str(info.value)
