"""trtexec beside the Python API: the command each TensorRT version needs, and its performance summary parsed.

The fixture is trtexec's output as NVIDIA's samples/common/sampleReporting.cpp (printEpilog, unchanged from 8.6 to
11.1) prints it, with the "[MM/DD/YYYY-HH:MM:SS] [I] " prefix of samples/common/logging.h; the lines before and
after the block are as trtexec prints them too (`Timing trace has ...`, the `[W]` notes, the `&&&& PASSED` line)."""

import pytest

from utils.errors import WorkbookError
from utils.tensorrt.trtexec import parse_summary, trtexec_unavailable

OUTPUT = """\
[12/03/2026-10:00:01] [I] Warmup completed 1234 queries over 500 ms
[12/03/2026-10:00:01] [I] Timing trace has 9051 queries over 3.00088 s
[12/03/2026-10:00:01] [I]<blank>
[12/03/2026-10:00:01] [I] === Trace details ===
[12/03/2026-10:00:01] [I] Trace averages of 10 runs:
[12/03/2026-10:00:01] [I] Average on 10 runs - GPU latency: 0.329102 ms - Host latency: 0.329102 ms (enqueue 0.0149902 ms)
[12/03/2026-10:00:01] [I]<blank>
[12/03/2026-10:00:01] [I] === Performance summary ===
[12/03/2026-10:00:01] [I] Throughput: 3016.14 qps
[12/03/2026-10:00:01] [I] Latency: min = 0.325439 ms, max = 0.407715 ms, mean = 0.330174 ms, median = 0.329102 ms, percentile(50%) = 0.329102 ms, percentile(90%) = 0.332764 ms, percentile(99%) = 0.346924 ms
[12/03/2026-10:00:01] [I] Enqueue Time: min = 0.0102539 ms, max = 0.0546875 ms, mean = 0.0134731 ms, median = 0.0129395 ms, percentile(50%) = 0.0129395 ms, percentile(90%) = 0.0150146 ms, percentile(99%) = 0.0258789 ms
[12/03/2026-10:00:01] [I] H2D Latency: min = 0 ms, max = 0 ms, mean = 0 ms, median = 0 ms, percentile(50%) = 0 ms, percentile(90%) = 0 ms, percentile(99%) = 0 ms
[12/03/2026-10:00:01] [I] GPU Compute Time: min = 0.325439 ms, max = 0.407715 ms, mean = 0.330174 ms, median = 0.329102 ms, percentile(50%) = 0.329102 ms, percentile(90%) = 0.332764 ms, percentile(99%) = 0.346924 ms
[12/03/2026-10:00:01] [I] D2H Latency: min = 0 ms, max = 0 ms, mean = 0 ms, median = 0 ms, percentile(50%) = 0 ms, percentile(90%) = 0 ms, percentile(99%) = 0 ms
[12/03/2026-10:00:01] [I] Total Host Walltime: 3.00088 s
[12/03/2026-10:00:01] [I] Total GPU Compute Time: 2.98841 s
[12/03/2026-10:00:01] [I] Explanations of the performance metrics are printed in the verbose logs.
[12/03/2026-10:00:01] [I]<blank>
&&&& PASSED TensorRT.trtexec [TensorRT v101300] # trtexec --loadEngine=lite0.engine --shapes=input:8x3x224x224
""".replace("<blank>", " ")  # trtexec's empty lines keep the space after "[I]"


def test_the_summary_is_parsed_into_milliseconds_and_queries_per_second():
    summary = parse_summary(OUTPUT)
    assert summary.throughput_qps == 3016.14
    assert set(summary.metrics) == {"latency", "enqueue", "h2d", "gpu_compute", "d2h"}
    compute = summary.metrics["gpu_compute"]
    assert (compute.min_ms, compute.median_ms, compute.max_ms) == (0.325439, 0.329102, 0.407715)
    assert compute.percentiles_ms == {50.0: 0.329102, 90.0: 0.332764, 99.0: 0.346924}
    assert summary.metrics["h2d"].mean_ms == 0.0  # no data transfers


def test_a_summary_without_its_block_or_its_compute_line_is_a_one_line_error():
    with pytest.raises(WorkbookError, match="printed no '=== Performance summary ===' block"):
        parse_summary(OUTPUT.split("=== Performance summary ===")[0])
    without = "\n".join(line for line in OUTPUT.splitlines() if "GPU Compute Time:" not in line)
    with pytest.raises(WorkbookError, match="lacks its Throughput or GPU Compute Time line"):
        parse_summary(without)


def _tensorrt(version, flavour="tensorrt"):
    from utils.tensorrt.api import TensorRT

    return TensorRT(module=None, flavour=flavour, version=version, import_name=flavour)


def test_without_the_tool_the_reason_says_where_it_comes_from(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert trtexec_unavailable().startswith("the trtexec command is not on PATH; it ships with TensorRT's tar")
    assert "TensorRT-RTX's zip" in trtexec_unavailable(_tensorrt("1.7.1.116", "tensorrt_rtx"))
