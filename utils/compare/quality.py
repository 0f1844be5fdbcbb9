"""How much of a tensor survives reduced precision, in numbers that compare across layers.

Absolute differences depend on each tensor's magnitude (a logit of 20 and an activation of 0.01 cannot share
a tolerance), so per-layer quality is measured relative to the signal:

* SQNR (signal-to-quantization-noise ratio), in dB: 10 log10(sum(reference^2) / sum((reference - target)^2)).
  Each 6 dB is about one more bit of agreement; FP16 rounding alone gives about 60-70 dB; values under about
  20 dB mean the noise is a tenth of the signal.
* Cosine similarity of the flattened tensors: 1 where the target points the same way, whatever its scale.

For whole models on an evaluation set, `agreement` gives the logit SQNR (the headline: it moves steadily with the
noise), top-5 agreement, and top-1 agreement where the reference is confident. Plain top-1 agreement counts near
ties as losses: where FP32 itself gives its top two classes almost the same probability (a tabby or a tiger cat),
any noise decides between them, and that says nothing about what INT8 costs. Confident means the top class leads
the runner-up by at least `CONFIDENT_MARGIN` of probability.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from utils.errors import WorkbookError

if TYPE_CHECKING:
    import numpy as np

CONFIDENT_MARGIN = 0.10  # the reference's top-1 probability minus its second's, for an input to count as confident


@dataclass(frozen=True)
class TensorQuality:
    name: str
    sqnr_db: float  # math.inf where the target equals the reference
    cosine: float
    max_abs: float


def _as_float64(reference: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    if reference.shape != target.shape:
        raise WorkbookError(f"tensors of shapes {reference.shape} and {target.shape} cannot be compared; compare runs of the same model and batch")
    return np.asarray(reference, np.float64).ravel(), np.asarray(target, np.float64).ravel()


def sqnr_db(reference: np.ndarray, target: np.ndarray) -> float:
    """Signal-to-quantization-noise ratio of `target` against `reference`, in dB (inf if they are equal;
    -inf if the reference is all zeros and the target is not)."""
    import numpy as np

    ref, tgt = _as_float64(reference, target)
    noise = float(np.sum((ref - tgt) ** 2))
    signal = float(np.sum(ref ** 2))
    if not (math.isfinite(noise) and math.isfinite(signal)):
        return -math.inf  # an overflow (inf or NaN) in either run: no signal survives
    if noise == 0.0:
        return math.inf
    if signal == 0.0:
        return -math.inf
    return 10.0 * math.log10(signal / noise)


def cosine_similarity(reference: np.ndarray, target: np.ndarray) -> float:
    """Cosine of the angle between the flattened tensors (1.0 for two all-zero tensors, 0.0 if only one is)."""
    import numpy as np

    ref, tgt = _as_float64(reference, target)
    norms = float(np.linalg.norm(ref) * np.linalg.norm(tgt))
    if not math.isfinite(norms):
        return math.nan
    if norms == 0.0:
        return 1.0 if not ref.any() and not tgt.any() else 0.0
    return float(np.dot(ref, tgt) / norms)


def layer_quality(reference: Mapping[str, np.ndarray], target: Mapping[str, np.ndarray]) -> list[TensorQuality]:
    """SQNR, cosine and max |difference| of every tensor both runs have (same name and shape), in the reference's
    order, which for a run with every tensor marked is network order."""
    import numpy as np

    rows = []
    for name, ref in reference.items():
        tgt = target.get(name)
        if tgt is None or tgt.shape != ref.shape:
            continue
        difference = np.abs(np.asarray(ref, np.float64) - np.asarray(tgt, np.float64))
        rows.append(TensorQuality(name=name, sqnr_db=sqnr_db(ref, tgt), cosine=cosine_similarity(ref, tgt),
                                  max_abs=float(np.max(difference)) if difference.size else 0.0))
    if not rows:
        raise WorkbookError("the two runs share no tensor of the same name and shape; compare runs of the same model")
    return rows


def top_k_agreement(reference_logits: np.ndarray, target_logits: np.ndarray, k: int = 1) -> float:
    """For k = 1, the fraction of inputs whose top-1 class is the same; for k > 1, the mean overlap of the two
    top-k sets (5 of 5 shared classes count 1.0, 4 of 5 count 0.8)."""
    import numpy as np

    ref, tgt = np.asarray(reference_logits), np.asarray(target_logits)
    if ref.ndim != 2 or ref.shape != tgt.shape:
        raise WorkbookError(f"logits of shapes {ref.shape} and {tgt.shape} cannot be compared; give [inputs, classes] for both")
    if not 1 <= k <= ref.shape[1]:
        raise WorkbookError(f"top-{k} is out of range for {ref.shape[1]} classes")
    ref_top = np.argsort(-ref, axis=1, kind="stable")[:, :k]
    tgt_top = np.argsort(-tgt, axis=1, kind="stable")[:, :k]
    shared = [len(set(a) & set(b)) / k for a, b in zip(ref_top.tolist(), tgt_top.tolist())]
    return float(np.mean(shared))


def confident(reference_logits: np.ndarray, margin: float = CONFIDENT_MARGIN) -> np.ndarray:
    """Which inputs the reference is confident about: its top class leads the second by at least `margin` of
    softmax probability."""
    import numpy as np
    from scipy.special import softmax

    probabilities = np.sort(softmax(np.asarray(reference_logits, np.float64), axis=1), axis=1)
    return probabilities[:, -1] - probabilities[:, -2] >= margin


@dataclass(frozen=True)
class Agreement:
    """How far a reduced-precision model's logits are from the reference's, on one evaluation set."""

    sqnr_db: float  # logit SQNR: the headline
    top1: float  # top-1 agreement on every input (near ties included)
    top5: float  # mean overlap of the top-5 sets
    confident_top1: float  # top-1 agreement on the confident inputs (nan if there are none)
    confident: int  # how many inputs are confident
    inputs: int


def agreement(reference_logits: np.ndarray, target_logits: np.ndarray, margin: float = CONFIDENT_MARGIN) -> Agreement:
    import numpy as np

    sure = confident(reference_logits, margin)
    if sure.any():
        confident_top1 = float(np.mean(np.asarray(reference_logits)[sure].argmax(1) == np.asarray(target_logits)[sure].argmax(1)))
    else:
        confident_top1 = math.nan
    return Agreement(sqnr_db(reference_logits, target_logits), top_k_agreement(reference_logits, target_logits),
                     top_k_agreement(reference_logits, target_logits, 5), confident_top1, int(sure.sum()),
                     len(reference_logits))
