"""Latency and throughput the way performance engineers measure them, for every runtime the workbook runs.

Every model runs through `utils.runtimes`: a benchmark configuration is (runtime name, precision), the runtime
is opened once per sweep and each batch bound in turn. One concern per module:

    harness    the timing loop, percentiles, and the steps that time a Runtime (the method is described there)
    memory     the host's resident-set high-water mark during a run
    results    BenchmarkRow, machine metadata, the CSV, tables, speed-ups over the best peer and over eager
    sweep      run_sweep: every configuration at every batch and scope, with skip reasons
    roofline   the physical limit: the GPU's measured peaks and each row's bound
    overhead   the harness's own cost against a bare loop of the same runtime calls (target <= 3 %)
    standalone the fastest PyTorch row against a hand-written PyTorch loop of it (target >= 0.9x)
    plots      the three figures
    copies     the TensorRT runtime's copies against plain pinned copies

    from utils import benchmark

    rows = benchmark.run_sweep("efficientnet_lite0", ["onnxruntime-cpu"], [1, 8], iterations=50)
    print(benchmark.format_table(rows))
"""

from utils.benchmark.copies import CopyBandwidth, copy_bandwidth
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
from utils.benchmark.overhead import (
    TARGET_PERCENT,
    HarnessOverhead,
    compare_with_bare,
    format_overhead,
    harness_overhead,
    overhead_summary,
)
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
from utils.benchmark.standalone import StandaloneCheck, format_standalone, standalone_check
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
    "DEFAULT_WARMUP", "METADATA_COLUMNS", "PERCENTILES", "PLOTS", "PRECISIONS", "STAGES", "TARGET_PERCENT",
    "BenchmarkRow", "CopyBandwidth", "HarnessOverhead", "HostPeak", "LatencyStats", "Measurement", "StandaloneCheck",
    "available_configurations", "compare_with_bare", "configuration_label", "configurations", "copy_bandwidth",
    "cpu_model", "cpu_step", "cpu_timed", "environment", "event_step", "format_overhead", "format_speedups",
    "format_standalone", "format_table", "overhead_summary", "standalone_check",
    "harness_overhead", "latency_stats", "latency_step", "make_inputs", "make_row", "measure", "measure_runtime",
    "percentile", "plot_latency_percentiles", "plot_speedup", "plot_throughput", "read_csv", "run_sweep",
    "save_plots", "side_by_side", "speedups", "stage_split_step", "write_csv",
]
