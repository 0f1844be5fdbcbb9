"""GPU-side measurements for the closing notes and the committed reference numbers.

Run on a machine with an NVIDIA GPU, pycuda or cuda-python, and onnxruntime-gpu (requirements-gpu.txt), from the
project root with the workbook installed (`make setup`):

    python scripts/gpu_checks.py OUT_DIR [--batches 1,2,4,...] [--iterations 50]

1. The TensorRT runner's host-to-device and device-to-host copies against plain pinned asynchronous copies of the
   same size, with each CUDA binding installed (pycuda, cuda-python): the runner's copies are `DeviceTensor.upload`
   / `download` on its buffers and a `new_stream()` stream (utils.tensorrt.cuda_memory), so those are measured
   directly, and no engine is needed. Target: within 5 % of the same binding's plain copy (staging excepted); the
   copies that miss it are listed on stderr. With both bindings, cuda-python's plain copies against pycuda's are
   reported too -> OUT_DIR/copy_bandwidth.csv
2. PyTorch eager, PyTorch CUDA graphs and ONNX Runtime CUDA latency for every model and batch
   -> OUT_DIR/reference_gpu.csv
3. With --precision: FP16 and INT8 models run for real on ONNX Runtime CUDA against what the CPU says of them,
   per layer (scripts/emulation_check.py): the workbook's model converted by AutoCast, the FP16-overflow network all in
   FP16 and as AutoCast splits it, and the INT8-outlier network's Q/DQ model (INT8 is not emulated: the CPU runs
   the Q/DQ arithmetic itself, so CPU and CUDA are compared directly) -> OUT_DIR/precision_layers.csv
4. With --int8-cuda: the workbook's INT8 model in both forms (FP32 or FP16 between the Q/DQ pairs) on ONNX Runtime
   CUDA against the CPU's exact Q/DQ arithmetic, tensor by tensor, to find where CUDA's answer departs
   -> OUT_DIR/int8_cuda_layers.csv
5. With --autocast BENCH_CSV: FP16 by `model.half()` (the benchmark's fp16 rows) against `torch.autocast` over FP32
   weights, eager and CUDA graph, in plain PyTorch loops (scripts/harness_check.py's standalone loop)

The harness itself (its cost against bare loops, its fastest PyTorch row against a plain PyTorch loop) is checked by
scripts/harness_check.py.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from dataclasses import replace
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # harness_check.py, beside this script

COPY_BATCHES = (1, 8, 32, 256)
COPY_ROUNDS = 3
SWEEP_RUNTIMES = ("pytorch-cuda", "pytorch-cuda-graphs", "onnxruntime-cuda")
# In the rows of BETWEEN_BINDINGS, runner_gbps is cuda-python's plain copy and plain_gbps pycuda's.
COPY_COLUMNS = ("binding", "direction", "batch", "bytes", "what", "runner_gbps", "plain_gbps", "ratio")
COPY_TARGET = 0.95
NO_STAGING, WITH_STAGING, DOWNLOAD = "upload() of host_view, no staging", "upload() incl. numpy -> pinned staging", "download()"
BETWEEN_BINDINGS = "plain copy: cuda-python's against pycuda's"
# What COPY_TARGET holds for: the runner's own copies against its binding's plain copy (staging runs at host-memcpy
# speed, by design). The bindings' plain copies against each other are reported with no target: what differs is each
# binding's host-side cost per call, which shows only in copies under a MiB (0.95 to 1.01 at 0.6 MiB on an H200).
TARGETED = (NO_STAGING, DOWNLOAD)
PRECISION_COLUMNS = ("network", "tensor", "op", "fp16", "emulated_db", "cpu_db", "cuda_db")


def runner_copy_bandwidth(batches: list[int], repeats: int, bindings: list[str] | None = None,
                          rounds: int = COPY_ROUNDS) -> list[dict[str, object]]:
    """Per CUDA binding (each one installed, unless `bindings` names them): the runner's copies (`DeviceTensor.upload`
    / `download` on a `new_stream()`) against `plain_copy_seconds` of the same binding; with both bindings, also
    cuda-python's plain copies against pycuda's.

    Each time is the fastest of `rounds` medians of `repeats` copies, the runner's and the plain copies measured in
    turn: on a shared machine a whole median can be slowed (a 4.6 MiB copy once at 0.79 of the plain copy measured
    just after it), and what is asked is the speed the copies reach."""
    import numpy as np

    from utils.errors import WorkbookError
    from utils.tensorrt.cuda_binding import cuda_binding_unavailable, installed_bindings
    from utils.tensorrt.cuda_memory import DeviceTensor, median_event_seconds, new_stream, plain_copy_seconds

    names = list(bindings or installed_bindings())
    if not names:
        raise WorkbookError(cuda_binding_unavailable() or "no CUDA binding is installed; see requirements-gpu.txt")
    rows: list[dict[str, object]] = []
    plain_s: dict[tuple[str, str, int], float] = {}
    for binding in names:
        stream = new_stream(binding)
        for batch in batches:
            data = np.random.default_rng(0).normal(size=(batch, 3, 224, 224)).astype(np.float32)
            buffer_in = DeviceTensor("input", data.shape, data.dtype, binding)
            buffer_out = DeviceTensor("output", data.shape, data.dtype, binding)
            # upload() of a batch already in the pinned buffer (host_view, what the runner's input_view returns) only
            # queues the transfer; upload() of any other array first stages it into pinned memory at host-memcpy speed.
            host_view = buffer_in.host_view(data.shape)
            host_view[:] = data
            queued = {NO_STAGING: partial(buffer_in.upload, host_view, stream),
                      WITH_STAGING: partial(buffer_in.upload, data, stream),
                      DOWNLOAD: partial(buffer_out.download, data.shape, stream)}
            runner_s: dict[str, float] = {}
            try:
                for _ in range(rounds):
                    for what, queue in queued.items():
                        runner_s[what] = min(runner_s.get(what, np.inf), median_event_seconds(queue, stream, repeats))
                    for direction in ("htod", "dtoh"):
                        plain_s[binding, direction, batch] = min(plain_s.get((binding, direction, batch), np.inf),
                                                                 plain_copy_seconds(data.nbytes, direction, repeats, binding))
            finally:
                buffer_in.free()
                buffer_out.free()
            for direction, what in (("htod", NO_STAGING), ("htod", WITH_STAGING), ("dtoh", DOWNLOAD)):
                rows.append(_copy_row(binding, direction, batch, data.nbytes, what, runner_s[what],
                                      plain_s[binding, direction, batch]))
        stream.close()
    if {"pycuda", "cuda-python"} <= set(names):
        for batch in batches:
            nbytes = batch * 3 * 224 * 224 * 4
            for direction in ("htod", "dtoh"):
                rows.append(_copy_row("cuda-python vs pycuda", direction, batch, nbytes, BETWEEN_BINDINGS,
                                      plain_s["cuda-python", direction, batch], plain_s["pycuda", direction, batch]))
    return rows


def _copy_row(binding: str, direction: str, batch: int, nbytes: int, what: str, measured_s: float,
              reference_s: float) -> dict[str, object]:
    return {"binding": binding, "direction": direction, "batch": batch, "bytes": nbytes, "what": what,
            "runner_gbps": round(nbytes / measured_s / 1e9, 2), "plain_gbps": round(nbytes / reference_s / 1e9, 2),
            "ratio": round(reference_s / measured_s, 3)}


def describe_copy(row: dict[str, object]) -> str:
    measured, reference = ("cuda-python plain", "pycuda plain") if row["what"] == BETWEEN_BINDINGS else ("runner", "plain")
    return (f"{row.get('binding', ''):<21} {row['direction']} batch {row['batch']:>3} {int(row['bytes']) / 2**20:8.1f} MiB: "
            f"{measured} {row['runner_gbps']:6.1f} GB/s, {reference} {row['plain_gbps']:6.1f} GB/s, "
            f"ratio {row['ratio']:.3f}  ({row['what']})")


def copy_shortfalls(rows: list[dict[str, object]]) -> list[str]:
    """The copies that should reach COPY_TARGET of their reference's bandwidth and do not, one line each."""
    return [describe_copy(row) for row in rows if row["what"] in TARGETED and float(row["ratio"]) < COPY_TARGET]


