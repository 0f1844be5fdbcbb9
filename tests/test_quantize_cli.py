import re

import numpy as np
import pytest

from utils import artifacts, calibration
from utils.calibration import calibration_inputs
from utils.cli import EXIT_USER_ERROR, main
from utils.images import SAMPLE_IMAGES

SUMMARY = re.compile(r"^  (\d+) Q/DQ pairs; (\d+) of (\d+) nodes quantized; [\d.]+ s$", re.MULTILINE)


@pytest.fixture(scope="module")
def cli_quantized(lite0_onnx, sample_dir, tmp_path_factory):
    """`quantize` with a folder of images as calibration data: the four sample photos."""
    import contextlib
    import io

    out = tmp_path_factory.mktemp("cli") / "lite0_int8.onnx"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["quantize", str(lite0_onnx), "--out", str(out), "--calibration", str(sample_dir),
                     "--method", "entropy"])
    return code, out, printed.getvalue()


def test_quantize_with_an_image_folder(cli_quantized):
    code, out, printed = cli_quantized
    assert code == 0 and out.is_file()
    assert printed.startswith(f"wrote {out} (INT8 Q/DQ, FP32 elsewhere, entropy calibration on {len(SAMPLE_IMAGES)} samples")
    pairs, quantized, total = map(int, SUMMARY.search(printed).groups())
    assert pairs >= 50 and 0 < quantized < total


def test_default_calibration_is_the_workbooks_cached_set(lite0_onnx, tmp_path, monkeypatch, capsys):
    made = []

    def small_set(model_name):  # the real default has 256 samples; 8 keep the test quick
        made.append(model_name)
        return calibration_inputs(model_name, count=8)

    monkeypatch.setattr(calibration, "calibration_inputs", small_set)
    monkeypatch.setenv(artifacts.BUILD_DIR_ENV_VAR, str(tmp_path / "build"))  # no set cached by earlier tests
    out = tmp_path / "lite0_int8.onnx"
    assert main(["quantize", str(lite0_onnx), "--out", str(out), "--model", "efficientnet_lite0"]) == 0
    cache = artifacts.calibration_path("efficientnet_lite0")
    assert made == ["efficientnet_lite0"] and cache.is_file()
    assert np.load(cache)["input"].shape == (8, 3, 224, 224)
    printed = capsys.readouterr().out
    assert f"max calibration on 8 samples from the workbook's set, {cache}" in printed and SUMMARY.search(printed)
    share = re.search(r"^  left in FP32: /blocks/blocks\.0/blocks\.0\.0/conv_dw/Conv: alone, (\d+)% of the fully "
                      r"quantized model's logit noise$", printed, re.MULTILINE)
    assert share and 25 <= int(share.group(1)) <= 100


def test_keep_none_quantizes_every_node_and_keep_names_them(lite0_onnx, sample_dir, tmp_path, capsys):
    counts = {}
    for keep in ("none", "/conv_stem/Conv"):
        out = tmp_path / f"{keep.replace('/', '_')}.onnx"
        assert main(["quantize", str(lite0_onnx), "--out", str(out), "--calibration", str(sample_dir),
                     "--keep", keep]) == 0
        printed = capsys.readouterr().out
        counts[keep] = int(SUMMARY.search(printed).group(2))
        assert ("left in FP32: /conv_stem/Conv\n" in printed) == (keep != "none") and "alone," not in printed
    assert counts["none"] == counts["/conv_stem/Conv"] + 1


def run_failing(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    assert code == EXIT_USER_ERROR and captured.out == ""
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1
    return captured.err


def test_bad_input_is_one_line_and_writes_nothing(lite0_onnx, cli_quantized, tmp_path, capsys):
    out = tmp_path / "out" / "q.onnx"
    assert "does not exist; export it first" in run_failing(["quantize", str(tmp_path / "missing.onnx"), "--out", str(out)], capsys)
    (tmp_path / "empty").mkdir()
    assert "is empty" in run_failing(["quantize", str(lite0_onnx), "--out", str(out), "--calibration", str(tmp_path / "empty")], capsys)
    np.savez(tmp_path / "small.npz", input=np.zeros((2, 3, 64, 64), np.float32))
    assert "the model needs [N, 3, 224, 224]" in run_failing(
        ["quantize", str(lite0_onnx), "--out", str(out), "--calibration", str(tmp_path / "small.npz")], capsys)
    _, quantized, _ = cli_quantized
    np.savez(tmp_path / "ok.npz", input=calibration_inputs("efficientnet_lite0", count=2))
    assert "is already quantized" in run_failing(
        ["quantize", str(quantized), "--out", str(out), "--calibration", str(tmp_path / "ok.npz")], capsys)
    assert not out.exists() and not (out.parent.exists() and list(out.parent.iterdir()))


def test_unknown_choices_are_argparse_errors(lite0_onnx, tmp_path):
    for option, value in (("--method", "percentile"), ("--high-precision", "int4")):
        with pytest.raises(SystemExit) as exited:
            main(["quantize", str(lite0_onnx), "--out", str(tmp_path / "q.onnx"), option, value])
        assert exited.value.code == 2
