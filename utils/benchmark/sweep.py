"""A sweep: every configuration (runtime, precision, options) at every batch size and scope, fed the same inputs.

Each runtime is opened once per configuration (`open_runtime(..., max_batch=largest batch)`, so a TensorRT
engine's profile reaches every batch and models and engines load once), then `bind()`s each batch in turn and is
timed in each scope it answers ("host": copies included; "device": device-resident input, compute only).

The default configurations are what a performance engineer would line up against a TensorRT engine on a GPU
(`GPU_CONFIGURATIONS`): eager PyTorch, PyTorch with FP16 weights, channels_last and CUDA graphs, torch.compile,
ONNX Runtime with host arrays, with I/O binding, with NHWC kernels and with CUDA graphs, and TensorRT with an engine
per batch size, with and without a CUDA graph. On a machine without a GPU they are the CPU runtimes at FP32.

Skips: a configuration that cannot run here, or whose runtime fails to open or to run a batch with a
WorkbookError (an engine that does not build, say), is skipped with its reason printed; it raises nothing. When
`skipped` is given, the reason is recorded there under the configuration's label ("tensorrt/fp16+batch-profile").
A configuration that can run nowhere (a precision or option its runtime does not have) is refused before anything
runs.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from utils.benchmark.harness import DEFAULT_STAGE_ITERATIONS, DEFAULT_WARMUP, HOST_CLOCK, check_limits, measure_runtime
from utils.benchmark.memory import HostPeak
from utils.benchmark.results import PRECISIONS, BenchmarkRow, configuration_label, make_row
from utils.errors import WorkbookError
from utils.runtimes.base import SCOPES

if TYPE_CHECKING:
    import numpy as np

    from utils.benchmark.roofline import DevicePeaks
    from utils.onnx.cost import ModelCost
    from utils.runtimes.base import Runtime

DEFAULT_BATCHES = (1, 8, 32)
GPU_BATCHES = (1, 8, 64, 256)
DEFAULT_SEED = 0
GPU_ITERATIONS = 200  # timed iterations per row on a GPU when none are given: enough for a stable p99
CPU_ITERATIONS = 100

Configuration = tuple[str, str, tuple[str, ...]]  # (runtime name, precision, options)

GPU_CONFIGURATIONS: tuple[Configuration, ...] = (
    ("pytorch-cuda", "fp32", ()),  # the eager baseline: FP32, NCHW, TF32 off
    ("pytorch-cuda", "fp16", ("channels-last",)),
    ("pytorch-cuda-graphs", "fp32", ()),
    ("pytorch-cuda-graphs", "fp32", ("channels-last",)),
    ("pytorch-cuda-graphs", "fp16", ()),
    ("pytorch-cuda-graphs", "fp16", ("channels-last",)),
    ("pytorch-compile", "fp16", ("channels-last",)),
    ("onnxruntime-cuda", "fp32", ()),
    ("onnxruntime-cuda", "fp16", ()),
    ("onnxruntime-cuda-iobinding", "fp16", ()),
    ("onnxruntime-cuda-iobinding", "fp16", ("nhwc",)),
    ("onnxruntime-cuda-graphs", "fp16", ()),
    ("onnxruntime-cuda-graphs", "fp16", ("nhwc",)),
    ("tensorrt", "fp32", ("batch-profile",)),
    ("tensorrt", "fp16", ("batch-profile",)),
    ("tensorrt", "int8", ("batch-profile",)),
    ("tensorrt-graphs", "fp16", ("batch-profile",)),
    ("tensorrt-graphs", "int8", ("batch-profile",)),
)


def make_inputs(model_name: str, batch: int, seed: int = DEFAULT_SEED) -> np.ndarray:
    """Random float32 NCHW data of the model's input shape: the same array for every runtime at this batch."""
    import numpy as np

    from utils.models import get_model_spec

    if batch < 1:
        raise WorkbookError(f"batch {batch} is not positive")
    rng = np.random.default_rng(seed)
    return rng.standard_normal((batch, *get_model_spec(model_name).input_shape), dtype=np.float32)