def ensure_resnet50_weights() -> str:
    """torchvision's weights if they load; otherwise random weights in a temporary TORCH_HOME (timing only)."""
    import os

    import torch
    import torchvision

    from utils.errors import WorkbookError
    from utils.models import load_model

    try:
        load_model("resnet50")
        return "torchvision IMAGENET1K_V2"
    except WorkbookError:
        home = Path(tempfile.mkdtemp()) / "torch"
        (home / "hub" / "checkpoints").mkdir(parents=True)
        torch.save(torchvision.models.resnet50(weights=None).state_dict(), home / "hub" / "checkpoints" / "resnet50-11ad3fa6.pth")
        os.environ["TORCH_HOME"] = str(home)
        return "random (torchvision's weights are not available here; latency does not depend on weight values)"


def check_runtimes(names: tuple[str, ...]) -> None:
    """Refuse before measuring anything if a runtime of the sweep cannot run here: the reference CSV needs them all."""
    from utils.errors import WorkbookError
    from utils.runtimes import available_runtimes

    reasons = available_runtimes()
    for name in names:
        if reasons[name] is not None:
            raise WorkbookError(f"{name} cannot run here ({reasons[name]}); the reference sweep needs it (requirements-gpu.txt)")


def write_copy_csv(rows: list[dict[str, object]], path: Path) -> None:
    from utils.files import atomic_path

    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COPY_COLUMNS))
        writer.writeheader()
        writer.writerows(rows)


