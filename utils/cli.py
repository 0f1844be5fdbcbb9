"""`python -m utils ...`: the same functions the notebooks call, for scripts and CI."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from utils.arguments import comma_list, model_argument
from utils.benchmark.command import add_bench_arguments, cmd_bench
from utils.errors import WorkbookError

EXIT_USER_ERROR = 2
EXIT_COMPARISON_FAILED = 1


def cmd_classify(args: argparse.Namespace) -> int:
    from utils.classify import classify_files
    from utils.models import selected_model_name

    results = classify_files(args.images, selected_model_name(args.model), args.backend, args.top, args.precision)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for result in results:
        print(result["image"])
        for rank, p in enumerate(result["top"], 1):  # type: ignore[arg-type]
            print(f"  {rank}. {p['name']:<32} {p['probability']:7.2%}  (class {p['class_id']})")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    import os
    import tempfile

    from utils.artifacts import fp16_model
    from utils.files import ensure_writable_dir
    from utils.models import get_model_spec, selected_model_name
    from utils.onnx.export import export_onnx

    spec = get_model_spec(selected_model_name(args.model))
    out = Path(args.out)
    if args.fp16:  # the FP32 export and its twin made in a scratch folder beside `out`, the twin renamed into place
        ensure_writable_dir(out.parent)
        with tempfile.TemporaryDirectory(prefix=".export-", dir=out.parent) as scratch:
            fp32_path = export_onnx(spec.load(), Path(scratch) / "fp32.onnx", spec.input_shape, args.opset)
            os.replace(fp16_model(fp32_path, spec.name), out)
    else:
        export_onnx(spec.load(), out, spec.input_shape, args.opset)
    print(f"wrote {out} ({spec.name}, opset {args.opset}, {'FP16 with FP32 inputs/outputs' if args.fp16 else 'FP32'}, dynamic batch)")
    return 0


def cmd_quantize(args: argparse.Namespace) -> int:
    import time

    import onnx

    from utils import artifacts
    from utils.calibration import cached_inputs, load_calibration
    from utils.models import selected_model_name
    from utils.onnx.export import load_onnx
    from utils.onnx.quantize import int8_profile, qdq_summary, quantize_int8

    model_name = selected_model_name(args.model)
    load_onnx(args.onnx)  # a missing or broken ONNX file is reported before calibration data is made
    if args.calibration:
        calibration, where = load_calibration(args.calibration, model_name), str(args.calibration)
    else:
        path = artifacts.calibration_path(model_name)
        calibration, where = cached_inputs(path, model_name, "calibration"), f"the workbook's set, {path}"
    start = time.perf_counter()
    shares: dict[str, float] = {}
    if args.keep == "auto":
        profile = int8_profile(args.onnx, calibration, method=args.method)
        kept = profile.dominant()
        shares = {row.node: row.noise_share for row in profile.nodes}
    else:
        kept = [] if args.keep == "none" else [name.strip() for name in args.keep.split(",") if name.strip()]
    out = quantize_int8(args.onnx, args.out, calibration, method=args.method, high_precision=args.high_precision,
                        exclude_nodes=kept)
    seconds = time.perf_counter() - start
    summary = qdq_summary(onnx.load(str(out), load_external_data=False))
    print(f"wrote {out} (INT8 Q/DQ, {args.high_precision.upper()} elsewhere, {args.method} calibration on "
          f"{len(calibration)} samples from {where})")
    print(f"  {summary.qdq_pairs} Q/DQ pairs; {summary.quantized_nodes} of {summary.total_nodes} nodes quantized; "
          f"{seconds:.1f} s")
    for name in kept:
        why = f": alone, {shares[name]:.0%} of the fully quantized model's logit noise" if name in shares else ""
        print(f"  left in {args.high_precision.upper()}: {name}{why}")
    if args.keep == "auto" and not kept:
        print("  no node dominates the INT8 error (none alone causes a quarter of it): every node quantized")
    return 0


def cmd_precision_search(args: argparse.Namespace) -> int:
    import math

    import numpy as np

    from utils.onnx.export import load_onnx
    from utils.onnx.search import search_precision

    load_onnx(args.onnx)  # a missing or broken ONNX file is reported before the inputs are read
    try:
        with np.load(args.inputs, allow_pickle=False) as npz:
            inputs = {name: npz[name] for name in npz.files}
    except (OSError, ValueError) as exc:
        raise WorkbookError(f"cannot read {args.inputs} as an .npz of arrays keyed by input name ({exc})") from None
    result = search_precision(args.onnx, args.precision, inputs, args.target_sqnr, args.out, method=args.method,
                              max_evaluations=args.max_evaluations)
    sqnr = result.sqnr_db if math.isfinite(result.sqnr_db) else None
    if args.json:
        print(json.dumps({"kept": result.kept, "sqnr_db": sqnr, "evaluations": result.evaluations,
                          "profile_runs": result.profile_runs}))
    else:
        shown = f"{sqnr:.1f} dB" if sqnr is not None else str(result.sqnr_db)
        verdict = "meets" if result.met else "misses"
        print(f"wrote {result.out_path} ({args.precision.upper()}, {len(result.kept)} of {result.node_count} nodes kept in FP32)")
        print(f"  logit SQNR {shown} {verdict} the {result.target_sqnr_db:g} dB target ({result.measured_by})")
        profiled = f" (and {result.profile_runs} short runs ranking the nodes)" if result.profile_runs else ""
        print(f"  {result.evaluations} model runs{profiled} for {result.node_count} nodes; {result.seconds:.1f} s")
        for name in result.kept:
            print(f"  kept: {name}")
    return 0 if result.met else EXIT_COMPARISON_FAILED


def cmd_diff(args: argparse.Namespace) -> int:
    from utils.artifacts import diff_dir
    from utils.compare import diff_saved_results

    out_dir = Path(args.out) if args.out else diff_dir()
    report = diff_saved_results(args.reference, args.target, out_dir, atol=args.atol, rtol=args.rtol)
    worst = max(report.stats, key=lambda row: row.max_abs)
    print(f"compared {len(report.stats)} outputs with atol={args.atol:g} rtol={args.rtol:g}: "
          f"{len(report.stats) - len(report.failed_outputs)} passed, {len(report.failed_outputs)} failed")
    print(f"largest absolute difference {worst.max_abs:.4g} at {worst.output}")
    print(f"wrote {report.stats_csv} and {len(report.figures)} figures in {out_dir}")
    return 0 if report.passed else EXIT_COMPARISON_FAILED


def cmd_build(args: argparse.Namespace) -> int:
    from utils.artifacts import build_engine_file
    from utils.onnx.export import load_onnx
    from utils.tensorrt.api import load_tensorrt
    from utils.tensorrt.build import parse_batch

    batch = parse_batch(args.batch)
    load_onnx(args.onnx)  # a missing or broken file is reported before anything about TensorRT
    record, built = build_engine_file(args.onnx, args.out, precision=args.precision, batch=batch, tf32=args.tf32,
                                      workspace_mib=args.workspace, timing_cache=args.timing_cache, force=args.force,
                                      verbose=args.verbose)
    action = f"built in {record.build_seconds:.1f} s" if built else "reused from the cache (same ONNX, settings and TensorRT)"
    print(f"{args.out}: {load_tensorrt().display_name}, {args.precision}, batch {args.batch}, {action}")
    if record.request["gpu_name"] is None:
        print(f"  ahead-of-time build (no GPU here) for compute capabilities {record.request['compute_capability']}")
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from utils.tensorrt import engine_report as report_of
    from utils.tensorrt.inspect import (
        inspector_json_of,
        inspector_json_of_engine,
        read_inspector_json,
    )

    if (args.engine is None) == (args.json_file is None):
        raise WorkbookError("give an ENGINE or --json-file FILE (the engine inspector's JSON), one of the two")
    expected = report_of.expected_precision(args.expect) if args.expect else None
    asked = args.report or args.diff or args.figure or expected
    facts: dict[str, object] | None = None
    if args.json_file:
        text: str | None = read_inspector_json(args.json_file)
        source, why_not = args.json_file, None
    else:
        facts, text, why_not = inspector_json_of_engine(args.engine)
        source = args.engine
    if text is None and asked:
        raise WorkbookError(f"the report needs the engine loaded, and {why_not}; export the inspector's JSON where it "
                            f"loads (trtexec --loadEngine={args.engine} --exportLayerInfo=layers.json) and pass "
                            "--json-file layers.json")
    other = report_of.engine_report(inspector_json_of(args.diff), args.diff) if args.diff else None
    if facts is not None:
        print(json.dumps(facts, indent=2))
    if text is None:
        print(f"(no layer table: the per-layer table needs the engine loaded, and {why_not})")
        return 0
    report = report_of.engine_report(text, source)
    if not asked:
        print(report_of.format_report_table(report))
        return 0
    diff = report_of.diff_reports(report, other) if other is not None else None  # errors before any output
    missed = report_of.layers_not_in(report, expected) if expected else []
    if args.report:
        print(report_of.format_report(report))
    if args.figure:
        print(f"wrote {report_of.save_precision_figure(report, args.figure)}")
    if diff is not None:
        print(report_of.format_diff(diff))
    if expected:
        print(report_of.format_layers_not_in(report, expected))
    return EXIT_COMPARISON_FAILED if missed else 0


def cmd_samples(args: argparse.Namespace) -> int:
    from utils.images import write_sample_images

    for path in write_sample_images(args.out):
        print(path)
    return 0


def cmd_student(args: argparse.Namespace) -> int:
    from utils.exercises.student import make_student

    written = make_student(args.notebooks, args.out)
    for item in written:
        print(f"{item.path}: {item.solutions} solution(s) hidden" + (f", {len(item.tagged)} cell(s) tagged raises-exception"
                                                                      if item.tagged else ""))
    print(f"wrote {len(written)} student notebooks to {args.out}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from utils.accuracy import evaluate, labelled_images
    from utils.models import selected_model_name

    model_name = selected_model_name(args.model)
    count = len(labelled_images(args.folder))  # a bad folder is reported before any model loads
    results = evaluate(args.folder, model_name, args.backend, comma_list(args.precision, "--precision", "fp32,int8"),
                       batch=args.batch, progress=not args.json and sys.stderr.isatty())
    if args.json:
        print(json.dumps([asdict(result) for result in results], indent=2))
        return 0
    print(f"{count} labelled images in {args.folder}; {model_name} on {args.backend}")
    print(f"  {'precision':<10} {'top-1':>7} {'top-5':>7}")
    for result in results:
        print(f"  {result.precision:<10} {result.top1:>7.1%} {result.top5:>7.1%}")
    return 0


# --- the parser ---------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    from utils.compare.stats import DEFAULT_ATOL, DEFAULT_RTOL
    from utils.onnx.export import DEFAULT_OPSET
    from utils.onnx.search import DEFAULT_MAX_EVALUATIONS
    from utils.runtimes import RUNTIMES
    from utils.tensorrt.build import DEFAULT_WORKSPACE_MIB, PRECISIONS

    parser = argparse.ArgumentParser(prog="python -m utils", description="The TensorRT workbook's command line.")
    commands = parser.add_subparsers(dest="command", required=True)

    classify = commands.add_parser("classify", help="top-K ImageNet classes for images")
    classify.add_argument("images", nargs="+", help="image files (JPEG, PNG, ...)")
    model_argument(classify)
    classify.add_argument("--backend", choices=RUNTIMES, default="pytorch-cpu")
    classify.add_argument("--precision", choices=("fp32", "fp16", "int8"), default="fp32",
                          help="fp16/int8: the FP16 or INT8 (Q/DQ) model (onnxruntime-*) or engine (tensorrt)")
    classify.add_argument("--top", type=int, default=5, metavar="K")
    classify.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    classify.set_defaults(func=cmd_classify)

    evaluate = commands.add_parser("evaluate", help="top-1/top-5 accuracy on labelled images, per precision")
    evaluate.add_argument("folder", help="one sub-folder per class named by its WordNet id (n02123045/...), as "
                                         "ImageNet's validation set sorted into class folders")
    model_argument(evaluate)
    evaluate.add_argument("--backend", choices=RUNTIMES, default="onnxruntime-cpu")
    evaluate.add_argument("--precision", default="fp32", metavar="LIST",
                          help="comma-separated: fp32, fp16, int8 (default fp32)")
    evaluate.add_argument("--batch", type=int, default=32, help="images per model run")
    evaluate.add_argument("--json", action="store_true",
                          help='print a list of {"precision", "backend", "images", "top1", "top5"}')
    evaluate.set_defaults(func=cmd_evaluate)

    export = commands.add_parser("export", help="export a model to ONNX with a dynamic batch axis")
    model_argument(export)
    export.add_argument("--out", required=True, help="ONNX file to write")
    export.add_argument("--opset", type=int, default=DEFAULT_OPSET)
    export.add_argument("--fp16", action="store_true", help="FP16 weights and activations, FP32 inputs and outputs")
    export.set_defaults(func=cmd_export)

    quantize = commands.add_parser("quantize", help="INT8 post-training quantization (Q/DQ ONNX) with NVIDIA ModelOpt")
    quantize.add_argument("onnx", help="FP32 ONNX file (from `export`)")
    quantize.add_argument("--out", required=True, help="ONNX file to write")
    model_argument(quantize)
    quantize.add_argument("--calibration", metavar="DIR|NPZ",
                          help="a folder of images, or an .npz file with an array named 'input' [N, C, H, W] "
                               "(default: the workbook's set for --model, made from scikit-image's photos)")
    quantize.add_argument("--method", choices=("max", "entropy"), default="max", help="calibration method")
    quantize.add_argument("--high-precision", choices=("fp32", "fp16"), default="fp32",
                          help="type of what stays unquantized: fp32 measures INT8 alone; "
                               "fp16 is the form TensorRT deploys")
    quantize.add_argument("--keep", default="auto", metavar="auto|none|NODE,...",
                          help="nodes to leave unquantized: auto (default) measures each node's quantization alone and "
                               "keeps those that cause a quarter or more of the INT8 model's logit noise; none "
                               "quantizes every node; or node names, comma-separated")
    quantize.set_defaults(func=cmd_quantize)

    search = commands.add_parser("precision-search",
                                 help="find the few nodes to keep in FP32 for an FP16 or INT8 model to meet an SQNR target")
    search.add_argument("onnx", help="FP32 ONNX file (from `export`)")
    search.add_argument("--precision", choices=("fp16", "int8"), required=True)
    search.add_argument("--inputs", required=True, metavar="NPZ",
                        help="arrays keyed by input name, first axis = samples (evaluation, and INT8 calibration)")
    search.add_argument("--target-sqnr", required=True, metavar="DB",
                        help="logit SQNR against the FP32 model to reach, in dB")
    search.add_argument("--out", required=True, help="ONNX file to write (the best model found)")
    search.add_argument("--method", choices=("max", "entropy"), default="max", help="INT8 calibration method")
    search.add_argument("--max-evaluations", type=int, default=DEFAULT_MAX_EVALUATIONS, metavar="N",
                        help="model runs allowed, the FP32 reference and the final model included (default: %(default)s)")
    search.add_argument("--json", action="store_true", help='print {"kept", "sqnr_db", "evaluations", "profile_runs"} as JSON')
    search.set_defaults(func=cmd_precision_search)

    diff = commands.add_parser("diff", help="compare two Polygraphy --save-outputs files")
    diff.add_argument("reference", help="results of the reference run (e.g. ONNX Runtime)")
    diff.add_argument("target", help="results of the run under test (e.g. TensorRT)")
    diff.add_argument("--atol", type=float, default=DEFAULT_ATOL)
    diff.add_argument("--rtol", type=float, default=DEFAULT_RTOL)
    diff.add_argument("--out", help="folder for stats.csv and the figures (default: build/diff)")
    diff.set_defaults(func=cmd_diff)

    build = commands.add_parser("build", help="build a TensorRT engine from ONNX")
    build.add_argument("onnx", help="ONNX file with a dynamic batch axis")
    build.add_argument("--out", required=True, help="engine file to write (a .json sidecar is written beside it)")
    build.add_argument("--precision", choices=PRECISIONS, default="fp32")
    build.add_argument("--batch", default="1,8,32", metavar="MIN,OPT,MAX", help="optimization profile for the batch axis")
    build.add_argument("--workspace", type=int, default=DEFAULT_WORKSPACE_MIB, metavar="MIB")
    build.add_argument("--timing-cache", metavar="PATH",
                       help="timing cache file to read and update (default: one per TensorRT version and GPU under build/engines)")
    build.add_argument("--tf32", action="store_true", help="let FP32 layers use TF32 tensor cores (off by default, as in Polygraphy)")
    build.add_argument("--force", action="store_true", help="rebuild even if the cached engine matches")
    build.add_argument("--verbose", action="store_true", help="print TensorRT's log")
    build.set_defaults(func=cmd_build)

    inspect = commands.add_parser("inspect", help="what an engine was built from, and its layers")
    inspect.add_argument("engine", nargs="?", help="engine file (or give --json-file)")
    inspect.add_argument("--json-file", metavar="FILE",
                         help="read the engine inspector's JSON from FILE instead of loading an engine (trtexec "
                              "--exportLayerInfo=FILE of an engine built with --profilingVerbosity=detailed)")
    inspect.add_argument("--report", action="store_true",
                         help="per-layer table: precision and format in and out, tactic, the ONNX nodes fused into "
                              "each layer; and the layer count per precision")
    inspect.add_argument("--diff", metavar="OTHER",
                         help="compare with another engine or inspector JSON of the same ONNX model: the ONNX nodes "
                              "whose precision changed, and those in one engine only")
    inspect.add_argument("--figure", metavar="PATH", help="write the picture of precision per layer (PNG)")
    inspect.add_argument("--expect", metavar="PRECISION",
                         help="list the compute layers that did not run in PRECISION (fp16, int8, ...); exit status 1 "
                              "if there are any")
    inspect.set_defaults(func=cmd_inspect)

    samples = commands.add_parser("samples", help="write scikit-image's sample photos as JPEG files")
    samples.add_argument("out", help="folder to write them to")
    samples.set_defaults(func=cmd_samples)

    student = commands.add_parser("student", help="student notebooks: every solution block replaced by its hint")
    student.add_argument("notebooks", help="folder of the instructor notebooks (NN_*.ipynb), e.g. notebooks")
    student.add_argument("--out", required=True, help="folder to write the student notebooks to, e.g. build/student")
    student.set_defaults(func=cmd_student)

    bench = commands.add_parser("bench", help="latency and throughput per backend and batch size")
    add_bench_arguments(bench)
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except WorkbookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        return 130
