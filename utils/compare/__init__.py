"""ONNX Runtime against TensorRT (or any two runs), the way Polygraphy compares them.

`runs` runs models with Polygraphy and keeps results in its `--save-outputs` format; `stats` holds Polygraphy's
per-output statistics and `stats.csv`; `plots` draws histograms with Polygraphy's bins and the error growth by
layer; `report` does all of it for two saved runs (`python -m utils diff`).
"""

from utils.compare.report import DiffReport, diff_saved_results
from utils.compare.runs import (
    first_iteration,
    load_results,
    results_from_arrays,
    run_onnxruntime,
    run_tensorrt,
    save_results,
)
from utils.compare.stats import (
    DEFAULT_ATOL,
    DEFAULT_RTOL,
    OutputStats,
    compare_runs,
    differences,
    max_abs_difference,
    read_stats_csv,
    write_stats_csv,
)

__all__ = ["DEFAULT_ATOL", "DEFAULT_RTOL", "DiffReport", "OutputStats", "compare_runs", "diff_saved_results", "differences",
           "first_iteration", "load_results", "max_abs_difference", "read_stats_csv", "results_from_arrays",
           "run_onnxruntime", "run_tensorrt", "save_results", "write_stats_csv"]
