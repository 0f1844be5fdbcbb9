"""How well the CPU's FP16 emulation predicts an FP16 model run for real, layer by layer.

`utils.onnx.fp16_emulation` makes FP16 visible on a CPU by rounding every tensor of the FP16 nodes. Whether that
is a good stand-in for a GPU is a measurement: `layer_predictions` runs, on the same inputs and with every
intermediate tensor exposed (Polygraphy's `*`),

* the FP32 model (the reference, ONNX Runtime CPU),
* the emulation of the FP16 model's own FP16/FP32 split (ONNX Runtime CPU, optimizations off),
* the FP16 model itself on each execution provider asked for (CUDA computes FP16 for real; the CPU provider
  mostly computes it in FP32 behind casts, which is why the emulation exists),

and gives, per tensor both models share (in network order), its SQNR against FP32 for each run and whether it
became inf/NaN. `prediction_summary` condenses that into rank correlation, typical gap in dB and overflow agreement.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import onnx

PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}


@dataclass(frozen=True)
class LayerPrediction:
    tensor: str
    op_type: str  # of the node that writes it
    fp16: bool  # written by an FP16 node of the FP16 model
    emulated_sqnr_db: float  # -inf where the tensor becomes inf/NaN
    measured_sqnr_db: dict[str, float]  # execution provider ("cuda", "cpu") -> SQNR of the real FP16 model


def _run(model: onnx.ModelProto, names: Sequence[str], inputs: Mapping[str, np.ndarray], provider: str,
         optimize: bool) -> dict[str, np.ndarray]:
    import numpy as np

    from utils.onnx.fp16_emulation import tensor_types, with_outputs
    from utils.onnx.sessions import inference_session

    marked = with_outputs(model, names, tensor_types(model))
    session = inference_session(marked, [PROVIDERS[provider]], optimize=optimize)
    with np.errstate(over="ignore"):
        return {name: np.asarray(value, dtype=np.float32)
                for name, value in zip(names, session.run(list(names), dict(inputs)))}


def layer_predictions(fp32_onnx: str | os.PathLike[str], fp16_onnx: str | os.PathLike[str],
                      inputs: Mapping[str, np.ndarray], providers: Sequence[str] = ("cuda",)) -> list[LayerPrediction]:
    """Per shared float tensor: SQNR against FP32 of the emulation of `fp16_onnx` and of `fp16_onnx` run on each of
    `providers` ("cuda", "cpu"). `fp16_onnx` is an FP16 model made from `fp32_onnx` that keeps its node and tensor
    names (ModelOpt AutoCast does); `inputs` are FP32 arrays keyed by input name."""
    import onnx

    from utils.compare.quality import sqnr_db
    from utils.environment import onnxruntime_provider_unavailable
    from utils.errors import WorkbookError
    from utils.onnx.fp16_emulation import FLOAT, FLOAT16, emulate_fp16, fp32_nodes_of, tensor_types

    for provider in providers:
        if provider not in PROVIDERS:
            raise WorkbookError(f"unknown execution provider {provider!r}; choose from {', '.join(PROVIDERS)}")
        reason = onnxruntime_provider_unavailable(PROVIDERS[provider])
        if reason:
            raise WorkbookError(f"cannot run the FP16 model on {provider}: {reason}")
    fp32, fp16 = onnx.load(str(Path(fp32_onnx))), onnx.load(str(Path(fp16_onnx)))
    fp32_types, fp16_types = tensor_types(fp32), tensor_types(fp16)
    writers = {name: node for node in fp32.graph.node if node.op_type != "Constant" for name in node.output if name}
    fp16_names = {name for node in fp16.graph.node for name in node.output}
    tensors = [name for name in writers if fp32_types.get(name) == FLOAT and name in fp16_names
               and fp16_types.get(name) in (FLOAT, FLOAT16)]
    reference = _run(fp32, tensors, inputs, "cpu", optimize=False)
    emulated = _run(emulate_fp16(fp32, fp32_nodes_of(fp16, fp32)), tensors, inputs, "cpu", optimize=False)
    measured = {provider: _run(fp16, tensors, inputs, provider, optimize=True) for provider in providers}
    return [LayerPrediction(tensor=name, op_type=writers[name].op_type, fp16=fp16_types.get(name) == FLOAT16,
                            emulated_sqnr_db=sqnr_db(reference[name], emulated[name]),
                            measured_sqnr_db={p: sqnr_db(reference[name], measured[p][name]) for p in providers})
            for name in tensors]


@dataclass(frozen=True)
class PredictionSummary:
    provider: str
    tensors: int
    rank_correlation: float  # Spearman, over tensors finite in both runs and below `exact_db`
    median_gap_db: float  # median of emulated - measured SQNR over those tensors (> 0: the emulation is optimistic)
    overflow_emulated: tuple[str, ...]  # tensors that became inf/NaN in the emulation
    overflow_measured: tuple[str, ...]  # ... and in the real run

    @property
    def overflow_agrees(self) -> bool:
        return self.overflow_emulated == self.overflow_measured


def prediction_summary(rows: Sequence[LayerPrediction], provider: str = "cuda",
                       exact_db: float = 200.0) -> PredictionSummary:
    """How well the emulation predicted `provider`'s real run: Spearman rank correlation of the per-tensor SQNR and
    the median gap in dB, over tensors finite in both and not exact (FP32 nodes reproduce FP32 to within `exact_db`
    or exactly, which says nothing about FP16), and which tensors overflowed in each."""
    import numpy as np

    def overflowed(value: float) -> bool:
        return value == -math.inf or math.isnan(value)

    compared = [(row.emulated_sqnr_db, row.measured_sqnr_db[provider]) for row in rows
                if math.isfinite(row.emulated_sqnr_db) and math.isfinite(row.measured_sqnr_db[provider])
                and min(row.emulated_sqnr_db, row.measured_sqnr_db[provider]) < exact_db]
    if len(compared) >= 3:
        from scipy.stats import spearmanr

        emulated, measured = (np.array(column) for column in zip(*compared))
        correlation = float(spearmanr(emulated, measured).statistic)
        gap = float(np.median(emulated - measured))
    else:
        correlation = gap = math.nan
    return PredictionSummary(
        provider=provider, tensors=len(compared), rank_correlation=correlation, median_gap_db=gap,
        overflow_emulated=tuple(row.tensor for row in rows if overflowed(row.emulated_sqnr_db)),
        overflow_measured=tuple(row.tensor for row in rows if overflowed(row.measured_sqnr_db[provider])))
