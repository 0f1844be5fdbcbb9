"""Reduced-precision copies of an ONNX model: the form strongly typed TensorRT (11.x, TensorRT-RTX) builds from."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from utils.errors import WorkbookError
from utils.files import atomic_path

if TYPE_CHECKING:
    import numpy as np
    import onnx


# AutoCast's own default. Not an overflow limit (FP16 reaches 65504): FP16's step grows with the value, and at 512 it
# is already 0.5 (modelopt/onnx/autocast/convert.py says so), so a node whose values reach it loses accuracy.
DEFAULT_DATA_MAX = 512.0
RECIPE_KEY = "workbook.autocast"  # metadata of the FP16 model: how it was made (reference inputs, nodes kept)


def autocast_fp16(source: str | os.PathLike[str], reference_npz: str | None, *, exclude_nodes: Sequence[str] = (),
                  data_max: float = DEFAULT_DATA_MAX) -> onnx.ModelProto:
    """ModelOpt AutoCast to FP16 with FP32 inputs and outputs, quietly: nodes named in `exclude_nodes` (exact names),
    nodes whose activations on the inputs in `reference_npz` (or seeded random ones) exceed `data_max`, and nodes
    whose weights do not fit FP16 stay FP32."""
    import re

    from utils.onnx.quiet import quiet_modelopt

    with quiet_modelopt(f"converting {source} to FP16 with ModelOpt AutoCast"):
        from modelopt.onnx.autocast import convert_to_mixed_precision

        return convert_to_mixed_precision(onnx_path=str(source), low_precision_type="fp16", keep_io_types=True,
                                          calibration_data=reference_npz, providers=["cpu"], data_max=data_max,
                                          nodes_to_exclude=[f"^{re.escape(name)}$" for name in exclude_nodes] or None)


def stored_recipe(path: str | os.PathLike[str]) -> str | None:
    """The `recipe` an FP16 model was made with (its metadata), or None for a file that is missing or has none."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # a missing, half-written or foreign file: made again by the caller
        return None
    return next((p.value for p in model.metadata_props if p.key == RECIPE_KEY), None)


def convert_to_fp16(source: str | os.PathLike[str], destination: str | os.PathLike[str], *,
                    reference_inputs: np.ndarray | str | os.PathLike[str] | None = None, exclude_nodes: Sequence[str] = (),
                    data_max: float = DEFAULT_DATA_MAX, recipe: str | None = None) -> Path:
    """An FP16 copy of an FP32 ONNX model whose inputs and outputs stay FP32, made by NVIDIA ModelOpt's AutoCast.

    This is the form strongly typed TensorRT (11.x, TensorRT-RTX) builds into an FP16 engine. AutoCast runs the FP32
    model once on reference inputs and keeps in FP32 any node whose values there exceed `data_max` in magnitude (512
    by default: far below FP16's largest value, 65504, because FP16's step at 512 is already 0.5) or whose weights do
    not fit FP16; every other node becomes FP16. `reference_inputs` are preprocessed inputs [N, C, H, W] for a
    one-input model, like the ones it will see, or the `.npz` file of them AutoCast reads
    (`utils.artifacts.autocast_reference_file(model)`: real photos); without
    them AutoCast uses seeded random values in [-1, 1], whose ranges need not be an image's. `exclude_nodes` names
    nodes to keep in FP32 as well; `data_max` set to `math.inf` makes every node FP16 whatever its range. `recipe`,
    if given, is stored in the model's metadata (`RECIPE_KEY`), so a caller can tell how a file on disk was made.
    """
    import numpy as np
    import onnx

    from utils.onnx.export import load_onnx

    source, destination = Path(source), Path(destination)
    model = load_onnx(source)  # a missing or broken file is one line before ModelOpt sees it
    with tempfile.TemporaryDirectory(prefix=".autocast-") as scratch:
        reference = str(reference_inputs) if isinstance(reference_inputs, str | os.PathLike) else None
        if reference is None and reference_inputs is not None:
            initializers = {init.name for init in model.graph.initializer}
            names = [v.name for v in model.graph.input if v.name not in initializers]
            if len(names) != 1:
                raise WorkbookError(f"{source} has {len(names)} inputs; reference inputs are for one-input models")
            input_name = names[0]
            reference = str(Path(scratch) / "reference.npz")
            np.savez(reference, **{input_name: np.asarray(reference_inputs, dtype=np.float32)})
        half = autocast_fp16(source, reference, exclude_nodes=exclude_nodes, data_max=data_max)
    if recipe is not None:
        onnx.helper.set_model_props(half, {**{p.key: p.value for p in half.metadata_props}, RECIPE_KEY: recipe})
    onnx.checker.check_model(half)
    with atomic_path(destination) as tmp:
        onnx.save(half, str(tmp))
    return destination
