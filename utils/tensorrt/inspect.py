"""What is inside an engine: the sidecar's facts, and (where the engine loads) TensorRT's per-layer table."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from utils.errors import WorkbookError


@dataclass(frozen=True)
class LayerRow:
    name: str
    layer_type: str
    precision: str
    tactic: str


def layers_from_inspector_json(text: str) -> list[LayerRow]:
    """Parse IEngineInspector's JSON (ProfilingVerbosity.DETAILED) from TensorRT 8.6 to 11.x.

    Layers are dicts with "Name", "LayerType" and, at DETAILED verbosity, "TacticName" and the output tensors'
    "Format/Datatype"; with lower verbosity a layer is just its name as a string.
    """
    try:
        document = json.loads(text)
    except ValueError:
        raise WorkbookError("the engine inspector did not return JSON; rebuild the engine with ProfilingVerbosity.DETAILED") from None
    rows = []
    for layer in document.get("Layers", []):
        if isinstance(layer, str):
            rows.append(LayerRow(layer, "", "", ""))
            continue
        outputs = layer.get("Outputs") or []
        formats = sorted({str(o.get("Format/Datatype", "")) for o in outputs if isinstance(o, dict)} - {""})
        rows.append(LayerRow(name=str(layer.get("Name", "")), layer_type=str(layer.get("LayerType", "")),
                             precision=", ".join(formats), tactic=str(layer.get("TacticName", layer.get("TacticValue", "")))))
    return rows


def engine_io_tensors(document_text: str) -> list[str]:
    """I/O tensor names: the key is "Bindings" up to 10.x and "I/O Tensors" from 11.x."""
    document = json.loads(document_text)
    return list(document.get("I/O Tensors") or document.get("Bindings") or [])


def inspect_engine(engine_path: str | os.PathLike[str]) -> tuple[dict[str, Any], list[LayerRow] | None, str | None]:
    """(sidecar dict, layer table or None, why there is no table). The table needs a GPU that can load the engine."""
    from dataclasses import asdict

    from utils.environment import engine_execution_unavailable
    from utils.tensorrt.build import check_engine_file

    engine_path = Path(engine_path)
    record = check_engine_file(engine_path)
    facts: dict[str, Any] = asdict(record) if record else {"note": "no sidecar: built outside the workbook"}
    reason = engine_execution_unavailable()
    if reason is not None:
        return facts, None, f"the per-layer table needs the engine loaded, and {reason}"
    from utils.tensorrt.api import load_tensorrt
    from utils.tensorrt.runner import deserialize_engine

    trt = load_tensorrt()
    _runtime, engine = deserialize_engine(engine_path, trt)
    inspector = engine.create_engine_inspector()
    text = inspector.get_engine_information(trt.module.LayerInformationFormat.JSON)
    facts["io_tensors"] = engine_io_tensors(text)
    return facts, layers_from_inspector_json(text), None


def format_layer_table(rows: list[LayerRow], limit: int | None = None) -> str:
    shown = rows if limit is None else rows[:limit]
    width = min(60, max((len(r.name) for r in shown), default=4))
    lines = [f"{'layer':<{width}}  {'type':<18}  {'precision/format':<28}  tactic"]
    for row in shown:
        lines.append(f"{row.name[:width]:<{width}}  {row.layer_type[:18]:<18}  {row.precision[:28]:<28}  {row.tactic}")
    if limit is not None and len(rows) > limit:
        lines.append(f"... {len(rows) - limit} more layers")
    return "\n".join(lines)
