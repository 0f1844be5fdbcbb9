"""Reading and editing Q/DQ pairs: on a hand-made Q/DQ convolution, then on ModelOpt's quantization of a network."""

import numpy as np
import onnx
import pytest

from tests.test_onnx_sessions import saturating_qdq_conv
from utils.errors import WorkbookError
from utils.onnx.fragile import INT8_FRAGILE_NODE, int8_outlier_net, samples
from utils.onnx.qdq import is_weight, quantized_inputs, quantized_nodes, without_qdq
from utils.onnx.quantize import quantize_int8


def named(model):
    for index, node in enumerate(model.graph.node):
        node.name = node.name or f"{node.op_type.lower()}{index}"
    return model


@pytest.fixture(scope="module")
def conv():
    return named(saturating_qdq_conv()[0])


def reads(model, node_name):
    return list(next(node for node in model.graph.node if node.name == node_name).input)


def test_which_nodes_and_inputs_are_quantized(conv):
    assert quantized_nodes(conv) == {"conv4"}  # the output's Q/DQ pair reads the convolution, not a dequantized tensor
    assert quantized_inputs(conv, "conv4") == {"xd": False, "wd": True}
    assert is_weight("wd", conv) and is_weight("w", conv) and not is_weight("xd", conv) and not is_weight("x", conv)
    with pytest.raises(WorkbookError, match="no node named 'nothing'"):
        quantized_inputs(conv, "nothing")


@pytest.mark.parametrize("inputs, expected", [("all", ["x", "w"]), ("weights", ["xd", "w"]), ("activations", ["x", "wd"])])
def test_without_qdq_rewires_the_chosen_inputs_and_drops_unused_pairs(conv, inputs, expected):
    edited = without_qdq(conv, ["conv4"], inputs)
    assert reads(edited, "conv4") == expected
    written = {name for node in edited.graph.node for name in node.output}
    assert ("xd" in written) == (expected[0] == "xd") and ("wd" in written) == (expected[1] == "wd")
    assert reads(conv, "conv4") == ["xd", "wd"]  # the original is left alone
    onnx.checker.check_model(edited)


def test_an_unknown_input_kind_is_refused(conv):
    with pytest.raises(WorkbookError, match="unknown inputs 'bias'"):
        without_qdq(conv, ["conv4"], "bias")


def test_on_modelopts_quantization_the_fragile_node_reads_fp32_after_without_qdq(tmp_path):
    net = int8_outlier_net(tmp_path / "net.onnx")
    quantized = onnx.load(str(quantize_int8(net, tmp_path / "q.onnx", samples(16), exclude_nodes=())))
    assert INT8_FRAGILE_NODE in quantized_nodes(quantized)
    edited = without_qdq(quantized, [INT8_FRAGILE_NODE])
    assert INT8_FRAGILE_NODE not in quantized_nodes(edited) and quantized_nodes(edited) == quantized_nodes(quantized) - {INT8_FRAGILE_NODE}
    from utils.onnx.sessions import inference_session

    outputs = inference_session(edited).run(None, samples(4))[0]
    assert np.isfinite(outputs).all()
