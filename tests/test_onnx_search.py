"""The mixed-precision search on small synthetic networks, each with one deliberately fragile layer."""

import json
import math

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from utils import cli
from utils.compare.quality import sqnr_db
from utils.errors import WorkbookError
from utils.onnx.fp16_emulation import emulate_fp16, emulation_session, fp32_nodes_of
from utils.onnx.search import search_precision

C, H = 32, 6  # channels, spatial size


def _conv(name, source, weight, rng, scale=1.0):
    out_channels, in_channels = weight
    w = (rng.standard_normal((out_channels, in_channels, 1, 1)) / np.sqrt(in_channels) * scale).astype(np.float32)
    b = (rng.standard_normal(out_channels) * 0.1).astype(np.float32)
    inits = [numpy_helper.from_array(w, f"{name}.w"), numpy_helper.from_array(b, f"{name}.b")]
    return helper.make_node("Conv", [source, f"{name}.w", f"{name}.b"], [f"{name}.out"], name=name), inits


def _model(nodes, inits, last):
    graph = helper.make_graph(
        nodes, "net", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", C, H, H])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _conv_relu(index, source, nodes, inits, rng):
    """Append conv<index> and relu<index> reading `source`; returns the ReLU's output name."""
    node, more = _conv(f"conv{index}", source, (C, C), rng)
    nodes += [node, helper.make_node("Relu", [node.output[0]], [f"relu{index}"], name=f"relu{index}")]
    inits += more
    return f"relu{index}"


def _head(nodes, inits, source, rng):
    nodes.append(helper.make_node("GlobalAveragePool", [source], ["gap"], name="gap"))
    nodes.append(helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"))
    w = (rng.standard_normal((C, 10)) / np.sqrt(C)).astype(np.float32)
    inits.append(numpy_helper.from_array(w, "fc.w"))
    nodes.append(helper.make_node("MatMul", ["flat", "fc.w"], ["logits"], name="fc"))


def fp16_overflow_net(path, blocks=8):
    """conv/relu blocks; `big` writes up to ~2e5 (FP16 overflows), then a ReLU and x1e-3 back down, then more blocks."""
    rng = np.random.default_rng(0)
    nodes, inits, source = [], [], "input"
    for i in range(blocks):
        if i == 2:
            node, more = _conv("big", source, (C, C), rng)
            more[0] = numpy_helper.from_array(numpy_helper.to_array(more[0]) * 7e4, "big.w")  # weights below 65504, outputs up to ~2e5
            nodes += [node, helper.make_node("Relu", ["big.out"], ["big_relu"], name="big_relu"),
                      helper.make_node("Mul", ["big_relu", "small"], ["scaled"], name="scale_down")]
            inits += more + [numpy_helper.from_array(np.array(1e-3, np.float32), "small")]
            source = "scaled"
            continue
        source = _conv_relu(i, source, nodes, inits, rng)
    _head(nodes, inits, source, rng)
    onnx.save(_model(nodes, inits, source), str(path))
    return path


def int8_outlier_net(path):
    """conv1's output channel 0 is 1000x the others; conv2 reads it (its weights on that channel 1000x smaller, so
    the outlier carries no more signal than the rest): one per-tensor INT8 scale for conv2's input zeroes the others."""
    rng = np.random.default_rng(1)
    nodes, inits = [], []
    node, more = _conv("conv1", "input", (C, C), rng)
    w = numpy_helper.to_array(more[0]).copy()
    w[0] *= 1000
    b = numpy_helper.to_array(more[1]).copy()
    b[0] = abs(b[0]) * 1000 + 1000  # channel 0 stays large and positive through the ReLU
    more = [numpy_helper.from_array(w, "conv1.w"), numpy_helper.from_array(b, "conv1.b")]
    nodes += [node, helper.make_node("Relu", ["conv1.out"], ["relu1"], name="relu1")]
    inits += more
    node, more = _conv("conv2", "relu1", (C, C), rng)
    w = numpy_helper.to_array(more[0]).copy()
    w[:, 0] *= 1e-3
    inits += [numpy_helper.from_array(w, "conv2.w"), more[1]]
    nodes += [node, helper.make_node("Relu", ["conv2.out"], ["relu2"], name="relu2")]
    source = "relu2"
    for i in (3, 4):
        source = _conv_relu(i, source, nodes, inits, rng)
    _head(nodes, inits, source, rng)
    onnx.save(_model(nodes, inits, source), str(path))
    return path


def samples(count=16, seed=2):
    return {"input": np.random.default_rng(seed).standard_normal((count, C, H, H)).astype(np.float32)}


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
