"""The one place that names, and makes, every file the workbook derives.

Everything lands under the build folder (`build/` at the project root, or $WORKBOOK_BUILD_DIR):

    build/samples/<photo>.jpg                              scikit-image's photos as JPEG files
    build/onnx/<model>_opset<N>.onnx                       the exported model (FP32, dynamic batch)
    build/onnx/<model>_opset<N>_fp16.onnx                  its FP16 twin (FP32 inputs and outputs)
    build/onnx/<model>_opset<N>_int8.onnx                  INT8 Q/DQ, FP32 elsewhere: the cost of INT8 alone
    build/onnx/<model>_opset<N>_int8_fp16.onnx             INT8 Q/DQ, FP16 elsewhere: what TensorRT deploys
    build/onnx/<model>_opset<N>_int8_profile.json          what each node's quantization alone costs the logits
    build/calibration/<model>_{calibration,evaluation}.npz  inputs made from the bundled photos (utils.calibration)
    build/engines/<model>_<precision>_b<min>-<opt>-<max>_<flavour>.engine   (+ .json sidecar, + .lock)
    build/engines/timing-<flavour>-<version>-<gpu>.cache   one timing cache per TensorRT version and GPU
    build/compare/, build/figures/, build/benchmarks/       results of notebooks 04 and 05 and `bench`

A name is computed here and nowhere else; the functions without `_path` in their name also make the file
if it is missing (exporting, converting or building as needed) and return its path.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from utils.gpu import GpuInfo
    from utils.onnx.sensitivity import SensitivityProfile
    from utils.tensorrt.api import TensorRT
    from utils.tensorrt.engine_file import EngineRecord

BUILD_DIR_ENV_VAR = "WORKBOOK_BUILD_DIR"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ENGINE_BATCH = (1, 8, 32)
FP16_SUFFIX = "_fp16"
# ONNX forms of a model. "int8" keeps FP32 outside the Q/DQ pairs (the cost of INT8 alone); "int8-fp16" keeps FP16
# there, the form TensorRT deploys. ONNX Runtime's CPU provider computes both exactly (utils.onnx.sessions).
ONNX_PRECISIONS = ("fp32", "fp16", "int8", "int8-fp16")
INT8_CALIBRATION_METHOD = "max"  # entropy gains nothing over it here and, fed one sample a step, depends on their order (06)
INT8_PROFILE_SPLIT = 3  # nodes of the INT8 profile measured with only weights, or only activations, quantized
AUTOCAST_REFERENCE_COUNT = 32  # calibration inputs AutoCast runs the FP32 model on to see each node's range


def build_dir() -> Path:
    directory = Path(os.environ.get(BUILD_DIR_ENV_VAR) or PROJECT_ROOT / "build")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _folder(*parts: str) -> Path:
    folder = build_dir().joinpath(*parts)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# --- folders for results ------------------------------------------------------------------------------------


def samples_dir() -> Path:
    return _folder("samples")


def compare_dir() -> Path:
    """Polygraphy results files (`--save-outputs` format) written by notebook 04."""
    return _folder("compare")


def figures_dir(topic: str | None = None) -> Path:
    """Figures and stats.csv files; one sub-folder per comparison."""
    return _folder("figures", topic) if topic else _folder("figures")


def diff_dir() -> Path:
    """Where `python -m utils diff` writes when no --out is given."""
    return _folder("diff")


def benchmarks_dir() -> Path:
    return _folder("benchmarks")


def benchmark_csv_path(model_name: str) -> Path:
    return benchmarks_dir() / f"bench_{model_name}.csv"


def benchmark_figure_path(model_name: str, figure: str) -> Path:
    return benchmarks_dir() / f"bench_{model_name}_{figure}.png"


def reference_benchmark_csv_path() -> Path:
    """The committed reference numbers (one `bench` on an H200), shown beside a learner's own."""
    return PROJECT_ROOT / "benchmarks" / "reference_h200.csv"


