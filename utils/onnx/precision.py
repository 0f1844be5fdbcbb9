"""Reduced-precision copies of an ONNX model: the form strongly typed TensorRT (11.x, TensorRT-RTX) builds from."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from utils.errors import WorkbookError
from utils.files import atomic_path

if TYPE_CHECKING:
    import numpy as np


def convert_to_fp16(source: str | os.PathLike[str], destination: str | os.PathLike[str], *,
                    reference_inputs: np.ndarray | None = None) -> Path:
    """An FP16 copy of an FP32 ONNX model whose inputs and outputs stay FP32, made by NVIDIA ModelOpt's AutoCast.

    This is the form strongly typed TensorRT (11.x, TensorRT-RTX) builds into an FP16 engine. AutoCast runs the FP32
    model once on reference inputs and keeps in FP32 any node whose activations would overflow FP16 (above 512 in
    magnitude) or whose weights do not fit FP16; every other node becomes FP16. `reference_inputs` are preprocessed
    inputs [N, C, H, W] for a one-input model (such as `utils.calibration.calibration_inputs(model, 16)`); without
    them AutoCast uses seeded random values in [-1, 1] (the same every run).
    """
    import numpy as np
    import onnx

    from utils.onnx.export import load_onnx
    from utils.onnx.quiet import quiet_modelopt

    source, destination = Path(source), Path(destination)
    model = load_onnx(source)  # a missing or broken file is one line before ModelOpt sees it
    with tempfile.TemporaryDirectory(prefix=".autocast-") as scratch:
        reference = None
        if reference_inputs is not None:
            initializers = {init.name for init in model.graph.initializer}
            names = [v.name for v in model.graph.input if v.name not in initializers]
            if len(names) != 1:
                raise WorkbookError(f"{source} has {len(names)} inputs; reference inputs are for one-input models")
            input_name = names[0]
            reference = str(Path(scratch) / "reference.npz")
            np.savez(reference, **{input_name: np.asarray(reference_inputs, dtype=np.float32)})
        with quiet_modelopt(f"converting {source} to FP16 with ModelOpt AutoCast"):
            from modelopt.onnx.autocast import convert_to_mixed_precision

            half = convert_to_mixed_precision(onnx_path=str(source), low_precision_type="fp16", keep_io_types=True,
                                              calibration_data=reference, providers=["cpu"])
    onnx.checker.check_model(half)
    with atomic_path(destination) as tmp:
        onnx.save(half, str(tmp))
    return destination
