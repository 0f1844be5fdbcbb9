"""ONNX Runtime sessions that compute a Q/DQ model the same way on every CPU.

ONNX Runtime's graph optimizer rewrites the QuantizeLinear/DequantizeLinear pairs around a convolution or a matrix
product into one fused integer kernel (QLinearConv, QLinearMatMul, ...). On an x86-64 CPU without VNNI (AVX2 only,
or AVX-512 without VNNI: AMD Zen 2/3, Intel before Cascade Lake) that kernel adds pairs of u8 x s8 products into
16 bits with VPMADDUBSW, which saturates: the same model gives other, wrong, answers there (measured: the
workbook's INT8 EfficientNet-Lite0 fell from 84 % to 28 % top-1 agreement). ONNX Runtime's documentation names
the saturation; the answer depends on the instruction set, which no result of the workbook may.

The session config entry `session.disable_quant_qdq = "1"` keeps Q and DQ as operators of their own: every value is
rounded to its INT8 step and computed on in floating point, exactly the arithmetic the Q/DQ nodes describe (and that
TensorRT's INT8 kernels approximate), on every CPU. Every ONNX Runtime session the workbook opens comes from here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnx
    import onnxruntime

CPU_PROVIDER = "CPUExecutionProvider"
# Q and DQ stay separate operators: no fused integer kernels, whose results depend on the CPU's instruction set.
EXACT_QDQ_CONFIG = {"session.disable_quant_qdq": "1"}


def session_options(*, optimize: bool = True) -> onnxruntime.SessionOptions:
    """The workbook's session options: exact Q/DQ arithmetic, warnings off; `optimize=False` turns every graph
    optimization off too (nothing folded or fused away, as the FP16 emulation needs)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    for key, value in EXACT_QDQ_CONFIG.items():
        options.add_session_config_entry(key, value)
    if not optimize:
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    return options


def inference_session(model: onnx.ModelProto | bytes | str | os.PathLike[str],
                      providers: Sequence[str | tuple[str, dict[str, str]]] = (CPU_PROVIDER,), *,
                      optimize: bool = True) -> onnxruntime.InferenceSession:
    """An InferenceSession of `model` (a model, its serialized bytes or a path) on `providers` (names, or (name,
    provider options) pairs, as ONNX Runtime takes them), with `session_options`."""
    import onnxruntime

    if hasattr(model, "SerializeToString"):
        model = model.SerializeToString()
    source = model if isinstance(model, bytes) else os.fspath(model)
    return onnxruntime.InferenceSession(source, sess_options=session_options(optimize=optimize),
                                        providers=list(providers))