def precision_models(model_name: str, folder: Path) -> list[tuple[str, Path, Path, dict[str, object]]]:
    """(network, FP32 ONNX, reduced-precision ONNX, inputs) for the precision check: the workbook's model's FP16
    (AutoCast) model on 16 evaluation photos, then the synthetic networks (written into `folder`)."""
    from utils import artifacts

    fp32 = artifacts.onnx_model(model_name, "fp32")
    photos = {_input_name(fp32): artifacts.evaluation_set(model_name)[:16]}
    return [(f"{model_name} fp16 (AutoCast)", fp32, artifacts.onnx_model(model_name, "fp16"), photos),
            *fragile_precision_models(folder)]


def fragile_precision_models(folder: Path) -> list[tuple[str, Path, Path, dict[str, object]]]:
    """The FP16-overflow network all in FP16 and as AutoCast splits it, and the INT8-outlier network's Q/DQ model."""
    import math

    from utils.onnx.fragile import fp16_overflow_net, int8_outlier_net, samples
    from utils.onnx.precision import convert_to_fp16
    from utils.onnx.quantize import quantize_int8

    overflow = fp16_overflow_net(folder / "fp16_overflow.onnx")
    outlier = int8_outlier_net(folder / "int8_outlier.onnx")
    calibration = samples()["input"]
    return [
        ("fp16_overflow all-fp16", overflow,
         convert_to_fp16(overflow, folder / "all_fp16.onnx", reference_inputs=calibration, data_max=math.inf),
         samples(seed=7)),
        ("fp16_overflow autocast", overflow,
         convert_to_fp16(overflow, folder / "autocast.onnx", reference_inputs=calibration), samples(seed=7)),
        ("int8_outlier int8 (max)", outlier,
         quantize_int8(outlier, folder / "int8.onnx", samples(32), method="max", exclude_nodes=()), samples(seed=7)),
    ]


def _input_name(onnx_path: Path) -> str:
    import onnx

    model = onnx.load(str(onnx_path), load_external_data=False)
    initializers = {init.name for init in model.graph.initializer}
    return next(v.name for v in model.graph.input if v.name not in initializers)


