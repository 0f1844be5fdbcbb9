"""ONNX Runtime against TensorRT (or any two runs), the way Polygraphy compares them.

`runs` runs models with Polygraphy and keeps results in its `--save-outputs` format; `stats` holds Polygraphy's
per-output statistics and `stats.csv`; `quality` measures what reduced precision keeps (SQNR, cosine, top-k
agreement); `plots` draws histograms with Polygraphy's bins, log-scale error histograms, the error growth and
the SQNR by layer; `report` does the Polygraphy part for two saved runs (`python -m utils diff`).
"""

from utils.compare.quality import TensorQuality, cosine_similarity, layer_quality, sqnr_db, top_k_agreement
from utils.compare.report import DiffReport, diff_saved_results, write_report
from utils.compare.runs import (
    first_iteration,
    load_results,
    polygraphy_cuda_unavailable,
    polygraphy_tensorrt,
    results_from_arrays,
    run_onnxruntime,
    save_results,
)
from utils.compare.stats import (
    DEFAULT_ATOL,
    DEFAULT_RTOL,
    OutputStats,
    compare_runs,
    differences,
    max_abs_difference,
    output_stats,
    read_stats_csv,
    write_stats_csv,
)

__all__ = ["DEFAULT_ATOL", "DEFAULT_RTOL", "DiffReport", "OutputStats", "TensorQuality", "compare_runs", "cosine_similarity",
           "diff_saved_results", "differences", "first_iteration", "layer_quality", "load_results", "max_abs_difference",
           "output_stats", "read_stats_csv", "results_from_arrays", "polygraphy_cuda_unavailable", "polygraphy_tensorrt", "run_onnxruntime", "save_results", "sqnr_db",
           "top_k_agreement", "write_report", "write_stats_csv"]
