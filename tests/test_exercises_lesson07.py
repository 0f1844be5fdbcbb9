"""The self-checks of lesson 07: the right answer passes, and each kind of mistake gets its own message."""

from __future__ import annotations

import math

import pytest

from utils.exercises import NotYetRight, check

# Shaped like the INT8 outlier network's table: conv1 has the largest absolute error (its outlier channel is huge)
# and an infinite dB drop (its input is exact), conv2 adds the noise, relu2 inherits it, fc has the lowest SQNR
# although it adds almost nothing.
TABLE = [
    {"layer": "conv1", "input_sqnr_db": math.inf, "output_sqnr_db": 41.6, "max_abs_error": 36.7},
    {"layer": "relu1", "input_sqnr_db": 41.6, "output_sqnr_db": 42.2, "max_abs_error": 36.7},
    {"layer": "conv2", "input_sqnr_db": 42.2, "output_sqnr_db": 3.3, "max_abs_error": 3.18},
    {"layer": "relu2", "input_sqnr_db": 3.3, "output_sqnr_db": 3.0, "max_abs_error": 3.18},
    {"layer": "fc", "input_sqnr_db": 3.0, "output_sqnr_db": 2.9, "max_abs_error": 0.3},
]


def added_noise(row):
    after, before = 10 ** (-row["output_sqnr_db"] / 10), 10 ** (-row["input_sqnr_db"] / 10)
    return after - before


def test_07_1_the_layer_that_adds_the_most_noise_passes(capsys):
    best = max(TABLE, key=added_noise)["layer"]
    check("07.1", best, table=TABLE)
    assert "conv2" in capsys.readouterr().out


@pytest.mark.parametrize(("answer", "message"), [
    ("conv1", "largest absolute error"),
    ("fc", "lowest SQNR"),
    ("relu2", "another layer adds more"),
    ("conv9", "not a layer of the table"),
    (2, "one layer's name"),
])
def test_07_1_each_mistake_gets_its_message(answer, message):
    with pytest.raises(NotYetRight, match=message):
        check("07.1", answer, table=TABLE)


def test_07_1_the_largest_absolute_error_from_an_exact_input_also_explains_the_infinite_drop():
    with pytest.raises(NotYetRight, match="infinite for any layer"):
        check("07.1", "conv1", table=TABLE)


def test_07_1_an_infinite_drop_without_the_largest_error_gets_its_own_message():
    table = [dict(TABLE[0], max_abs_error=0.1), *TABLE[1:]]
    with pytest.raises(NotYetRight, match=r"drop from an exact input \(inf dB\) is infinite"):
        check("07.1", "conv1", table=table)


def test_07_1_a_large_finite_drop_that_adds_little_noise_is_explained_as_logarithmic():
    table = [{"layer": "early", "input_sqnr_db": 80.0, "output_sqnr_db": 40.0, "max_abs_error": 0.1},
             {"layer": "late", "input_sqnr_db": 20.0, "output_sqnr_db": 15.0, "max_abs_error": 0.2},
             {"layer": "head", "input_sqnr_db": 15.0, "output_sqnr_db": 14.9, "max_abs_error": 0.3}]
    check("07.1", "late", table=table)
    with pytest.raises(NotYetRight, match="dB are logarithmic"):
        check("07.1", "early", table=table)


SIGNAL, NOISE = 37.5, 0.61


def test_07_2_ten_log10_of_the_power_ratio_passes(capsys):
    check("07.2", 10 * math.log10(SIGNAL / NOISE), signal_power=SIGNAL, noise_power=NOISE)
    check("07.2", round(10 * math.log10(SIGNAL / NOISE), 1), signal_power=SIGNAL, noise_power=NOISE)
    assert "bits" in capsys.readouterr().out


@pytest.mark.parametrize(("answer", "message"), [
    (20 * math.log10(SIGNAL / NOISE), "20·log10 is for amplitudes"),
    (-10 * math.log10(SIGNAL / NOISE), "wrong sign"),
    (10 * math.log(SIGNAL / NOISE), "natural logarithm"),
    (10 * math.log10(math.sqrt(SIGNAL / NOISE)), "RMS ratio"),
    (SIGNAL / NOISE, "power ratio itself"),
    (3.0, "is not 10·log10"),
    ("18 dB", "a number of dB"),
])
def test_07_2_each_mistake_gets_its_message(answer, message):
    with pytest.raises(NotYetRight, match=message):
        check("07.2", answer, signal_power=SIGNAL, noise_power=NOISE)


PEAKS = {"big.out": 2.1e5, "scaled": 210.0, "relu5": 3.2, "wide": 600.0, "edge.rounds": 65510.0,
         "edge.uint16": 65530.0, "edge.negative": -7.0e4}


def fp16_infinite(value):
    import numpy as np

    with np.errstate(over="ignore"):
        return bool(np.isinf(np.float16(value)))


def test_07_3_the_values_that_become_inf_in_fp16_pass(capsys):
    answer = [name for name, value in PEAKS.items() if fp16_infinite(value)]
    assert len(answer) == 3  # the fixture holds both sides of every edge below
    check("07.3", answer, peaks=PEAKS)
    assert "3 of 7 overflow" in capsys.readouterr().out


@pytest.mark.parametrize(("answer", "message"), [
    (["big.out", "edge.uint16"], "about magnitude"),
    (["big.out", "edge.uint16", "edge.negative", "edge.rounds"], "round down to 65504"),
    (["big.out", "edge.uint16", "edge.negative", "wide"], "AutoCast's safety margin"),
    (["big.out", "edge.negative"], "largest uint16"),
    (["big.out"], "these overflow too"),
    (["big.out", "nothing"], "not a name"),
    ("big.out", "a list"),
])
def test_07_3_each_mistake_gets_its_message(answer, message):
    with pytest.raises(NotYetRight, match=message):
        check("07.3", answer, peaks=PEAKS)
