"""`python -m utils diff` must report exactly what Polygraphy reports for the same saved results."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from utils import compare
from utils.compare.stats import RELDIFF_EPSILON
from utils.errors import WorkbookError


@pytest.fixture()
def saved_pair(tmp_path):
    """Two saved runs: `close` passes at 1e-3, `drifting` fails, `half` is FP16 in the target, `zeros` has 0s
    in the target (so the relative difference divides by Polygraphy's epsilon)."""
    rng = np.random.default_rng(7)
    reference = {
        "close": rng.normal(size=(2, 50)).astype(np.float32),
        "drifting": rng.normal(size=(4, 8, 8)).astype(np.float32),
        "half": rng.normal(size=(3, 30)).astype(np.float32),
        "zeros": rng.normal(size=(64,)).astype(np.float32),
    }
    target = {
        "close": reference["close"] + rng.uniform(-5e-4, 5e-4, size=(2, 50)).astype(np.float32),
        "drifting": reference["drifting"] * 1.01 + rng.normal(scale=0.02, size=(4, 8, 8)).astype(np.float32),
        "half": reference["half"].astype(np.float16),
        "zeros": np.where(np.arange(64) % 8 == 0, 0.0, reference["zeros"] + 1e-3).astype(np.float32),
    }
    ref_path = compare.save_results(compare.results_from_arrays([reference], "onnxrt-runner"), tmp_path / "ref.json")
    tgt_path = compare.save_results(compare.results_from_arrays([target], "trt-runner"), tmp_path / "tgt.json")
    return ref_path, tgt_path, reference, target


def _polygraphy_report(ref_path, tgt_path, atol, rtol):
    # Polygraphy's own command line (its console script's entry point), wherever pip put the script.
    command = [sys.executable, "-c", "import sys; from polygraphy.tools import main; sys.exit(main())", "run", "--load-outputs", str(ref_path), str(tgt_path),
               "--atol", str(atol), "--rtol", str(rtol), "-v"]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    return completed.stdout + completed.stderr


def _parse_stats(log: str) -> dict[str, dict[str, float | bool]]:
    """Polygraphy's per-output lines: 'Comparing Output: 'x'', the Absolute/Relative Difference stats, PASSED/FAILED."""
    parsed: dict[str, dict[str, float | bool]] = {}
    current = None
    for line in log.splitlines():
        match = re.search(r"Comparing Output: '([^']+)'", line)
        if match:
            current = match.group(1)
            parsed[current] = {}
            continue
        match = re.search(r"(Absolute|Relative) Difference \| Stats: mean=(\S+), .*median=(\S+), min=.*max=(\S+) at", line)
        if match and current:
            kind = "abs" if match.group(1) == "Absolute" else "rel"
            parsed[current][f"mean_{kind}"] = float(match.group(2).rstrip(","))
            parsed[current][f"median_{kind}"] = float(match.group(3).rstrip(","))
            parsed[current][f"max_{kind}"] = float(match.group(4))
        match = re.search(r"(PASSED|FAILED) \| Output: '([^']+)'", line)
        if match:
            parsed[match.group(2)]["passed"] = match.group(1) == "PASSED"
    return parsed


def test_diff_statistics_equal_polygraphys_own(saved_pair, tmp_path):
    ref_path, tgt_path, _, _ = saved_pair
    atol = rtol = 1e-3
    report = compare.diff_saved_results(ref_path, tgt_path, tmp_path / "diff", atol=atol, rtol=rtol)
    expected = _parse_stats(_polygraphy_report(ref_path, tgt_path, atol, rtol))
    assert set(expected) == {row.output for row in report.stats}
    for row in report.stats:
        theirs = expected[row.output]
        assert row.passed == theirs["passed"], row.output
        for key in ("max_abs", "mean_abs", "median_abs", "max_rel", "mean_rel", "median_rel"):
            # Polygraphy prints 5 significant digits
            assert getattr(row, key) == pytest.approx(theirs[key], rel=1e-4, abs=1e-12), (row.output, key)
    # FP16 rounding of N(0, 1) values stays below 1e-3; a 1 % drift and zeros divided by epsilon do not.
    assert [r.output for r in report.stats if not r.passed] == ["drifting", "zeros"]


def test_stats_csv_columns_and_round_trip(saved_pair, tmp_path):
    ref_path, tgt_path, _, _ = saved_pair
    report = compare.diff_saved_results(ref_path, tgt_path, tmp_path / "diff")
    header = report.stats_csv.read_text().splitlines()[0]
    assert header == "output,shape,max_abs,mean_abs,median_abs,max_rel,mean_rel,median_rel,passed"
    assert compare.read_stats_csv(report.stats_csv) == report.stats
    assert {row.output: row.shape for row in report.stats}["drifting"] == "4x8x8"


def test_differences_follow_polygraphys_definitions(saved_pair):
    _, _, reference, target = saved_pair
    absdiff, reldiff = compare.differences(reference["zeros"], target["zeros"])
    zero = target["zeros"] == 0
    np.testing.assert_array_equal(absdiff, np.abs(reference["zeros"] - target["zeros"]))
    np.testing.assert_allclose(reldiff[zero], absdiff[zero] / RELDIFF_EPSILON)
    absdiff, _ = compare.differences(reference["half"], target["half"])
    assert absdiff.dtype == np.float32  # FP16 is upcast before subtracting


def test_diff_cli_exit_codes_and_outputs(saved_pair, tmp_path):
    from utils.cli import main

    ref_path, tgt_path, _, _ = saved_pair
    out_dir = tmp_path / "cli"
    assert main(["diff", str(ref_path), str(tgt_path), "--out", str(out_dir)]) == 1
    assert (out_dir / "stats.csv").is_file() and (out_dir / "error_growth.png").is_file()
    # Every output within a tolerance large enough for all of them: success.
    assert main(["diff", str(ref_path), str(tgt_path), "--atol", "10", "--out", str(tmp_path / "ok")]) == 0


def test_histograms_are_drawn_for_the_model_output_and_failures(saved_pair, tmp_path):
    ref_path, tgt_path, _, _ = saved_pair
    report = compare.diff_saved_results(ref_path, tgt_path, tmp_path / "diff")
    names = sorted(p.name for p in report.figures)
    assert names == sorted(["hist_zeros.png", "hist_drifting.png", "error_growth.png"])
    assert all(p.stat().st_size > 10_000 for p in report.figures)


def test_unreadable_results_are_one_line_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(WorkbookError, match="not a Polygraphy results file"):
        compare.load_results(bad)
    with pytest.raises(WorkbookError, match="does not exist"):
        compare.load_results(tmp_path / "missing.json")


def test_runs_with_no_common_outputs_are_refused():
    a = compare.results_from_arrays([{"x": np.zeros(3, np.float32)}], "a")
    b = compare.results_from_arrays([{"y": np.zeros(3, np.float32)}], "b")
    with pytest.raises(WorkbookError, match="share no output names"):
        compare.compare_runs(a, b)


def test_onnxruntime_mark_all_returns_every_tensor_in_network_order(lite0_onnx, sample_batch):
    results = compare.run_onnxruntime(lite0_onnx, [{"input": sample_batch[:1]}], mark_all=True)
    _, outputs = compare.first_iteration(results)
    assert len(outputs) > 50
    assert list(outputs)[-1] == "logits"
    assert list(outputs)[0].startswith("/conv_stem")
