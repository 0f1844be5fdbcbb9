"""Run models with Polygraphy, save the results, and compare two runs the way Polygraphy does.

The statistics come from Polygraphy's own comparator (`CompareFunc.simple` with the elementwise check), so
`stats.csv` and the figures agree with what `polygraphy run ... --atol A --rtol R` prints.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

from utils.errors import WorkbookError
from utils.files import write_text_atomic

if TYPE_CHECKING:
    import numpy as np
    from polygraphy.comparator import RunResults

# Polygraphy replaces zeros in the second run by this before dividing (comparator/compare.py).
RELDIFF_EPSILON = 2.220446049250313e-16
DEFAULT_ATOL = 1e-3
DEFAULT_RTOL = 1e-3
STATS_COLUMNS = ("output", "shape", "max_abs", "mean_abs", "median_abs", "max_rel", "mean_rel", "median_rel", "passed")


@dataclass(frozen=True)
class OutputStats:
    """Polygraphy's statistics for one output of one comparison (reference first, target second)."""

    output: str
    shape: str
    max_abs: float
    mean_abs: float
    median_abs: float
    max_rel: float
    mean_rel: float
    median_rel: float
    passed: bool


def run_onnxruntime(onnx_path: str | os.PathLike[str], feeds: Sequence[dict[str, np.ndarray]], *,
                    mark_all: bool = False, runner_name: str = "onnxrt") -> RunResults:
    """Run an ONNX model with Polygraphy's ONNX Runtime runner, every intermediate tensor marked if `mark_all`."""
    from polygraphy import constants
    from polygraphy.backend.onnx import BytesFromOnnx, ModifyOutputs, OnnxFromPath
    from polygraphy.backend.onnxrt import OnnxrtRunner, SessionFromOnnx
    from polygraphy.comparator import Comparator
    from polygraphy.logger import G_LOGGER

    from utils.onnx_export import load_onnx

    load_onnx(onnx_path)
    model = OnnxFromPath(str(onnx_path))
    if mark_all:
        model = ModifyOutputs(model, outputs=constants.MARK_ALL)
    runner = OnnxrtRunner(SessionFromOnnx(BytesFromOnnx(model), providers=["cpu"]), name=runner_name)
    with G_LOGGER.verbosity(G_LOGGER.ERROR):
        return Comparator.run([runner], data_loader=list(feeds))


def run_tensorrt(onnx_path: str | os.PathLike[str], feeds: Sequence[dict[str, np.ndarray]], *, precision: str = "fp32",
                 mark_all: bool = False, batch: tuple[int, int, int] = (1, 8, 32), runner_name: str | None = None) -> RunResults:
    """Build and run a TensorRT engine with Polygraphy's TensorRT runner (needs a GPU that can run it).

    With `mark_all`, every tensor becomes a network output. TensorRT then cannot fuse layers whose intermediate
    results must be kept, so the engine compared is not the engine deployed: compare the final outputs of the
    deployed engine too (the pycuda runner does that).
    """
    from polygraphy import constants
    from polygraphy.backend.trt import (
        CreateConfig,
        EngineFromNetwork,
        ModifyNetworkOutputs,
        NetworkFromOnnxPath,
        Profile,
        TrtRunner,
    )
    from polygraphy.comparator import Comparator
    from polygraphy.logger import G_LOGGER

    from utils.environment import engine_execution_unavailable
    from utils.onnx_export import convert_to_fp16, load_onnx
    from utils.tensorrt_api import load_tensorrt

    reason = engine_execution_unavailable()
    if reason:
        raise WorkbookError(f"cannot run TensorRT here: {reason}")
    trt = load_tensorrt()
    load_onnx(onnx_path)
    strongly_typed = precision == "fp16" and trt.strongly_typed_only
    if strongly_typed:
        fp16_path = Path(onnx_path).with_name(f"{Path(onnx_path).stem}.fp16-for-{trt.flavour}.onnx")
        onnx_path = convert_to_fp16(onnx_path, fp16_path)
    network = NetworkFromOnnxPath(str(onnx_path), strongly_typed=strongly_typed or None)
    if mark_all:
        network = ModifyNetworkOutputs(network, outputs=constants.MARK_ALL)
    shape = list(next(iter(feeds[0].values())).shape[1:])
    profile = Profile().add(next(iter(feeds[0])), min=[batch[0], *shape], opt=[batch[1], *shape], max=[batch[2], *shape])
    config = CreateConfig(fp16=True if precision == "fp16" and not strongly_typed else None, profiles=[profile])
    runner = TrtRunner(EngineFromNetwork(network, config=config), name=runner_name or f"tensorrt-{precision}")
    with G_LOGGER.verbosity(G_LOGGER.ERROR):
        return Comparator.run([runner], data_loader=list(feeds))


def results_from_arrays(outputs: Sequence[dict[str, np.ndarray]], runner_name: str) -> RunResults:
    """Wrap outputs computed elsewhere (PyTorch, the pycuda runner) as Polygraphy results, one dict per iteration."""
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


