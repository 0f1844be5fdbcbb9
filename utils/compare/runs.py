"""Run models with Polygraphy's runners, and save and load results in Polygraphy's `--save-outputs` format."""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from utils.errors import WorkbookError, one_of
from utils.files import write_text_atomic

if TYPE_CHECKING:
    import numpy as np
    from polygraphy.comparator import RunResults

    from utils.tensorrt.api import TensorRT


def run_onnxruntime(onnx_path: str | os.PathLike[str], feeds: Sequence[dict[str, np.ndarray]], *,
                    mark_all: bool = False, runner_name: str = "onnxrt") -> RunResults:
    """Run an ONNX model with Polygraphy's ONNX Runtime runner on the CPU, every intermediate tensor marked if
    `mark_all`; a Q/DQ model is computed as written on every CPU (`utils.onnx.sessions`)."""
    from polygraphy import constants
    from polygraphy.backend.onnx import BytesFromOnnx, ModifyOutputs, OnnxFromPath
    from polygraphy.backend.onnxrt import OnnxrtRunner
    from polygraphy.comparator import Comparator
    from polygraphy.logger import G_LOGGER

    from utils.onnx.export import load_onnx
    from utils.onnx.sessions import inference_session

    load_onnx(onnx_path)
    model = OnnxFromPath(str(onnx_path))
    if mark_all:
        model = ModifyOutputs(model, outputs=constants.MARK_ALL)
    # Polygraphy's own SessionFromOnnx takes no session config entries; the workbook's session computes Q/DQ exactly.
    runner = OnnxrtRunner(lambda: inference_session(BytesFromOnnx(model)()), name=runner_name)
    with G_LOGGER.verbosity(G_LOGGER.ERROR):
        return Comparator.run([runner], data_loader=list(feeds))


def polygraphy_tensorrt() -> TensorRT:
    """The installed TensorRT, made the one Polygraphy's TensorRT backend imports. Polygraphy imports `tensorrt`, or
    `tensorrt_rtx` where its config says USE_TENSORRT_RTX (env POLYGRAPHY_USE_TENSORRT_RTX=1); TensorRT-RTX's PyPI
    wheel installs its module as `tensorrt_rtx_bindings`, so that name is aliased first. In that mode Polygraphy's
    `CreateConfig` refuses precision flags (its `tf32=False` still clears TF32); its command line builds a
    `CreateConfigRTX`, which leaves TF32 on."""
    import polygraphy.config

    from utils.tensorrt.api import load_tensorrt

    trt = load_tensorrt()
    if trt.is_rtx != polygraphy.config.USE_TENSORRT_RTX and "polygraphy.backend.trt" in sys.modules:
        wanted = "TensorRT-RTX" if trt.is_rtx else "the full TensorRT"
        raise WorkbookError(f"Polygraphy's TensorRT backend was imported in this process before {wanted} was chosen; "
                            "restart the kernel (or process) and run this first")
    if trt.is_rtx:
        sys.modules.setdefault("tensorrt_rtx", trt.module)
        polygraphy.config.USE_TENSORRT_RTX = True
    return trt


def polygraphy_cuda_unavailable() -> str | None:
    """Why Polygraphy's own CUDA wrapper (its TensorRT runner's buffers and stream) cannot load the CUDA runtime here,
    with how to fix it, or None. It searches LD_LIBRARY_PATH, /usr/local/cuda/lib64, /usr/lib, /lib and pip's
    `nvidia/cuda_runtime/lib`, but CUDA 13's pip wheels put libcudart in `nvidia/cu13/lib`."""
    from polygraphy import cuda

    try:
        cuda.wrapper()
    except (OSError, Exception) as exc:  # ctypes' OSError, or Polygraphy's own exception from G_LOGGER.critical
        found = sorted({os.path.dirname(path) for entry in sys.path if os.path.isdir(entry)
                        for path in glob.glob(os.path.join(entry, "nvidia", "*", "lib", "libcudart.so*"))})
        fix = (f"export LD_LIBRARY_PATH={found[0]}:$LD_LIBRARY_PATH (where pip's CUDA wheel put it) and restart"
               if found else "install the CUDA runtime (pip install nvidia-cuda-runtime-cu12, or the CUDA toolkit) and put "
               "its lib folder on LD_LIBRARY_PATH")
        reason = " ".join(str(exc).split())[:160] or type(exc).__name__
        return f"Polygraphy cannot load the CUDA runtime library libcudart ({reason}); {fix}"
    return None