# --- configurations -------------------------------------------------------------------------------------------


def parse_backend(spec: str) -> tuple[str, tuple[str, ...]]:
    """"pytorch-cuda-graphs+channels-last" -> ("pytorch-cuda-graphs", ("channels-last",)); names checked."""
    from utils.runtimes import runtime_class
    from utils.runtimes.base import check_options

    name, *options = [part.strip() for part in spec.split("+")]
    cls = runtime_class(name)
    check_options(name, cls.supported_options, options)
    return name, tuple(sorted(set(options)))


def _default_precisions(name: str) -> tuple[str, ...]:
    """fp32 everywhere, and fp16 too for GPU runtimes that run it."""
    from utils.runtimes import runtime_class

    cls = runtime_class(name)
    return ("fp32", "fp16") if cls.device == "cuda" and "fp16" in cls.precisions else ("fp32",)


def check_precisions(precisions: Sequence[str]) -> list[str]:
    unknown = [p for p in precisions if p not in PRECISIONS]
    if unknown or not precisions:
        raise WorkbookError(f"unknown precision {', '.join(map(repr, unknown)) or '(none)'}; choose from: {', '.join(PRECISIONS)}")
    return list(dict.fromkeys(precisions))


def check_configuration(configuration: Configuration) -> Configuration:
    """A one-line WorkbookError for a runtime, precision or option that does not exist or does not go together."""
    from utils.runtimes import runtime_class
    from utils.runtimes.base import check_options

    name, precision, options = configuration
    cls = runtime_class(name)
    check_precisions([precision])
    if precision not in cls.precisions:
        raise WorkbookError(f"{name} runs {', '.join(cls.precisions)}, not {precision}; a row of {name}/{precision} "
                            "cannot exist: choose another --precision or --backend")
    check_options(name, cls.supported_options, options)
    return name, precision, tuple(sorted(set(options)))


def _cpu_defaults() -> list[Configuration]:
    from utils.runtimes import RUNTIME_CLASSES

    return [(name, precision, ()) for name, cls in RUNTIME_CLASSES.items() if cls.device == "cpu"
            for precision in _default_precisions(name)]


def available_configurations() -> dict[Configuration, str | None]:
    """The default configurations, the CPU ones and `GPU_CONFIGURATIONS`, in order, with None where one runs here
    and the one-line reason it cannot elsewhere."""
    from utils.runtimes import available_runtimes

    reasons = available_runtimes()
    return {config: reasons[config[0]] for config in [*_cpu_defaults(), *GPU_CONFIGURATIONS]}


def configurations(runtimes: Sequence[str] | None = None,
                   precisions: Sequence[str] | None = None) -> list[Configuration]:
    """The configurations a sweep asks for. `runtimes` are backend names, each with options after "+"
    ("onnxruntime-cuda-graphs+nhwc").

    * neither given: `GPU_CONFIGURATIONS` that run here where a GPU is, else the CPU runtimes at FP32;
    * runtimes only: each at its default precisions (fp32, and fp16 for GPU runtimes);
    * precisions only: the defaults at those precisions;
    * both: every pair, each of which must exist (a precision its runtime does not run is refused).
    Unknown names, and combinations that cannot exist, are a WorkbookError.
    """
    from utils.environment import gpu_unavailable
    from utils.runtimes import RUNTIMES, available_runtimes

    chosen = check_precisions(precisions) if precisions is not None else None
    if runtimes is None:
        reasons = available_runtimes()
        defaults = list(GPU_CONFIGURATIONS) if gpu_unavailable() is None else _cpu_defaults()
        runnable = [c for c in defaults if reasons[c[0]] is None]
        return [c for c in runnable if chosen is None or c[1] in chosen]
    specs = [parse_backend(spec) for spec in dict.fromkeys(runtimes)]
    if not specs:
        raise WorkbookError(f"no backend named; choose from: {', '.join(RUNTIMES)}")
    return [check_configuration((name, p, options)) for name, options in specs
            for p in (chosen if chosen is not None else _default_precisions(name))]


