"""An engine report from the engine inspector's JSON: each layer's precision, formats, tactic and the ONNX nodes fused
into it; a summary and a picture of precision along the network; and the diff of two engines by ONNX node.

TensorRT's own explorer (trex, NVIDIA/TensorRT tools/experimental/trt-engine-explorer) was removed in TensorRT 11.0
in favour of Nsight Deep Learning Designer; this covers the part of it the workbook needs, from the same JSON
(`IEngineInspector.get_engine_information(LayerInformationFormat.JSON)`, which is also what
`trtexec --exportLayerInfo=FILE` writes: samples/common/sampleReporting.cpp, printLayerInfo, at tags v10.16 and v11.1).
`inspect.py` says how the JSON differs between 8.6/10.x and 11.x.

* Precision. A tensor's precision is the data-type word of its format text ("Row major linear FP32", "Channel major
  FP16 format where channel % 8 == 0", "Thirty-two wide channel vectorized row major Int8 format"; Myelin's and
  10.16's short forms "Float", "Half", "Int32"), or of its own data-type field in 11.x. A layer's precision is the
  narrowest floating-point or quantized precision among the tensors it reads and writes: an INT8 convolution that
  writes FP16 computed in INT8; a layer that reads the FP32 input of an FP16 model and writes FP16 (a reformat, or a
  Myelin region that starts with the model's Cast) computes in FP16. trex reads only the first input
  (trex/layer.py: `inputs[0].precision`), which reports both of the latter as FP32, and a Myelin layer reading only
  integer tensors as INT32. An FP32 layer whose kernel (tactic) name says tf32 is shown as TF32.
* ONNX nodes. The ONNX parser gives every layer it makes the metadata `[ONNX Layer: <node name>]`, sometimes with
  ` | ...` details after the name (onnx-tensorrt, processMetadata). A layer fused from several nodes joins their
  metadata with an ASCII separator, \\x1e or \\x1f: trex replaces both (trex/parser.py, fix_unicode), and in the
  JSON TensorRT 10.16 wrote for NVIDIA's cookbook the classic (Cask) layers use \\x1e and the Myelin ones \\x1f
  (trt-samples-for-hackathon-cn, tag trt-10.16, cookbook/07-Tool/trtexec/model-trained-exportLayerInfo.log). A layer
  TensorRT made itself (a reformat, a cast for an INT64 output) has empty metadata. Before 8.6 there is no
  "Metadata" field (trex/parser.py), and the nodes are read from the layer name, which joins them with " + "
  (initializer names such as "conv1.weight" come with them).
* Kinds. Reformat layers ("Origin": "REFORMAT", or a "Reformatting CopyNode" of any type) only change a tensor's
  layout or type; a "Reformat" layer with "Origin": "QDQ" is an ONNX Q/DQ node; NoOp, Shuffle, shape_call and the
  stream signal/wait layers move or synchronise data. Everything else computes.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from utils.errors import WorkbookError
from utils.tensorrt.inspect import engine_io_tensors, inspector_document

if TYPE_CHECKING:
    from matplotlib.figure import Figure

COMPUTE, REFORMAT, QDQ, NO_OP = "compute", "reformat", "q/dq", "no-op"
NO_OP_LAYER_TYPES = frozenset({"NoOp", "Shuffle", "shape_call", "signal", "wait", "TrainStation"})
# Widest first: the rows of the precision picture, top to bottom.
PRECISIONS = ("FP64", "FP32", "TF32", "BF16", "FP16", "FP8", "INT8", "FP4", "INT4",
              "INT64", "INT32", "INT16", "UINT64", "UINT32", "UINT16", "UINT8", "BOOL", "E8M0")
ACTIVATION_PRECISIONS = frozenset({"FP64", "FP32", "TF32", "BF16", "FP16", "FP8", "INT8", "FP4", "INT4"})
_PRECISION_WORDS = {precision: precision for precision in PRECISIONS} | {
    "FLOAT": "FP32", "HALF": "FP16", "BFLOAT16": "BF16", "DOUBLE": "FP64"}
# Narrowest first: a layer's precision is the narrowest of these among its tensors.
_NARROWEST_FIRST = ("FP4", "INT4", "FP8", "INT8", "FP16", "BF16", "TF32", "FP32", "FP64")
_METADATA_SEPARATORS = re.compile("[\x1e\x1f]")
_ONNX_METADATA = re.compile(r"\[ONNX Layer: (.*?)(?: \| .*)?\]", re.DOTALL)
_PROFILE_SUFFIX = re.compile(r" \[profile \d+\]$")
COLOURS = {"FP32": "#d62728", "TF32": "#e377c2", "BF16": "#bcbd22", "FP16": "#ff7f0e", "FP8": "#17becf",
           "INT8": "#76b900", "FP4": "#f4d03f", "INT4": "#9467bd", "FP64": "#8c564b"}


@dataclass(frozen=True)
class TensorReport:
    name: str
    precision: str  # one of PRECISIONS, or "" where the inspector names no data type
    format: str  # the inspector's format text (8.6/10.x: all of "Format/Datatype"; 11.x: "Format")


@dataclass(frozen=True)
class LayerReport:
    index: int
    name: str
    layer_type: str
    kind: str  # COMPUTE, REFORMAT, QDQ, NO_OP, or "" for a layer the inspector gave only the name of
    inputs: tuple[TensorReport, ...]
    outputs: tuple[TensorReport, ...]
    tactic: str
    onnx_nodes: tuple[str, ...]
    nodes_from_name: bool  # no "Metadata" field: the nodes are the parts of the layer name
    precision: str

    @property
    def output_precision(self) -> str:
        return self.outputs[0].precision if self.outputs else ""


@dataclass(frozen=True)
class EngineReport:
    source: str
    layers: tuple[LayerReport, ...]
    io_tensors: tuple[str, ...]
    detailed: bool  # built with ProfilingVerbosity.DETAILED: tensors, tactics and metadata are there

    def require_details(self, what: str) -> None:
        if not self.detailed:
            raise WorkbookError(f"{self.source} has only layer names, so {what} cannot be told; rebuild the engine "
                                "with ProfilingVerbosity.DETAILED (trtexec --profilingVerbosity=detailed)")

    def node_precisions(self) -> dict[str, tuple[str, ...]]:
        """Each ONNX node, in network order, with the precisions of the layers it is in (a node can be split over
        several layers, and an engine with several optimization profiles has a copy of each layer per profile)."""
        found: dict[str, set[str]] = {}
        for layer in self.layers:
            for node in layer.onnx_nodes:
                found.setdefault(node, set()).update({layer.precision} - {""})
        return {node: _ordered(precisions) for node, precisions in found.items()}


def precision_of(text: str) -> str:
    """The precision a data type or format text names ("Half", "Channel major FP16 format ..."), or ""."""
    for word in re.findall(r"[A-Za-z0-9]+", text):
        if word.upper() in _PRECISION_WORDS:
            return _PRECISION_WORDS[word.upper()]
    return ""


def expected_precision(text: str) -> str:
    """A precision as a user writes it (fp16, FP16, int8) in the report's spelling."""
    precision = _PRECISION_WORDS.get(text.strip().upper(), "")
    if precision not in ACTIVATION_PRECISIONS:
        raise WorkbookError(f"unknown precision {text!r}; give one of {', '.join(sorted(ACTIVATION_PRECISIONS))}")
    return precision


