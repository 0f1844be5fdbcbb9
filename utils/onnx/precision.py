"""Reduced-precision copies of an ONNX model: the form strongly typed TensorRT (11.x, TensorRT-RTX) builds from."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from utils.files import atomic_path


def convert_to_fp16(source: str | os.PathLike[str], destination: str | os.PathLike[str]) -> Path:
    """An FP16 copy of an FP32 ONNX model whose inputs and outputs stay FP32.

    This is the form strongly typed TensorRT (11.x, TensorRT-RTX) builds into an FP16 engine.
    """
    import onnx
    from onnxconverter_common import float16

    from utils.onnx.export import load_onnx

    model = load_onnx(source)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "values truncated to fp16" for tiny weights, expected and harmless
        half = float16.convert_float_to_float16(model, keep_io_types=True)
    onnx.checker.check_model(half)
    destination = Path(destination)
    with atomic_path(destination) as tmp:
        onnx.save(half, str(tmp))
    return destination
