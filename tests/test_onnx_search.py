"""The mixed-precision search on small synthetic networks, each with one deliberately fragile layer."""

import json
import math

import numpy as np
import onnx
import pytest

from utils import cli
from utils.compare.quality import sqnr_db
from utils.errors import WorkbookError
from utils.onnx.fp16_emulation import emulate_fp16, emulation_session, fp32_nodes_of
from utils.onnx.fragile import C, H, fp16_overflow_net, int8_outlier_net, samples
from utils.onnx.search import search_precision


def run(model_or_path, inputs):
    model = onnx.load(str(model_or_path)) if not isinstance(model_or_path, onnx.ModelProto) else model_or_path
    return emulation_session(model).run(None, inputs)[0]


@pytest.fixture(scope="module")
def fp16_net(tmp_path_factory):
    return fp16_overflow_net(tmp_path_factory.mktemp("fp16") / "net.onnx")


@pytest.fixture(scope="module")
def int8_net(tmp_path_factory):
    return int8_outlier_net(tmp_path_factory.mktemp("int8") / "net.onnx")


def test_emulation_shows_the_fp16_overflow_and_keeping_the_three_nodes_fixes_it(fp16_net):
    model, inputs = onnx.load(str(fp16_net)), samples()
    reference = run(model, inputs)
    assert np.isfinite(reference).all()
    assert not np.isfinite(run(emulate_fp16(model, []), inputs)).all()
    kept = run(emulate_fp16(model, ["big", "big_relu", "scale_down"]), inputs)
    assert 50 < sqnr_db(reference, kept) < 90  # FP16 rounding elsewhere, no overflow


def test_fp16_search_finds_the_overflowing_layer_itself(fp16_net, tmp_path):
    out = tmp_path / "out.onnx"
    result = search_precision(fp16_net, "fp16", samples(), 40, out, data_max=math.inf)
    assert result.met and result.kept == ["big", "big_relu", "scale_down"]
    assert result.evaluations <= 6 and result.node_count == 20
    assert result.history[0].most_sensitive == "big" and result.history[0].sqnr_db == -math.inf
    written = onnx.load(str(out))
    assert fp32_nodes_of(written, onnx.load(str(fp16_net))) == result.kept
    inputs = samples(seed=5)  # measured independently, on other inputs: the written model's own split, emulated
    measured = sqnr_db(run(fp16_net, inputs), run(emulate_fp16(onnx.load(str(fp16_net)), fp32_nodes_of(written, onnx.load(str(fp16_net)))), inputs))
    assert measured >= 40
    assert np.isfinite(run(out, inputs)).all()


def test_fp16_search_reports_the_nodes_autocast_keeps_by_itself(fp16_net, tmp_path):
    result = search_precision(fp16_net, "fp16", samples(), 40, tmp_path / "out.onnx")
    assert result.met and "big" in result.kept and len(result.kept) <= 4
    assert result.evaluations == 2  # the FP32 reference and AutoCast's own split, which already meets the target


def test_int8_search_keeps_exactly_the_consumer_of_the_outlier(int8_net, tmp_path):
    out = tmp_path / "out.onnx"
    inputs = samples(32)
    result = search_precision(int8_net, "int8", inputs, 25, out)
    assert result.history[0].sqnr_db < 25 and result.history[0].most_sensitive == "conv2"
    assert result.kept == ["conv2"] and result.met
    written = onnx.load(str(out))
    dequantized = {o for n in written.graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    readers = {n.name for n in written.graph.node if any(i in dequantized for i in n.input)}
    assert "conv2" not in readers and {"conv1", "conv3"} <= readers
    assert sqnr_db(run(int8_net, inputs), run(out, inputs)) >= 25


def test_an_unreachable_target_exits_1_with_the_best_model(fp16_net, tmp_path, capsys):
    npz, out = tmp_path / "in.npz", tmp_path / "out.onnx"
    np.savez(npz, **samples(8))
    code = cli.main(["precision-search", str(fp16_net), "--precision", "fp16", "--inputs", str(npz),
                     "--target-sqnr", "400", "--out", str(out), "--json"])
    assert code == 1 and out.is_file()
    printed = json.loads(capsys.readouterr().out)
    assert set(printed) == {"kept", "sqnr_db", "evaluations"}
    assert 15 <= printed["evaluations"] <= 16 and isinstance(printed["sqnr_db"], float) and printed["sqnr_db"] < 400


def test_the_cli_prints_a_summary_and_exits_0_when_the_target_is_met(int8_net, tmp_path, capsys):
    npz, out = tmp_path / "in.npz", tmp_path / "out.onnx"
    np.savez(npz, **samples(32))
    code = cli.main(["precision-search", str(int8_net), "--precision", "int8", "--inputs", str(npz),
                     "--target-sqnr", "25", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0 and "kept: conv2" in text and "meets the 25 dB target" in text


@pytest.mark.parametrize("arrays, target, message", [
    ({"image": np.zeros((2, C, H, H), np.float32)}, "40", "calibration data names ['image']"),
    ({"input": np.zeros((2, C, H + 1, H), np.float32)}, "40", "has shape [2, 32, 7, 6]"),
    ({"input": np.zeros((2, C, H, H), np.float32)}, "forty", "is not a number"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(fp16_net, tmp_path, capsys, arrays, target, message):
    npz, out = tmp_path / "in.npz", tmp_path / "new" / "out.onnx"
    np.savez(npz, **arrays)
    code = cli.main(["precision-search", str(fp16_net), "--precision", "fp16", "--inputs", str(npz),
                     "--target-sqnr", target, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1
    assert not out.parent.exists()


def test_an_already_quantized_model_and_unknown_precision_are_refused(int8_net, tmp_path):
    out = tmp_path / "q.onnx"
    search_precision(int8_net, "int8", samples(32), 25, out)
    with pytest.raises(WorkbookError, match="already quantized"):
        search_precision(out, "int8", samples(), 25, tmp_path / "again.onnx")
    with pytest.raises(WorkbookError, match="unknown precision 'bf16'"):
        search_precision(int8_net, "bf16", samples(), 25, tmp_path / "again.onnx")
    assert not (tmp_path / "again.onnx").exists()
