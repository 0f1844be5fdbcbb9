"""Checks for the exercises of 07_precision_debugging: which layer to keep in FP32, how many nodes a target needs by
the sensitivity profile's prediction, FP16 overflow, one tensor stored in FP16 with onnx-graphsurgeon.

Each check computes the expected answer from what the notebook measured (a per-layer SQNR table, the INT8 sensitivity
profile, peak activations), so it holds for any model, calibration and machine.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from utils.exercises.registry import NotYetRight, exercise

if TYPE_CHECKING:
    from utils.onnx.sensitivity import SensitivityProfile

DB_TOLERANCE = 0.05  # dB: rounding to one decimal passes, a different formula does not
FP16_MAX = 65504.0  # largest finite FP16 value
FP16_INF_FROM = 65520.0  # round to nearest: magnitudes from here on become inf (halfway to 2**16, the next step)
UINT16_MAX = 65535.0
AUTOCAST_DATA_MAX = 512.0  # AutoCast's default margin: nodes whose activations exceed it stay FP32


def _noise_ratio(sqnr_db: float) -> float:
    """Noise-to-signal power ratio of an SQNR in dB (0 for an exact tensor, inf for an overflow)."""
    return 10.0 ** (-sqnr_db / 10.0) if sqnr_db != -math.inf else math.inf


def _added_noise(row: Mapping[str, Any]) -> float:
    from utils.onnx.search import added_noise

    return added_noise(_noise_ratio(row["input_sqnr_db"]), _noise_ratio(row["output_sqnr_db"]))


@exercise("07.1")
def layer_to_keep(answer: Any, *, table: Sequence[Mapping[str, Any]]) -> str:
    """The layer that adds the most noise: rows of {"layer", "input_sqnr_db", "output_sqnr_db", "max_abs_error"}."""
    names = [row["layer"] for row in table]
    if not isinstance(answer, str):
        raise NotYetRight(f"give one layer's name as a string (one of {', '.join(map(repr, names))}), "
                          f"not a {type(answer).__name__}")
    if answer not in names:
        raise NotYetRight(f"{answer!r} is not a layer of the table; the layers are {', '.join(map(repr, names))}")
    rows = {row["layer"]: row for row in table}
    added = {name: _added_noise(row) for name, row in rows.items()}
    expected = max(names, key=lambda name: added[name])
    row, best = rows[answer], rows[expected]
    summary = (f"{expected!r} takes its input at {best['input_sqnr_db']:.1f} dB and gives {best['output_sqnr_db']:.1f} dB: "
               f"it adds {added[expected]:.3g} of noise per unit of signal")
    if answer == expected:
        return summary + "; keeping it in FP32 removes the noise at its source"
    largest_error = max(names, key=lambda name: rows[name]["max_abs_error"])
    drop = {name: r["input_sqnr_db"] - r["output_sqnr_db"] for name, r in rows.items()}
    largest_drop = max(names, key=lambda name: drop[name] if drop[name] == drop[name] else -math.inf)
    lowest = min(names, key=lambda name: rows[name]["output_sqnr_db"])
    if answer == largest_error:
        message = (f"{answer!r} has the largest absolute error ({row['max_abs_error']:.3g}), but its output is large "
                   f"anyway: its SQNR is still {row['output_sqnr_db']:.1f} dB; compare SQNR, which is relative to "
                   "each tensor's own signal")
        if answer == largest_drop and math.isinf(row["input_sqnr_db"]):
            message += ("; and a drop in dB from an exact input (inf dB) is infinite for any layer: compare the noise "
                        "each layer adds, 10**(-SQNR/10) at its output minus at its input")
        raise NotYetRight(message)
    if answer == largest_drop:
        if math.isinf(row["input_sqnr_db"]):
            raise NotYetRight(f"{answer!r} has the largest drop in dB (inf to {row['output_sqnr_db']:.1f}), but a drop from "
                              "an exact input (inf dB) is infinite for any noise at all; hint: convert to noise ratios, "
                              "10**(-SQNR/10), and subtract the input's from the output's")
        raise NotYetRight(f"{answer!r} has the largest drop in dB ({row['input_sqnr_db']:.1f} to {row['output_sqnr_db']:.1f}), "
                          "but dB are logarithmic: 60 to 40 dB adds far less noise than 20 to 15 dB; hint: compare "
                          "the noise added, 10**(-SQNR/10) at the output minus at the input")
    if answer == lowest:
        raise NotYetRight(f"{answer!r} has the lowest SQNR ({row['output_sqnr_db']:.1f} dB), but its input is already at "
                          f"{row['input_sqnr_db']:.1f} dB: it inherits the noise from earlier layers; hint: look for "
                          "where the noise is added, output noise ratio minus input noise ratio")
    raise NotYetRight(f"{answer!r} adds {added[answer]:.3g} of noise per unit of signal ({row['input_sqnr_db']:.1f} to "
                      f"{row['output_sqnr_db']:.1f} dB); another layer adds more; hint: compute "
                      "10**(-out/10) - 10**(-in/10) for every row and take the largest")




@exercise("07.2")
def nodes_for_target(answer: Any, *, profile: SensitivityProfile, target_db: float) -> str:
    """The fewest nodes, most sensitive first, whose predicted SQNR (`profile.predicted_sqnr_db`) meets `target_db`."""
    if isinstance(answer, bool) or not isinstance(answer, int):
        raise NotYetRight(f"give a number of nodes, an int, not a {type(answer).__name__}")
    names = [row.node for row in profile.nodes]
    predicted = [profile.predicted_sqnr_db(names[:count]) for count in range(len(names) + 1)]
    expected = next(count for count, value in enumerate(predicted) if value >= target_db)
    if answer == expected:
        return (f"{expected} node{'s' if expected != 1 else ''}: predicted {predicted[expected]:.1f} dB, against "
                f"{profile.full_sqnr_db:.1f} dB with every node quantized; one fewer is predicted at "
                f"{predicted[max(expected - 1, 0)]:.1f} dB. Predictions guide; the search then measures")
    if answer == expected + 1:
        raise NotYetRight(f"{answer} nodes meet {target_db:g} dB, but so do {expected}: the fewest is the first count "
                          "whose prediction reaches the target")
    if answer == expected - 1 and answer >= 0:
        raise NotYetRight(f"with {answer} nodes kept the prediction is {predicted[answer]:.1f} dB, still below "
                          f"{target_db:g} dB: one more is needed")
    below = sum(1 for row in profile.nodes if row.sqnr_db < target_db)
    if answer == below and below != expected:
        raise NotYetRight(f"{below} nodes each cost the logits more than {target_db:g} dB when quantized alone, but "
                          "keeping nodes removes their share of the noise: hint: count how many of profile.nodes, "
                          "most sensitive first, profile.predicted_sqnr_db needs")
    if answer == len(profile.dominant()) and answer != expected:
        raise NotYetRight(f"{answer} is how many nodes dominate (a quarter of the noise each), the workbook's default; "
                          f"the question is how many a {target_db:g} dB target needs")
    raise NotYetRight(f"with {answer} nodes kept the profile predicts {predicted[min(max(answer, 0), len(names))]:.1f} dB; "
                      f"hint: the smallest k with profile.predicted_sqnr_db([r.node for r in profile.nodes[:k]]) >= "
                      f"{target_db:g}")


def _overflows(value: float) -> bool:
    import numpy as np

    with np.errstate(over="ignore"):
        return bool(np.isinf(np.float16(value)))


@exercise("07.3")
def fp16_overflows(answer: Any, *, peaks: Mapping[str, float]) -> str:
    """The names in `peaks` (tensor -> its largest value, signed) that become ±inf when stored in FP16."""
    if isinstance(answer, str) or not isinstance(answer, (list, tuple, set, frozenset)):
        raise NotYetRight(f"give a list (or set) of names from `peaks`, not a {type(answer).__name__}")
    chosen = set(answer)
    unknown = sorted(name for name in chosen if name not in peaks)
    if unknown:
        raise NotYetRight(f"{unknown[0]!r} is not a name in `peaks`; answer with its keys")
    expected = {name for name, value in peaks.items() if _overflows(value)}
    if chosen == expected:
        return (f"{len(expected)} of {len(peaks)} overflow; FP16's largest finite value is {FP16_MAX:g}, and round to "
                f"nearest sends magnitudes from {FP16_INF_FROM:g} on to inf")
    missed, extra = expected - chosen, chosen - expected

    def show(names: set[str]) -> str:
        return ", ".join(f"{name!r} ({peaks[name]:g})" for name in sorted(names))

    negative = {name for name in missed if peaks[name] < 0}
    rounded_down = {name for name in extra if FP16_MAX < abs(peaks[name]) < FP16_INF_FROM}
    below_uint16 = {name for name in missed if abs(peaks[name]) <= UINT16_MAX}
    margin = {name for name in extra if AUTOCAST_DATA_MAX < abs(peaks[name]) <= FP16_MAX}
    if negative and negative == missed and not extra:
        raise NotYetRight(f"you missed {show(negative)}: overflow is about magnitude, and a large negative value "
                          "becomes -inf; hint: compare abs(value)")
    if rounded_down and not missed:
        raise NotYetRight(f"{show(rounded_down)} round down to {FP16_MAX:g}, the largest FP16, not to inf: FP16 rounds to "
                          f"nearest, and only magnitudes from {FP16_INF_FROM:g} (halfway to the next step, 65536) "
                          "become inf; hint: np.isinf(np.float16(value))")
    if margin:
        raise NotYetRight(f"{show(margin)} fit FP16 (up to {FP16_MAX:g}); {AUTOCAST_DATA_MAX:g} is AutoCast's safety "
                          "margin for keeping nodes in FP32, not FP16's range")
    if below_uint16 and below_uint16 == missed:
        raise NotYetRight(f"you missed {show(below_uint16)}: {UINT16_MAX:g} is the largest uint16, not FP16's limit; "
                          f"FP16 stops at {FP16_MAX:g} and rounds magnitudes from {FP16_INF_FROM:g} to inf")
    parts = []
    if missed:
        parts.append(f"these overflow too: {show(missed)}")
    if extra:
        parts.append(f"these fit FP16: {show(extra)}")
    raise NotYetRight("; ".join(parts) + f"; hint: a value overflows when abs(value) >= {FP16_INF_FROM:g}")


def _cast_to(node: Any) -> int | None:
    return next((attribute.i for attribute in node.attribute if attribute.name == "to"), None)


@exercise("07.4")
def one_tensor_in_fp16(answer: Any, *, net: Any, tensor: str, inputs: Mapping[str, Any]) -> str:
    """`net` (an onnx.ModelProto) edited so that only `tensor` is stored in FP16: a Cast to FLOAT16 and a Cast back
    to FLOAT between the node that writes it and every reader, everything else unchanged. Run with optimizations
    off, against `net` on `inputs`."""
    import numpy as np
    import onnx
    import onnxruntime

    if type(answer).__name__ == "Graph":
        raise NotYetRight("that is onnx-graphsurgeon's Graph; give the ONNX model: gs.export_onnx(graph)")
    if not isinstance(answer, onnx.ModelProto):
        raise NotYetRight(f"give the edited model, an onnx.ModelProto, not a {type(answer).__name__}")
    original = {node.name: node for node in net.graph.node}
    missing = sorted(set(original) - {node.name for node in answer.graph.node})
    if missing:
        raise NotYetRight(f"node {missing[0]!r} is gone: add the casts, keep every node of the network")
    casts = [node for node in answer.graph.node if node.name not in original]  # added nodes may have no name
    if any(node.op_type != "Cast" for node in casts):
        raise NotYetRight("only Cast nodes are added: one to FLOAT16, one back to FLOAT")
    down = [node for node in casts if _cast_to(node) == onnx.TensorProto.FLOAT16]
    up = [node for node in casts if _cast_to(node) == onnx.TensorProto.FLOAT]
    if len(down) != 1 or len(up) != 1 or len(casts) != 2:
        raise NotYetRight(f"{len(down)} Cast to FLOAT16 and {len(up)} back to FLOAT; one of each: the first stores the "
                          "value in FP16, the second gives the next node the FP32 tensor it reads")
    if down[0].output[0] != up[0].input[0]:
        raise NotYetRight("the Cast back to FLOAT reads what the Cast to FLOAT16 writes: chain them")
    if up[0].output[0] != tensor:
        raise NotYetRight(f"the casts end in {up[0].output[0]!r}; the readers of {tensor!r} must get the rounded value: "
                          f"the Cast back to FLOAT writes {tensor!r}")
    writer = next((node for node in answer.graph.node if down[0].input[0] in node.output and node.name in original), None)
    if writer is None or tensor not in original[writer.name].output:
        raise NotYetRight(f"the Cast to FLOAT16 must read what originally wrote {tensor!r}, under a new name")
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    runs = [onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
            .run(None, dict(inputs))[0] for model in (net, answer)]
    if not np.isfinite(runs[1]).all():
        return (f"{tensor!r} stored in FP16 overflows: its values pass 65504, so the logits are inf or NaN; "
                "that tensor must stay FP32")
    noise = float(np.mean((runs[1] - runs[0]) ** 2))
    signal = float(np.mean(runs[0] ** 2))
    sqnr = math.inf if noise == 0 else 10 * math.log10(signal / noise)
    return (f"{tensor!r} stored in FP16, the logits stay finite, {sqnr:.1f} dB SQNR against FP32: its values fit FP16, "
            "so the overflow has to be kept in FP32 before it, not here")
