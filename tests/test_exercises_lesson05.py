"""utils.exercises.lesson05: each check accepts the right answer and names each anticipated mistake.

The checks compute the expected answer from the rows they are given, so the tests give them made-up rows and
derive the right answers here."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from tests.test_benchmark_results import _row
from tests.test_onnx_cost import small_net
from utils.exercises import NotYetRight, check
from utils.onnx.cost import model_cost


def rows():
    """Host rows: batch 1 fast, batch 8 within 2 ms at p99, batch 64 over; eager/graphs pairs in the device scope."""
    made = []
    for label, batch, p50, p99 in (("pytorch-cuda-graphs", 1, 0.6, 0.7), ("pytorch-cuda-graphs", 8, 1.0, 1.5),
                                   ("pytorch-cuda-graphs", 64, 1.9, 2.4), ("onnxruntime-cuda", 8, 1.8, 1.9)):
        made.append(_row(backend=label, device="cuda", batch=batch, p50_ms=p50, p99_ms=p99, mean_ms=p50,
                         throughput_ips=batch / (p50 / 1e3)))
    for name, batch, p50, mean in (("pytorch-cuda", 1, 5.0, 6.0), ("pytorch-cuda-graphs", 1, 0.5, 0.5),
                                   ("pytorch-cuda", 256, 25.0, 25.0), ("pytorch-cuda-graphs", 256, 24.0, 24.0)):
        made.append(_row(backend=name, device="cuda", batch=batch, p50_ms=p50, mean_ms=mean, p99_ms=p50, scope="device",
                         throughput_ips=batch / (p50 / 1e3)))
    return made


def test_05_1_the_most_images_within_the_budget(capsys):
    check("05.1", ("pytorch-cuda-graphs/fp32", 8), rows=rows(), budget_ms=2.0)
    assert "8,000 images/s with p99 1.50 ms" in capsys.readouterr().out


@pytest.mark.parametrize("answer, message", [
    (("pytorch-cuda-graphs/fp32", 64), "has p99 2.40 ms, over 2 ms: its p50 fits, but a budget holds for the slow requests too"),
    (("pytorch-cuda-graphs/fp32", 1), "answers fastest (0.60 ms), but the question is the most images per second"),
    (("onnxruntime-cuda/fp32", 8), "fits (1.90 ms) and serves 4,444 images/s; another row within the budget serves more"),
    (("tensorrt/fp16", 8), "no host-scope row is 'tensorrt/fp16' at batch 8"),
    ("pytorch-cuda-graphs/fp32", "give a pair (label, batch)"),
])
def test_05_1_mistakes(answer, message):
    with pytest.raises(NotYetRight, match=re.escape(message)):
        check("05.1", answer, rows=rows(), budget_ms=2.0)


def test_05_2_graphs_speed_up_the_launch_bound_batch(capsys):
    check("05.2", (10.0, 25 / 24), rows=rows())
    assert "10.0x at batch 1, 1.04x at batch 256: at batch 1 the GPU waits for Python" in capsys.readouterr().out


@pytest.mark.parametrize("answer, message", [
    ((0.1, 24 / 25), "upside down"),
    ((12.0, 25 / 24), "that uses mean latencies"),
    ((3.0, 1.0), "not the p50 ratios at batches 1 and 256"),
    (10.0, "give a pair"),
])
def test_05_2_mistakes(answer, message):
    with pytest.raises(NotYetRight, match=re.escape(message)):
        check("05.2", answer, rows=rows())


PEAKS = {"fp16": 989.4, "fp32": 67.0, "memory_tbps": 4.8}


def test_05_3_the_fraction_of_the_memory_bound(capsys):
    cost = model_cost(small_net())
    row = _row(precision="fp16", batch=64, p50_ms=0.01)
    bound_ms = cost.layerwise_bytes(64, "fp16") / 4.8e12 * 1e3
    check("05.3", bound_ms / 0.01, row=row, cost=cost, peaks=PEAKS)
    assert "memory, not tensor cores, sets this model's limit" in capsys.readouterr().out
    for wrong, message in ((0.01 / bound_ms, "upside down"), (100 * bound_ms / 0.01, "that is a percentage"),
                           (cost.layerwise_bytes(64, "fp32") / 4.8e12 * 1e3 / 0.01, "those are FP32 bytes"),
                           (cost.flops(64) / 989.4e12 * 1e3 / 0.01, "that is the compute bound")):
        with pytest.raises(NotYetRight, match=re.escape(message)):
            check("05.3", wrong, row=row, cost=cost, peaks=PEAKS)
    with pytest.raises(NotYetRight, match="is not bound / p50"):
        check("05.3", 0.123, row=replace(row, p50_ms=1.0), cost=cost, peaks=PEAKS)


# 05.4: the learner's own loop at batch 8, judged against the notebook's loop at batch 1 (p50 3 ms here).
LOOP = dict(iterations=20, warmup=3, batch=8, first_batch=1, first_p50_ms=3.0)


def test_05_4_a_batch_of_eight_timed_in_milliseconds(capsys):
    times = [17.0 + 0.1 * i for i in range(20)]
    check("05.4", times, **LOOP)
    printed = capsys.readouterr().out
    assert "p50 17.95 ms" in printed and "446 images/s against 333 at batch 1" in printed


@pytest.mark.parametrize(("answer", "message"), [
    ([17.0] * 23, "the 3 warm-up runs are in them"),
    ([17.0] * 5, "5 times; time each of the 20 runs"),
    ([17.0] * 19 + [-1.0], "a latency is positive"),
    ([0.017] * 20, "seconds, not milliseconds"),
    ([17e6] * 20, "nanoseconds, not milliseconds"),
    ([3.1] * 20, "did the input hold 8 images"),
    ("17 ms", "give the list"),
])
def test_05_4_mistakes(answer, message):
    with pytest.raises(NotYetRight, match=re.escape(message)):
        check("05.4", answer, **LOOP)