# --- photos ---------------------------------------------------------------------------------------------------


def sample_photos() -> list[Path]:
    """scikit-image's bundled photos as JPEG files under build/samples (written once)."""
    from utils.images import write_sample_images

    return write_sample_images(samples_dir())


# --- ONNX -----------------------------------------------------------------------------------------------------


def onnx_path(model_name: str, precision: str = "fp32", opset: int | None = None) -> Path:
    from utils.models import get_model_spec
    from utils.onnx.export import DEFAULT_OPSET

    get_model_spec(model_name)
    fp32 = _folder("onnx") / f"{model_name}_opset{opset or DEFAULT_OPSET}.onnx"
    precision = _check_onnx_precision(precision)
    if precision == "fp32":
        return fp32
    if precision == "fp16":
        return fp16_twin_path(fp32)
    return int8_twin_path(fp32, "fp32" if precision == "int8" else "fp16")


def fp16_twin_path(fp32_onnx: str | os.PathLike[str]) -> Path:
    """The FP16 twin of any FP32 ONNX file: beside it, `<stem>_fp16.onnx`."""
    fp32_onnx = Path(fp32_onnx)
    return fp32_onnx.with_name(f"{fp32_onnx.stem}{FP16_SUFFIX}{fp32_onnx.suffix}")


def int8_twin_path(fp32_onnx: str | os.PathLike[str], high_precision: str = "fp16") -> Path:
    """The INT8 (Q/DQ) twin of any FP32 ONNX file, beside it: `<stem>_int8.onnx` with FP32 outside the Q/DQ pairs,
    `<stem>_int8_fp16.onnx` with FP16 there (the form TensorRT deploys)."""
    fp32_onnx = Path(fp32_onnx)
    int8 = fp32_onnx.with_name(f"{fp32_onnx.stem}_int8{fp32_onnx.suffix}")
    return int8 if high_precision == "fp32" else fp16_twin_path(int8)


def onnx_model(model_name: str, precision: str = "fp32", opset: int | None = None) -> Path:
    """The workbook's ONNX file for a model and precision, exported (and converted) if it is missing or older than
    what it is made from. INT8 leaves unquantized the nodes `int8_profile` finds dominant."""
    from utils.models import get_model_spec
    from utils.onnx.export import DEFAULT_OPSET, export_onnx

    fp32 = onnx_path(model_name, "fp32", opset)
    if not fp32.exists():
        spec = get_model_spec(model_name)
        export_onnx(spec.load(), fp32, spec.input_shape, opset or DEFAULT_OPSET)
    precision = _check_onnx_precision(precision)
    if precision == "fp32":
        return fp32
    path = onnx_path(model_name, precision, opset)
    if precision == "fp16":
        return fp16_model(fp32, model_name)
    from utils.onnx.quantize import quantize_int8

    kept = int8_profile(model_name, opset).dominant()
    if _newer(path, fp32, calibration_path(model_name), int8_profile_path(model_name, opset)):
        return path
    return quantize_int8(fp32, path, calibration_set(model_name), method=INT8_CALIBRATION_METHOD,
                         high_precision="fp32" if precision == "int8" else "fp16", exclude_nodes=kept)


def autocast_reference(model_name: str) -> np.ndarray:
    """What AutoCast runs the FP32 model on to see each node's range: the first calibration inputs (real photos,
    preprocessed as the model expects), not its own random values in [-1, 1], whose ranges are not an image's."""
    return calibration_set(model_name)[:AUTOCAST_REFERENCE_COUNT]


def autocast_reference_file(model_name: str) -> Path:
    """`autocast_reference` as the `.npz` file AutoCast's `calibration_data` reads (keyed by the input's name),
    written beside the calibration set and again whenever that set is newer."""
    from utils.calibration import save_inputs

    path = _folder("calibration") / f"{model_name}_autocast_reference.npz"
    reference = autocast_reference(model_name)
    if not _newer(path, calibration_path(model_name)):
        save_inputs(path, reference)
    return path


