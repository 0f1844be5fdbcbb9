"""INT8 post-training quantization of an ONNX model with NVIDIA ModelOpt: Q/DQ pairs TensorRT fuses into INT8 kernels."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from utils.errors import WorkbookError, one_of

if TYPE_CHECKING:
    import numpy as np
    import onnx

    from utils.onnx.sensitivity import SensitivityProfile

METHODS = ("max", "entropy")
HIGH_PRECISIONS = ("fp32", "fp16")
QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")
# Operators of ONNX Runtime's other quantized form (QOperator) and of dynamic quantization: quantized already.
QUANTIZED_OPS = (*QDQ_OPS, "QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger", "DynamicQuantizeLinear")


@dataclass(frozen=True)
class QdqSummary:
    """What quantization did to a model: Q/DQ pairs, and how many compute nodes read a dequantized tensor."""

    qdq_pairs: int  # QuantizeLinear nodes whose output feeds a DequantizeLinear
    quantized_nodes: int  # nodes (not Q/DQ, not Constant) with at least one input from a DequantizeLinear
    total_nodes: int  # nodes that are neither Q/DQ nor Constant
    nonzero_zero_points: int  # Q/DQ nodes whose zero point is not 0 (TensorRT needs 0: symmetric quantization)


def qdq_summary(model: onnx.ModelProto) -> QdqSummary:
    """Count Q/DQ pairs, quantized nodes and non-zero zero points in `model`."""
    from onnx import numpy_helper

    nodes = list(model.graph.node)
    constants = {init.name: init for init in model.graph.initializer}
    constants.update({out: attr.t for n in nodes if n.op_type == "Constant" for attr in n.attribute
                      if attr.name == "value" for out in n.output})
    dequantized = {out for n in nodes if n.op_type == "DequantizeLinear" for out in n.output}
    feeds_dq = {name for n in nodes if n.op_type == "DequantizeLinear" for name in n.input[:1]}
    pairs = sum(1 for n in nodes if n.op_type == "QuantizeLinear" and any(o in feeds_dq for o in n.output))
    compute = [n for n in nodes if n.op_type not in (*QDQ_OPS, "Constant")]
    quantized = sum(1 for n in compute if any(name in dequantized for name in n.input))
    nonzero = 0
    for n in nodes:
        if n.op_type in QDQ_OPS and len(n.input) > 2 and n.input[2]:
            zero_point = constants.get(n.input[2])
            if zero_point is None or numpy_helper.to_array(zero_point).any():
                nonzero += 1  # a computed zero point cannot be shown to be 0
    return QdqSummary(pairs, quantized, len(compute), nonzero)


def is_quantized(model: onnx.ModelProto) -> bool:
    return any(node.op_type in QUANTIZED_OPS for node in model.graph.node)


def _graph_inputs(model: onnx.ModelProto) -> dict[str, list[int | None]]:
    initializers = {init.name for init in model.graph.initializer}
    return {value.name: [d.dim_value or None for d in value.type.tensor_type.shape.dim]
            for value in model.graph.input if value.name not in initializers}


def _checked_calibration(calibration: np.ndarray | dict[str, np.ndarray], model: onnx.ModelProto,
                         source: Path) -> dict[str, np.ndarray]:
    """Calibration data as {input name: float32 array}, or a one-line error if it does not fit the model."""
    import numpy as np

    inputs = _graph_inputs(model)
    if not isinstance(calibration, dict):
        if len(inputs) != 1:
            raise WorkbookError(f"{source} has {len(inputs)} inputs ({', '.join(inputs)}); give calibration data as a "
                                "dict keyed by input name")
        calibration = {next(iter(inputs)): calibration}
    if sorted(calibration) != sorted(inputs):
        raise WorkbookError(f"calibration data names {sorted(calibration)}, but {source} has inputs {sorted(inputs)}")
    checked = {}
    for name, array in calibration.items():
        array = np.asarray(array)
        dims = inputs[name]
        wanted = "[N, " + ", ".join(str(d) if d else "?" for d in dims[1:]) + "]"
        fits = array.ndim == len(dims) and array.shape[0] >= 1 and all(
            expected is None or expected == actual for expected, actual in zip(dims[1:], array.shape[1:]))
        if not fits:
            raise WorkbookError(f"calibration data for {name!r} has shape {list(array.shape)}; {source} needs {wanted}")
        if not np.issubdtype(array.dtype, np.floating) or not np.all(np.isfinite(array)):
            raise WorkbookError(f"calibration data for {name!r} must be finite floating-point values (preprocessed "
                                f"inputs), not {array.dtype}{' with NaN or inf' if np.issubdtype(array.dtype, np.floating) else ''}")
        checked[name] = np.ascontiguousarray(array, dtype=np.float32)
    return checked


def int8_profile(source_onnx: str | os.PathLike[str], calibration: np.ndarray | dict[str, np.ndarray], *,
                 method: str = "max", samples: int | None = None, split: int = 0) -> SensitivityProfile:
    """How much each node's quantization alone costs the logits (`utils.onnx.sensitivity`): the FP32 model quantized
    in full on `calibration`, then profiled on its first `samples` inputs (default `PROFILE_SAMPLES`)."""
    import onnx

    from utils.onnx.export import load_onnx
    from utils.onnx.sensitivity import PROFILE_SAMPLES, int8_sensitivity

    source = Path(source_onnx)
    model = load_onnx(source)
    data = _checked_calibration(calibration, model, source)
    with tempfile.TemporaryDirectory(prefix=".int8-profile.") as scratch:
        full = quantize_int8(source, Path(scratch) / "full.onnx", data, method=method, exclude_nodes=())
        count = samples or PROFILE_SAMPLES
        return int8_sensitivity(model, onnx.load(str(full)), {name: array[:count] for name, array in data.items()},
                                split=split)


def quantize_int8(source_onnx: str | os.PathLike[str], destination: str | os.PathLike[str],
                  calibration: np.ndarray | dict[str, np.ndarray], *, method: str = "max",
                  high_precision: str = "fp32", exclude_nodes: Sequence[str] | None = None) -> Path:
    """An INT8 Q/DQ copy of an FP32 ONNX model, calibrated on `calibration`, written atomically to `destination`.

    NVIDIA ModelOpt's ONNX post-training quantization (`modelopt.onnx.quantization.quantize`, mode int8, calibrated
    on ONNX Runtime's CPU provider) inserts symmetric QuantizeLinear/DequantizeLinear pairs (zero point 0, which
    TensorRT requires) before convolutions, additions and pooling; the ONNX opset rises to 19.

    `calibration`: preprocessed inputs, an array [N, C, H, W] for a one-input model or a dict keyed by input name.
    `method`: "max" (scale from the largest value seen) or "entropy" (the threshold that loses least information,
    clipping rare outliers). ModelOpt feeds a dynamic-batch model one sample per calibration step, and ONNX Runtime's
    entropy histogram then depends on the samples' order, and even on the CPU's rounding (notebook 06, going deeper);
    notebook 06 calls ModelOpt with `calibration_shapes` to calibrate entropy in one step.
    `exclude_nodes`: names of nodes to leave unquantized (exact names, not patterns), as `utils.onnx.search` chooses;
    `()` quantizes every node ModelOpt would. The default, None, leaves unquantized the nodes that dominate the INT8
    model's error, measured: `int8_profile` on the first calibration inputs, then `SensitivityProfile.dominant` (each
    node whose quantization alone causes at least a quarter of the fully quantized model's logit noise, at most 4).
    On EfficientNet-Lite0 that is one node, the first depthwise convolution (notebook 06).

    `high_precision` is the type of everything that stays unquantized, and it chooses one of two forms:

    * "fp32" (default): FP32 between the INT8 layers, so what it loses against FP32 is the cost of INT8 alone.
    * "fp16": the TensorRT deployment form (ModelOpt's own default), FP16 between the INT8 layers.

    ONNX Runtime's CPU provider computes both exactly as written when its Q/DQ fusion is off, as every session of the
    workbook has it (`utils.onnx.sessions`); with the fusion on, its fused INT8 kernels saturate on CPUs without VNNI.

    Refused with a `WorkbookError`: a model that is already quantized, an unknown method or high precision, a node
    to exclude that the model does not have, and calibration data whose names or shapes do not fit the model. ModelOpt's console output is captured; its
    failures are one line.
    """
    import onnx

    from utils.files import atomic_path, ensure_writable_dir
    from utils.onnx.export import load_onnx
    from utils.onnx.quiet import quiet_modelopt

    one_of(method, METHODS, "calibration method")
    one_of(high_precision, HIGH_PRECISIONS, "high precision")
    source, destination = Path(source_onnx), Path(destination)
    model = load_onnx(source)
    if is_quantized(model):
        raise WorkbookError(f"{source} is already quantized (it has Q/DQ or integer operators); quantize the FP32 model")
    data = _checked_calibration(calibration, model, source)
    ensure_writable_dir(destination.parent)
    unknown = sorted(set(exclude_nodes or ()) - {node.name for node in model.graph.node})
    if unknown:
        raise WorkbookError(f"{source} has no node named {unknown[0]!r}; give node names as the ONNX file has them "
                            "(Netron or onnx.load(...).graph.node show them)")
    if exclude_nodes is None:
        exclude_nodes = int8_profile(source, data, method=method).dominant()
    # ModelOpt writes its output and intermediate files where it is told: a scratch folder beside the destination
    # (removed afterwards), so nothing lands beside the source and the destination appears only when complete.
    with tempfile.TemporaryDirectory(prefix=f".{destination.name}.", dir=destination.parent) as scratch:
        staged_source, staged_output = Path(scratch) / "source.onnx", Path(scratch) / "quantized.onnx"
        onnx.save(model, str(staged_source))
        with quiet_modelopt(f"quantizing {source} to INT8 with ModelOpt"):
            from modelopt.onnx.quantization import quantize

            quantize(onnx_path=str(staged_source), quantize_mode="int8", calibration_data=data,
                     calibration_method=method, calibration_eps=["cpu"], output_path=str(staged_output),
                     high_precision_dtype=high_precision, use_zero_point=False, log_level="INFO",
                     nodes_to_exclude=[f"{re.escape(name)}$" for name in exclude_nodes] or None)
        if not staged_output.is_file():
            raise WorkbookError(f"ModelOpt wrote no quantized model for {source}; run it with log_level='DEBUG' to see why")
        quantized = onnx.load(str(staged_output))
        try:
            onnx.checker.check_model(quantized)
        except onnx.checker.ValidationError as exc:
            raise WorkbookError(f"ModelOpt's INT8 model of {source} is not valid ONNX ({str(exc).strip().splitlines()[0]})") from None
        summary = qdq_summary(quantized)
        if summary.qdq_pairs == 0:
            raise WorkbookError(f"ModelOpt quantized nothing in {source} (no Q/DQ pairs); it has no convolutions or matrix products to quantize")
        if summary.nonzero_zero_points:
            raise WorkbookError(f"ModelOpt's INT8 model of {source} has {summary.nonzero_zero_points} non-zero zero points; "
                                "TensorRT needs symmetric quantization")
        with atomic_path(destination) as tmp:
            shutil.copyfile(staged_output, tmp)
    return destination
