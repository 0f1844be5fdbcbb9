"""`python -m utils bench`: its arguments, and the sweep (`utils.benchmark.run_sweep`) printed and written."""

from __future__ import annotations

import argparse

from utils.arguments import batch_sizes, comma_list, model_argument
from utils.errors import WorkbookError


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    from utils.benchmark import DEFAULT_BATCHES, DEFAULT_ITERATIONS, DEFAULT_SEED, DEFAULT_WARMUP, PRECISIONS
    from utils.benchmark.sweep import GPU_BATCHES, GPU_ITERATIONS
    from utils.runtimes import RUNTIMES

    model_argument(parser)
    parser.add_argument("--backend", default=None, metavar="A,B+OPTION",
                        help=f"comma-separated runtimes, each with options after '+' (pytorch-cuda-graphs+channels-last): "
                             f"{','.join(RUNTIMES)} (default: the GPU peers of a TensorRT engine where a GPU is, else "
                             "the CPU runtimes)")
    parser.add_argument("--precision", default=None, metavar="P,Q",
                        help=f"comma-separated precisions, {','.join(PRECISIONS)} (default: fp32 for every runtime, "
                             "and fp16 too for GPU runtimes that run it)")
    parser.add_argument("--batch", default=None,
                        help=f"comma-separated batch sizes (default: {','.join(map(str, GPU_BATCHES))} where a GPU "
                             f"is, else {','.join(map(str, DEFAULT_BATCHES))})")
    parser.add_argument("--scope", default=None, metavar="host,device",
                        help="host: host batch in, host logits out, copies included; device: device-resident input, "
                             "compute only (default: every scope each runtime answers)")
    parser.add_argument("--iterations", type=int, default=None,
                        help=f"timed iterations per configuration and batch (default: {GPU_ITERATIONS} on a GPU, "
                             f"{DEFAULT_ITERATIONS} on the CPU, or as many as fit in --time-budget)")
    parser.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                        help="time each configuration and batch for this long instead of a fixed count")
    parser.add_argument("--warmup", type=int, default=DEFAULT_WARMUP,
                        help="untimed warm-up iterations (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the random input batch")
    parser.add_argument("--csv", default=None, metavar="PATH",
                        help="results CSV (default: build/benchmarks/bench_<model>.csv)")
    parser.add_argument("--plots", default=None, metavar="DIR", help="also write the three figures as PNG files here")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def cmd_bench(args: argparse.Namespace) -> int:
    from utils import artifacts, benchmark
    from utils.models import selected_model_name

    model_name = selected_model_name(args.model)
    runtimes = comma_list(args.backend, "--backend", "pytorch-cpu,onnxruntime-cpu") if args.backend is not None else None
    precisions = comma_list(args.precision, "--precision", "fp32,fp16") if args.precision is not None else None
    scopes = comma_list(args.scope, "--scope", "host,device") if args.scope is not None else None
    batches = sorted(set(batch_sizes(args.batch))) if args.batch is not None else None
    benchmark.configurations(runtimes, precisions)  # unknown names and impossible rows fail here, before anything runs
    skipped: dict[str, str] = {}
    rows = benchmark.run_sweep(model_name, runtimes, batches, precisions=precisions, iterations=args.iterations,
                               time_budget_s=args.time_budget, warmup=args.warmup, seed=args.seed,
                               progress=not args.no_progress, skipped=skipped, scopes=scopes)
    if not rows:
        raise WorkbookError("no backend could run: " + "; ".join(f"{k}: {v}" for k, v in skipped.items()))
    csv_path = benchmark.write_csv(rows, args.csv or artifacts.benchmark_csv_path(model_name))
    env = benchmark.environment()
    print(f"{model_name} on {env['machine']}" + (f" + {env['gpu']}" if env["gpu"] else "") + f", {rows[0].date}")
    print(benchmark.format_table(rows))
    print(benchmark.format_speedups(rows))
    for label, reason in skipped.items():
        print(f"no rows for {label}: {reason}")
    print(f"wrote {csv_path}")
    if args.plots:
        for path in benchmark.save_plots(rows, args.plots).values():
            print(f"wrote {path}")
    return 0
