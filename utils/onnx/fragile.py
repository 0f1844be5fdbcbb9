"""Small synthetic networks, each with one deliberately fragile layer, for the precision lessons and their tests.

* `fp16_overflow_net`: conv/ReLU blocks; the convolution `big` writes values up to ~2e5, past FP16's 65504, before
  a ReLU and a x1e-3 scale bring them back down. In FP16 it overflows to inf; keeping `big`, `big_relu` and
  `scale_down` in FP32 fixes it. Its weights fit FP16, so only the activations show the problem.
* `int8_outlier_net`: `conv1`'s output channel 0 is 1000x the others and `conv2` reads it; one per-tensor INT8 scale
  for `conv2`'s input then zeroes the other channels. Keeping `conv2` unquantized fixes it.

Both take input "input" of shape [N, 32, 6, 6] and give "logits" [N, 10]; `samples` makes inputs for them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FP16_FRAGILE_NODES = ("big", "big_relu", "scale_down")
INT8_FRAGILE_NODE = "conv2"

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


def fp16_overflow_net(path: str | os.PathLike[str], blocks: int = 8) -> Path:
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
    return Path(path)


def int8_outlier_net(path: str | os.PathLike[str]) -> Path:
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
    return Path(path)


def samples(count: int = 16, seed: int = 2) -> dict[str, np.ndarray]:
    """Standard-normal inputs for the synthetic networks, keyed by input name."""
    return {"input": np.random.default_rng(seed).standard_normal((count, C, H, H)).astype(np.float32)}
