"""Errors users hit at the command line: one line on stderr, exit status 2, no partial files."""

import subprocess
import sys

import pytest

from utils.cli import main


def test_export_writes_dynamic_batch_onnx(tmp_path, capsys):
    out = tmp_path / "lite0.onnx"
    assert main(["export", "--model", "efficientnet_lite0", "--out", str(out), "--opset", "17"]) == 0
    assert out.is_file() and "dynamic batch" in capsys.readouterr().out


def test_export_fp16_leaves_only_the_fp16_file(tmp_path):
    out = tmp_path / "lite0_fp16.onnx"
    assert main(["export", "--out", str(out), "--fp16"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lite0_fp16.onnx"]


@pytest.mark.parametrize("argv, message", [
    (["export", "--model", "vgg16", "--out", "x.onnx"], "unknown model 'vgg16'"),
    (["build", "missing.onnx", "--out", "x.engine"], "does not exist"),
    (["build", "missing.onnx", "--out", "x.engine", "--batch", "8,4,2"], "MIN <= OPT <= MAX"),
    (["build", "missing.onnx", "--out", "x.engine", "--batch", "1,8"], "MIN,OPT,MAX"),
    (["diff", "nope-a.json", "nope-b.json"], "does not exist"),
    (["inspect", "missing.engine"], "does not exist"),
])
def test_one_line_errors(argv, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    completed = subprocess.run([sys.executable, "-m", "utils", *argv], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 2, completed.stderr
    assert message in completed.stderr
    assert completed.stderr.strip().count("\n") == 0, completed.stderr
    assert not (tmp_path / "x.onnx").exists() and not (tmp_path / "x.engine").exists()


def test_unwritable_export_path(tmp_path, capsys):
    (tmp_path / "blocker").write_text("")
    assert main(["export", "--out", str(tmp_path / "blocker" / "m.onnx")]) == 2
    assert "cannot create output folder" in capsys.readouterr().err