def precision_layers(model_name: str, out: Path) -> None:
    """Per-layer SQNR of each reduced-precision model: emulated (FP16), real on the CPU provider, real on CUDA."""
    from emulation_check import layer_predictions, prediction_summary

    from utils.files import atomic_path

    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as scratch:
        for network, fp32, reduced, inputs in precision_models(model_name, Path(scratch)):
            layers = layer_predictions(fp32, reduced, inputs, providers=("cpu", "cuda"))  # type: ignore[arg-type]
            for layer in layers:
                rows.append({"network": network, "tensor": layer.tensor, "op": layer.op_type, "fp16": int(layer.fp16),
                             "emulated_db": round(layer.emulated_sqnr_db, 2),
                             "cpu_db": round(layer.measured_sqnr_db["cpu"], 2),
                             "cuda_db": round(layer.measured_sqnr_db["cuda"], 2)})
            comparisons = [("emulation", "cuda", layers), ("emulation", "cpu", layers)]
            if "int8" in network:  # no emulation: the CPU provider's own Q/DQ run is the prediction
                comparisons = [("CPU run", "cuda", [replace(layer, emulated_sqnr_db=layer.measured_sqnr_db["cpu"])
                                                    for layer in layers])]
            for predictor, provider, predicted in comparisons:
                summary = prediction_summary(predicted, provider)
                print(f"{network}: {predictor} vs {provider}: {summary.tensors} tensors compared, Spearman "
                      f"{summary.rank_correlation:.3f}, median gap {summary.median_gap_db:+.2f} dB; overflow emulated "
                      f"{list(summary.overflow_emulated)[:3]}{'...' if len(summary.overflow_emulated) > 3 else ''} "
                      f"({len(summary.overflow_emulated)}), measured {list(summary.overflow_measured)[:3]} "
                      f"({len(summary.overflow_measured)})")
            logits = layers[-1]
            print(f"{network}: logits SQNR emulated {logits.emulated_sqnr_db:.2f} dB, CPU {logits.measured_sqnr_db['cpu']:.2f}"
                  f" dB, CUDA {logits.measured_sqnr_db['cuda']:.2f} dB")
    with atomic_path(out / "precision_layers.csv") as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(PRECISION_COLUMNS))
        writer.writeheader()
        writer.writerows(rows)


