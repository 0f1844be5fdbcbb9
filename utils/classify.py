"""Top-K ImageNet classes for images, through any of the workbook's runtimes."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from utils.errors import WorkbookError

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Prediction:
    class_id: int
    name: str
    probability: float


def top_k(logits: np.ndarray, k: int = 5) -> list[list[Prediction]]:
    """The `k` most probable classes of each row of `logits` [batch, 1000], most probable first."""
    import numpy as np
    from scipy.special import softmax

    from utils.labels import NUM_CLASSES, class_name

    if not 1 <= k <= NUM_CLASSES:
        raise WorkbookError(f"--top {k} is out of range; choose 1 to {NUM_CLASSES}")
    probabilities = softmax(np.asarray(logits, np.float64), axis=-1)
    order = np.argsort(-probabilities, axis=-1, kind="stable")[:, :k]
    return [[Prediction(int(i), class_name(int(i)), float(row[i])) for i in ids] for row, ids in zip(probabilities, order)]


def classify_files(paths: Sequence[str | os.PathLike[str]], model_name: str, backend: str = "pytorch-cpu",
                   k: int = 5, precision: str = "fp32") -> list[dict[str, object]]:
    """`[{"image": path, "top": [{"class_id", "name", "probability"}, ...]}, ...]`, one entry per image.

    The images are read first, so a missing or unreadable file is reported before anything about the backend.
    """
    from utils.images import load_batch
    from utils.models import get_model_spec
    from utils.runtimes import open_runtime, runtime_class

    runtime_class(backend)
    spec = get_model_spec(model_name)
    batch = load_batch(paths, spec.preprocessing)
    with open_runtime(backend, model_name, precision, max_batch=len(batch)) as runtime:
        logits = runtime.infer(batch)
    return [{"image": str(path), "top": [asdict(p) for p in top]} for path, top in zip(paths, top_k(logits, k))]
