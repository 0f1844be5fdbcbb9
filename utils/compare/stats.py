"""Compare two runs the way Polygraphy does, output by output, and keep the numbers as `stats.csv`.

The statistics come from Polygraphy's own comparator (`CompareFunc.simple` with the elementwise check), so
`stats.csv` and the figures agree with what `polygraphy run ... --atol A --rtol R` prints.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

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


def output_stats(per_output: Mapping[str, Any], reference_outputs: Mapping[str, np.ndarray]) -> list[OutputStats]:
    """Polygraphy's per-output results of one runner pair and iteration (`accuracy[pair][iteration]` of
    `Comparator.compare_accuracy` with `SimpleCompareFunc`) as rows, in the reference's output order."""
    return [OutputStats(output=name, shape="x".join(str(d) for d in reference_outputs[name].shape),
                        max_abs=float(result.max_absdiff), mean_abs=float(result.mean_absdiff),
                        median_abs=float(result.median_absdiff), max_rel=float(result.max_reldiff),
                        mean_rel=float(result.mean_reldiff), median_rel=float(result.median_reldiff), passed=bool(result))
            for name in reference_outputs if name in per_output for result in [per_output[name]]]


def compare_runs(reference: RunResults, target: RunResults, *, atol: float = DEFAULT_ATOL,
                 rtol: float = DEFAULT_RTOL) -> list[OutputStats]:
    """Compare the first iteration of the first runner in each, output by output, with Polygraphy's comparator
    (`SimpleCompareFunc`, elementwise): what `polygraphy run --load-outputs` does with two saved runs.

    Outputs are taken in the reference's order; only outputs present in both are compared.
    """
    from polygraphy.comparator import Comparator, IterationResult, RunResults
    from polygraphy.comparator.compare import SimpleCompareFunc
    from polygraphy.logger import G_LOGGER

    from utils.compare.runs import first_iteration

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
    return output_stats(accuracy[0][(reference_name, target_name)][0], {n: reference_outputs[n] for n in common})


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


def max_abs_difference(a: np.ndarray, b: np.ndarray) -> float:
    """The largest elementwise |a - b|, in float64: the one number most comparisons in the notebooks quote."""
    import numpy as np

    if a.shape != b.shape:
        raise WorkbookError(f"outputs have different shapes {a.shape} and {b.shape}; compare runs of the same model and batch")
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))