def int8_cuda_layers(model_name: str, out: Path) -> None:
    """Check 4: per tensor, the INT8 models on CUDA and on the CPU (exact Q/DQ) against FP32 on the CPU."""
    import numpy as np
    import onnx
    from emulation_check import _run

    from utils import artifacts
    from utils.compare.quality import sqnr_db
    from utils.onnx.fp16_emulation import tensor_types

    inputs = {"input": artifacts.evaluation_set(model_name)[:8]}
    fp32 = onnx.load(str(artifacts.onnx_model(model_name)))
    names = [n for n, t in tensor_types(fp32).items() if t == 1 and n not in {i.name for i in fp32.graph.initializer}]
    names = [n for node in fp32.graph.node for n in node.output if n in set(names)]
    reference = _run(fp32, names, inputs, "cpu", optimize=False)
    rows = []
    for form in ("int8", "int8-fp16"):
        model = onnx.load(str(artifacts.onnx_model(model_name, form)))
        produced = {n for node in model.graph.node for n in node.output}
        shared = [n for n in names if n in produced]
        runs = {provider: _run(model, shared, inputs, provider, optimize=provider == "cuda") for provider in ("cpu", "cuda")}
        ops = {n: node.op_type for node in model.graph.node for n in node.output}
        for name in shared:
            rows.append({"form": form, "tensor": name, "op": ops.get(name, ""),
                         "cpu_db": sqnr_db(reference[name], runs["cpu"][name]),
                         "cuda_db": sqnr_db(reference[name], runs["cuda"][name]),
                         "cuda_vs_cpu_db": sqnr_db(runs["cpu"][name], runs["cuda"][name])})
        departs = [r for r in rows if r["form"] == form and r["cuda_vs_cpu_db"] < 30]
        print(f"{form}: logits CPU {rows[-1]['cpu_db']:.1f} dB, CUDA {rows[-1]['cuda_db']:.1f} dB against FP32; "
              f"{len(departs)} of {len(shared)} tensors where CUDA departs from the CPU by more than 30 dB of SQNR")
        for row in departs[:6]:
            print(f"   {row['tensor']} ({row['op']}): CUDA vs CPU {row['cuda_vs_cpu_db']:.1f} dB")
    with open(out / "int8_cuda_layers.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({k: (f"{v:.3f}" if isinstance(v, float) else v) for k, v in r.items()} for r in rows)
    print(f"wrote {out / 'int8_cuda_layers.csv'}; inputs: {len(inputs['input'])}, {np.asarray(inputs['input']).shape}")


def autocast_check(bench_csv: Path, batches: list[int]) -> int:
    """Check 5: FP16 from `model.half()` (what the benchmark's fp16 rows run) against `torch.autocast` over FP32
    weights, eager and one CUDA graph, channels_last, device scope, p50 of a plain PyTorch loop of each."""
    from harness_check import standalone_pytorch

    from utils.benchmark import read_csv
    from utils.errors import WorkbookError

    template = next((r for r in read_csv(bench_csv) if r.backend == "pytorch-cuda" and r.device == "cuda"), None)
    if template is None:
        raise WorkbookError(f"{bench_csv} has no pytorch-cuda row to take the metadata from; give a GPU bench CSV")
    print(f"{'configuration':<34} {'batch':>5} {'half() ms':>10} {'autocast ms':>12} {'autocast / half':>16}")
    for backend in ("pytorch-cuda", "pytorch-cuda-graphs"):
        for batch in batches:
            half, auto = (standalone_pytorch(replace(template, backend=backend, precision="fp16", batch=batch,
                                                     scope="device", options=options))
                          for options in ("channels-last", "channels-last+autocast"))
            half_ms, auto_ms = batch / half * 1e3, batch / auto * 1e3
            print(f"{backend + '/fp16+channels-last':<34} {batch:>5} {half_ms:>10.3f} {auto_ms:>12.3f} "
                  f"{auto_ms / half_ms:>15.2f}x")
    return 0


def run(args: argparse.Namespace) -> int:
    from utils.gpu import require_gpu

    gpu = require_gpu("These checks")
    if args.autocast:
        print(f"GPU: {gpu.name}, compute capability {gpu.compute_capability}")
        return autocast_check(args.autocast, [int(b) for b in args.batches.split(",")])
    if args.int8_cuda:
        print(f"GPU: {gpu.name}, compute capability {gpu.compute_capability}")
        args.out.mkdir(parents=True, exist_ok=True)
        int8_cuda_layers(args.models.split(",")[0], args.out)
        return 0
    if args.precision:
        print(f"GPU: {gpu.name}, compute capability {gpu.compute_capability}")
        args.out.mkdir(parents=True, exist_ok=True)
        precision_layers(args.models.split(",")[0], args.out)
        return 0
    if not args.copies_only:
        check_runtimes(SWEEP_RUNTIMES)
    print(f"GPU: {gpu.name}, compute capability {gpu.compute_capability}")

    copies = runner_copy_bandwidth(list(COPY_BATCHES), repeats=50)
    write_copy_csv(copies, args.out / "copy_bandwidth.csv")
    for row in copies:
        print(describe_copy(row))
    for line in copy_shortfalls(copies):
        print(f"below the {COPY_TARGET} copy target: {line}", file=sys.stderr)

    if args.copies_only:
        return 0
    from utils.benchmark import format_table, run_sweep, write_csv

    batches = [int(b) for b in args.batches.split(",")]
    rows = []
    skipped: dict[str, str] = {}
    for model in args.models.split(","):
        if model == "resnet50":
            print("resnet50 weights:", ensure_resnet50_weights())
        rows += run_sweep(model, list(SWEEP_RUNTIMES), batches, iterations=args.iterations, warmup=10, progress=False,
                          skipped=skipped)
    write_csv(rows, args.out / "reference_gpu.csv")
    print(format_table(rows))
    if skipped:
        for configuration, reason in skipped.items():
            print(f"skipped {configuration}: {reason}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--batches", default="1,2,4,8,16,32,64,128,256")
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--models", default="efficientnet_lite0,resnet50")
    parser.add_argument("--copies-only", action="store_true", help="measure the copies, skip the latency sweep")
    parser.add_argument("--precision", action="store_true",
                        help="only the precision check (3.) on the first of --models")
    parser.add_argument("--int8-cuda", action="store_true", help="only the INT8 check (4.) on the first of --models")
    parser.add_argument("--autocast", type=Path, default=None, metavar="BENCH_CSV",
                        help="only the model.half() vs torch.autocast check (5.) at --batches; BENCH_CSV gives the "
                             "row's metadata")
    args = parser.parse_args(argv)

    from utils.errors import WorkbookError

    try:
        return run(args)
    except WorkbookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