def _ordered(precisions: set[str]) -> tuple[str, ...]:
    return tuple(sorted(precisions, key=lambda p: PRECISIONS.index(p) if p in PRECISIONS else len(PRECISIONS)))


def _tensor(tensor: dict[str, Any]) -> TensorReport:
    if "Format/Datatype" in tensor:
        text = str(tensor["Format/Datatype"])
        return TensorReport(str(tensor.get("Name", "")), precision_of(text), text)
    data_type = str(tensor.get("Datatype", tensor.get("DataType", "")))
    layout = str(tensor.get("Format", ""))
    return TensorReport(str(tensor.get("Name", "")), precision_of(data_type) or precision_of(layout), layout)


def _kind(layer: dict[str, Any], name: str, inputs: tuple[TensorReport, ...], outputs: tuple[TensorReport, ...]) -> str:
    layer_type, origin = str(layer.get("LayerType", "")), str(layer.get("Origin", ""))
    if origin == "QDQ":
        return QDQ
    if origin == "REFORMAT" or layer_type == "Reformat" or name.startswith("Reformatting CopyNode"):
        return REFORMAT
    if layer_type in NO_OP_LAYER_TYPES or not (inputs or outputs):
        return NO_OP
    return COMPUTE


def onnx_nodes_of(metadata: str) -> tuple[str, ...]:
    """The ONNX node names in a layer's "Metadata"; text that is not the ONNX parser's is kept as it is."""
    nodes = []
    for part in _METADATA_SEPARATORS.split(metadata):
        part = part.strip()
        match = _ONNX_METADATA.fullmatch(part)
        if match:
            nodes.append(match.group(1))
        elif part:
            nodes.append(part)
    return tuple(dict.fromkeys(nodes))


