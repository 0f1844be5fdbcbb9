"""What the tests read from an exported ONNX model: its inputs' and outputs' names, element types and shapes."""

from __future__ import annotations

import onnx


def io_summary(model: onnx.ModelProto) -> dict[str, list[tuple[str, str, list[int | str]]]]:
    """Names, element types and shapes (symbolic dims as strings) of a model's inputs and outputs."""

    def describe(values: list[onnx.ValueInfoProto]) -> list[tuple[str, str, list[int | str]]]:
        rows = []
        for value in values:
            tensor = value.type.tensor_type
            dims: list[int | str] = [d.dim_param or d.dim_value for d in tensor.shape.dim]
            rows.append((value.name, onnx.TensorProto.DataType.Name(tensor.elem_type), dims))
        return rows

    initializers = {init.name for init in model.graph.initializer}
    return {
        "inputs": describe([v for v in model.graph.input if v.name not in initializers]),
        "outputs": describe(list(model.graph.output)),
    }