def fp16_model(fp32_onnx: str | os.PathLike[str], model_name: str | None = None, *,
               exclude_nodes: Sequence[str] = ()) -> Path:
    """The FP16 twin of an FP32 ONNX file (`fp16_twin_path`), made by AutoCast with `exclude_nodes` kept in FP32,
    on `autocast_reference` of `model_name` (the selected model if None) where the file's input takes its images;
    reused while it is newer than its source and was made the same way (the recipe in its metadata)."""
    from utils.models import get_model_spec, selected_model_name
    from utils.onnx.export import load_onnx
    from utils.onnx.precision import convert_to_fp16, stored_recipe

    fp32_onnx = Path(fp32_onnx)
    spec = get_model_spec(selected_model_name(model_name))
    model = load_onnx(fp32_onnx)
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    takes_images = len(model.graph.input) == 1 and tuple(dims[1:]) == tuple(spec.input_shape)
    reference = f"{AUTOCAST_REFERENCE_COUNT} calibration inputs of {spec.name}" if takes_images else "AutoCast's random inputs"
    recipe = f"reference: {reference}; kept in FP32: {', '.join(sorted(exclude_nodes)) or 'none'}"
    path = fp16_twin_path(fp32_onnx)
    if _newer(path, fp32_onnx) and stored_recipe(path) == recipe:
        return path
    return convert_to_fp16(fp32_onnx, path, reference_inputs=autocast_reference_file(spec.name) if takes_images else None,
                           exclude_nodes=exclude_nodes, recipe=recipe)


def int8_profile_path(model_name: str, opset: int | None = None) -> Path:
    """The JSON file of the INT8 sensitivity profile, beside the model's ONNX files."""
    fp32 = onnx_path(model_name, "fp32", opset)
    return fp32.with_name(f"{fp32.stem}_int8_profile.json")


def int8_profile(model_name: str, opset: int | None = None) -> SensitivityProfile:
    """How much each node's quantization alone costs the workbook's model (`utils.onnx.sensitivity`), measured on
    the first calibration inputs once, kept as JSON; the three most sensitive nodes split into weights and activations."""
    import json

    from utils.files import write_text_atomic
    from utils.onnx.quantize import int8_profile as measure_profile
    from utils.onnx.sensitivity import SensitivityProfile

    fp32, path = onnx_model(model_name, "fp32", opset), int8_profile_path(model_name, opset)
    calibration = calibration_set(model_name)
    if _newer(path, fp32, calibration_path(model_name)):
        try:
            return SensitivityProfile.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            pass  # a damaged file is measured again
    profile = measure_profile(fp32, calibration, method=INT8_CALIBRATION_METHOD, split=INT8_PROFILE_SPLIT)
    write_text_atomic(path, json.dumps(profile.to_json(), indent=1))
    return profile


def _newer(path: Path, *sources: Path) -> bool:
    """Whether `path` exists and is at least as new as every one of `sources`."""
    return path.exists() and all(path.stat().st_mtime >= source.stat().st_mtime for source in sources)


def int8_variant_path(model_name: str, variant: str) -> Path:
    """An INT8 model calibrated another way (a lesson's comparison: "entropy", "noise"), beside the workbook's own."""
    from utils.errors import WorkbookError

    if not variant.replace("-", "").isalnum():
        raise WorkbookError(f"INT8 variant {variant!r} must be letters, digits and dashes")
    base = onnx_path(model_name, "int8")
    return base.with_name(f"{base.stem}_{variant}{base.suffix}")


def _check_onnx_precision(precision: str) -> str:
    from utils.errors import one_of

    return one_of(precision, ONNX_PRECISIONS, "precision")


def calibration_path(model_name: str) -> Path:
    return _folder("calibration") / f"{model_name}_calibration.npz"