def _layer_precision(inputs: tuple[TensorReport, ...], outputs: tuple[TensorReport, ...], tactic: str) -> str:
    """The narrowest floating-point or quantized precision the layer reads or writes; for a layer of integers only
    (index and shape arithmetic), its first tensor's type."""
    tensors = inputs + outputs
    floating = [t.precision for t in tensors if t.precision in ACTIVATION_PRECISIONS]
    if floating:
        precision = min(floating, key=_NARROWEST_FIRST.index)
    else:
        precision = next((t.precision for t in tensors if t.precision), "")
    return "TF32" if precision == "FP32" and "tf32" in tactic.lower() else precision


def _layer(index: int, layer: dict[str, Any] | str) -> LayerReport:
    if not isinstance(layer, dict):
        return LayerReport(index, str(layer), "", "", (), (), "", (), False, "")
    name = str(layer.get("Name", ""))
    inputs = tuple(_tensor(t) for t in layer.get("Inputs") or [] if isinstance(t, dict))
    outputs = tuple(_tensor(t) for t in layer.get("Outputs") or [] if isinstance(t, dict))
    kind = _kind(layer, name, inputs, outputs)
    tactic = str(layer.get("TacticName") or layer.get("TacticValue") or "")
    from_name = "Metadata" not in layer
    if kind == REFORMAT:
        nodes: tuple[str, ...] = ()
    elif from_name:
        nodes = tuple(part for part in _PROFILE_SUFFIX.sub("", name).split(" + ") if part)
    else:
        nodes = onnx_nodes_of(str(layer["Metadata"] or ""))
    return LayerReport(index, name, str(layer.get("LayerType", "")), kind, inputs, outputs, tactic, nodes,
                       from_name and bool(nodes), _layer_precision(inputs, outputs, tactic))


def engine_report(text: str, source: str = "engine") -> EngineReport:
    """The report of one engine from the inspector's JSON (8.6 to 11.x)."""
    raw_layers = inspector_document(text, source)["Layers"]
    layers = tuple(_layer(index, layer) for index, layer in enumerate(raw_layers))
    detailed = bool(layers) and all(isinstance(layer, dict) for layer in raw_layers)
    return EngineReport(source, layers, tuple(engine_io_tensors(text)), detailed)


# --- text ----------------------------------------------------------------------------------------------------------


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _precisions(tensors: tuple[TensorReport, ...]) -> str:
    return "/".join(dict.fromkeys(t.precision or "?" for t in tensors)) or "-"


