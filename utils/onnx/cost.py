"""What an inference must compute and move, read off the ONNX graph: multiply-adds per node and the bytes of weights
and activations, at a given batch size and element size.

Multiply-adds (MACs) are counted for the layers that do nearly all of a CNN's arithmetic: Conv (Cout x Hout x Wout x
Cin/groups x kernel area, per sample), Gemm and MatMul (M x N x K); FLOPs are twice the MACs. Elementwise layers,
pooling and activations are left out of the arithmetic (a few percent of a CNN's FLOPs) but not of the bytes: the
minimum traffic of an inference is every weight read once plus the graph's input and output, and a layer-by-layer
execution also writes and reads each intermediate activation once (`activation_bytes`), which fusion reduces.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnx

FLOAT_BYTES = {"fp32": 4, "fp16": 2, "int8": 1}


@dataclass(frozen=True)
class NodeCost:
    node: str
    op_type: str
    macs: int  # per sample


@dataclass(frozen=True)
class ModelCost:
    nodes: list[NodeCost]  # every Conv, Gemm and MatMul, in graph order
    weight_elements: int  # every float initializer
    input_elements: int  # per sample, graph inputs
    output_elements: int  # per sample, graph outputs
    activation_elements: int  # per sample, every intermediate tensor written once

    @property
    def macs(self) -> int:
        return sum(node.macs for node in self.nodes)

    def flops(self, batch: int = 1) -> int:
        return 2 * self.macs * batch

    def minimum_bytes(self, batch: int = 1, precision: str = "fp32") -> int:
        """Weights once, inputs and outputs at FP32 (the workbook's engines keep FP32 I/O): the least an inference
        can move to and from device memory."""
        return FLOAT_BYTES[precision] * self.weight_elements + 4 * batch * (self.input_elements + self.output_elements)

    def layerwise_bytes(self, batch: int = 1, precision: str = "fp32") -> int:
        """`minimum_bytes` plus every intermediate activation written and read once at `precision`."""
        return self.minimum_bytes(batch, precision) + 2 * FLOAT_BYTES[precision] * batch * self.activation_elements

    def share(self, node: str) -> float:
        """`node`'s share of the model's multiply-adds."""
        return next((n.macs for n in self.nodes if n.node == node), 0) / max(self.macs, 1)


def _elements(shape: list[int]) -> int:
    return math.prod(shape) if shape else 1


def model_cost(onnx_path: str | os.PathLike[str] | onnx.ModelProto) -> ModelCost:
    """The cost of one sample through a model whose first dimension is the batch (set to 1 for shape inference)."""
    import onnx

    from utils.errors import WorkbookError

    model = onnx.load(str(onnx_path)) if not isinstance(onnx_path, onnx.ModelProto) else onnx_path
    fixed = onnx.ModelProto()
    fixed.CopyFrom(model)
    initializers = {init.name: list(init.dims) for init in fixed.graph.initializer}
    for value in list(fixed.graph.input) + list(fixed.graph.output):
        if value.name in initializers:
            continue
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].dim_value:
            dims[0].dim_value = 1
    inferred = onnx.shape_inference.infer_shapes(fixed)
    shapes = dict(initializers)
    for value in list(inferred.graph.input) + list(inferred.graph.value_info) + list(inferred.graph.output):
        dims = value.type.tensor_type.shape.dim
        if all(d.dim_value for d in dims):
            shapes[value.name] = [d.dim_value for d in dims]

    def shape(name: str, node: onnx.NodeProto) -> list[int]:
        if name not in shapes:
            raise WorkbookError(f"shape inference gave no shape for {name!r} (input of {node.name or node.op_type}); "
                                "the cost needs static shapes apart from the batch")
        return shapes[name]

    nodes = []
    for node in inferred.graph.node:
        if node.op_type == "Conv":
            weight, output = shape(node.input[1], node), shape(node.output[0], node)
            macs = _elements(output[1:]) * _elements(weight[1:])
        elif node.op_type in ("Gemm", "MatMul"):
            a, output = shape(node.input[0], node), shape(node.output[0], node)
            transposed = node.op_type == "Gemm" and any(attr.name == "transA" and attr.i for attr in node.attribute)
            k = a[-2] if transposed else a[-1]
            macs = _elements(output) * k
        else:
            continue
        nodes.append(NodeCost(node.name, node.op_type, int(macs)))
    graph_io = {value.name for value in list(inferred.graph.input) + list(inferred.graph.output)}
    floats = (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16)
    weights = sum(_elements(list(init.dims)) for init in model.graph.initializer if init.data_type in floats)
    per_sample = [_elements(shapes[name][1:]) for node in inferred.graph.node for name in node.output
                  if name in shapes and name not in graph_io and name not in initializers]
    inputs = sum(_elements(shapes[v.name][1:]) for v in inferred.graph.input if v.name in shapes and v.name not in initializers)
    outputs = sum(_elements(shapes[v.name][1:]) for v in inferred.graph.output if v.name in shapes)
    return ModelCost(nodes, int(weights), int(inputs), int(outputs), int(sum(per_sample)))
