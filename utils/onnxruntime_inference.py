"""ONNX Runtime sessions and inference, with the parity check against PyTorch."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from utils.errors import WorkbookError

if TYPE_CHECKING:
    import numpy as np
    import onnxruntime
    import torch


def create_session(onnx_path: str | os.PathLike[str], providers: list[str] | None = None) -> onnxruntime.InferenceSession:
    """An InferenceSession on the best available provider (CUDA if onnxruntime-gpu is installed, else CPU)."""
    import onnxruntime

    from utils.onnx_export import load_onnx

    load_onnx(onnx_path)  # one-line errors for missing or corrupt files
    available = onnxruntime.get_available_providers()
    if providers is None:
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(str(Path(onnx_path)), sess_options=options, providers=providers)


def run_session(session: onnxruntime.InferenceSession, batch: np.ndarray) -> np.ndarray:
    """The first output of `session` for an NCHW float32 batch."""
    input_name = session.get_inputs()[0].name
    return session.run(None, {input_name: batch})[0]


def torch_logits(model: torch.nn.Module, batch: np.ndarray) -> np.ndarray:
    import torch

    with torch.inference_mode():
        return model(torch.from_numpy(batch)).numpy()


def max_abs_difference(a: np.ndarray, b: np.ndarray) -> float:
    import numpy as np

    if a.shape != b.shape:
        raise WorkbookError(f"outputs have different shapes {a.shape} and {b.shape}; compare runs of the same model and batch")
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))