def format_report_table(report: EngineReport, limit: int | None = None) -> str:
    """One row per layer: its name, type, kind, input and output precision, output format, tactic and ONNX nodes."""
    shown = report.layers if limit is None else report.layers[:limit]
    name_width = min(40, max((len(layer.name) for layer in shown), default=5))
    header = (f"{'#':>3}  {'layer':<{name_width}}  {'type':<16}  {'kind':<8}  {'in':<10}  {'out':<10}  "
              f"{'output format':<30}  {'tactic':<34}  ONNX nodes")
    lines = [header]
    for layer in shown:
        formats = "; ".join(dict.fromkeys(t.format for t in layer.outputs if t.format))
        nodes = ", ".join(layer.onnx_nodes) or "-"
        lines.append(f"{layer.index:>3}  {_fit(layer.name, name_width):<{name_width}}  {_fit(layer.layer_type, 16):<16}  "
                     f"{layer.kind:<8}  {_fit(_precisions(layer.inputs), 10):<10}  {_fit(_precisions(layer.outputs), 10):<10}  "
                     f"{_fit(formats, 30):<30}  {_fit(layer.tactic, 34):<34}  {nodes}")
    if limit is not None and len(report.layers) > limit:
        lines.append(f"... {len(report.layers) - limit} more layers")
    return "\n".join(lines)


def _counts(values: list[str]) -> str:
    counted = Counter(values)
    return ", ".join(f"{p} {counted[p]}" for p in _ordered(set(counted) - {""})) + (
        f", none {counted['']}" if counted[""] else "")


def format_precision_summary(report: EngineReport) -> str:
    kinds = Counter(layer.kind for layer in report.layers)
    io = f"; I/O tensors {', '.join(report.io_tensors)}" if report.io_tensors else ""
    lines = [f"{report.source}: {len(report.layers)} layers ("
             + ", ".join(f"{kinds[kind]} {kind}" for kind in (COMPUTE, REFORMAT, QDQ, NO_OP) if kinds[kind]) + f"){io}"]
    if not report.detailed:
        lines.append("  only layer names: rebuild with ProfilingVerbosity.DETAILED (trtexec --profilingVerbosity=detailed) "
                     "for precisions, tactics and ONNX nodes")
        return "\n".join(lines)
    compute = [layer.precision for layer in report.layers if layer.kind == COMPUTE]
    lines.append(f"  compute layers per precision (the narrowest each reads or writes): {_counts(compute)}")
    lines.append(f"  layers per output precision: {_counts([layer.output_precision for layer in report.layers])}")
    if any(layer.nodes_from_name for layer in report.layers):
        lines.append("  no layer Metadata (TensorRT before 8.6): ONNX nodes read from the layer names")
    return "\n".join(lines)


def format_report(report: EngineReport) -> str:
    return f"{format_report_table(report)}\n{format_precision_summary(report)}"


# --- the "did it run in FP16?" check -------------------------------------------------------------------------------


def checked_layers(report: EngineReport) -> list[LayerReport]:
    """The layers a precision check looks at: compute layers on floating-point or quantized data (index and shape
    arithmetic in INT32/INT64/BOOL has no lower precision to run in)."""
    return [layer for layer in report.layers if layer.kind == COMPUTE and layer.precision in ACTIVATION_PRECISIONS]


def layers_not_in(report: EngineReport, expected: str) -> list[LayerReport]:
    """The compute layers that did not run in `expected` (e.g. "FP16"): reformats, Q/DQ, no-op and shuffle layers,
    and integer layers, are left out."""
    report.require_details("the precision layers ran in")
    precision = expected_precision(expected)
    return [layer for layer in checked_layers(report) if layer.precision != precision]


def format_layers_not_in(report: EngineReport, expected: str) -> str:
    precision = expected_precision(expected)
    missed, checked = layers_not_in(report, precision), checked_layers(report)
    if not missed:
        return f"all {len(checked)} compute layers of {report.source} ran in {precision}"
    lines = [f"{len(missed)} of {len(checked)} compute layers of {report.source} did not run in {precision}:"]
    lines += [f"  #{layer.index:<3} {layer.precision:<5} {_fit(layer.name, 50):<50}  ONNX: {', '.join(layer.onnx_nodes) or '-'}"
              for layer in missed]
    if len(missed) == len(checked):
        lines.append(f"  none ran in {precision}: the engine was built without it (TensorRT 11 runs FP16 only from an FP16, "
                     "strongly typed model; 8.6 and 10.x need the FP16 builder flag)")
    return "\n".join(lines)


# --- two engines ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeChange:
    node: str
    first: tuple[str, ...]  # precisions of the layers holding it in the first engine
    second: tuple[str, ...]