def compare_runs(reference: RunResults, target: RunResults, *, atol: float = DEFAULT_ATOL,
                 rtol: float = DEFAULT_RTOL) -> list[OutputStats]:
    """Compare the first iteration of the first runner in each, output by output, with Polygraphy's comparator.

    Outputs are taken in the reference's order; only outputs present in both are compared.
    """
    from polygraphy.comparator import Comparator, IterationResult, RunResults
    from polygraphy.comparator.compare import SimpleCompareFunc
    from polygraphy.logger import G_LOGGER

    reference_name, reference_outputs = first_iteration(reference)
    target_name, target_outputs = first_iteration(target)
    if target_name == reference_name:
        target_name += " (target)"
    common = [name for name in reference_outputs if name in target_outputs]
    if not common:
        raise WorkbookError("the two results share no output names; compare runs of the same model")

    combined = RunResults()
    combined.append((reference_name, [IterationResult({n: reference_outputs[n] for n in common}, runner_name=reference_name)]))
    combined.append((target_name, [IterationResult({n: target_outputs[n] for n in common}, runner_name=target_name)]))
    compare_func = SimpleCompareFunc(atol=atol, rtol=rtol, check_error_stat="elemwise", check_shapes=True)
    with G_LOGGER.verbosity(G_LOGGER.CRITICAL):
        accuracy = Comparator.compare_accuracy(combined, compare_func=compare_func)
    per_output = accuracy[0][(reference_name, target_name)][0]

    rows = []
    for name in common:
        result = per_output[name]
        rows.append(OutputStats(
            output=name, shape="x".join(str(d) for d in reference_outputs[name].shape),
            max_abs=float(result.max_absdiff), mean_abs=float(result.mean_absdiff),
            median_abs=float(result.median_absdiff), max_rel=float(result.max_reldiff),
            mean_rel=float(result.mean_reldiff), median_rel=float(result.median_reldiff),
            passed=bool(result),
        ))
    return rows


def differences(reference: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Elementwise |reference - target| and its ratio to |target|, with Polygraphy's upcast and zero handling."""
    import numpy as np

    a = reference.astype(np.float32) if reference.dtype == np.float16 else reference
    b = target.astype(np.float32) if target.dtype == np.float16 else target
    absdiff = np.abs(a - b)
    b_nonzero = np.where(b == 0, RELDIFF_EPSILON, b)
    return absdiff, absdiff / np.abs(b_nonzero)


def stats_csv(rows: Iterable[OutputStats]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[f.name for f in fields(OutputStats)], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        values = asdict(row)
        writer.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in values.items()})
    return buffer.getvalue()


def write_stats_csv(rows: Iterable[OutputStats], destination: str | os.PathLike[str]) -> Path:
    return write_text_atomic(destination, stats_csv(rows))


def read_stats_csv(path: str | os.PathLike[str]) -> list[OutputStats]:
    with open(path, newline="", encoding="utf-8") as handle:
        return [
            OutputStats(output=r["output"], shape=r["shape"], passed=r["passed"] == "True",
                        **{k: float(r[k]) for k in STATS_COLUMNS if k not in ("output", "shape", "passed")})
            for r in csv.DictReader(handle)
        ]


@dataclass(frozen=True)
class DiffReport:
    stats: list[OutputStats]
    stats_csv: Path
    figures: list[Path]

    @property
    def passed(self) -> bool:
        return all(row.passed for row in self.stats)

    @property
    def failed_outputs(self) -> list[str]:
        return [row.output for row in self.stats if not row.passed]


def figure_file_name(output_name: str) -> str:
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in output_name).strip("_") or "output"
    return f"hist_{safe}.png"


def diff_saved_results(reference_path: str | os.PathLike[str], target_path: str | os.PathLike[str],
                       out_dir: str | os.PathLike[str], *, atol: float = DEFAULT_ATOL, rtol: float = DEFAULT_RTOL,
                       max_histograms: int = 12) -> DiffReport:
    """What `python -m utils diff` does: stats.csv, histogram PNGs and the layer-by-layer error plot.

    Histograms are drawn for the reference's last output (the model output when every tensor is marked)
    and for the failing outputs with the largest relative error, `max_histograms` in all.
    """
    from utils import plots
    from utils.files import ensure_writable_dir

    out_dir = Path(out_dir)
    ensure_writable_dir(out_dir)
    reference, target = load_results(reference_path), load_results(target_path)
    rows = compare_runs(reference, target, atol=atol, rtol=rtol)
    csv_path = write_stats_csv(rows, out_dir / "stats.csv")

    reference_name, reference_outputs = first_iteration(reference)
    target_name, target_outputs = first_iteration(target)
    failing = sorted((r for r in rows if not r.passed), key=lambda r: r.max_rel, reverse=True)
    chosen = [rows[-1].output] + [r.output for r in failing if r.output != rows[-1].output]
    figures = []
    for name in chosen[:max_histograms]:
        figure = plots.comparison_histograms(reference_outputs[name], target_outputs[name], name=name,
                                             reference_label=reference_name, target_label=target_name)
        figures.append(plots.save_figure(figure, out_dir / figure_file_name(name)))
    if len(rows) > 1:
        figures.append(plots.save_figure(plots.error_growth(rows, atol=atol, rtol=rtol), out_dir / "error_growth.png"))
    return DiffReport(stats=rows, stats_csv=csv_path, figures=figures)


__all__ = ["OutputStats", "DiffReport", "run_onnxruntime", "run_tensorrt", "results_from_arrays", "save_results", "load_results",
           "compare_runs", "differences", "write_stats_csv", "read_stats_csv", "diff_saved_results"]