def polygraphy_tensorrt_model(onnx_path: str | os.PathLike[str], precision: str, *, model_name: str | None = None,
                              tensorrt: TensorRT | None = None) -> tuple[Path, list[str]]:
    """The model file and the `polygraphy run --trt` flags that build `precision` the way the installed TensorRT
    documents: FP16 by flag (8.6, 10.x) or from the FP16 model, strongly typed (11.x, RTX); INT8 from the Q/DQ
    model calibrated on the workbook's set for `model_name`: FP16 elsewhere and strongly typed from 10.x on, FP32
    scales and elsewhere with --int8 --fp16 on 8.6 (`TensorRT.int8_onnx_precision`). Polygraphy's own
    --fp16/--int8 map onto builder flags TensorRT 11 removed."""
    from utils import artifacts
    from utils.tensorrt.api import load_tensorrt

    trt = tensorrt or load_tensorrt()
    onnx_path = Path(onnx_path)
    if precision == "fp32":
        return onnx_path, []
    if precision == "fp16":
        if trt.strongly_typed_only:
            return artifacts.fp16_model(onnx_path, model_name), ["--strongly-typed"]
        return onnx_path, ["--fp16"]
    one_of(precision, ("fp32", "fp16", "int8"), "precision")
    from utils.models import selected_model_name
    from utils.onnx.quantize import quantize_int8

    high_precision = "fp32" if trt.int8_onnx_precision == "int8" else "fp16"
    quantized = quantize_int8(onnx_path, artifacts.int8_twin_path(onnx_path, high_precision),
                              artifacts.calibration_set(selected_model_name(model_name)), high_precision=high_precision)
    flags = [f"--{flag.lower()}" for flag in trt.quantized_builder_flags()] or ["--strongly-typed"]
    return quantized, flags


def polygraphy_tensorrt_outputs(onnx_path: str | os.PathLike[str]) -> list[str]:
    """What `polygraphy run --trt --trt-outputs` should mark to compare every layer: `*` (every tensor; Polygraphy
    0.53.6 deprecates its old spelling `mark all`), except for a Q/DQ model, where the outputs of its compute nodes
    (the activations) and its graph outputs are listed by name. Marking the output of a Q/DQ node, or a weight that
    feeds one, as `*` does, stops TensorRT from folding the pair into the layer that reads it (NVIDIA/TensorRT #3788,
    #3813, #1864): the engine compared would no longer compute in INT8. Polygraphy reads each name as an fnmatch
    pattern, so `[`, `*` and `?` in a tensor's name are escaped (`glob.escape`)."""
    from utils.onnx.export import load_onnx
    from utils.onnx.quantize import QDQ_OPS, is_quantized

    model = load_onnx(onnx_path)
    if not is_quantized(model):
        return ["*"]
    activations = [name for node in model.graph.node if node.op_type not in (*QDQ_OPS, "Constant")
                   for name in node.output if name]
    names = dict.fromkeys(activations + [output.name for output in model.graph.output])  # the outputs stay marked
    return [glob.escape(name) for name in names]


def results_from_arrays(outputs: Sequence[dict[str, np.ndarray]], runner_name: str) -> RunResults:
    """Wrap outputs computed elsewhere (PyTorch, the workbook's runner) as Polygraphy results, one dict per iteration."""
    from polygraphy.comparator import RunResults

    results = RunResults()
    results.add(list(outputs), runner_name=runner_name)
    return results


def save_results(results: RunResults, destination: str | os.PathLike[str]) -> Path:
    """Save results in Polygraphy's `--save-outputs` JSON format, atomically."""
    from polygraphy.json import to_json

    return write_text_atomic(destination, to_json(results))


def load_results(path: str | os.PathLike[str]) -> RunResults:
    """Load a Polygraphy `--save-outputs` file, or fail with a one-line error."""
    from polygraphy.comparator import RunResults

    path = Path(path)
    if not path.is_file():
        raise WorkbookError(f"results file {path} does not exist; create it with `polygraphy run ... --save-outputs {path.name}`")
    from polygraphy.logger import G_LOGGER

    try:
        with G_LOGGER.verbosity(G_LOGGER.WARNING):
            results = RunResults.load(str(path))
    except Exception as exc:  # Polygraphy raises several types (JSON, pickle, its own) for unreadable files
        raise WorkbookError(f"{path} is not a Polygraphy results file ({type(exc).__name__}); save one with --save-outputs") from None
    if not isinstance(results, RunResults) or not list(results.keys()) or not results[0][1]:
        raise WorkbookError(f"{path} holds no runner results; save one with `polygraphy run ... --save-outputs`")
    return results


def first_iteration(results: RunResults) -> tuple[str, dict[str, np.ndarray]]:
    """The first runner's name and its first iteration's outputs, in the order the runner produced them."""
    name, iterations = results[0]
    return name, dict(iterations[0])
