"""Mixed-precision search: which few layers must stay in higher precision for a model to meet an accuracy target.

What `polygraphy debug precision` did for TensorRT's weakly typed builds, redone for strongly typed TensorRT (11.x,
TensorRT-RTX), where each layer's precision is written in the ONNX model, and for a CPU (no library does this).
Both searches keep nodes in the order of a ranking and look for the shortest prefix of it that meets the target:
INT8 ranks by `utils.onnx.sensitivity`'s per-node profile and evaluates its predictions; FP16 ranks by the noise
each node adds in one emulated run (`utils.onnx.fp16_emulation`) and grows, re-ranking. The SQNR is of the logits
against the FP32 model on `inputs`, with ONNX Runtime's CPU provider. How each search ranks, grows, bisects and
counts its model runs, and why INT8 keeps nodes by removing Q/DQ pairs rather than re-running ModelOpt:
docs/precision_search.md.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from utils.errors import WorkbookError, one_of
from utils.onnx.fp16_emulation import with_outputs
from utils.onnx.precision import DEFAULT_DATA_MAX

if TYPE_CHECKING:
    import numpy as np
    import onnx

PRECISIONS = ("fp16", "int8")
DEFAULT_MAX_EVALUATIONS = 16
MEASURED_INT8 = "INT8 Q/DQ model (FP32 elsewhere), ONNX Runtime CPU"
PROFILE_BYTES = 256 << 20  # FP32 intermediates kept for per-layer comparison; inputs beyond this give logits only
CHUNK = 8  # samples per ONNX Runtime run


@dataclass(frozen=True)
class SearchStep:
    kept: tuple[str, ...]  # nodes in higher precision in the model evaluated (the search's and the converter's)
    sqnr_db: float  # logits against FP32
    most_sensitive: str | None  # the node this evaluation ranked first among those not kept yet (None once met)
    phase: str = "grow"  # "grow", "bisect" (a prefix of the last growth step's batch), or "final" (the model written)

    @property
    def final(self) -> bool:
        """The model written (FP16: AutoCast's; INT8: ModelOpt re-run), not a search candidate."""
        return self.phase == "final"


@dataclass(frozen=True)
class SearchResult:
    kept: list[str]  # nodes left in higher precision in the model written, in graph order
    sqnr_db: float  # logit SQNR of that model against FP32 on the inputs (-inf on an overflow)
    evaluations: int  # models run, the FP32 reference included
    met: bool  # sqnr_db >= target
    node_count: int  # nodes of the FP32 model, Constant nodes aside
    precision: str
    target_sqnr_db: float
    out_path: Path
    measured_by: str  # how sqnr_db was measured (FP16: emulation on the CPU)
    seconds: float
    history: list[SearchStep] = field(default_factory=list)
    profile_runs: int = 0  # INT8: the sensitivity profile's runs, on its first PROFILE_SAMPLES inputs


class _Reference:
    """The FP32 model's outputs on every input, and its intermediate tensors on the first `profiled` inputs."""

    def __init__(self, model: onnx.ModelProto, inputs: dict[str, np.ndarray], tensors: list[str]) -> None:
        import numpy as np

        self.inputs, self.count = inputs, len(next(iter(inputs.values())))
        self.outputs = [v.name for v in model.graph.output]
        self.tensors = [name for name in tensors if name not in self.outputs]
        session = _session(with_outputs(model, self.tensors))
        first = session.run(self.outputs + self.tensors, self._feed(0, 1))
        per_sample = sum(array.nbytes for array in first)
        self.profiled = max(1, min(self.count, PROFILE_BYTES // max(per_sample, 1)))
        logits: list[list[np.ndarray]] = []
        kept: list[list[np.ndarray]] = []
        for start, stop, profiled in self._chunks():
            results = session.run(self.outputs + (self.tensors if profiled else []), self._feed(start, stop))
            logits.append(results[:len(self.outputs)])
            if profiled:
                kept.append(results[len(self.outputs):])
        self.intermediates = {name: np.concatenate([chunk[i] for chunk in logits])
                              for i, name in enumerate(self.outputs)}  # graph outputs in full, the rest profiled
        self.logits = np.concatenate([self.intermediates[name].ravel() for name in self.outputs])
        self.intermediates.update({name: np.concatenate([chunk[i] for chunk in kept])
                                   for i, name in enumerate(self.tensors)})

    def _chunks(self) -> list[tuple[int, int, bool]]:
        """Runs of at most CHUNK samples, none straddling the end of the profiled ones."""
        edges = sorted({*range(0, self.profiled, CHUNK), self.profiled, *range(self.profiled, self.count, CHUNK),
                        self.count})
        return [(a, b, a < self.profiled) for a, b in zip(edges, edges[1:])]

    def _feed(self, start: int, stop: int) -> dict[str, np.ndarray]:
        return {name: array[start:stop] for name, array in self.inputs.items()}

    def measure(self, model: onnx.ModelProto) -> tuple[float, dict[str, float]]:
        """Logit SQNR of `model`, and the noise-to-signal ratio of each intermediate tensor it shares by name and of
        each graph output (on the profiled inputs)."""
        import numpy as np

        from utils.compare.quality import sqnr_db

        produced = {name for node in model.graph.node for name in node.output}
        shared = [name for name in self.tensors if name in produced]
        session = _session(with_outputs(model, shared))
        signal = dict.fromkeys(self.outputs + shared, 0.0)
        noise = dict.fromkeys(self.outputs + shared, 0.0)
        logits: list[list[np.ndarray]] = []
        for start, stop, profiled in self._chunks():
            if not profiled:
                logits.append(session.run(self.outputs, self._feed(start, stop)))
                continue
            results = session.run(self.outputs + shared, self._feed(start, stop))
            logits.append(results[:len(self.outputs)])
            for name, array in zip(self.outputs + shared, results):
                reference = self.intermediates[name][start:stop].astype(np.float64)
                signal[name] += float(np.sum(reference ** 2))
                with np.errstate(over="ignore", invalid="ignore"):
                    noise[name] += float(np.sum((reference - array.astype(np.float64)) ** 2))
        flat = np.concatenate([np.concatenate([chunk[i] for chunk in logits]).ravel() for i in range(len(self.outputs))])
        return sqnr_db(self.logits, flat), {name: _ratio(noise[name], signal[name]) for name in signal}


def _ratio(noise: float, signal: float) -> float:
    if not math.isfinite(noise):
        return math.inf
    if noise == 0.0:
        return 0.0
    return noise / signal if signal > 0.0 else math.inf


def _session(model: onnx.ModelProto):  # noqa: ANN202 - onnxruntime.InferenceSession, imported lazily
    from utils.onnx.fp16_emulation import emulation_session

    return emulation_session(model)


def _ranked(model: onnx.ModelProto, candidates: Sequence[str], ratios: Mapping[str, float]) -> list[str]:
    """The candidate nodes, the one that adds most noise first: output noise ratio minus its worst input's (inputs
    never measured, such as graph inputs and weights, count as exact); a node whose output becomes inf/NaN from
    finite inputs comes first. Ties keep graph order; candidates without a measured output are left out."""
    wanted = set(candidates)
    scored: list[tuple[float, str]] = []
    for node in model.graph.node:
        if node.name not in wanted:
            continue
        outputs = [ratios[name] for name in node.output if name in ratios]
        if not outputs:
            continue
        before = max([ratios.get(name, 0.0) for name in node.input if name] or [0.0])
        scored.append((added_noise(before, max(outputs)), node.name))
    return [name for _, name in sorted(scored, key=lambda item: -item[0])]


def added_noise(input_ratio: float, output_ratio: float) -> float:
    """The noise a node adds, the growth ranking's score: its output's noise-to-signal ratio minus its (worst) input's;
    inf where the output overflows from a finite input, 0 where the input had already overflowed."""
    if not math.isfinite(input_ratio):
        return 0.0
    if math.isinf(output_ratio):
        return math.inf
    score = output_ratio - input_ratio
    return score if score == score else 0.0  # NaN counts as no noise added


def _next_batch_size(size: int, previous: float | None, sqnr: float, target: float, left: int) -> int:
    """Twice `size` when the step that moved the logits from `previous` to `sqnr` dB, repeated over the `left`
    evaluations still to come, would not close the gap to `target`; the same size otherwise, and while the model
    overflows (its SQNR is not finite: the ranking names the overflowing node)."""
    if previous is None or not (math.isfinite(previous) and math.isfinite(sqnr)):
        return size
    return size if (sqnr - previous) * left >= target - sqnr else 2 * size


def _check_arguments(onnx_path: str | os.PathLike[str], precision: str, target_sqnr_db: object, method: str,
                     max_evaluations: int) -> tuple[onnx.ModelProto, float]:
    from utils.onnx.export import load_onnx
    from utils.onnx.quantize import METHODS, is_quantized

    one_of(precision, PRECISIONS, "precision")
    one_of(method, METHODS, "calibration method")
    try:
        target = float(target_sqnr_db)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        target = math.nan
    if isinstance(target_sqnr_db, bool) or not math.isfinite(target):
        raise WorkbookError(f"target SQNR {target_sqnr_db!r} is not a number of dB; give one like 40")
    if max_evaluations < 3:
        raise WorkbookError(f"max_evaluations {max_evaluations} is too few; the search needs at least 3 model runs")
    model = load_onnx(onnx_path)
    if is_quantized(model):
        raise WorkbookError(f"{onnx_path} is already quantized (it has Q/DQ or integer operators); search from the FP32 model")
    return model, target


def search_precision(onnx_path: str | os.PathLike[str], precision: str, inputs: Mapping[str, np.ndarray],
                     target_sqnr_db: float, out_path: str | os.PathLike[str], *, method: str = "max",
                     max_evaluations: int = DEFAULT_MAX_EVALUATIONS, data_max: float = DEFAULT_DATA_MAX) -> SearchResult:
    """Find the few nodes of FP32 `onnx_path` to keep in higher precision (FP32) so that its `precision` ("fp16" or
    "int8") model's logits reach `target_sqnr_db` against FP32 on `inputs` (arrays keyed by input name, first axis
    = samples; INT8 calibrates on them too), and write that model atomically to `out_path` (see the module
    docstring). If the target is not met within `max_evaluations` model runs, the best model found is written and
    `met` is False. `method`: INT8 calibration, "max" or "entropy". `data_max`: AutoCast keeps in FP32 nodes whose
    activations exceed it (its default, 512); `math.inf` leaves every FP16 decision to the search.

    Refused with a one-line `WorkbookError`, nothing written: an unknown precision or method, a target that is not
    a number, an already quantized model, inputs whose names or shapes do not fit the model.
    """
    from utils.files import atomic_path, ensure_writable_dir
    from utils.onnx.quantize import _checked_calibration

    started = time.perf_counter()
    source, out_path = Path(onnx_path), Path(out_path)
    model, target = _check_arguments(source, precision, target_sqnr_db, method, max_evaluations)
    data = _checked_calibration(dict(inputs), model, source)
    ensure_writable_dir(out_path.parent)
    with tempfile.TemporaryDirectory(prefix=f".{out_path.name}.", dir=out_path.parent) as scratch:
        search = _search_fp16 if precision == "fp16" else _search_int8
        outcome = search(source, model, data, target, max_evaluations, Path(scratch), method=method, data_max=data_max)
        with atomic_path(out_path) as tmp:
            shutil.copyfile(outcome.path, tmp)
    compute = [node for node in model.graph.node if node.op_type != "Constant"]
    return SearchResult(kept=outcome.kept, sqnr_db=outcome.sqnr_db, evaluations=outcome.trials.evaluations,
                        met=outcome.sqnr_db >= target, node_count=len(compute), precision=precision,
                        target_sqnr_db=target, out_path=out_path, measured_by=outcome.measured_by,
                        seconds=time.perf_counter() - started, history=outcome.trials.history,
                        profile_runs=outcome.profile_runs)


@dataclass
class _Trials:
    """The models a search evaluated: one `SearchStep` each, the search's own kept nodes in each (parallel), and the
    evaluations made, the FP32 reference included."""

    target: float
    history: list[SearchStep] = field(default_factory=list)
    kept: list[list[str]] = field(default_factory=list)
    evaluations: int = 1

    def add(self, step: SearchStep, kept: Sequence[str]) -> None:
        self.history.append(step)
        self.kept.append(list(kept))
        self.evaluations += 1

    def best(self) -> int:
        """The index of the candidate to write: one that meets the target with fewest nodes, else the best SQNR."""
        def preference(i: int) -> tuple[bool, float, int]:
            meets = self.history[i].sqnr_db >= self.target
            return meets, -len(self.kept[i]) if meets else self.history[i].sqnr_db, -i
        return max(range(len(self.kept)), key=preference)


@dataclass(frozen=True)
class _Outcome:
    path: Path  # the model to write, in the scratch folder
    kept: list[str]
    sqnr_db: float
    measured_by: str
    trials: _Trials
    profile_runs: int = 0


def _search_fp16(source: Path, model: onnx.ModelProto, data: dict[str, np.ndarray], target: float,
                 max_evaluations: int, scratch: Path, *, data_max: float, **_: object) -> _Outcome:
    """Re-ranked growth (one node, or twice the last step's) and bisection, on the FP16 emulation."""
    import numpy as np
    import onnx

    from utils.onnx.fp16_emulation import FLOAT, emulate_fp16, float_outputs, fp32_nodes_of, tensor_types
    from utils.onnx.precision import autocast_fp16

    types = tensor_types(model)
    compute = [node for node in model.graph.node if node.op_type != "Constant"]
    reference = _Reference(model, data, [name for node in compute for name in node.output
                                         if name and types.get(name) == FLOAT])
    calibration = str(scratch / "reference.npz")
    np.savez(calibration, **data)
    converter_kept = set(fp32_nodes_of(autocast_fp16(source, calibration, data_max=data_max), model))
    candidates = [node.name for node in compute if float_outputs(node, types)]

    def shown(kept: Sequence[str]) -> tuple[str, ...]:
        names = converter_kept | set(kept)
        return tuple(node.name for node in compute if node.name in names)

    trials = _Trials(target)
    last = max_evaluations - 1  # the final model may need one more run
    size, previous = 1, None  # growth: nodes the next step adds, and the SQNR before the last step

    def trial(kept: list[str], phase: str) -> tuple[float, list[str]]:
        """Evaluate the emulation keeping `kept`: its logit SQNR and, below the target, the rest ranked."""
        sqnr, ratios = reference.measure(emulate_fp16(model, converter_kept | set(kept)))
        held = set(shown(kept))
        ranking = [] if sqnr >= target else _ranked(model, [name for name in candidates if name not in held], ratios)
        trials.add(SearchStep(shown(kept), sqnr, ranking[0] if ranking else None, phase), kept)
        return sqnr, ranking

    kept: list[str] = []
    batch: list[str] = []  # what the last growth step added to `kept`, in rank order
    met = False
    while trials.evaluations < last:
        sqnr, ranking = trial(kept + batch, "grow")
        kept += batch
        if sqnr >= target:
            met = True
            break
        if not ranking:
            break
        size = _next_batch_size(size, previous, sqnr, target, last - trials.evaluations)
        batch, previous = ranking[:size], sqnr
    if met and len(batch) > 1:
        before, low, high = kept[:-len(batch)], 0, len(batch)  # batch[:low] misses (measured), batch[:high] meets
        while high - low > 1 and trials.evaluations < last:
            middle = (low + high) // 2
            sqnr, _ = trial(before + batch[:middle], "bisect")
            low, high = (low, middle) if sqnr >= target else (middle, high)

    best = trials.best()
    final_path = scratch / "final.onnx"
    final = autocast_fp16(source, calibration, exclude_nodes=trials.kept[best], data_max=data_max)
    onnx.save(final, str(final_path))
    final_kept = fp32_nodes_of(final, model)
    if tuple(final_kept) == trials.history[best].kept:
        sqnr = trials.history[best].sqnr_db
    else:
        sqnr, _ = reference.measure(emulate_fp16(model, final_kept))
        trials.add(SearchStep(tuple(final_kept), sqnr, None, "final"), final_kept)
    return _Outcome(final_path, list(final_kept), sqnr,
                    "FP16 emulated on the FP32 graph (every FP16 tensor rounded), ONNX Runtime CPU", trials)


def _search_int8(source: Path, model: onnx.ModelProto, data: dict[str, np.ndarray], target: float,
                 max_evaluations: int, scratch: Path, *, method: str, **_: object) -> _Outcome:
    """The shortest prefix of the sensitivity ranking that meets the target: predicted, evaluated, bisected."""
    import onnx

    from utils.compare.quality import sqnr_db
    from utils.onnx.qdq import without_qdq
    from utils.onnx.quantize import quantize_int8
    from utils.onnx.sensitivity import PROFILE_SAMPLES, int8_sensitivity, logits

    base_path = quantize_int8(source, scratch / "base.onnx", data, method=method, exclude_nodes=())
    base = onnx.load(str(base_path))
    profile = int8_sensitivity(model, base, {name: array[:PROFILE_SAMPLES] for name, array in data.items()})
    ranking = [row.node for row in profile.nodes]
    order = [node.name for node in model.graph.node]
    reference = logits(model, data)
    trials = _Trials(target)
    last = max_evaluations - 1  # the final model may need one more run

    def evaluate(count: int, phase: str) -> float:
        """The logit SQNR with the first `count` nodes of the ranking kept."""
        kept = ranking[:count]
        sqnr = sqnr_db(reference, logits(without_qdq(base, kept), data))
        shown = tuple(name for name in order if name in set(kept))
        trials.add(SearchStep(shown, sqnr, ranking[count] if sqnr < target and count < len(ranking) else None, phase),
                   kept)
        return sqnr

    def shortest_predicted(after: int, offset: float) -> int:
        """The shortest prefix longer than `after` whose predicted SQNR, moved by `offset` dB, meets the target."""
        return next((count for count in range(after + 1, len(ranking))
                     if profile.predicted_sqnr_db(ranking[:count]) + offset >= target), len(ranking))

    low, high = 0, None  # ranking[:low] misses (measured); ranking[:high] meets
    sqnr = evaluate(0, "grow")
    offset = sqnr - profile.full_sqnr_db  # every input against the profile's few
    if sqnr >= target:
        high = 0
    while high is None and low < len(ranking) and trials.evaluations < last:
        count = shortest_predicted(low, offset)
        sqnr = evaluate(count, "grow")
        if sqnr >= target:
            high = count
        else:
            low, offset = count, sqnr - profile.predicted_sqnr_db(ranking[:count])
    while high is not None and high - low > 1 and trials.evaluations < last:
        middle = (low + high) // 2
        if evaluate(middle, "bisect") >= target:
            high = middle
        else:
            low = middle

    best = trials.best()
    final_path = scratch / "final.onnx"
    onnx.save(without_qdq(base, trials.kept[best]), str(final_path))
    return _Outcome(final_path, list(trials.history[best].kept), trials.history[best].sqnr_db, MEASURED_INT8, trials,
                    profile.runs)
