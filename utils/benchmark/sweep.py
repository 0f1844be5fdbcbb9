"""A sweep: every configuration (runtime name, precision) at every batch size, fed the same seeded inputs.

Each runtime is opened once per configuration (`open_runtime(..., max_batch=largest batch)`, so a TensorRT
engine's profile reaches every batch and models and engines load once), then `bind()`s each batch in turn.

Skips: a configuration that cannot run here, or whose runtime fails to open or to run a batch with a
WorkbookError (an engine that does not build, say), is skipped with its reason printed; it raises nothing. When
`skipped` is given, the reason is recorded there under the configuration's label, always "runtime/precision"
(for example "tensorrt/fp16", "pytorch-cuda/fp32").
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from utils.benchmark.harness import DEFAULT_STAGE_ITERATIONS, DEFAULT_WARMUP, check_limits, measure_runtime
from utils.benchmark.memory import HostPeak
from utils.benchmark.results import PRECISIONS, BenchmarkRow, configuration_label, make_row
from utils.errors import WorkbookError

if TYPE_CHECKING:
    import numpy as np

    from utils.runtimes.base import Runtime

DEFAULT_BATCHES = (1, 8, 32)
DEFAULT_SEED = 0

Configuration = tuple[str, str]  # (runtime name, precision)


def make_inputs(model_name: str, batch: int, seed: int = DEFAULT_SEED) -> np.ndarray:
    """Random float32 NCHW data of the model's input shape: the same array for every runtime at this batch."""
    import numpy as np

    from utils.models import get_model_spec

    if batch < 1:
        raise WorkbookError(f"batch {batch} is not positive")
    rng = np.random.default_rng(seed)
    return rng.standard_normal((batch, *get_model_spec(model_name).input_shape), dtype=np.float32)


# --- configurations -------------------------------------------------------------------------------------------


def _default_precisions(name: str) -> tuple[str, ...]:
    """fp32 everywhere, and fp16 too for GPU runtimes that run it (tensorrt, onnxruntime-cuda)."""
    from utils.runtimes import runtime_class

    cls = runtime_class(name)
    return ("fp32", "fp16") if cls.device == "cuda" and "fp16" in cls.precisions else ("fp32",)


def check_precisions(precisions: Sequence[str]) -> list[str]:
    unknown = [p for p in precisions if p not in PRECISIONS]
    if unknown or not precisions:
        raise WorkbookError(f"unknown precision {', '.join(map(repr, unknown)) or '(none)'}; choose from: {', '.join(PRECISIONS)}")
    return list(dict.fromkeys(precisions))


def available_configurations() -> dict[Configuration, str | None]:
    """Every default configuration (each runtime at fp32, GPU runtimes that run fp16 at fp16 too), in order,
    with None where it runs here and the one-line reason it cannot elsewhere."""
    from utils.runtimes import available_runtimes

    return {(name, precision): reason for name, reason in available_runtimes().items()
            for precision in _default_precisions(name)}


def configurations(runtimes: Sequence[str] | None = None,
                   precisions: Sequence[str] | None = None) -> list[Configuration]:
    """The configurations a sweep asks for.

    * neither given: every default configuration that runs here (see `available_configurations`);
    * runtimes only: each at its default precisions;
    * precisions only: every runtime that runs here at each of them that it supports;
    * both: every pair; a runtime that does not run a precision is then skipped with that reason by the sweep.
    Unknown names are a WorkbookError.
    """
    from utils.runtimes import RUNTIMES, available_runtimes, runtime_class

    chosen = check_precisions(precisions) if precisions is not None else None
    if runtimes is None:
        runnable = [name for name, reason in available_runtimes().items() if reason is None]
        if chosen is None:
            return [c for c, reason in available_configurations().items() if reason is None]
        return [(name, p) for name in runnable for p in chosen if p in runtime_class(name).precisions]
    names = list(dict.fromkeys(runtimes))
    for name in names:
        runtime_class(name)
    if not names:
        raise WorkbookError(f"no backend named; choose from: {', '.join(RUNTIMES)}")
    return [(name, p) for name in names for p in (chosen if chosen is not None else _default_precisions(name))]