def evaluation_path(model_name: str) -> Path:
    return _folder("calibration") / f"{model_name}_evaluation.npz"


def calibration_set(model_name: str) -> np.ndarray:
    """The workbook's calibration inputs for a model (utils.calibration), made once and kept as an NPZ file."""
    from utils.calibration import cached_inputs

    return cached_inputs(calibration_path(model_name), model_name, "calibration")


def evaluation_set(model_name: str) -> np.ndarray:
    """Inputs disjoint from the calibration set, for measuring agreement with FP32 (utils.calibration)."""
    from utils.calibration import cached_inputs

    return cached_inputs(evaluation_path(model_name), model_name, "evaluation")


# --- TensorRT -------------------------------------------------------------------------------------------------


def engine_path(model_name: str, precision: str, batch: tuple[int, int, int] = DEFAULT_ENGINE_BATCH,
                tensorrt: TensorRT | None = None, *, tf32: bool = False, variant: str | None = None) -> Path:
    """The workbook's engine for a model, precision, batch profile and TensorRT flavour (the sidecar holds the rest);
    `variant` names a variant of the model (a lesson's: "searched"), as in `<model>_int8-searched_...`."""
    from utils.errors import WorkbookError
    from utils.tensorrt.api import load_tensorrt

    if variant is not None and not variant.replace("-", "").isalnum():
        raise WorkbookError(f"engine variant {variant!r} must be letters, digits and dashes")
    trt = tensorrt or load_tensorrt()
    low, opt, high = batch
    math_mode = "-tf32" if tf32 and precision == "fp32" else ""
    named = f"-{variant}" if variant else ""
    return _folder("engines") / f"{model_name}_{precision}{math_mode}{named}_b{low}-{opt}-{high}_{trt.flavour}.engine"


def engine(model_name: str, precision: str, batch: tuple[int, int, int] = DEFAULT_ENGINE_BATCH, *,
           tf32: bool = False) -> Path:
    """The workbook's engine, built from the workbook's ONNX file if missing or stale, else reused."""
    from utils.tensorrt.api import load_tensorrt

    trt = load_tensorrt()
    path = engine_path(model_name, precision, batch, trt, tf32=tf32)
    source = onnx_model(model_name, trt.int8_onnx_precision if precision == "int8" else "fp32")
    build_engine_file(source, path, precision=precision, batch=batch, tf32=tf32, model_name=model_name)
    return path


def build_engine_file(onnx_file: str | os.PathLike[str], engine_file: str | os.PathLike[str], *, precision: str,
                      timing_cache: str | os.PathLike[str] | None = None, model_name: str | None = None,
                      **options: Any) -> tuple[EngineRecord, bool]:
    """`utils.tensorrt.build.build_engine` with the workbook's files: the FP16 twin (`fp16_model`, on the reference
    inputs of `model_name`) where networks are strongly typed, and the timing cache of this TensorRT and GPU unless
    `timing_cache` names another."""
    from utils.gpu import current_gpu
    from utils.tensorrt.api import load_tensorrt
    from utils.tensorrt.build import build_engine

    trt = load_tensorrt()
    cache = Path(timing_cache) if timing_cache else timing_cache_path(trt, current_gpu()) if trt.has_timing_cache else None
    return build_engine(onnx_file, engine_file, precision=precision, timing_cache_path=cache,
                        fp16_model=lambda keep: fp16_model(onnx_file, model_name, exclude_nodes=keep), **options)


def timing_cache_path(tensorrt: TensorRT, gpu: GpuInfo | None) -> Path:
    """One timing cache per TensorRT version and GPU: timings measured on one GPU are meaningless on another."""
    device = f"sm{gpu.compute_capability.replace('.', '')}-{_slug(gpu.name)}" if gpu else "no-gpu"
    return _folder("engines") / f"timing-{tensorrt.flavour}-{tensorrt.version}-{device}.cache"


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-").lower()
