"""ONNX -> serialized TensorRT engine, with an optimization profile, a timing cache and a cache of built engines.

Every engine is written atomically beside a JSON sidecar (utils.tensorrt.engine_file) that records what it was
built from and for. `build_engine` reuses an engine whose sidecar matches the requested build exactly and
rebuilds otherwise. Builds of the same engine file are serialised by a lock file beside it (`.lock`), so two
processes building at once (a teaching lab with a shared home directory) leave an engine and a sidecar that
belong together: the second finds the first's engine and reuses it.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from utils.errors import WorkbookError, one_of
from utils.files import exclusive_lock, sha256_of_file, write_bytes_atomic
from utils.tensorrt.engine_file import EngineRecord

if TYPE_CHECKING:
    import tensorrt

    from utils.tensorrt.api import TensorRT
    from utils.tensorrt.logger import Capture, WorkbookLogger

PRECISIONS = ("fp32", "fp16", "int8")  # int8: an explicitly quantized (Q/DQ) ONNX model, as TensorRT 11 requires
DEFAULT_BATCH = (1, 8, 32)
DEFAULT_WORKSPACE_MIB = 2048
# Targets for TensorRT-RTX builds on a machine without a GPU: Ampere and newer (Turing, SM75, cannot run FP32 GEMM).
RTX_AHEAD_OF_TIME_TARGETS = ("SM80", "SM86", "SM89", "SM120")
LOCK_SUFFIX = ".lock"
# TensorRT 11.2 (NVIDIA/TensorRT #4838) builds no strongly typed FP16 kernel for some grouped convolutions, which 10.16
# builds: "No low-precision conv kernel available for this strongly-typed Conv/ConvTranspose. Consider keeping ... in
# FP32 ... Failing node: node_223_Conv", then "Could not find any implementation for node node_223_Conv.".
NO_FP16_KERNEL = "No low-precision conv kernel available"
_FAILING_NODE = re.compile(r"Failing node: (\S+)")
MAX_FP16_BUILDS = 3  # the FP16 model as made, with the named nodes kept in FP32, with every grouped Conv kept too


@dataclass(frozen=True)
class BuildRequest:
    """Everything that decides what engine is built; two equal requests give interchangeable engines."""

    onnx_sha256: str
    precision: str
    tf32: bool  # FP32 layers may use TF32 tensor cores (TensorRT's default; the workbook's and Polygraphy's is off)
    batch: tuple[int, int, int]
    workspace_mib: int
    tensorrt_flavour: str
    tensorrt_version: str
    gpu_name: str | None
    compute_capability: str | None  # the GPU's, or the ahead-of-time targets ("SM80,SM86,...")

    def cache_key(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def parse_batch(text: str) -> tuple[int, int, int]:
    """"1,8,32" -> (1, 8, 32), checked to be positive and ordered min <= opt <= max."""
    from utils.arguments import batch_sizes

    values = batch_sizes(text, "--batch", "1,8,32 (MIN,OPT,MAX)")
    if len(values) != 3:
        raise WorkbookError(f"--batch {text!r} is not MIN,OPT,MAX; write it like 1,8,32")
    return check_batch(tuple(values))


def check_batch(batch: tuple[int, ...]) -> tuple[int, int, int]:
    low, opt, high = batch
    if not 1 <= low <= opt <= high:
        raise WorkbookError(f"batch profile {low},{opt},{high} must satisfy 1 <= MIN <= OPT <= MAX")
    return (low, opt, high)


def build_request(onnx_path: str | os.PathLike[str], *, precision: str = "fp32", tf32: bool = False,
                  batch: tuple[int, int, int] = DEFAULT_BATCH, workspace_mib: int = DEFAULT_WORKSPACE_MIB,
                  tensorrt: TensorRT | None = None) -> BuildRequest:
    from utils.gpu import current_gpu
    from utils.tensorrt.api import load_tensorrt

    one_of(precision, PRECISIONS, "precision")
    if workspace_mib < 1:
        raise WorkbookError(f"workspace of {workspace_mib} MiB is too small; give at least 1 MiB")
    onnx_path = Path(onnx_path)
    if not onnx_path.is_file():
        raise WorkbookError(f"ONNX file {onnx_path} does not exist; export it first with `python -m utils export`")
    trt = tensorrt or load_tensorrt()
    gpu = current_gpu()
    if gpu is None and not trt.is_rtx:
        raise WorkbookError(f"{trt.display_name} builds engines only on an NVIDIA GPU and none is visible here; build on the GPU that will run the engine")
    if gpu is not None:
        gpu_name, capability = gpu.name, gpu.compute_capability
    else:
        gpu_name, capability = None, ",".join(RTX_AHEAD_OF_TIME_TARGETS)
    return BuildRequest(onnx_sha256=sha256_of_file(onnx_path), precision=precision, tf32=bool(tf32 and precision == "fp32"),
                        batch=check_batch(batch), workspace_mib=workspace_mib, tensorrt_flavour=trt.flavour,
                        tensorrt_version=trt.version, gpu_name=gpu_name, compute_capability=capability)


def cached_engine(engine_path: Path, request: BuildRequest) -> EngineRecord | None:
    """The sidecar of `engine_path` if the engine on disk is whole and was built from exactly this request."""
    record = EngineRecord.load(engine_path)
    if record is not None and record.request == request.cache_key() and record.matches_file(engine_path):
        return record
    return None


class NoFp16Kernel(WorkbookError):
    """TensorRT found no FP16 kernel for the strongly typed nodes it named (`nodes`)."""

    def __init__(self, message: str, nodes: tuple[str, ...]) -> None:
        super().__init__(message)
        self.nodes = nodes


def nodes_without_fp16_kernel(logged: Sequence[str]) -> tuple[str, ...]:
    """The nodes TensorRT named as having no strongly typed FP16 kernel, from what it logged (#4838's message)."""
    if not any(NO_FP16_KERNEL in message for message in logged):
        return ()
    return tuple(dict.fromkeys(match for message in logged for match in _FAILING_NODE.findall(message)))


def grouped_convolutions(model: Any) -> tuple[str, ...]:
    """The Conv nodes of an ONNX model with `group` > 1 (an EfficientNet's depthwise convolutions): where TensorRT 11.2
    refuses FP16 for one after another, the third build keeps all of them in FP32."""
    from onnx import helper

    return tuple(node.name for node in model.graph.node if node.op_type == "Conv" and any(
        a.name == "group" and helper.get_attribute_value(a) > 1 for a in node.attribute))


def build_engine(onnx_path: str | os.PathLike[str], engine_path: str | os.PathLike[str], *, precision: str = "fp32",
                 batch: tuple[int, int, int] = DEFAULT_BATCH, workspace_mib: int = DEFAULT_WORKSPACE_MIB,
                 fp16_model: Callable[[tuple[str, ...]], Path] | None = None, tf32: bool = False,
                 timing_cache_path: str | os.PathLike[str] | None = None, force: bool = False,
                 verbose: bool = False) -> tuple[EngineRecord, bool]:
    """Build (or reuse) an engine for `onnx_path`. Returns the sidecar record and whether a build ran.

    FP16 follows the installed TensorRT: the FP16 builder flag where it exists (8.6, 10.x); where networks are
    strongly typed (11.x, TensorRT-RTX) the FP16 model that `fp16_model(nodes kept in FP32)` makes (FP32 inputs and
    outputs; `utils.artifacts.fp16_model`) is built. Where TensorRT then names nodes it has no FP16 kernel for
    (TensorRT 11.2's grouped convolutions, NVIDIA/TensorRT #4838), the model is made again with them kept in FP32
    (if TensorRT then names others, every grouped convolution), built again, and one line says so; the sidecar
    lists them.
    `tf32` lets FP32 layers use TF32 tensor cores on Ampere and newer; it is off unless asked for, as in Polygraphy,
    and recorded in the sidecar. `timing_cache_path` None builds without a timing cache.
    """
    from utils.onnx.export import load_onnx
    from utils.tensorrt.api import load_tensorrt

    onnx_path, engine_path = Path(onnx_path), Path(engine_path)
    model = load_onnx(onnx_path)  # TensorRT-RTX's parser accepts random bytes as an empty network; catch that first
    if precision == "int8" and not any(node.op_type == "QuantizeLinear" for node in model.graph.node):
        raise WorkbookError(f"{onnx_path.name} has no QuantizeLinear nodes; INT8 engines are built from a Q/DQ model: "
                            "quantize it first with `python -m utils quantize`")
    trt = load_tensorrt()
    request = build_request(onnx_path, precision=precision, tf32=tf32, batch=batch, workspace_mib=workspace_mib, tensorrt=trt)
    with exclusive_lock(Path(f"{engine_path}{LOCK_SUFFIX}")):
        record = None if force else cached_engine(engine_path, request)
        if record is not None:
            return record, False

        from_fp16_model = precision == "fp16" and trt.strongly_typed_only
        if from_fp16_model and fp16_model is None:
            raise WorkbookError(f"{trt.display_name} builds FP16 engines from an FP16 model; give fp16_model "
                                "(utils.artifacts.build_engine_file does)")
        cache_path = Path(timing_cache_path) if timing_cache_path and trt.has_timing_cache else None
        started = time.perf_counter()
        kept: tuple[str, ...] = ()
        for attempt in range(1, MAX_FP16_BUILDS + 1):
            network_onnx = fp16_model(kept) if from_fp16_model and fp16_model is not None else onnx_path
            try:
                serialized, inputs = _build_serialized(trt, network_onnx, request, timing_cache_path=cache_path,
                                                       verbose=verbose)
                break
            except NoFp16Kernel as refused:
                named = tuple(node for node in refused.nodes if node in {n.name for n in model.graph.node})
                more = named if attempt == 1 or not named else grouped_convolutions(model)
                if not from_fp16_model or attempt == MAX_FP16_BUILDS or not set(more) - set(kept):
                    raise
                kept = tuple(dict.fromkeys(kept + more))
                print(f"{trt.display_name} has no FP16 kernel for {', '.join(refused.nodes)} (a strongly typed grouped "
                      f"convolution, NVIDIA/TensorRT #4838): building again with {len(kept)} node"
                      f"{'s' if len(kept) > 1 else ''} kept in FP32 ({', '.join(kept[:3])}{', ...' if len(kept) > 3 else ''})")
        seconds = time.perf_counter() - started
        write_bytes_atomic(engine_path, serialized)
        record = EngineRecord(
            request=request.cache_key(), onnx_file=str(onnx_path), built_onnx_file=str(network_onnx),
            engine_bytes=len(serialized), engine_sha256=hashlib.sha256(serialized).hexdigest(),
            build_seconds=round(seconds, 3),
            built_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            inputs=inputs, timing_cache=str(cache_path) if cache_path else None, kept_in_fp32=list(kept),
        )
        record.save(engine_path)
    return record, True


def _parse_onnx(trt: TensorRT, network: tensorrt.INetworkDefinition, logger: WorkbookLogger, capture: Capture,
                onnx_path: Path) -> None:
    parser: tensorrt.OnnxParser = trt.module.OnnxParser(network, logger.trt_logger)
    ok = parser.parse_from_file(str(onnx_path))
    if not ok or parser.num_errors:
        if parser.num_errors:
            error = parser.get_error(0)
            node = f"node {error.node()}" + (f" {error.node_name()!r} ({error.node_operator()})" if hasattr(error, "node_name") else "")
            where, what = f" at {node}", " ".join(error.desc().split())
        else:
            where, what = "", capture.summary()
        raise WorkbookError(
            f"TensorRT's ONNX parser rejected {onnx_path.name}{where}: {what}; "
            "re-export with another --opset or simplify the model (polygraphy surgeon sanitize --fold-constants)"
        )
    if network.num_outputs == 0:
        raise WorkbookError(f"{onnx_path.name} parsed into a network with no outputs; re-export it with `python -m utils export`")


def _add_profile(trt: TensorRT, builder: tensorrt.Builder, network: tensorrt.INetworkDefinition,
                 config: tensorrt.IBuilderConfig, batch: tuple[int, int, int]) -> dict[str, dict[str, list[int]]]:
    profile: tensorrt.IOptimizationProfile = builder.create_optimization_profile()
    shapes: dict[str, dict[str, list[int]]] = {}
    for index in range(network.num_inputs):
        tensor = network.get_input(index)
        dims = [int(tensor.shape[i]) for i in range(len(tensor.shape))]
        if any(d < 0 for d in dims[1:]):
            raise WorkbookError(f"input {tensor.name!r} has dynamic dimensions other than the batch {dims}; export with only the batch axis dynamic")
        if dims[0] >= 0 and batch != (dims[0],) * 3:
            raise WorkbookError(f"input {tensor.name!r} has a fixed batch of {dims[0]}; export with a dynamic batch axis (`python -m utils export`) or pass --batch {dims[0]},{dims[0]},{dims[0]}")
        low, opt, high = ([n, *dims[1:]] for n in batch)
        profile.set_shape(tensor.name, trt.module.Dims(low), trt.module.Dims(opt), trt.module.Dims(high))
        shapes[tensor.name] = {"min": low, "opt": opt, "max": high}
    if config.add_optimization_profile(profile) < 0:
        raise WorkbookError(f"TensorRT refused the optimization profile {shapes}; check that MIN <= OPT <= MAX (--batch) "
                            "and that every input of the model is dynamic only in its batch axis")
    return shapes


def _set_math_mode(trt: TensorRT, config: tensorrt.IBuilderConfig, request: BuildRequest) -> None:
    """FP16 where it is a flag; INT8 (and FP16) for Q/DQ models where the network is weakly typed (8.6); TF32
    exactly as the request says (TensorRT turns it on by default)."""
    module = trt.module
    if request.precision == "fp16" and not trt.strongly_typed_only:
        config.set_flag(module.BuilderFlag.FP16)
    if request.precision == "int8":
        for flag in trt.quantized_builder_flags():
            config.set_flag(getattr(module.BuilderFlag, flag))
    if trt.has_tf32_flag:
        if request.tf32:
            config.set_flag(module.BuilderFlag.TF32)
        else:
            config.clear_flag(module.BuilderFlag.TF32)


def set_ahead_of_time_targets(trt: TensorRT, config: tensorrt.IBuilderConfig) -> None:
    """TensorRT-RTX on a machine without a GPU: the GPUs to build for (`RTX_AHEAD_OF_TIME_TARGETS`). Elsewhere
    the engine is built for the GPU it is built on, and this does nothing."""
    from utils.gpu import current_gpu

    if trt.is_rtx and current_gpu() is None:
        rtx_config: Any = config  # compute-capability targets exist only in TensorRT-RTX, not in tensorrt-stubs
        rtx_config.num_compute_capabilities = len(RTX_AHEAD_OF_TIME_TARGETS)
        for slot, target in enumerate(RTX_AHEAD_OF_TIME_TARGETS):
            rtx_config.set_compute_capability(getattr(trt.module.ComputeCapability, target), slot)


def _build_serialized(trt: TensorRT, onnx_path: Path, request: BuildRequest, *, timing_cache_path: Path | None,
                      verbose: bool) -> tuple[bytes, dict[str, dict[str, list[int]]]]:
    from utils.gpu import current_gpu
    from utils.tensorrt import timing_cache
    from utils.tensorrt.logger import shared_logger

    module = trt.module
    logger = shared_logger(trt)
    with logger.capture(verbose, operation=f"setting up {trt.display_name}'s builder for {onnx_path.name}") as capture:
        builder: tensorrt.Builder = module.Builder(logger.trt_logger)
        network: tensorrt.INetworkDefinition = builder.create_network(
            trt.network_flags(explicitly_quantized=request.precision == "int8"))
        _parse_onnx(trt, network, logger, capture, onnx_path)
        config: tensorrt.IBuilderConfig = builder.create_builder_config()
        config.set_memory_pool_limit(module.MemoryPoolType.WORKSPACE, request.workspace_mib << 20)
        config.profiling_verbosity = module.ProfilingVerbosity.DETAILED
        _set_math_mode(trt, config, request)
        set_ahead_of_time_targets(trt, config)
        inputs = _add_profile(trt, builder, network, config, request.batch)
    identity = timing_cache.cache_identity(trt, current_gpu())
    if timing_cache_path is not None:
        with logger.capture():  # a stale cache logs errors of its own; they are not the build's
            timing_cache.attach(trt, config, timing_cache_path, identity)

    with logger.capture(verbose, operation=f"building {onnx_path.name} with {trt.display_name}") as capture:
        serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        message = f"{trt.display_name} could not build {onnx_path.name}: {capture.failure_summary()}"
        refused = nodes_without_fp16_kernel(capture.errors + capture.warnings)
        if refused:
            raise NoFp16Kernel(message, refused)
        raise WorkbookError(message)
    if timing_cache_path is not None:
        timing_cache.save(config, timing_cache_path, identity)
    return bytes(serialized), inputs


__all__ = ["DEFAULT_BATCH", "DEFAULT_WORKSPACE_MIB", "PRECISIONS", "BuildRequest", "build_engine", "build_request",
           "cached_engine", "check_batch", "parse_batch", "set_ahead_of_time_targets"]