def check_batches(batches: Sequence[int]) -> list[int]:
    batches = list(dict.fromkeys(batches))
    if not batches or any(isinstance(b, bool) or int(b) != b or b < 1 for b in batches):
        raise WorkbookError(f"batch sizes {batches} must be positive integers, e.g. 1,8,32")
    return [int(b) for b in batches]


# --- running ----------------------------------------------------------------------------------------------------


def benchmark_runtime(runtime: Runtime, batch: int, inputs: np.ndarray, *, warmup: int = DEFAULT_WARMUP,
                      iterations: int | None = None, time_budget_s: float | None = None,
                      stage_iterations: int = DEFAULT_STAGE_ITERATIONS) -> BenchmarkRow:
    """Bind `inputs`, warm up and time an open runtime, with the host and device memory peaks, as one row."""
    runtime.bind(inputs)
    host = HostPeak()
    host.start()
    measurement = measure_runtime(runtime, warmup=warmup, iterations=iterations, time_budget_s=time_budget_s,
                                  stage_iterations=stage_iterations)
    host_peak = host.stop()
    return make_row(runtime.model_name, runtime.name, runtime.precision, batch, measurement, timer=runtime.timer,
                    host_peak_bytes=host_peak, device_peak_bytes=runtime.device_memory_bytes())


def run_sweep(model_name: str, runtimes: Sequence[str] | None = None, batches: Sequence[int] = DEFAULT_BATCHES, *,
              precisions: Sequence[str] | None = None, iterations: int | None = None,
              time_budget_s: float | None = None, warmup: int = DEFAULT_WARMUP, seed: int = DEFAULT_SEED,
              progress: bool = True, skipped: dict[str, str] | None = None,
              stage_iterations: int = DEFAULT_STAGE_ITERATIONS) -> list[BenchmarkRow]:
    """One row per runnable configuration and batch, in configuration order then batch order.

    `runtimes` and `precisions` choose the configurations (see `configurations`); None means the defaults.
    A configuration that cannot run is skipped, its reason printed and recorded in `skipped` under
    "runtime/precision". A progress bar goes to stderr unless `progress` is False (in a notebook, `tqdm.auto` makes
    it a widget).
    """
    from tqdm.auto import tqdm

    from utils.models import get_model_spec
    from utils.runtimes import available_runtimes, open_runtime

    get_model_spec(model_name)
    batches = check_batches(batches)
    check_limits(warmup=warmup, iterations=iterations, time_budget_s=time_budget_s)
    if stage_iterations < 0:
        raise WorkbookError(f"{stage_iterations} stage iterations is negative; give 0 or more")
    wanted = configurations(runtimes, precisions)
    skipped = skipped if skipped is not None else {}
    reasons = available_runtimes()
    runnable = []
    for name, precision in wanted:
        reason = reasons[name]
        if reason is None:
            runnable.append((name, precision))
        else:
            skipped[configuration_label(name, precision)] = reason
            print(f"skipped {configuration_label(name, precision)}: {reason}")

    inputs: dict[int, np.ndarray] = {}
    rows: list[BenchmarkRow] = []
    with tqdm(total=len(runnable) * len(batches), desc=f"benchmark {model_name}", unit="run", disable=not progress,
              file=sys.stderr) as bar:
        for name, precision in runnable:
            label = configuration_label(name, precision)
            done = 0
            try:
                bar.set_postfix_str(f"{label} opening")
                with open_runtime(name, model_name, precision, max_batch=max(batches)) as runtime:
                    for batch in batches:
                        bar.set_postfix_str(f"{label} batch {batch}")
                        if batch not in inputs:
                            inputs[batch] = make_inputs(model_name, batch, seed)
                        rows.append(benchmark_runtime(runtime, batch, inputs[batch], warmup=warmup,
                                                      iterations=iterations, time_budget_s=time_budget_s,
                                                      stage_iterations=stage_iterations))
                        done += 1
                        bar.update()
            except WorkbookError as exc:
                skipped[label] = str(exc)
                tqdm.write(f"skipped {label}: {exc}", file=sys.stdout)
                bar.update(len(batches) - done)
    return rows


__all__ = ["DEFAULT_BATCHES", "DEFAULT_SEED", "Configuration", "available_configurations", "benchmark_runtime",
           "check_batches", "check_precisions", "configurations", "make_inputs", "run_sweep"]
