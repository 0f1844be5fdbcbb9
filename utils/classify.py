"""Top-K ImageNet classes for images, through PyTorch, ONNX Runtime or TensorRT."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from utils.errors import WorkbookError

if TYPE_CHECKING:
    import numpy as np

BACKENDS = ("pytorch", "onnxruntime", "tensorrt")


@dataclass(frozen=True)
class Prediction:
    class_id: int
    name: str
    probability: float


def softmax(logits: np.ndarray) -> np.ndarray:
    import numpy as np

    shifted = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def top_k(logits: np.ndarray, k: int = 5) -> list[list[Prediction]]:
    """The `k` most probable classes of each row of `logits` [batch, 1000], most probable first."""
    import numpy as np

    from utils.labels import NUM_CLASSES, class_name

    if not 1 <= k <= NUM_CLASSES:
        raise WorkbookError(f"--top {k} is out of range; choose 1 to {NUM_CLASSES}")
    probabilities = softmax(logits)
    order = np.argsort(-probabilities, axis=-1, kind="stable")[:, :k]
    return [[Prediction(int(i), class_name(int(i)), float(row[i])) for i in ids] for row, ids in zip(probabilities, order)]


def logits_for_batch(batch: np.ndarray, model_name: str, backend: str, *, precision: str = "fp32") -> np.ndarray:
    """Run one NCHW float32 batch through the chosen backend."""
    if backend == "pytorch":
        from utils.models import load_model
        from utils.onnxruntime_inference import torch_logits

        return torch_logits(load_model(model_name), batch)
    if backend == "onnxruntime":
        from utils.onnx_export import model_onnx_path
        from utils.onnxruntime_inference import create_session, run_session

        return run_session(create_session(model_onnx_path(model_name)), batch)
    if backend == "tensorrt":
        from utils.environment import engine_execution_unavailable
        from utils.trt_runner import TensorRTRunner

        reason = engine_execution_unavailable()
        if reason:
            raise WorkbookError(f"the tensorrt backend cannot run here: {reason}; use --backend onnxruntime")

        engine_path = workbook_engine(model_name, precision)
        with TensorRTRunner(engine_path) as runner:
            (input_name,) = runner.inputs  # the workbook's engines have one image input
            return next(iter(runner.infer({input_name: batch}).values()))
    raise WorkbookError(f"unknown backend {backend!r}; choose one of: {', '.join(BACKENDS)}")


def workbook_engine(model_name: str, precision: str) -> Path:
    """The workbook's engine for a model and precision under build/engines (batch 1 to 32), built or reused."""
    from utils.engine_build import DEFAULT_BATCH, build_engine
    from utils.onnx_export import model_onnx_path
    from utils.paths import artifact_path

    engine_path = artifact_path("engines", f"{model_name}_{precision}.engine")
    build_engine(model_onnx_path(model_name), engine_path, precision=precision, batch=DEFAULT_BATCH)
    return engine_path


def classify_files(paths: Sequence[str | os.PathLike[str]], model_name: str, backend: str = "pytorch",
                   k: int = 5) -> list[dict[str, object]]:
    """`[{"image": path, "top": [{"class_id", "name", "probability"}, ...]}, ...]`, one entry per image."""
    from utils.images import load_batch
    from utils.models import get_model_spec

    if backend not in BACKENDS:
        raise WorkbookError(f"unknown backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
    spec = get_model_spec(model_name)
    batch = load_batch(paths, spec.preprocessing)
    predictions = top_k(logits_for_batch(batch, model_name, backend), k)
    return [{"image": str(path), "top": [asdict(p) for p in top]} for path, top in zip(paths, predictions)]
