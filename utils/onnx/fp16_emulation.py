"""FP16 made visible on a CPU: an FP32 graph whose FP16 nodes round everything they read and write to FP16.

ONNX Runtime's CPU provider computes most FP16 operators in FP32 (it inserts casts around them), and its graph
optimizer folds constant scales into convolutions, so running an FP16 model there can hide an overflow that a GPU
shows (measured: a convolution whose outputs reach 2.5e5 gives inf on CUDA). `emulate_fp16` rewrites the FP32 graph
instead, for a chosen split into FP16 nodes and FP32 nodes (those named in `fp32_nodes`, and Constant nodes):

* after every float output of an FP16 node: Cast to FLOAT16, then Cast back to FLOAT, under the output's own name, so
  every tensor an FP16 node writes is stored as FP16 would store it, and a value beyond 65504 becomes inf;
* before an FP16 node, the same pair on every float input that does not already come from an FP16 node (a graph
  input, an FP32 node's output, a Constant), as AutoCast's casts into an FP16 region do;
* every float initializer an FP16 node reads is rounded to FP16 (a rounded copy where FP32 nodes share it).

Run it with `graph_optimization_level = ORT_DISABLE_ALL` (`emulation_session`) so no cast or constant is folded away.

What it captures: storage rounding of every FP16 tensor, overflow past 65504 to inf (and the NaN that follows),
rounding of the weights. What it does not: FP16 accumulation inside a kernel (each operator still computes in FP32
from the rounded inputs), the internals of fused kernels (a convolution, its bias and activation fused in one kernel
round once, here after each node), and a GPU's different algorithms (Winograd, split-K, TF32). It is an
approximation from below of a GPU's FP16 error, and an exact view of where values overflow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnx
    import onnxruntime

FLOAT, FLOAT16 = 1, 10  # onnx.TensorProto element types


def tensor_types(model: onnx.ModelProto) -> dict[str, int]:
    """Element type of every tensor ONNX shape inference can type (inputs, initializers, node outputs)."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    graph = inferred.graph
    types = {v.name: v.type.tensor_type.elem_type for v in (*graph.input, *graph.value_info, *graph.output)}
    types.update({init.name: init.data_type for init in graph.initializer})
    for node in graph.node:  # Constant outputs are not always in value_info
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    types.setdefault(node.output[0], attr.t.data_type)
    return types


def with_outputs(model: onnx.ModelProto, names: Iterable[str], types: Mapping[str, int] | None = None) -> onnx.ModelProto:
    """A copy of `model` with every tensor in `names` also a graph output (Polygraphy's `*`), each of the
    element type `types` gives it (FLOAT where `types` is None or does not know it)."""
    import onnx
    from onnx import helper

    marked = onnx.ModelProto()
    marked.CopyFrom(model)
    present = {v.name for v in marked.graph.output}
    marked.graph.output.extend(helper.make_tensor_value_info(name, (types or {}).get(name, FLOAT), None)
                               for name in names if name not in present)
    return marked


def float_outputs(node: onnx.NodeProto, types: dict[str, int]) -> list[str]:
    return [name for name in node.output if name and types.get(name) == FLOAT]


def emulate_fp16(model: onnx.ModelProto, fp32_nodes: Iterable[str]) -> onnx.ModelProto:
    """A copy of FP32 `model` in which every node not named in `fp32_nodes` (Constant nodes aside) behaves, at its
    inputs, outputs and weights, like an FP16 node (see the module docstring). Tensor names are unchanged."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    keep = set(fp32_nodes)
    types = tensor_types(model)
    emulated = onnx.ModelProto()
    emulated.CopyFrom(model)
    graph = emulated.graph
    initializers = {init.name: init for init in graph.initializer}
    used = {name for node in graph.node for name in node.input} | {v.name for v in graph.output}
    taken = used | set(initializers) | {name for node in graph.node for name in node.output}

    def fresh(base: str) -> str:
        name, index = base, 1
        while name in taken:
            name, index = f"{base}_{index}", index + 1
        taken.add(name)
        return name

    def cast_pair(source: str, target: str) -> list[onnx.NodeProto]:
        half = fresh(f"{target}__fp16")
        return [helper.make_node("Cast", [source], [half], name=fresh(f"{target}__to_fp16"), to=FLOAT16),
                helper.make_node("Cast", [half], [target], name=fresh(f"{target}__to_fp32"), to=FLOAT)]

    def is_fp16(node: onnx.NodeProto) -> bool:
        return node.op_type != "Constant" and node.name not in keep

    rounded_from_fp16 = {name for node in graph.node if is_fp16(node) for name in float_outputs(node, types)}
    rounded_inputs: dict[str, str] = {}  # FP32 tensor -> its FP16-rounded copy
    new_nodes: list[onnx.NodeProto] = []
    for node in graph.node:
        if not is_fp16(node):
            new_nodes.append(node)
            continue
        for index, name in enumerate(node.input):
            if not name or types.get(name) != FLOAT or name in rounded_from_fp16:
                continue
            if name not in rounded_inputs:
                rounded_inputs[name] = fresh(f"{name}__rounded")
                if name in initializers:
                    values = numpy_helper.to_array(initializers[name])
                    values = values.astype(np.float16).astype(np.float32)
                    graph.initializer.append(numpy_helper.from_array(values, rounded_inputs[name]))
                else:
                    new_nodes.extend(cast_pair(name, rounded_inputs[name]))
            node.input[index] = rounded_inputs[name]
        after = []
        for index, name in enumerate(node.output):
            if name and types.get(name) == FLOAT:
                computed = fresh(f"{name}__fp32")
                node.output[index] = computed
                after.extend(cast_pair(computed, name))
        new_nodes.append(node)
        new_nodes.extend(after)
    del graph.node[:]
    graph.node.extend(new_nodes)
    return emulated


def fp32_nodes_of(converted: onnx.ModelProto, original: onnx.ModelProto) -> list[str]:
    """Names of `original`'s nodes (Constant nodes aside) that compute in FP32 in `converted` (an AutoCast model):
    their float outputs are FLOAT there, not FLOAT16. In `original`'s order."""
    original_types = tensor_types(original)
    converted_types = tensor_types(converted)
    by_name = {node.name: node for node in converted.graph.node}
    kept = []
    for node in original.graph.node:
        if node.op_type == "Constant" or not float_outputs(node, original_types) or node.name not in by_name:
            continue
        if any(converted_types.get(name) == FLOAT for name in by_name[node.name].output):
            kept.append(node.name)
    return kept


def emulation_session(model: onnx.ModelProto) -> onnxruntime.InferenceSession:
    """A CPU InferenceSession of `model` with every graph optimization off, so nothing is folded or fused away."""
    from utils.onnx.sessions import inference_session

    return inference_session(model, optimize=False)
