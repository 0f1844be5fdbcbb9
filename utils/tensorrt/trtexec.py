"""`trtexec` beside the Python API: the command that times the same engine, and its performance summary parsed.

What trtexec prints is fixed by NVIDIA's `samples/common/sampleReporting.cpp` (`printEpilog`), unchanged from
TensorRT 8.6 to 11.1: after "=== Performance summary ===", lines such as

    [12/03/2026-10:00:00] [I] Throughput: 258.892 qps
    [12/03/2026-10:00:00] [I] Latency: min = 1.87549 ms, max = 6.78198 ms, mean = 4.0024 ms, median = 4.32526 ms,
        percentile(90%) = 4.54346 ms, percentile(95%) = 4.98193 ms, percentile(99%) = 6.56958 ms   (one line)
    [12/03/2026-10:00:00] [I] GPU Compute Time: min = ..., median = ..., percentile(99%) = ... ms

What the flags mean moved in TensorRT 11 (`samples/common/sampleOptions.cpp`, release/11.0): CUDA graphs and
no data transfers became the defaults, `--useCudaGraph` and `--noDataTransfers` no-ops, and the precision flags
(`--fp16`, `--int8`, `--best`) were removed, since every network is strongly typed. `trtexec_command` writes the
flags each version needs to time the device-resident engine with a CUDA graph, as the workbook's "device" rows do.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from utils.errors import WorkbookError

METRICS = {"Latency": "latency", "Enqueue Time": "enqueue", "H2D Latency": "h2d", "GPU Compute Time": "gpu_compute",
           "D2H Latency": "d2h"}
_LINE = re.compile(r"^(?:\[[^\]]*\] )?\[I\] (?P<name>[A-Za-z0-9 ]+): (?P<value>.*)$")
_FIELD = re.compile(r"(?P<key>min|max|mean|median|percentile\((?P<q>[\d.]+)%\)) = (?P<ms>[-+\d.eE]+) ms")


@dataclass(frozen=True)
class Statistic:
    min_ms: float
    max_ms: float
    mean_ms: float
    median_ms: float
    percentiles_ms: dict[float, float]  # 90.0 -> milliseconds, for each percentile trtexec printed


@dataclass(frozen=True)
class TrtexecSummary:
    throughput_qps: float  # inferences (of one batch each) per second
    metrics: dict[str, Statistic]  # "latency", "enqueue", "h2d", "gpu_compute", "d2h"


def trtexec_command(engine: str | os.PathLike[str], input_name: str, shape: tuple[int, ...], *,
                    tensorrt_major: int, duration_s: int = 3, warmup_ms: int = 500,
                    percentiles: tuple[float, ...] = (50, 90, 99)) -> list[str]:
    """The trtexec command line that times `engine` at `shape` on the device, replayed as a CUDA graph."""
    command = ["trtexec", f"--loadEngine={Path(engine)}", f"--shapes={input_name}:{'x'.join(map(str, shape))}",
               f"--warmUp={warmup_ms}", f"--duration={duration_s}",
               f"--percentile={','.join(f'{q:g}' for q in percentiles)}"]
    if tensorrt_major < 11:  # from 11 on, CUDA graphs and no data transfers are the defaults (the flags are no-ops)
        command += ["--useCudaGraph", "--noDataTransfers"]
    return command


def parse_summary(text: str) -> TrtexecSummary:
    """The "=== Performance summary ===" block of trtexec's output; a one-line error if it is not there."""
    start = text.find("=== Performance summary ===")
    if start < 0:
        raise WorkbookError("trtexec printed no '=== Performance summary ===' block; it did not finish timing "
                            "(run the command by hand to see why)")
    throughput, metrics = None, {}
    for line in text[start:].splitlines()[1:]:
        match = _LINE.match(line.strip())
        if not match:
            continue
        name, value = match["name"].strip(), match["value"]
        if name == "Throughput":
            throughput = float(value.split()[0])
        elif name in METRICS:
            fields = {m["key"]: (float(m["q"]) if m["q"] else None, float(m["ms"])) for m in _FIELD.finditer(value)}
            try:
                metrics[METRICS[name]] = Statistic(
                    fields["min"][1], fields["max"][1], fields["mean"][1], fields["median"][1],
                    {q: ms for key, (q, ms) in fields.items() if q is not None})
            except KeyError as missing:
                raise WorkbookError(f"trtexec's {name!r} line has no {missing.args[0]} value: {value[:120]}") from None
    if throughput is None or "gpu_compute" not in metrics:
        raise WorkbookError("trtexec's performance summary lacks its Throughput or GPU Compute Time line")
    return TrtexecSummary(throughput, metrics)


def trtexec_unavailable() -> str | None:
    return None if shutil.which("trtexec") else ("trtexec is not on the PATH (it ships with the TensorRT tar or "
                                                 "deb packages, in TensorRT's bin/ folder; the pip wheels do not have it)")


def run_trtexec(command: list[str], timeout_s: float = 300) -> TrtexecSummary:
    """Run a command from `trtexec_command` and parse its summary; trtexec's own last error line if it fails."""
    reason = trtexec_unavailable()
    if reason:
        raise WorkbookError(reason)
    completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    if completed.returncode != 0:
        errors = [line for line in (completed.stderr + completed.stdout).splitlines() if "[E]" in line or "FAIL" in line]
        raise WorkbookError(f"trtexec failed ({errors[-1].strip() if errors else f'exit status {completed.returncode}'})")
    return parse_summary(completed.stdout)
