"""Mixed-precision search: which few layers must stay in higher precision for a model to meet an accuracy target.

This is what `polygraphy debug precision` did for TensorRT's weakly typed builds, redone for strongly typed
TensorRT (11.x, TensorRT-RTX), where the precision of each layer is written in the ONNX model, and for a CPU.

Ranking: one evaluation of the reduced model with every intermediate tensor exposed (every node output marked as a
graph output, as Polygraphy's `mark all` does) measures, against the FP32 run, how much noise each node adds: its
output's noise-to-signal ratio minus its worst input's (10^(-SQNR/10), so noise powers add and a node fed by an exact
graph input still gets a finite score; an output that becomes inf or NaN from finite inputs is the most sensitive of
all; the graph outputs are measured too, so the node that writes the logits can be kept). INT8, while the next growth
step adds at most OWN_NOISE_BATCH nodes, ranks instead by each node's own quantization noise: in the same run a
shadow copy of every quantized node not kept yet reads its inputs before their Q/DQ pairs, and the score is the
noise-to-signal ratio between the node's output and its shadow's. That one measures what keeping the node removes;
the difference of ratios also credits a node with noise it only amplifies from upstream, which keeping it does not
remove. Single nodes are where that matters; a batch of many nodes covers the noise either way, and there the
difference of ratios did as well or better. On EfficientNet-Lite0 INT8 (kept nodes, current ranking / this one,
every target met): 16 calibration inputs at 20, 25, 30 dB: 23/13, 26/27, 37/36; 32 evaluation inputs: 22/2, 25/25,
44/39, at 20-30 s a search instead of 15-19 s (the shadows double the nodes run while they are built).
Trying each node alone (or bisecting the whole graph) would cost about one evaluation per node; the ranking costs
one per step, and each step re-ranks the nodes not kept yet.

Growth: the top-ranked nodes are kept in higher precision, the model re-evaluated and re-ranked, until the logits meet
the target or `max_evaluations` is reached. A step keeps one node while single nodes pay off: while the model
overflows (the ranking then names the overflowing node exactly), and while a step's gain in dB, repeated over the
evaluations left, would close the remaining gap. A step that gains less (the remaining gap divided by the evaluations
left) shows noise spread over more layers than the budget has steps, and the next step keeps twice as many
top-ranked nodes: 1, 2, 4, 8... One node per step cannot reach a target that needs more nodes than the budget has
evaluations: on EfficientNet-Lite0 INT8 (ModelOpt, max calibration, 60 quantized nodes) 13 nodes kept one at a time
moved the logits from 17.2 to 17.6 dB in 16 evaluations; doubling kept 31 nodes by the sixth candidate (27 dB).
A step that meets the target with several nodes has probably kept more than needed, so the search then bisects that
step's batch, in rank order, for the shortest prefix that still meets the target (the prefix one node shorter has
been evaluated and misses): log2(batch) more evaluations. A single culprit is still found in one step each, and
spread noise costs about 2 log2(kept) evaluations rather than one per kept node (Lite0 INT8 at 20, 25 and 30 dB:
6 to 15 evaluations). The nodes kept are only as few as the ranking is good: neither score is a node's effect on
the logits, so a bisection's shortest prefix is the shortest in rank order, not the smallest set that would meet
the target.

* FP16: candidates are evaluated by emulation on the FP32 graph (`utils.onnx.fp16_emulation`: every FP16 tensor
  rounded, overflow to inf), because ONNX Runtime's CPU provider hides FP16 errors. The split emulated is the
  search's kept nodes plus those AutoCast keeps in FP32 by itself (activations above `data_max`, weights that do
  not fit FP16), found by running AutoCast once. The model written is the real AutoCast model with the kept nodes
  excluded; the SQNR reported is the emulation of that model's own FP16/FP32 split.
* INT8: ModelOpt quantizes the model once (calibrated on `inputs`, FP32 elsewhere: the CPU-validation form);
  keeping a node is emulated by removing the Q/DQ pairs on its inputs (what ModelOpt's `nodes_to_exclude` does),
  so calibration is not repeated per step. The model written is ModelOpt's own, re-run with the kept nodes
  excluded, and the SQNR reported is measured on it. For Add nodes ModelOpt's exclusion differs from the emulation
  (an Add reading a Q/DQ shared with a quantized convolution stays quantized; one whose other inputs lost their
  Q/DQ loses its own), so the re-run may leave an Add more, or one fewer, unquantized than chosen (Lite0 INT8 on 32
  evaluation inputs: 38 chosen, 39 left unquantized at 30 dB; 26 and 25 at 25 dB); `kept` is read from the
  written model.

The SQNR is of all graph outputs (the logits) against the FP32 model on `inputs`, with ONNX Runtime's CPU provider
and graph optimizations off. Every model run counts in `evaluations`: the FP32 reference, each candidate (growth
and bisection steps), and the final model when it differs from every candidate; `history` has one `SearchStep` per
model run after the reference, in order. The model written is the one with fewest kept nodes that meets the target,
or else the best SQNR found; the result's `kept` is read from it.
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

from utils.errors import WorkbookError
from utils.onnx.fp16_emulation import with_outputs
from utils.onnx.precision import DEFAULT_DATA_MAX

if TYPE_CHECKING:
    import numpy as np
    import onnx

PRECISIONS = ("fp16", "int8")
DEFAULT_MAX_EVALUATIONS = 16
PROFILE_BYTES = 256 << 20  # FP32 intermediates kept for per-layer comparison; inputs beyond this give logits only
CHUNK = 8  # samples per ONNX Runtime run
OWN_NOISE_BATCH = 4  # INT8: rank by each node's own quantization noise while growth steps add at most this many


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

    def measure(self, model: onnx.ModelProto, nodes: Sequence[str] = ()
                ) -> tuple[float, dict[str, float], dict[str, float]]:
        """Logit SQNR of `model`; the noise-to-signal ratio of each intermediate tensor it shares by name and of each
        graph output (on the profiled inputs); and for each of `nodes` (of a Q/DQ model) the noise its own Q/DQ pairs
        add to its outputs, against a twin of the node run on the same inputs before their Q/DQ pairs."""
        import numpy as np

        from utils.compare.quality import sqnr_db

        produced = {name for node in model.graph.node for name in node.output}
        shared = [name for name in self.tensors if name in produced]
        shadowed, pairs = _with_shadows(model, nodes)
        extra = list(dict.fromkeys(tensor for _, original, twin in pairs for tensor in (original, twin)
                                   if tensor not in shared and tensor not in self.outputs))
        session = _session(with_outputs(shadowed, shared + extra))
        signal = dict.fromkeys(self.outputs + shared, 0.0)
        noise = dict.fromkeys(self.outputs + shared, 0.0)
        own_signal, own_noise = dict.fromkeys(nodes, 0.0), dict.fromkeys(nodes, 0.0)
        logits: list[list[np.ndarray]] = []
        for start, stop, profiled in self._chunks():
            if not profiled:
                logits.append(session.run(self.outputs, self._feed(start, stop)))
                continue
            results = session.run(self.outputs + shared + extra, self._feed(start, stop))
            logits.append(results[:len(self.outputs)])
            values = dict(zip(self.outputs + shared + extra, results))
            compared = [(signal, noise, name, self.intermediates[name][start:stop], values[name])
                        for name in self.outputs + shared]
            compared += [(own_signal, own_noise, name, values[twin], values[original]) for name, original, twin in pairs]
            for signals, noises, name, reference, array in compared:
                reference = reference.astype(np.float64)
                signals[name] += float(np.sum(reference ** 2))
                with np.errstate(over="ignore", invalid="ignore"):
                    noises[name] += float(np.sum((reference - array.astype(np.float64)) ** 2))
        flat = np.concatenate([np.concatenate([chunk[i] for chunk in logits]).ravel() for i in range(len(self.outputs))])
        return (sqnr_db(self.logits, flat), {name: _ratio(noise[name], signal[name]) for name in signal},
                {name: _ratio(own_noise[name], own_signal[name]) for name in own_signal})


def _with_shadows(quantized: onnx.ModelProto, nodes: Sequence[str]) -> tuple[onnx.ModelProto, list[tuple[str, str, str]]]:
    """A copy of a Q/DQ model in which each of `nodes` has a twin reading its inputs before their Q/DQ pairs, and
    (node, its output, the twin's) for each output."""
    import onnx

    if not nodes:
        return quantized, []
    model = onnx.ModelProto()
    model.CopyFrom(quantized)
    by_output = {name: node for node in model.graph.node for name in node.output}
    wanted, pairs = set(nodes), []
    for node in list(model.graph.node):
        if node.name not in wanted:
            continue
        twin = onnx.NodeProto()
        twin.CopyFrom(node)
        twin.name = f"{node.name}/unquantized"
        _read_before_qdq(twin, by_output)
        del twin.output[:]
        twin.output.extend(f"{name}/unquantized" if name else "" for name in node.output)
        model.graph.node.append(twin)
        pairs += [(node.name, name, f"{name}/unquantized") for name in node.output if name]
    return model, pairs


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


def _ranked_by_own_noise(candidates: Sequence[str], own: Mapping[str, float]) -> list[str]:
    """The candidate nodes of a Q/DQ model, the one whose own Q/DQ pairs add most noise to its outputs first
    (`_Reference.measure`'s third result); ties keep the candidates' order."""
    scored = [(own[name] if own[name] == own[name] else math.inf, name) for name in candidates if name in own]
    return [name for _, name in sorted(scored, key=lambda item: -item[0])]


def _next_batch_size(size: int, previous: float | None, sqnr: float, target: float, left: int) -> int:
    """Twice `size` when the step that moved the logits from `previous` to `sqnr` dB, repeated over the `left`
    evaluations still to come, would not close the gap to `target`; the same size otherwise, and while the model
    overflows (its SQNR is not finite: the ranking names the overflowing node)."""
    if previous is None or not (math.isfinite(previous) and math.isfinite(sqnr)):
        return size
    return size if (sqnr - previous) * left >= target - sqnr else 2 * size


def _quantized_nodes(model: onnx.ModelProto) -> set[str]:
    """Names of the nodes of a Q/DQ model that read at least one dequantized tensor."""
    dequantized = {name for node in model.graph.node if node.op_type == "DequantizeLinear" for name in node.output}
    return {node.name for node in model.graph.node if any(name in dequantized for name in node.input)}


def _read_before_qdq(node: onnx.NodeProto, by_output: Mapping[str, onnx.NodeProto]) -> None:
    """Rewire each input of `node` that comes from a DequantizeLinear fed by a QuantizeLinear to the QuantizeLinear's
    own input (`by_output`: the graph's nodes by output name)."""
    for index, name in enumerate(node.input):
        dq = by_output.get(name)
        if dq is not None and dq.op_type == "DequantizeLinear":
            q = by_output.get(dq.input[0])
            if q is not None and q.op_type == "QuantizeLinear":
                node.input[index] = q.input[0]


def _without_qdq(quantized: onnx.ModelProto, nodes: Sequence[str]) -> onnx.ModelProto:
    """A copy of a Q/DQ model in which `nodes` read their inputs unquantized: each input that comes from a
    DequantizeLinear fed by a QuantizeLinear is rewired to the QuantizeLinear's own input; Q/DQ left unused go."""
    import onnx

    model = onnx.ModelProto()
    model.CopyFrom(quantized)
    graph = model.graph
    by_output = {name: node for node in graph.node for name in node.output}
    wanted = set(nodes)
    for node in graph.node:
        if node.name not in wanted:
            continue
        _read_before_qdq(node, by_output)
    while True:
        used = {name for node in graph.node for name in node.input} | {v.name for v in graph.output}
        unused = [node for node in graph.node if node.op_type in ("QuantizeLinear", "DequantizeLinear")
                  and not any(name in used for name in node.output)]
        if not unused:
            return model
        for node in unused:
            graph.node.remove(node)


def _check_arguments(onnx_path: str | os.PathLike[str], precision: str, target_sqnr_db: object, method: str,
                     max_evaluations: int) -> tuple[onnx.ModelProto, float]:
    from utils.onnx.export import load_onnx
    from utils.onnx.quantize import METHODS, is_quantized

    if precision not in PRECISIONS:
        raise WorkbookError(f"unknown precision {precision!r}; choose {' or '.join(PRECISIONS)}")
    if method not in METHODS:
        raise WorkbookError(f"unknown calibration method {method!r}; choose {' or '.join(METHODS)}")
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
    import numpy as np
    import onnx

    from utils.files import atomic_path, ensure_writable_dir
    from utils.onnx.fp16_emulation import FLOAT, emulate_fp16, float_outputs, fp32_nodes_of, tensor_types
    from utils.onnx.precision import autocast_fp16
    from utils.onnx.quantize import _checked_calibration, quantize_int8

    started = time.perf_counter()
    source, out_path = Path(onnx_path), Path(out_path)
    model, target = _check_arguments(source, precision, target_sqnr_db, method, max_evaluations)
    data = _checked_calibration(dict(inputs), model, source)
    ensure_writable_dir(out_path.parent)

    types = tensor_types(model)
    compute = [node for node in model.graph.node if node.op_type != "Constant"]
    tensors = [name for node in compute for name in node.output if name and types.get(name) == FLOAT]
    reference = _Reference(model, data, tensors)
    evaluations = 1
    history: list[SearchStep] = []

    with tempfile.TemporaryDirectory(prefix=f".{out_path.name}.", dir=out_path.parent) as scratch:
        if precision == "fp16":
            calibration = str(Path(scratch) / "reference.npz")
            np.savez(calibration, **data)
            converter_kept = set(fp32_nodes_of(autocast_fp16(source, calibration, data_max=data_max), model))
            candidates = [node.name for node in compute if float_outputs(node, types)]

            def candidate(kept: Sequence[str]) -> onnx.ModelProto:
                return emulate_fp16(model, converter_kept | set(kept))

            def shown(kept: Sequence[str]) -> tuple[str, ...]:
                names = converter_kept | set(kept)
                return tuple(node.name for node in compute if node.name in names)
        else:
            base_path = quantize_int8(source, Path(scratch) / "base.onnx", data, method=method)
            base = onnx.load(str(base_path))
            quantized_names = _quantized_nodes(base)
            candidates = [node.name for node in compute if node.name in quantized_names]

            def candidate(kept: Sequence[str]) -> onnx.ModelProto:
                return _without_qdq(base, kept)

            def shown(kept: Sequence[str]) -> tuple[str, ...]:
                return tuple(node.name for node in compute if node.name in set(kept))

        trials: list[list[str]] = []  # the search's own kept nodes in each candidate, parallel to history
        last = max_evaluations - 1  # the final model may need one more run
        size, previous = 1, None  # growth: nodes the next step adds, and the SQNR before the last step

        def trial(kept: list[str], phase: str, shadows: bool = False) -> tuple[float, list[str]]:
            """Evaluate the candidate keeping `kept`: its logit SQNR and, below the target, the rest ranked. With
            `shadows` (INT8 growth), by their own quantization noise if the next step adds at most OWN_NOISE_BATCH."""
            nonlocal evaluations
            held = set(shown(kept)) | set(kept)
            rest = [name for name in candidates if name not in held]
            sqnr, ratios, own = reference.measure(candidate(kept), rest if shadows else ())
            evaluations += 1
            if sqnr >= target:
                ranking = []
            elif shadows and _next_batch_size(size, previous, sqnr, target, last - evaluations) <= OWN_NOISE_BATCH:
                ranking = _ranked_by_own_noise(rest, own)
            else:
                ranking = _ranked(model, rest, ratios)
            history.append(SearchStep(shown(kept), sqnr, ranking[0] if ranking else None, phase))
            trials.append(list(kept))
            return sqnr, ranking

        kept: list[str] = []
        batch: list[str] = []  # what the last growth step added to `kept`, in rank order
        met = False
        while evaluations < last:  # shadows only while the own-noise ranking may follow: batches never shrink
            sqnr, ranking = trial(kept + batch, "grow", shadows=precision == "int8" and size <= OWN_NOISE_BATCH)
            kept += batch
            if sqnr >= target:
                met = True
                break
            if not ranking:
                break
            size = _next_batch_size(size, previous, sqnr, target, last - evaluations)
            batch, previous = ranking[:size], sqnr
        if met and len(batch) > 1:
            before, low, high = kept[:-len(batch)], 0, len(batch)  # batch[:low] misses (measured), batch[:high] meets
            while high - low > 1 and evaluations < last:
                middle = (low + high) // 2
                sqnr, _ = trial(before + batch[:middle], "bisect")
                low, high = (low, middle) if sqnr >= target else (middle, high)

        def preference(i: int) -> tuple[bool, float, int]:  # meets; then fewest nodes, or else best SQNR; then first
            meets = history[i].sqnr_db >= target
            return meets, -len(trials[i]) if meets else history[i].sqnr_db, -i
        best = max(range(len(trials)), key=preference)
        chosen = trials[best]

        final_path = Path(scratch) / "final.onnx"
        if precision == "fp16":
            final = autocast_fp16(source, calibration, exclude_nodes=chosen, data_max=data_max)
            onnx.save(final, str(final_path))
            final_kept = fp32_nodes_of(final, model)
            measured_by = "FP16 emulated on the FP32 graph (every FP16 tensor rounded), ONNX Runtime CPU"
            if tuple(final_kept) == history[best].kept:
                sqnr = history[best].sqnr_db
            else:
                sqnr, _, _ = reference.measure(emulate_fp16(model, final_kept))
                evaluations += 1
                history.append(SearchStep(tuple(final_kept), sqnr, None, "final"))
        else:
            measured_by = "INT8 Q/DQ model (FP32 elsewhere), ONNX Runtime CPU"
            if chosen:
                quantize_int8(source, final_path, data, method=method, exclude_nodes=chosen)
                final = onnx.load(str(final_path))
                quantized = _quantized_nodes(final)
                final_kept = [name for name in candidates if name not in quantized]
                sqnr, _, _ = reference.measure(final)
                evaluations += 1
                history.append(SearchStep(tuple(final_kept), sqnr, None, "final"))
            else:
                shutil.copyfile(base_path, final_path)
                final_kept, sqnr = [], history[best].sqnr_db
        with atomic_path(out_path) as tmp:
            shutil.copyfile(final_path, tmp)
    return SearchResult(kept=list(final_kept), sqnr_db=sqnr, evaluations=evaluations, met=sqnr >= target,
                        node_count=len(compute), precision=precision, target_sqnr_db=target, out_path=out_path,
                        measured_by=measured_by, seconds=time.perf_counter() - started, history=history)
