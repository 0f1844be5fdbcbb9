"""The acceptance checks of `python -m utils classify`, run as a user runs them: in a subprocess."""

import json
import subprocess
import sys

import numpy as np
import pytest

from utils.classify import top_k

CATS = {"tiger cat", "tabby", "Egyptian cat"}


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "utils", *args], capture_output=True, text=True, timeout=600, env=env)


@pytest.mark.parametrize("backend", ["pytorch-cpu", "onnxruntime-cpu"])
def test_cat_and_espresso_with_each_backend(sample_dir, backend):
    completed = run_cli("classify", str(sample_dir / "chelsea.jpg"), str(sample_dir / "coffee.jpg"),
                        "--backend", backend, "--json")
    assert completed.returncode == 0, completed.stderr
    results = json.loads(completed.stdout)
    assert [r["image"] for r in results] == [str(sample_dir / "chelsea.jpg"), str(sample_dir / "coffee.jpg")]
    assert results[0]["top"][0]["name"] in CATS
    assert results[1]["top"][0]["name"] == "espresso"
    for result in results:
        assert len(result["top"]) == 5
        assert set(result["top"][0]) == {"class_id", "name", "probability"}
        probabilities = [p["probability"] for p in result["top"]]
        assert probabilities == sorted(probabilities, reverse=True)


def test_table_output_and_top_option(sample_dir):
    completed = run_cli("classify", str(sample_dir / "coffee.jpg"), "--top", "2")
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[0].endswith("coffee.jpg") and len(lines) == 3 and "espresso" in lines[1]


def test_non_image_gives_one_line_error_and_nonzero_exit(tmp_path):
    not_image = tmp_path / "notes.txt"
    not_image.write_text("this is text")
    completed = run_cli("classify", str(not_image))
    assert completed.returncode == 2
    assert completed.stderr.strip().count("\n") == 0
    assert "cannot be read as an image" in completed.stderr


def test_unknown_model_gives_one_line_error(sample_dir):
    completed = run_cli("classify", str(sample_dir / "coffee.jpg"), "--model", "alexnet")
    assert completed.returncode == 2 and completed.stderr.strip().count("\n") == 0
    assert "unknown model 'alexnet'" in completed.stderr


def test_top_k_orders_by_probability():
    logits = np.array([[0.0, 3.0, 1.0, 2.0] + [-10.0] * 996], dtype=np.float32)
    predictions = top_k(logits, k=3)[0]
    assert [p.class_id for p in predictions] == [1, 3, 2]
    assert predictions[0].probability == pytest.approx(np.exp(3) / np.exp(logits[0]).sum())


def test_tensorrt_backend_without_a_runnable_gpu_says_why(sample_dir):
    from utils.environment import engine_execution_unavailable

    if engine_execution_unavailable() is None:
        pytest.skip("TensorRT can run here; this tests the refusal")
    completed = run_cli("classify", str(sample_dir / "coffee.jpg"), "--backend", "tensorrt")
    assert completed.returncode == 2
    assert completed.stderr.strip().count("\n") == 0
    assert f"tensorrt cannot run here: {engine_execution_unavailable()}" in completed.stderr
