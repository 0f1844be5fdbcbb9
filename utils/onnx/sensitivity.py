"""Which nodes INT8 hurts: each quantized node's effect on the logits, measured with only that node quantized.

For a Q/DQ model (FP32 elsewhere) and some inputs, the FP32 model's logits are the reference. For each node that
reads quantized tensors, a copy of the Q/DQ model in which every *other* node reads its inputs unquantized
(`utils.onnx.qdq.without_qdq`) gives the logit noise that this node's quantization causes by itself: a direct
measurement of its effect on the logits, not a proxy read off its own output (a node fed by a noisy layer shows a
noisy output without adding the noise; a node whose small error the rest of the network amplifies shows a clean one).
For the most sensitive nodes, quantizing only the weights or only the activations says which of the two it is.

Noise from separate nodes roughly adds (on EfficientNet-Lite0 the isolated noises sum to about 1.2 times the fully
quantized model's), so a node's `noise_share`, its isolated noise over the full model's, is a first-order estimate of
what keeping it in higher precision removes, and `SensitivityProfile.predicted_sqnr_db` adds them up. The cost is one
model run per node (and two more per split node), on few inputs: 8 rank EfficientNet-Lite0's 60 quantized nodes the
same way as 32 do.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import onnx

PROFILE_SAMPLES = 8  # inputs a profile runs on by default
DOMINANT_SHARE = 0.25  # a node whose quantization alone causes this share of the INT8 model's logit noise dominates it
MAX_DOMINANT = 4
CHUNK = 32  # samples per ONNX Runtime run


@dataclass(frozen=True)
class NodeSensitivity:
    node: str
    op_type: str
    sqnr_db: float  # logits against FP32 with only this node quantized (inf: it changes nothing)
    noise_share: float  # that logit noise over the fully quantized model's
    weights_sqnr_db: float | None = None  # only its weights quantized (None: not split, or it reads no quantized weight)
    activations_sqnr_db: float | None = None  # only its activations quantized (None: not split, or none quantized)


@dataclass(frozen=True)
class SensitivityProfile:
    nodes: list[NodeSensitivity]  # the most sensitive first; ties in graph order
    full_sqnr_db: float  # logits with every node quantized
    samples: int  # inputs each run used
    runs: int  # model runs made, the FP32 reference and the full model included

    def dominant(self, share: float = DOMINANT_SHARE, limit: int = MAX_DOMINANT) -> list[str]:
        """The nodes whose quantization alone causes at least `share` of the INT8 model's logit noise, most first."""
        return [row.node for row in self.nodes if row.noise_share >= share][:limit]

    def predicted_sqnr_db(self, kept: Sequence[str]) -> float:
        """The logit SQNR to expect with `kept` in higher precision: the full model's noise less the kept nodes'
        shares of the isolated noises (normalised, since they sum to a little more than the full model's)."""
        total = sum(row.noise_share for row in self.nodes)
        removed = sum(row.noise_share for row in self.nodes if row.node in set(kept))
        left = 1.0 - removed / total if total > 0 else 1.0
        return math.inf if left <= 0 else self.full_sqnr_db - 10 * math.log10(left)

    def to_json(self) -> dict[str, Any]:
        return {"full_sqnr_db": self.full_sqnr_db, "samples": self.samples, "runs": self.runs,
                "nodes": [asdict(row) for row in self.nodes]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SensitivityProfile:
        return cls([NodeSensitivity(**row) for row in data["nodes"]], float(data["full_sqnr_db"]), int(data["samples"]),
                   int(data["runs"]))


def logits(model: onnx.ModelProto, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
    """Every graph output of `model` on `inputs` (first axis = samples), concatenated and flattened, as float64."""
    import numpy as np

    from utils.onnx.sessions import inference_session

    session = inference_session(model)
    count = len(next(iter(inputs.values())))
    outputs = [session.run(None, {name: array[start:start + CHUNK] for name, array in inputs.items()})
               for start in range(0, count, CHUNK)]
    return np.concatenate([np.concatenate([chunk[i] for chunk in outputs]).ravel()
                           for i in range(len(outputs[0]))]).astype(np.float64)


def int8_sensitivity(fp32: onnx.ModelProto, quantized: onnx.ModelProto, inputs: Mapping[str, np.ndarray], *,
                     split: int = 0) -> SensitivityProfile:
    """Each quantized node's logit SQNR and noise share with only it quantized (see the module docstring), on `inputs`
    (arrays keyed by input name); for the `split` most sensitive nodes also with only their weights, or only their
    activations, quantized."""
    from utils.onnx.qdq import quantized_inputs, quantized_nodes, without_qdq

    reference = logits(fp32, inputs)
    full_noise = _noise(reference, logits(quantized, inputs))
    runs = 2
    candidates = [node for node in quantized.graph.node if node.name in quantized_nodes(quantized)]
    names = [node.name for node in candidates]

    def alone(name: str, part: str = "all") -> float:
        """The logit noise with only `name` quantized: all its quantized inputs, or only its weights / activations."""
        nonlocal runs
        model = without_qdq(quantized, [other for other in names if other != name])
        if part != "all":
            model = without_qdq(model, [name], "activations" if part == "weights" else "weights")
        runs += 1
        return _noise(reference, logits(model, inputs))

    noise = {name: alone(name) for name in names}
    signal = float((reference ** 2).sum())
    rows = [NodeSensitivity(node.name, node.op_type, _db(signal, noise[node.name]),
                            noise[node.name] / full_noise if full_noise > 0 else 0.0) for node in candidates]
    rows.sort(key=lambda row: -row.noise_share)  # stable: ties keep graph order
    for index, row in enumerate(rows[:split]):
        kinds = set(quantized_inputs(quantized, row.node).values())  # True: a weight
        parts = {part: _db(signal, alone(row.node, part)) if (part == "weights") in kinds else None
                 for part in ("weights", "activations")}
        rows[index] = NodeSensitivity(row.node, row.op_type, row.sqnr_db, row.noise_share, parts["weights"],
                                      parts["activations"])
    return SensitivityProfile(rows, _db(signal, full_noise), len(next(iter(inputs.values()))), runs)


def _noise(reference: np.ndarray, target: np.ndarray) -> float:
    import numpy as np

    with np.errstate(over="ignore", invalid="ignore"):
        value = float(((reference - target) ** 2).sum())
    return value if value == value else math.inf


def _db(signal: float, noise: float) -> float:
    if noise == 0.0:
        return math.inf
    if not math.isfinite(noise) or signal == 0.0:
        return -math.inf
    return 10 * math.log10(signal / noise)
