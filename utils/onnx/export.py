"""PyTorch -> ONNX with a dynamic batch axis, checked, shape-inferred and written atomically; loading with one-line errors."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from utils.errors import WorkbookError
from utils.files import atomic_path

if TYPE_CHECKING:
    import onnx
    import torch

INPUT_NAME = "input"
OUTPUT_NAME = "logits"
BATCH_AXIS = "batch"
DEFAULT_OPSET = 17
SUPPORTED_OPSETS = range(13, 22)


def export_onnx(model: torch.nn.Module, destination: str | os.PathLike[str], input_shape: tuple[int, int, int],
                opset: int = DEFAULT_OPSET) -> Path:
    """Export `model` (eval mode) to ONNX with inputs `input` [batch, C, H, W] and outputs `logits` [batch, 1000].
    An export identical to the file already at `destination` leaves that file as it was, so what was made from it
    (the FP16 twin, the INT8 models, engines) stays current."""
    import onnx
    import torch

    if opset not in SUPPORTED_OPSETS:
        raise WorkbookError(f"opset {opset} is not supported here; choose {SUPPORTED_OPSETS.start} to {SUPPORTED_OPSETS.stop - 1}")
    destination = Path(destination)
    example = torch.zeros((2, *input_shape), dtype=torch.float32)
    with atomic_path(destination, keep_identical=True) as tmp, warnings.catch_warnings():
        # The TorchScript exporter is the one that produces plain ONNX ops for every TensorRT version from 8.6 on.
        warnings.simplefilter("ignore", category=DeprecationWarning)
        torch.onnx.export(
            model.eval(), (example,), str(tmp), dynamo=False, opset_version=opset,
            input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: BATCH_AXIS}, OUTPUT_NAME: {0: BATCH_AXIS}},
        )
        checked = onnx.shape_inference.infer_shapes(onnx.load(str(tmp)), check_type=True, strict_mode=True)
        onnx.checker.check_model(checked, full_check=True)
        onnx.save(checked, str(tmp))
    return destination


def load_onnx(path: str | os.PathLike[str]) -> onnx.ModelProto:
    """Load and check an ONNX file, or fail with a one-line error that says what to do."""
    import onnx
    from google.protobuf.message import DecodeError

    path = Path(path)
    if not path.is_file():
        raise WorkbookError(f"ONNX file {path} does not exist; export it first with `python -m utils export`")
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except (DecodeError, onnx.checker.ValidationError, OSError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WorkbookError(f"{path} is not a valid ONNX model ({first_line}); re-export it with `python -m utils export`") from None
    if not model.graph.output:
        raise WorkbookError(f"{path} has no graph outputs; re-export it with `python -m utils export`")
    return model
