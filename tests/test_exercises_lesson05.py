"""utils.exercises.lesson05: each check accepts the right answer and names each anticipated mistake.

The checks compute the expected answer from the notebook's raw timings, so the tests give them made-up timings (a
slow warm-up, then steady iterations with one slow outlier) and derive the right answers here with numpy."""

from __future__ import annotations

import re

import numpy as np
import pytest

from utils.exercises import NotYetRight, check

WARMUP = 3
BATCH = 4


@pytest.fixture
def raw_ms():
    steady = np.random.default_rng(1).uniform(10.0, 12.0, size=20)
    steady[7] = 19.0  # one slow iteration: the tail p99 is about
    return [60.0, 25.0, 14.0, *steady.tolist()]


# --- 05.1: drop the warm-up -------------------------------------------------------------------------------------------


def test_05_1_accepts_the_iterations_after_warmup(raw_ms, capsys):
    check("05.1", raw_ms[WARMUP:], raw_ms=raw_ms, warmup=WARMUP)
    median = float(np.median(raw_ms[WARMUP:]))
    assert f"the first iteration took 60 ms, {60.0 / median:.2g}x the steady median" in capsys.readouterr().out
    check("05.1", np.array(raw_ms[WARMUP:]), raw_ms=raw_ms, warmup=WARMUP)


def test_05_1_says_when_the_warmup_did_not_show(raw_ms, capsys):
    quick = [10.0] + raw_ms[1:]
    check("05.1", quick[WARMUP:], raw_ms=quick, warmup=WARMUP)
    assert "the first iteration took 10 ms against a steady median of" in capsys.readouterr().out


@pytest.mark.parametrize("make, message", [
    (lambda raw: raw, "that is every iteration, warm-up included; drop the first 3"),
    (lambda raw: raw[:WARMUP], "those are the 3 warm-up iterations, the ones to throw away"),
    (lambda raw: raw[:-WARMUP], "you dropped the last 3 iterations; warm-up comes first"),
    (lambda raw: sorted(raw[WARMUP:]), "these are sorted: drop the first iterations in the order they ran"),
    (lambda raw: sorted(raw)[:-WARMUP], "these are sorted"),
    (lambda raw: raw[WARMUP + 1:], "19 timings; after dropping 3 warm-up iterations from 23 there are 20"),
    (lambda raw: [t / 1e3 for t in raw[WARMUP:]], "these are not the timings after the first 3"),
    (lambda raw: [raw[WARMUP:]], "give a flat list of 20 timings, not an array of shape [1, 20]"),
    (lambda raw: "raw_ms[3:]", "give the timings as a list or array of milliseconds, not a str"),
])
def test_05_1_mistakes(raw_ms, make, message):
    with pytest.raises(NotYetRight, match=re.escape(message)):
        check("05.1", make(raw_ms), raw_ms=raw_ms, warmup=WARMUP)


# --- 05.2: the 99th percentile ------------------------------------------------------------------------------------------


def test_05_2_accepts_numpys_linear_percentile(raw_ms, capsys):
    steady = raw_ms[WARMUP:]
    check("05.2", float(np.percentile(steady, 99)), raw_ms=raw_ms, warmup=WARMUP)
    check("05.2", np.percentile(np.array(steady), 99), raw_ms=raw_ms, warmup=WARMUP)
    assert "with 20 samples p99 interpolates between the two slowest" in capsys.readouterr().out


@pytest.mark.parametrize("count, words", [(1, "p99 is sample 1 of 1"), (101, "p99 is sample 100 of 101"),
                                          (150, "between samples 148 and 149 of 150"), (201, "p99 is sample 199 of 201")])
def test_05_2_says_where_p99_lies(count, words, capsys):
    raw = [5.0] * WARMUP + np.random.default_rng(2).uniform(1.0, 2.0, size=count).tolist()
    check("05.2", np.percentile(raw[WARMUP:], 99), raw_ms=raw, warmup=WARMUP)
    assert words in capsys.readouterr().out


@pytest.mark.parametrize("make, message", [
    (lambda s, raw: np.median(s), "that is the median (p50), not the 99th percentile; hint: np.percentile(steady_ms, 99)"),
    (lambda s, raw: np.mean(s), "that is the mean"),
    (lambda s, raw: max(s), "that is the slowest iteration (max)"),
    (lambda s, raw: np.percentile(s, 90), "that is p90"),
    (lambda s, raw: np.percentile(s, 0.99), "np.percentile takes q from 0 to 100, not a fraction"),
    (lambda s, raw: sorted(s)[int(0.99 * len(s))], "or a nearest-rank percentile landing on it; with 20 samples"),
    (lambda s, raw: np.percentile(raw, 99), "that includes the 3 warm-up iterations"),
    (lambda s, raw: np.percentile(s, 99) / 1e3, "that is in seconds"),
    (lambda s, raw: 1.5 * max(s), "ms is above the slowest iteration"),
    (lambda s, raw: "19", "give the 99th percentile as one number, not a str"),
    (lambda s, raw: float("inf"), "is a finite number"),
])
def test_05_2_mistakes(raw_ms, make, message):
    with pytest.raises(NotYetRight, match=re.escape(message)):
        check("05.2", make(raw_ms[WARMUP:], raw_ms), raw_ms=raw_ms, warmup=WARMUP)


# --- 05.3: throughput -----------------------------------------------------------------------------------------------------


def test_05_3_accepts_batch_over_mean_seconds(raw_ms, capsys):
    mean_ms = float(np.mean(raw_ms[WARMUP:]))
    check("05.3", BATCH / (mean_ms / 1e3), raw_ms=raw_ms, warmup=WARMUP, batch=BATCH)
    assert f"{BATCH / (mean_ms / 1e3):.4g} images/s: {BATCH} images every" in capsys.readouterr().out


@pytest.mark.parametrize("make, message", [
    (lambda s, raw: BATCH / np.mean(s), "that is images per millisecond"),
    (lambda s, raw: 1e3 / np.mean(s), "that is batches per second; each batch holds 4 images"),
    (lambda s, raw: 1 / np.mean(s), "that is batches per millisecond"),
    (lambda s, raw: BATCH * np.mean(s) / 1e3, "that is upside down"),
    (lambda s, raw: BATCH / (np.median(s) / 1e3), "that uses the median (p50); the workbook's throughput uses the mean"),
    (lambda s, raw: BATCH / (min(s) / 1e3), "that uses the fastest iteration"),
    (lambda s, raw: BATCH / (np.mean(raw) / 1e3), "that includes the 3 warm-up iterations"),
    (lambda s, raw: 123.0, "images/s is not batch / mean latency"),
])
def test_05_3_mistakes(raw_ms, make, message):
    with pytest.raises(NotYetRight, match=re.escape(message)):
        check("05.3", make(raw_ms[WARMUP:], raw_ms), raw_ms=raw_ms, warmup=WARMUP, batch=BATCH)
