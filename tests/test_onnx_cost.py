"""Multiply-adds and bytes read off the ONNX graph: exact on a hand-made network, and EfficientNet-Lite0 against its
published size."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from utils.onnx.cost import model_cost


def small_net():
    """Conv 3->8 (3x3, pad 1) on 10x10, depthwise 3x3 on 8 channels, global pool, Gemm 8->5."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name) for name, shape in
             (("w1", (8, 3, 3, 3)), ("b1", (8,)), ("w2", (8, 1, 3, 3)), ("fc", (5, 8)), ("fcb", (5,)))]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["c1", "w2"], ["c2"], name="depthwise", group=8, pads=[1, 1, 1, 1]),
             helper.make_node("GlobalAveragePool", ["c2"], ["gap"], name="gap"),
             helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"),
             helper.make_node("Gemm", ["flat", "fc", "fcb"], ["y"], name="fc", transB=1)]
    graph = helper.make_graph(nodes, "small", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 10, 10])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_multiply_adds_and_bytes_of_a_small_network():
    cost = model_cost(small_net())
    assert [(node.node, node.macs) for node in cost.nodes] == [("conv", 8 * 100 * 27), ("depthwise", 8 * 100 * 9), ("fc", 40)]
    assert cost.flops(batch=4) == 2 * 4 * (21600 + 7200 + 40)
    assert cost.weight_elements == 216 + 8 + 72 + 40 + 5
    assert (cost.input_elements, cost.output_elements) == (300, 5)
    assert cost.activation_elements == 800 + 800 + 8 + 8  # c1, c2, gap, flat
    assert cost.minimum_bytes(2, "fp16") == 2 * 341 + 4 * 2 * 305
    assert cost.layerwise_bytes(2, "fp16") == cost.minimum_bytes(2, "fp16") + 2 * 2 * 2 * 1616
    assert cost.share("depthwise") == pytest.approx(7200 / 28840) and cost.share("gap") == 0.0


def test_efficientnet_lite0_matches_its_published_size(lite0_onnx):
    cost = model_cost(lite0_onnx)
    assert 370e6 < cost.macs < 410e6  # ~0.4 B multiply-adds (tensorflow/tpu efficientnet/lite README: 407 M)
    assert 4.6e6 < cost.weight_elements < 4.7e6  # 4.7 M parameters
    assert cost.share("/blocks/blocks.0/blocks.0.0/conv_dw/Conv") < 0.01
    assert cost.minimum_bytes(1) == 4 * cost.weight_elements + 4 * (3 * 224 * 224 + 1000)


def test_a_model_without_static_shapes_is_a_one_line_error():
    from utils.errors import WorkbookError

    model = small_net()
    model.graph.input[0].type.tensor_type.shape.dim[2].dim_param = "H"
    with pytest.raises(WorkbookError, match="shape inference gave no shape"):
        model_cost(onnx.ModelProto.FromString(model.SerializeToString()))