def check_batches(batches: Sequence[int]) -> list[int]:
    batches = list(dict.fromkeys(batches))
    if not batches or any(isinstance(b, bool) or int(b) != b or b < 1 for b in batches):
        raise WorkbookError(f"batch sizes {batches} must be positive integers, e.g. 1,8,32")
    return [int(b) for b in batches]


# --- running ----------------------------------------------------------------------------------------------------


def benchmark_runtime(runtime: Runtime, batch: int, inputs: np.ndarray, *, warmup: int = DEFAULT_WARMUP,
                      iterations: int | None = None, time_budget_s: float | None = None,
                      stage_iterations: int = DEFAULT_STAGE_ITERATIONS, scopes: Sequence[str] | None = None,
                      cost: ModelCost | None = None, peaks: DevicePeaks | None = None) -> list[BenchmarkRow]:
    """Bind `inputs`, warm up and time an open runtime in each of `scopes` it answers (default: all it has), with
    the host and device memory peaks and, given `cost` and `peaks`, the roofline bound: one row per scope."""
    from utils.benchmark.roofline import bound

    runtime.bind(inputs)
    rows = []
    for scope in [s for s in (scopes or runtime.scopes) if s in runtime.scopes]:
        host = HostPeak()
        host.start()
        measurement = measure_runtime(runtime, warmup=warmup, iterations=iterations, time_budget_s=time_budget_s,
                                      stage_iterations=stage_iterations, scope=scope)
        host_peak = host.stop()
        limit = (bound(cost, batch, runtime.precision, peaks, options=runtime.options, scope=scope)
                 if cost is not None and peaks is not None and runtime.device == "cuda" else None)
        rows.append(make_row(runtime.model_name, runtime.name, runtime.precision, batch, measurement,
                             timer=runtime.timer if scope == "host" or runtime.event_timer(2) is not None else HOST_CLOCK,
                             host_peak_bytes=host_peak, device_peak_bytes=runtime.device_memory_bytes(), scope=scope,
                             options=runtime.options, setup_s=runtime.setup_s, bound=limit))
    return rows


def default_iterations(device: str) -> int:
    return GPU_ITERATIONS if device == "cuda" else CPU_ITERATIONS


def runnable_configurations(wanted: Sequence[Configuration], skipped: dict[str, str],
                            scopes: Sequence[str] | None = None) -> list[Configuration]:
    """The configurations of `wanted` whose runtime can run here and answers one of `scopes` (any, if None); every
    other one's reason goes into `skipped` under its label."""
    from utils.runtimes import available_runtimes, runtime_class

    reasons = available_runtimes()
    runnable = []
    for name, precision, options in wanted:
        reason = reasons[name]
        if reason is None and scopes and not set(scopes) & set(runtime_class(name).scopes):
            reason = f"{name} answers the {' and '.join(runtime_class(name).scopes)} scope, not {', '.join(scopes)}"
        if reason is None:
            runnable.append((name, precision, options))
        else:
            skipped[configuration_label(name, precision, options)] = reason
    return runnable


