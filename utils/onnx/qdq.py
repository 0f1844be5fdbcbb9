"""Reading and editing the Q/DQ pairs of a quantized ONNX model: which nodes read quantized tensors, and a copy in
which chosen nodes read some or all of their inputs unquantized (what ModelOpt's `nodes_to_exclude` does to a
convolution, without calibrating again)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from utils.errors import WorkbookError, one_of

if TYPE_CHECKING:
    import onnx

INPUT_KINDS = ("all", "weights", "activations")


def quantized_nodes(model: onnx.ModelProto) -> set[str]:
    """Names of the nodes of a Q/DQ model that read at least one dequantized tensor."""
    dequantized = {name for node in model.graph.node if node.op_type == "DequantizeLinear" for name in node.output}
    return {node.name for node in model.graph.node if any(name in dequantized for name in node.input)}


def _quantize_node(name: str, by_output: Mapping[str, onnx.NodeProto]) -> onnx.NodeProto | None:
    """The QuantizeLinear of the Q/DQ pair that writes `name`, if a DequantizeLinear fed by one writes it."""
    dq = by_output.get(name)
    if dq is None or dq.op_type != "DequantizeLinear":
        return None
    q = by_output.get(dq.input[0])
    return q if q is not None and q.op_type == "QuantizeLinear" else None


def _constants(model: onnx.ModelProto) -> set[str]:
    return ({init.name for init in model.graph.initializer}
            | {name for node in model.graph.node if node.op_type == "Constant" for name in node.output})


def _is_weight(tensor: str, by_output: Mapping[str, onnx.NodeProto], constants: set[str]) -> bool:
    q = _quantize_node(tensor, by_output)
    return (q.input[0] if q is not None else tensor) in constants


def is_weight(tensor: str, model: onnx.ModelProto) -> bool:
    """Whether `tensor` is a constant of `model` (an initializer or a Constant node's output), or a Q/DQ pair of one."""
    return _is_weight(tensor, {name: node for node in model.graph.node for name in node.output}, _constants(model))


def quantized_inputs(model: onnx.ModelProto, node_name: str) -> dict[str, bool]:
    """The inputs of node `node_name` that come from a Q/DQ pair, each with whether it is a weight."""
    by_output = {name: node for node in model.graph.node for name in node.output}
    constants = _constants(model)
    node = next((node for node in model.graph.node if node.name == node_name), None)
    if node is None:
        raise WorkbookError(f"the model has no node named {node_name!r}")
    return {name: _is_weight(name, by_output, constants) for name in node.input
            if name and _quantize_node(name, by_output) is not None}


def without_qdq(quantized: onnx.ModelProto, nodes: Sequence[str], inputs: str = "all") -> onnx.ModelProto:
    """A copy of a Q/DQ model in which `nodes` read their inputs unquantized: every input (`inputs="all"`), only the
    weights, or only the activations, that comes from a DequantizeLinear fed by a QuantizeLinear is rewired to the
    QuantizeLinear's own input; Q/DQ nodes left unused are removed."""
    import onnx

    one_of(inputs, INPUT_KINDS, "inputs")
    model = onnx.ModelProto()
    model.CopyFrom(quantized)
    graph = model.graph
    by_output = {name: node for node in graph.node for name in node.output}
    constants, wanted = _constants(model), set(nodes)
    for node in graph.node:
        if node.name not in wanted:
            continue
        for index, name in enumerate(node.input):
            q = _quantize_node(name, by_output)
            if q is not None and (inputs == "all" or _is_weight(name, by_output, constants) == (inputs == "weights")):
                node.input[index] = q.input[0]
    while True:
        used = {name for node in graph.node for name in node.input} | {v.name for v in graph.output}
        unused = [node for node in graph.node if node.op_type in ("QuantizeLinear", "DequantizeLinear")
                  and not any(name in used for name in node.output)]
        if not unused:
            return model
        for node in unused:
            graph.node.remove(node)