@dataclass(frozen=True)
class ReportDiff:
    first: str
    second: str
    changed: tuple[NodeChange, ...]
    unchanged: tuple[str, ...]
    only_in_first: tuple[str, ...]
    only_in_second: tuple[str, ...]

    def summary(self) -> str:
        shared = len(self.changed) + len(self.unchanged)
        moves = Counter(f"{'/'.join(c.first) or '?'} -> {'/'.join(c.second) or '?'}" for c in self.changed)
        how = f" ({', '.join(f'{move}: {n}' for move, n in moves.most_common())})" if moves else ""
        return (f"{shared} ONNX nodes in both engines: {len(self.changed)} changed precision{how}, "
                f"{len(self.unchanged)} unchanged; {len(self.only_in_first)} only in {self.first}, "
                f"{len(self.only_in_second)} only in {self.second}")


def diff_reports(first: EngineReport, second: EngineReport) -> ReportDiff:
    """Two engines of one ONNX model matched by the ONNX nodes in their layers (layer names change with fusion)."""
    first.require_details("its layers' precisions")
    second.require_details("its layers' precisions")
    a, b = first.node_precisions(), second.node_precisions()
    changed = tuple(NodeChange(node, a[node], b[node]) for node in a if node in b and a[node] != b[node])
    return ReportDiff(first.source, second.source, changed,
                      unchanged=tuple(node for node in a if node in b and a[node] == b[node]),
                      only_in_first=tuple(node for node in a if node not in b),
                      only_in_second=tuple(node for node in b if node not in a))


def format_diff(diff: ReportDiff) -> str:
    lines = [f"{diff.first} -> {diff.second}, layers matched by the ONNX nodes fused into them"]
    if diff.changed:
        width = min(40, max(len(change.node) for change in diff.changed))
        lines.append(f"precision changed ({len(diff.changed)}):")
        lines += [f"  {_fit(c.node, width):<{width}}  {'/'.join(c.first) or '?'} -> {'/'.join(c.second) or '?'}"
                  for c in diff.changed]
    for label, nodes in ((diff.first, diff.only_in_first), (diff.second, diff.only_in_second)):
        if nodes:
            lines.append(f"only in {label} ({len(nodes)}): {', '.join(nodes)}")
    lines.append(diff.summary())
    return "\n".join(lines)


# --- the picture ---------------------------------------------------------------------------------------------------


def precision_figure(report: EngineReport) -> Figure:
    """Layer index against precision: one row per precision, one mark per layer (hollow for reformats, Q/DQ and
    no-ops), so an engine that stayed in FP32 is one red line."""
    from matplotlib.figure import Figure

    report.require_details("a precision picture")
    rows = [p for p in PRECISIONS if any(layer.precision == p for layer in report.layers)]
    if any(not layer.precision for layer in report.layers):
        rows.append("none")
    figure = Figure(figsize=(min(16.0, 4 + 0.12 * len(report.layers)), 1.4 + 0.45 * len(rows)), layout="constrained")
    ax = figure.subplots()
    for precision in rows:
        colour = COLOURS.get(precision, "gray")
        for filled in (True, False):
            xs = [layer.index for layer in report.layers if (layer.precision or "none") == precision
                  and (layer.kind == COMPUTE) == filled]
            if xs:
                ax.scatter(xs, [rows.index(precision)] * len(xs), marker="s", s=36, color=colour if filled else "none",
                           edgecolors=colour, linewidths=1.2, label=None)
    ax.set_yticks(range(len(rows)), rows)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlim(-1, max(len(report.layers), 1))
    ax.set(xlabel="layer (engine order; hollow: reformat, Q/DQ or no-op)", ylabel="precision",
           title=f"{report.source}: precision per layer")
    ax.grid(axis="x", alpha=0.3)
    return figure


def save_precision_figure(report: EngineReport, destination: str | os.PathLike[str]) -> Path:
    from utils.files import save_figure

    if Path(destination).suffix.lower() != ".png":
        raise WorkbookError(f"the precision picture is a PNG file; name it with .png, not {Path(destination).name}")
    return save_figure(precision_figure(report), destination)