def run_sweep(model_name: str, runtimes: Sequence[str] | None = None, batches: Sequence[int] | None = None, *,
              precisions: Sequence[str] | None = None, iterations: int | None = None,
              time_budget_s: float | None = None, warmup: int = DEFAULT_WARMUP, seed: int = DEFAULT_SEED,
              progress: bool = True, skipped: dict[str, str] | None = None,
              stage_iterations: int = DEFAULT_STAGE_ITERATIONS, scopes: Sequence[str] | None = None,
              peaks: DevicePeaks | None = None, roofline: bool = True) -> list[BenchmarkRow]:
    """Rows for every runnable configuration, batch and scope, in configuration order, then batch, then scope.

    `runtimes` and `precisions` choose the configurations (see `configurations`); None means the defaults.
    `batches`: default GPU_BATCHES where a GPU is, else DEFAULT_BATCHES. With neither `iterations` nor
    `time_budget_s`, GPU rows time GPU_ITERATIONS iterations, CPU rows CPU_ITERATIONS. `roofline`: measure the
    GPU's peaks once (or take `peaks`) and give GPU rows their bound. A configuration that cannot run is skipped,
    its reason printed and recorded in `skipped` under its label. A progress bar goes to stderr unless `progress` is
    False (in a notebook, `tqdm.auto` makes it a widget).
    """
    from tqdm.auto import tqdm

    from utils.environment import gpu_unavailable
    from utils.models import get_model_spec
    from utils.runtimes import open_runtime, runtime_class

    get_model_spec(model_name)
    batches = check_batches(batches if batches is not None else
                            (GPU_BATCHES if gpu_unavailable() is None else DEFAULT_BATCHES))
    check_limits(warmup=warmup, iterations=iterations, time_budget_s=time_budget_s)
    if stage_iterations < 0:
        raise WorkbookError(f"{stage_iterations} stage iterations is negative; give 0 or more")
    for scope in scopes or ():
        if scope not in SCOPES:
            raise WorkbookError(f"unknown scope {scope!r}; choose from: {', '.join(SCOPES)}")
    skipped = skipped if skipped is not None else {}
    already = set(skipped)
    runnable = runnable_configurations(configurations(runtimes, precisions), skipped, scopes)
    for label in [label for label in skipped if label not in already]:
        print(f"skipped {label}: {skipped[label]}")

    cost = peaks_here = None
    if roofline and any(runtime_class(name).device == "cuda" for name, _, _ in runnable):
        from utils import artifacts
        from utils.benchmark.roofline import measure_peaks
        from utils.onnx.cost import model_cost

        cost = model_cost(artifacts.onnx_model(model_name))
        peaks_here = peaks or measure_peaks()
    inputs: dict[int, np.ndarray] = {}
    rows: list[BenchmarkRow] = []
    with tqdm(total=len(runnable) * len(batches), desc=f"benchmark {model_name}", unit="run", disable=not progress,
              file=sys.stderr) as bar:
        for name, precision, options in runnable:
            label = configuration_label(name, precision, options)
            count = iterations if iterations is not None or time_budget_s is not None else \
                default_iterations(runtime_class(name).device)
            done = 0
            try:
                bar.set_postfix_str(f"{label} opening")
                with open_runtime(name, model_name, precision, max_batch=max(batches), options=options) as runtime:
                    for batch in batches:
                        bar.set_postfix_str(f"{label} batch {batch}")
                        if batch not in inputs:
                            inputs[batch] = make_inputs(model_name, batch, seed)
                        rows += benchmark_runtime(runtime, batch, inputs[batch], warmup=warmup, iterations=count,
                                                  time_budget_s=time_budget_s, stage_iterations=stage_iterations,
                                                  scopes=scopes, cost=cost, peaks=peaks_here)
                        done += 1
                        bar.update()
            except WorkbookError as exc:
                skipped[label] = str(exc)
                tqdm.write(f"skipped {label}: {exc}", file=sys.stdout)
                bar.update(len(batches) - done)
    return rows


__all__ = ["CPU_ITERATIONS", "DEFAULT_BATCHES", "DEFAULT_SEED", "GPU_BATCHES", "GPU_CONFIGURATIONS", "GPU_ITERATIONS",
           "Configuration", "available_configurations", "benchmark_runtime", "check_batches", "check_configuration",
           "check_precisions", "configurations", "default_iterations", "make_inputs", "parse_backend", "run_sweep",
           "runnable_configurations"]
