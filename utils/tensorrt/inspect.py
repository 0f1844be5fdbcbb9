"""What is inside an engine: the sidecar's facts, and (where the engine loads) TensorRT's per-layer table.

The table comes from `IEngineInspector` (`LayerInformationFormat.JSON`, engines built with
`ProfilingVerbosity.DETAILED`). Its JSON changed in TensorRT 11:

* 8.6 and 10.x: `{"Layers": [...], "Bindings": ["input", "logits"]}`; each layer's tensors carry one field
  `"Format/Datatype": "Row major linear FP32"`.
* 11.x: `"Bindings"` is replaced by `"I/O Tensors"`, a list of objects (`{"Name", "IOMode", "DataType",
  "Dimensions", ...}`), and the format and data type of a layer's tensors are separate fields
  (`"Format"`, `"Datatype"`; NVIDIA's own tools accept either spelling of the latter).

At lower profiling verbosity a layer is only its name, as a string. Loading the engine needs a GPU that can
run it, but not pycuda. Where it cannot load, the same JSON saved elsewhere serves: `trtexec --exportLayerInfo=FILE`
writes exactly `getEngineInformation(kJSON)` (NVIDIA/TensorRT samples/common/sampleReporting.cpp, printLayerInfo,
tags v10.16 and v11.1). `engine_report.py` turns the JSON into the per-layer table, the precision report and the diff
of two engines.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from utils.errors import WorkbookError

EXPORT_HINT = ("export it where the engine loads: `trtexec --loadEngine=ENGINE --exportLayerInfo=layers.json`, "
               "the engine built with --profilingVerbosity=detailed")


def inspector_document(text: str, source: str | None = None) -> dict[str, Any]:
    """The inspector's JSON as a dict with a "Layers" list; `source` names the file it was read from, if any."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        if source:
            raise WorkbookError(f"{source} is not JSON ({exc.msg}, line {exc.lineno}); give the engine inspector's "
                                f"JSON: {EXPORT_HINT}") from None
        raise WorkbookError("the engine inspector did not return JSON; rebuild the engine with ProfilingVerbosity.DETAILED") from None
    if not isinstance(document, dict) or not isinstance(document.get("Layers"), list):
        if source:
            raise WorkbookError(f'{source} is JSON but not the engine inspector\'s (no "Layers" list); {EXPORT_HINT}')
        raise WorkbookError("the engine inspector's JSON is not an object; rebuild the engine with ProfilingVerbosity.DETAILED")
    return document


def engine_io_tensors(text: str) -> list[str]:
    """The engine's input and output tensor names: "Bindings" (strings) up to 10.x, "I/O Tensors" (objects) from 11.x."""
    document = inspector_document(text)
    if "I/O Tensors" in document:
        return [str(t["Name"]) if isinstance(t, dict) else str(t) for t in document["I/O Tensors"]]
    return [str(name) for name in document.get("Bindings", [])]


def inspector_json_of_engine(engine_path: str | os.PathLike[str]) -> tuple[dict[str, Any], str | None, str | None]:
    """(facts, the inspector's JSON or None, why this machine cannot load the engine). The facts are the sidecar,
    or the header check's note, and the I/O tensor names when the engine loads."""
    from dataclasses import asdict

    from utils.environment import engine_load_unavailable
    from utils.tensorrt.api import load_tensorrt
    from utils.tensorrt.engine_file import check_engine_file, deserialize_engine, header_check

    engine_path = Path(engine_path)
    record = check_engine_file(engine_path)  # a missing or damaged file is reported before anything about TensorRT
    trt = load_tensorrt()
    facts: dict[str, Any] = asdict(record) if record else {"note": header_check(engine_path, trt)}
    reason = engine_load_unavailable()
    if reason is not None:
        return facts, None, reason
    _runtime, engine = deserialize_engine(engine_path, trt)
    inspector = engine.create_engine_inspector()
    text = str(inspector.get_engine_information(trt.module.LayerInformationFormat.JSON))
    facts["io_tensors"] = engine_io_tensors(text)
    return facts, text, None


def read_inspector_json(path: str | os.PathLike[str]) -> str:
    """The inspector's JSON saved in a file (trtexec --exportLayerInfo, or get_engine_information's text)."""
    path = Path(path)
    if path.is_dir():
        raise WorkbookError(f"{path} is a directory; give the engine inspector's JSON file")
    if not path.is_file():
        raise WorkbookError(f"JSON file {path} does not exist; {EXPORT_HINT}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise WorkbookError(f"{path} is not text, so not the engine inspector's JSON (an engine? give it without "
                            "--json-file)") from None
    except OSError as exc:
        raise WorkbookError(f"cannot read {path}: {exc.strerror}") from None
    inspector_document(text, str(path))
    return text


def inspector_json_of(path: str | os.PathLike[str]) -> str:
    """The inspector's JSON of an engine file or of a saved JSON file; the file's first bytes tell which it is."""
    path = Path(path)
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise WorkbookError(f"{path} {what}; give an engine or the engine inspector's JSON file")
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if head.lstrip()[:1] in (b"{", b"["):
        return read_inspector_json(path)
    if b"\0" not in head:  # engines are binary; this is some other text
        raise WorkbookError(f"{path} is neither an engine nor the engine inspector's JSON; {EXPORT_HINT}")
    _facts, text, reason = inspector_json_of_engine(path)
    if text is None:
        raise WorkbookError(f"reading {path}'s layers needs the engine loaded, and {reason}; {EXPORT_HINT}")
    return text
