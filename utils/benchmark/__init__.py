"""Latency and throughput the way performance engineers measure them, for every runtime the workbook runs.

Every model runs through `utils.runtimes`: a benchmark configuration is (runtime name, precision), the runtime
is opened once per sweep and each batch bound in turn. One concern per module:

    harness    the timing loop, percentiles, and the steps that time a Runtime (the method is described there)
    memory     the host's resident-set high-water mark during a run
    results    BenchmarkRow, machine metadata, the CSV, tables, speed-ups over the best peer and over eager
    sweep      run_sweep: every configuration at every batch and scope, with skip reasons
    roofline   the physical limit: the GPU's measured peaks and each row's bound
    plots      the three figures

    from utils import benchmark

    rows = benchmark.run_sweep("efficientnet_lite0", ["onnxruntime-cpu"], [1, 8], iterations=50)
    print(benchmark.format_table(rows))

The harness itself is checked by scripts/harness_check.py (against bare loops of the same calls, and the fastest
PyTorch row against a plain PyTorch loop): that code vouches for the workbook, so it is not part of it.
"""

from utils.benchmark.harness import (
    DEFAULT_ITERATIONS,
    DEFAULT_STAGE_ITERATIONS,
    DEFAULT_WARMUP,
    PERCENTILES,
    STAGES,
    LatencyStats,
    Measurement,
    cpu_step,
    cpu_timed,
    event_step,
    latency_stats,
    latency_step,
    measure,
    measure_runtime,
    percentile,
    stage_split_step,
)
from utils.benchmark.memory import HostPeak
from utils.benchmark.plots import PLOTS, plot_latency_percentiles, plot_speedup, plot_throughput, save_plots
from utils.benchmark.results import (
    BASELINES,
    CSV_COLUMNS,
    METADATA_COLUMNS,
    PRECISIONS,
    BenchmarkRow,
    configuration_label,
    cpu_model,
    environment,
    format_speedups,
    format_table,
    make_row,
    read_csv,
    side_by_side,
    speedups,
    write_csv,
)
from utils.benchmark.sweep import (
    DEFAULT_BATCHES,
    DEFAULT_SEED,
    available_configurations,
    configurations,
    make_inputs,
    run_sweep,
)

__all__ = [
    "BASELINES", "CSV_COLUMNS", "DEFAULT_BATCHES", "DEFAULT_ITERATIONS", "DEFAULT_SEED", "DEFAULT_STAGE_ITERATIONS",
    "DEFAULT_WARMUP", "METADATA_COLUMNS", "PERCENTILES", "PLOTS", "PRECISIONS", "STAGES",
    "BenchmarkRow", "HostPeak", "LatencyStats", "Measurement",
    "available_configurations", "configuration_label", "configurations",
    "cpu_model", "cpu_step", "cpu_timed", "environment", "event_step", "format_speedups", "format_table", "latency_stats", "latency_step", "make_inputs", "make_row", "measure", "measure_runtime",
    "percentile", "plot_latency_percentiles", "plot_speedup", "plot_throughput", "read_csv", "run_sweep",
    "save_plots", "side_by_side", "speedups", "stage_split_step", "write_csv",
]
