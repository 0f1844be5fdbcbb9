"""`python -m utils bench`: argument parsing, the CSV, plots and overhead lines, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from utils import artifacts
from utils.benchmark import read_csv
from utils.cli import main
from utils.gpu import current_gpu

MODEL = "efficientnet_lite0"


def test_bench_writes_csv_and_plots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "--model", MODEL, "--backend", "onnxruntime-cpu", "--batch", "2,1", "--iterations", "4",
                 "--warmup", "1", "--csv", str(tmp_path / "b.csv"), "--plots", str(tmp_path / "plots"), "--no-progress"])
    assert code == 0
    rows = read_csv(tmp_path / "b.csv")
    assert [(r.backend, r.precision, r.batch, r.iterations) for r in rows] == [("onnxruntime-cpu", "fp32", 1, 4),
                                                                               ("onnxruntime-cpu", "fp32", 2, 4)]
    assert sorted(p.name for p in (tmp_path / "plots").glob("*.png")) == [
        f"bench_{MODEL}_latency.png", f"bench_{MODEL}_speedup.png", f"bench_{MODEL}_throughput.png"]
    out = capsys.readouterr().out
    assert "onnxruntime-cpu" in out and "p50 ms" in out and "img/s" in out and f"wrote {tmp_path / 'b.csv'}" in out


def test_bench_writes_the_default_csv_when_none_is_given(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "--model", MODEL, "--backend", "onnxruntime-cpu", "--batch", "1", "--iterations", "1",
                 "--warmup", "0", "--no-progress"])
    assert code == 0
    assert [r.batch for r in read_csv(artifacts.benchmark_csv_path(MODEL))] == [1]
    assert "harness overhead" not in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--batch", "1,eight"], "error: --batch '1,eight' is not a list of batch sizes; write it like 1,8,32"),
    (["--batch", "0,1"], "error: --batch '0,1' needs positive batch sizes"),
    (["--batch", ","], "error: --batch ',' names nothing"),
    (["--backend", "pytorch-cpu,jax"], "error: unknown backend 'jax'; choose one of: pytorch-cpu,"),
    (["--precision", "int4"], "error: unknown precision 'int4'; choose from: fp32, fp16, int8"),
    (["--iterations", "0"], "error: 0 timed iterations is too few; give at least 1"),
    (["--model", "alexnet"], "error: unknown model 'alexnet'"),
    (["--backend", "onnxruntime-cuda", "--precision", "int8"],
     "error: onnxruntime-cuda runs fp32, fp16, not int8; a row of onnxruntime-cuda/int8 cannot exist"),
    (["--backend", "pytorch-cuda+nhwc"], "error: pytorch-cuda has no option 'nhwc'; it takes channels-last, tf32"),
    (["--scope", "gpu"], "error: unknown scope 'gpu'; choose from: host, device"),
])
def test_bad_values_are_one_line_errors(argv: list[str], message: str, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "--backend", "onnxruntime-cpu", "--no-progress", "--csv", str(tmp_path / "b.csv"), *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(message) and err.count("\n") == 1
    assert not (tmp_path / "b.csv").exists()


@pytest.mark.skipif(current_gpu() is not None, reason="checks the error of a machine without a GPU")
def test_only_unrunnable_backends_is_a_user_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "--model", MODEL, "--backend", "pytorch-cuda", "--batch", "1", "--no-progress",
                 "--csv", str(tmp_path / "b.csv")])
    assert code == 2
    assert capsys.readouterr().err.startswith("error: no backend could run: pytorch-cuda/fp32: no NVIDIA GPU found")
    assert not (tmp_path / "b.csv").exists()


@pytest.mark.skipif(current_gpu() is not None, reason="checks the skip lines of a machine without a GPU")
def test_bench_says_why_a_row_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "--model", MODEL, "--backend", "onnxruntime-cpu,pytorch-cuda-graphs+channels-last",
                 "--precision", "fp32", "--batch", "1", "--iterations", "1", "--warmup", "0", "--no-progress",
                 "--csv", str(tmp_path / "b.csv")])
    assert code == 0
    out = capsys.readouterr().out
    assert "no rows for pytorch-cuda-graphs/fp32+channels-last: no NVIDIA GPU found" in out
    assert [r.label for r in read_csv(tmp_path / "b.csv")] == ["onnxruntime-cpu/fp32"]
