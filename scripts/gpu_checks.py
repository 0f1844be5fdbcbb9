"""GPU-side measurements for the closing notes and the committed reference numbers.

Run on a machine with an NVIDIA GPU and pycuda, from the project root:

    python scripts/gpu_checks.py OUT_DIR [--batches 1,2,4,...] [--iterations 50]

1. The pycuda runner's host-to-device and device-to-host copies against plain pinned `memcpy_*_async` copies of
   the same size (the runner's own buffers and stream; `tests/engine_doubles.IdentityEngine` stands in for the
   engine, whose execution is not part of this measurement) -> OUT_DIR/copy_bandwidth.csv
2. PyTorch eager and CUDA-graph latency for every model and batch -> OUT_DIR/reference_gpu.csv
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.engine_doubles when run as a script


def runner_copy_bandwidth(batches: list[int], repeats: int) -> list[dict[str, object]]:
    import numpy as np

    from tests.engine_doubles import IdentityEngine
    from utils.cuda_memory import median_event_seconds, plain_copy_seconds
    from utils.trt_runner import TensorRTRunner

    class ImageIdentityEngine(IdentityEngine):
        def __init__(self, max_batch: int) -> None:
            super().__init__()
            self.profile = tuple((n, 3, 224, 224) for n in (1, min(8, max_batch), max_batch))

    rows = []
    for batch in batches:
        data = np.random.default_rng(0).normal(size=(batch, 3, 224, 224)).astype(np.float32)
        with TensorRTRunner(engine=ImageIdentityEngine(batch)) as runner:
            stream = runner.stream
            buffer_in, buffer_out = runner.inputs["input"], runner.outputs["output"]
            # upload() of a batch already in the pinned buffer (input_view) only queues the transfer; upload() of
            # any other array first stages it into pinned memory at host-memcpy speed.
            host_view = runner.input_view("input", data.shape)
            host_view[:] = data
            htod = median_event_seconds(partial(buffer_in.upload, host_view, stream), stream, repeats)
            htod_with_staging = median_event_seconds(partial(buffer_in.upload, data, stream), stream, repeats)
            dtoh = median_event_seconds(partial(buffer_out.download, data.shape, stream), stream, repeats)
        for direction, runner_s, note in (("htod", htod, "upload() of input_view, no staging"),
                                          ("htod", htod_with_staging, "upload() incl. numpy -> pinned staging"),
                                          ("dtoh", dtoh, "download()")):
            plain_s = plain_copy_seconds(data.nbytes, direction, repeats)
            rows.append({"direction": direction, "batch": batch, "bytes": data.nbytes, "what": note,
                         "runner_gbps": round(data.nbytes / runner_s / 1e9, 2),
                         "plain_gbps": round(data.nbytes / plain_s / 1e9, 2),
                         "ratio": round(plain_s / runner_s, 3)})
    return rows


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--batches", default="1,2,4,8,16,32,64,128,256")
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--models", default="efficientnet_lite0,resnet50")
    parser.add_argument("--copies-only", action="store_true", help="measure the copies, skip the PyTorch sweep")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    from utils import benchmark
    from utils.gpu import require_gpu

    gpu = require_gpu("These checks")
    print(f"GPU: {gpu.name}, compute capability {gpu.compute_capability}")

    copies = runner_copy_bandwidth([1, 8, 32, 256], repeats=50)
    with open(args.out / "copy_bandwidth.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(copies[0]))
        writer.writeheader()
        writer.writerows(copies)
    for row in copies:
        print(f"{row['direction']} batch {row['batch']:>3} {row['bytes'] / 2**20:8.1f} MiB: runner {row['runner_gbps']:6.1f} GB/s, "
              f"plain {row['plain_gbps']:6.1f} GB/s, ratio {row['ratio']:.3f}  ({row['what']})")

    if args.copies_only:
        return 0
    batches = [int(b) for b in args.batches.split(",")]
    rows = []
    for model in args.models.split(","):
        if model == "resnet50":
            print("resnet50 weights:", ensure_resnet50_weights())
        rows += benchmark.run_sweep(model, ["pytorch-cuda", "pytorch-cuda-graphs"], batches,
                                    iterations=args.iterations, warmup=10, progress=False)
    benchmark.write_csv(rows, args.out / "reference_gpu.csv")
    print(benchmark.format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
