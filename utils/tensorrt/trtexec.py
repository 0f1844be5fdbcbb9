"""`trtexec` beside the Python API: the command that times the same engine, and its performance summary parsed.

What trtexec prints is fixed by NVIDIA's `samples/common/sampleReporting.cpp` (`printEpilog`), unchanged from
TensorRT 8.6 to 11.1: after "=== Performance summary ===", lines such as

    [12/03/2026-10:00:00] [I] Throughput: 258.892 qps
    [12/03/2026-10:00:00] [I] Latency: min = 1.87549 ms, max = 6.78198 ms, mean = 4.0024 ms, median = 4.32526 ms,
        percentile(90%) = 4.54346 ms, percentile(95%) = 4.98193 ms, percentile(99%) = 6.56958 ms   (one line)
    [12/03/2026-10:00:00] [I] GPU Compute Time: min = ..., median = ..., percentile(99%) = ... ms

What the flags mean moved in TensorRT 11 (`samples/common/sampleOptions.cpp` at v11.1; `samples/trtexecCommon/` from
11.4): CUDA graphs, no data transfers and spin-waiting on events became the defaults, and a profiled run is always a
second run apart from the timed one; `--useCudaGraph`, `--noDataTransfers`, `--useSpinWait` and `--separateProfileRun`
became no-ops (`--noCudaGraph`, `--includeDataTransfers` and `--noSpinWait` undo them), and the precision flags
(`--fp16`, `--int8`, `--best`) were removed, since every network is strongly typed. In 10.x (v10.16's sampleOptions.h)
all four are off unless asked for. Lesson 05's command passes 11's defaults explicitly before 11, so 10.x and 11.x
numbers are measured the same way: the device-resident engine replayed as a CUDA graph, events waited on by spinning,
as the workbook's "device" rows do. TensorRT-RTX (version 1.x) is not "before 11": it has its own tool, `tensorrt_rtx`
(in its zip and tar packages, not the pip wheels), whose defaults are 11's ("excludes host-to-device and
device-to-host transfers, uses spin-wait synchronization, and enables whole-graph RTX CUDA capture by default").
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

from utils.commands import command_unavailable, find_command
from utils.errors import WorkbookError

if TYPE_CHECKING:
    from utils.tensorrt.api import TensorRT

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


def tool_name(tensorrt: TensorRT | None) -> str:
    """`trtexec` for TensorRT (None: the newest), `tensorrt_rtx` for TensorRT-RTX."""
    return "tensorrt_rtx" if tensorrt is not None and tensorrt.is_rtx else "trtexec"


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


def trtexec_unavailable(tensorrt: TensorRT | None = None) -> str | None:
    """Why the timing tool of `tensorrt` (trtexec, or tensorrt_rtx; trtexec if None) cannot run here, or None."""
    return command_unavailable(tool_name(tensorrt))


def run_trtexec(command: list[str], timeout_s: float = 300) -> TrtexecSummary:
    """Run a trtexec (or tensorrt_rtx) command line and parse its summary; the tool's own last error line if it fails."""
    completed = subprocess.run([*find_command(command[0]), *command[1:]], capture_output=True, text=True, timeout=timeout_s)
    if completed.returncode != 0:
        errors = [line for line in (completed.stderr + completed.stdout).splitlines() if "[E]" in line or "FAIL" in line]
        raise WorkbookError(f"{command[0]} failed ({errors[-1].strip() if errors else f'exit status {completed.returncode}'})")
    return parse_summary(completed.stdout)
