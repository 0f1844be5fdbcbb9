"""The mixed-precision search on small synthetic networks: one deliberately fragile layer (utils.onnx.fragile),
quantization noise spread evenly over many layers (`spread_noise_net`, here), or noise one layer adds and the next
amplifies (`inherited_noise_net`, here)."""

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
from utils.onnx.fragile import C, H, _conv, _head, _model, fp16_overflow_net, int8_outlier_net, samples
from utils.onnx.qdq import quantized_nodes
from utils.onnx.quantize import quantize_int8
from utils.onnx.search import DEFAULT_MAX_EVALUATIONS, _next_batch_size, _ranked, _Reference, search_precision
from utils.onnx.sensitivity import int8_sensitivity

BRANCHES = 24


def spread_noise_net(path, branches=BRANCHES, width=4, outlier=30.0):
    """`branches` parallel branches, each `pre<i>` (its output channel 0 a constant outlier) then `branch<i>` (reading
    that channel with 1/outlier weights), concatenated into the head: every `branch<i>`'s per-tensor INT8 input
    scale is set by the outlier, so each adds about the same, independent, quantization noise to the logits."""
    rng = np.random.default_rng(3)
    nodes, inits, outputs = [], [], []
    for i in range(branches):
        node, (w, b) = _conv(f"pre{i}", "input", (C, C), rng)
        w, b = numpy_helper.to_array(w).copy(), numpy_helper.to_array(b).copy()
        w[0], b[0] = 0.0, outlier
        inits += [numpy_helper.from_array(w, f"pre{i}.w"), numpy_helper.from_array(b, f"pre{i}.b")]
        nodes += [node, helper.make_node("Relu", [node.output[0]], [f"pre_relu{i}"], name=f"pre_relu{i}")]
        node, (w, b) = _conv(f"branch{i}", f"pre_relu{i}", (width, C), rng)
        w = numpy_helper.to_array(w).copy()
        w[:, 0] /= outlier
        inits += [numpy_helper.from_array(w, f"branch{i}.w"), b]
        nodes += [node, helper.make_node("Relu", [node.output[0]], [f"relu{i}"], name=f"relu{i}")]
        outputs.append(f"relu{i}")
    fc = (rng.standard_normal((branches * width, 10)) / np.sqrt(branches * width)).astype(np.float32)
    inits.append(numpy_helper.from_array(fc, "fc.w"))
    nodes += [helper.make_node("Concat", outputs, ["cat"], name="concat", axis=1),
              helper.make_node("GlobalAveragePool", ["cat"], ["gap"], name="gap"),
              helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"),
              helper.make_node("MatMul", ["flat", "fc.w"], ["logits"], name="fc")]
    graph = helper.make_graph(nodes, "spread", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", C, H, H])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def inherited_noise_net(path, perturb=0.05):
    """`conv1` writes channels 1.. nearly alike plus an outlier channel 0, so `conv2`'s per-tensor INT8 input scale
    is coarse (it passes channels 1.. on, channel 0 scaled down); `conv3` takes differences of those alike channels:
    little signal is left, and the noise `conv2` added dominates its output, while its own input is quantized finely."""
    rng = np.random.default_rng(4)
    w1 = (rng.standard_normal(C) + perturb * rng.standard_normal((C, C))) / np.sqrt(C)
    w1[0] = 0.0
    b1 = np.full(C, 5.0)
    b1[0] = 1000.0
    w2 = np.eye(C)
    w2[0, 0] = 1e-3
    w3 = np.eye(C)
    for k in range(1, C):
        w3[k, 1 + k % (C - 1)] = -1.0
    nodes, inits = [], []
    for name, source, w, b, after in (("conv1", "input", w1, b1, "Relu"), ("conv2", "relu1", w2, np.zeros(C), "Relu"),
                                      ("conv3", "relu2", w3, np.zeros(C), "Identity")):
        inits += [numpy_helper.from_array(w[:, :, None, None].astype(np.float32), f"{name}.w"),
                  numpy_helper.from_array(b.astype(np.float32), f"{name}.b")]
        nodes += [helper.make_node("Conv", [source, f"{name}.w", f"{name}.b"], [f"{name}.out"], name=name),
                  helper.make_node(after, [f"{name}.out"], [f"relu{name[-1]}"], name=f"relu{name[-1]}")]
    _head(nodes, inits, "relu3", np.random.default_rng(5))
    onnx.save(_model(nodes, inits, "relu3"), str(path))
    return path


def run(model_or_path, inputs):
    model = onnx.load(str(model_or_path)) if not isinstance(model_or_path, onnx.ModelProto) else model_or_path
    return emulation_session(model).run(None, inputs)[0]


@pytest.fixture(scope="module")
def fp16_net(tmp_path_factory):
    return fp16_overflow_net(tmp_path_factory.mktemp("fp16") / "net.onnx")


@pytest.fixture(scope="module")
def int8_net(tmp_path_factory):
    return int8_outlier_net(tmp_path_factory.mktemp("int8") / "net.onnx")


@pytest.fixture(scope="module")
def spread_net(tmp_path_factory):
    return spread_noise_net(tmp_path_factory.mktemp("spread") / "net.onnx")


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


def quantized_readers(path):
    model = onnx.load(str(path))
    dequantized = {o for n in model.graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    return {n.name for n in model.graph.node if any(i in dequantized for i in n.input)}


def test_spread_noise_takes_the_predicted_prefix_then_bisects_to_the_shortest(spread_net, tmp_path):
    out, inputs, target = tmp_path / "out.onnx", samples(32), 30.0
    result = search_precision(spread_net, "int8", inputs, target, out)
    assert result.met and result.evaluations <= DEFAULT_MAX_EVALUATIONS // 2
    assert result.evaluations == 1 + len(result.history)  # the FP32 reference, then one step per model run
    # The profile: one short run per quantized node (24 pre-branch and 24 branch convolutions, the head's MatMul...)
    assert result.profile_runs >= 2 + 2 * BRANCHES
    grown = [len(step.kept) for step in result.history if step.phase == "grow"]
    assert grown[0] == 0 and all(a < b for a, b in zip(grown, grown[1:]))  # each prediction longer than the last
    assert len(grown) <= 4 and grown[-1] >= len(result.kept)
    # The shortest prefix: the same set one node shorter was evaluated and missed.
    shorter = [step for step in result.history if set(step.kept) < set(result.kept)
               and len(step.kept) == len(result.kept) - 1]
    assert shorter and all(step.sqnr_db < target for step in shorter)
    # What is written is the model measured: its SQNR, and exactly the kept nodes read unquantized inputs.
    assert sqnr_db(run(spread_net, inputs), run(out, inputs)) == pytest.approx(result.sqnr_db, abs=1e-6)
    assert not set(result.kept) & quantized_readers(out)
    assert {f"branch{i}" for i in range(BRANCHES)} - set(result.kept) <= quantized_readers(out)
    assert set(result.kept) <= {f"branch{i}" for i in range(BRANCHES)}  # the branches carry the noise, not the pre-convs


def test_int8_ranks_by_each_nodes_own_effect_on_the_logits_not_what_it_amplifies(tmp_path):
    net, inputs = inherited_noise_net(tmp_path / "net.onnx"), samples(32)
    model, base = onnx.load(str(net)), quantize_int8(net, tmp_path / "base.onnx", inputs, exclude_nodes=())
    reference = run(net, inputs)
    gain = {name: sqnr_db(reference, run(quantize_int8(net, tmp_path / f"{name}.onnx", inputs, exclude_nodes=[name]),
                                         inputs)) - sqnr_db(reference, run(base, inputs)) for name in ("conv2", "conv3")}
    assert gain["conv2"] > 5.0 and abs(gain["conv3"]) < 1.0
    # Output noise ratio minus the input's (the FP16 search's score) puts conv3 first: it amplifies the noise conv2 added.
    candidates = sorted(quantized_nodes(onnx.load(str(base))))
    measured = _Reference(model, inputs, [name for node in model.graph.node for name in node.output])
    assert _ranked(model, candidates, measured.measure(onnx.load(str(base)))[1])[0] == "conv3"
    # Quantizing each node alone puts conv2 first, and one step keeps it.
    profile = int8_sensitivity(model, onnx.load(str(base)), inputs)
    assert profile.nodes[0].node == "conv2" and profile.nodes[0].noise_share > 0.5
    result = search_precision(net, "int8", inputs, 25, tmp_path / "out.onnx")
    assert result.history[0].most_sensitive == "conv2" and result.kept == ["conv2"] and result.met
    assert [step.phase for step in result.history] == ["grow", "grow"]  # nothing kept, then conv2


@pytest.mark.parametrize("size, previous, sqnr, expected", [
    (1, None, 10.0, 1),  # the first step: nothing to judge yet
    (1, 10.0, 12.0, 1),  # 2 dB a step, 10 steps left: the 18 dB gap closes
    (1, 10.0, 11.0, 2),  # 1 dB a step cannot close 19 dB in 10 steps
    (4, 10.0, 9.0, 8),  # a step that lost ground
    (1, -math.inf, -math.inf, 1),  # still overflowing: the ranking names the overflowing node
    (2, -math.inf, 20.0, 2),  # the overflow just fixed
])
def test_the_batch_doubles_when_a_step_cannot_close_the_gap_in_the_evaluations_left(size, previous, sqnr, expected):
    assert _next_batch_size(size, previous, sqnr, target=30.0, left=10) == expected


def test_a_target_out_of_the_budget_exits_1_with_the_best_model(fp16_net, tmp_path, capsys):
    npz, out = tmp_path / "in.npz", tmp_path / "out.onnx"
    np.savez(npz, **samples(8))
    code = cli.main(["precision-search", str(fp16_net), "--precision", "fp16", "--inputs", str(npz),
                     "--target-sqnr", "400", "--out", str(out), "--max-evaluations", "4", "--json"])
    assert code == 1 and out.is_file()
    printed = json.loads(capsys.readouterr().out)
    assert set(printed) == {"kept", "sqnr_db", "evaluations", "profile_runs"}
    assert printed["evaluations"] <= 4 and isinstance(printed["sqnr_db"], float) and printed["sqnr_db"] < 400


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
