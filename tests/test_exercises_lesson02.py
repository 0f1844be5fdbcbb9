"""utils.exercises.lesson02: each check accepts the right answer and names each anticipated mistake.

No GPU or TensorRT is needed: 02.2 compares build requests made by `build_request` with a stand-in TensorRT, and an
ONNX "file" there is only hashed, so any bytes will do."""

from __future__ import annotations

import re

import pytest

from utils.exercises import NotYetRight, check
from utils.exercises.lesson02 import REBUILD_CHANGES, REBUILD_CHANGES_DETAIL, changed_fields, optimization_profile

REQUESTS = [4, 4, 16, 4, 2, 24, 4, 16, 4, 8]


# --- 02.1: an optimization profile for the requests ------------------------------------------------------------------


def test_02_1_accepts_the_tightest_profile_tuned_for_the_most_frequent_batch(capsys):
    check("02.1", (2, 4, 24), requests=REQUESTS)
    check("02.1", [2, 4, 24], requests=REQUESTS)
    check("02.1", "2,4,24", requests=REQUESTS)  # as `--batch` takes it
    check("02.1", (1, 1, 8), requests=[1, 1, 8, 1])
    assert capsys.readouterr().out.count("✓ 02.1 correct: python -m utils build ... --batch 2,4,24") == 3
    assert optimization_profile((1, 1, 8), requests=[1, 1, 8, 1]) == "python -m utils build ... --batch 1,1,8"


@pytest.mark.parametrize("answer, message", [
    ((24, 4, 2), "batch profile 24,4,2 must satisfy 1 <= MIN <= OPT <= MAX; hint: the smallest batch first"),
    ("2,4", "--batch '2,4' is not MIN,OPT,MAX"),
    ((2, 4), "write the profile as (MIN, OPT, MAX), three whole numbers"),
    ((2.0, 4, 24), "three whole numbers"),
    ((2, 4, 16), "a request of batch 24 would be refused: it is above MAX=16"),
    ((4, 4, 24), "a request of batch 2 would be refused: it is below MIN=4"),
    ((1, 4, 32), "every request fits, but (1, 4, 32) is wider than needed"),
    ((2, 4, 32), "wider than needed"),
    ((2, 8, 24), "batch 8 comes 1 time(s), batch 4 5 times out of 10"),
    ((2, 16, 24), "batch 16 comes 2 time(s)"),
])
def test_02_1_mistakes(answer, message):
    with pytest.raises(NotYetRight, match=re.escape(message)):
        check("02.1", answer, requests=REQUESTS)


# --- 02.2: what makes the engine cache rebuild ------------------------------------------------------------------------


@pytest.fixture
def onnx_path(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"stands in for an ONNX file: build_request only hashes it")
    return path


def test_02_2_the_changes_and_the_request_fields_they_alter(onnx_path):
    assert set(REBUILD_CHANGES) == set(REBUILD_CHANGES_DETAIL) and all(REBUILD_CHANGES.values())
    fields = {letter: changed_fields(change, onnx_path) for letter, change in REBUILD_CHANGES_DETAIL.items()}
    assert fields == {"a": [], "b": ["batch"], "c": [], "d": ["tf32"], "e": ["workspace_mib"],
                      "f": ["tensorrt_version"], "g": ["onnx_sha256"]}
    assert onnx_path.read_bytes().startswith(b"stands in")  # the edits were made on copies


def test_02_2_accepts_the_changes_that_rebuild(onnx_path, capsys):
    check("02.2", {"b", "d", "e", "f", "g"}, onnx_path=onnx_path)
    check("02.2", ["B", "d", "e", "f", "g"], onnx_path=onnx_path)
    assert capsys.readouterr().out.count("a and c leave every field as it was") == 2


@pytest.mark.parametrize("answer, message", [
    ("bdefg", "answer with a set of letters, like {'a', 'c'}, not a str"),
    ({"b", "d", "e", "f", "g", "z"}, "there is no change 'z'; the changes are a, b, c, d, e, f, g"),
    ({"a", "b", "d", "e", "f", "g"}, "a reuses the engine: the request records the ONNX file's SHA-256, not its name"),
    ({"b", "c", "d", "e", "f", "g"}, "c reuses the engine: TF32 only concerns FP32 layers"),
    ({"b", "d", "e", "f"}, "g rebuilds: it changes the request's onnx_sha256"),
    ({"d", "e", "f", "g"}, "b rebuilds: it changes the request's batch"),
    ({"b", "e", "f", "g"}, "d rebuilds: it changes the request's tf32"),
    (set(), "b rebuilds: it changes the request's batch; d rebuilds"),
])
def test_02_2_mistakes(onnx_path, answer, message):
    with pytest.raises(NotYetRight, match=re.escape(message)):
        check("02.2", answer, onnx_path=onnx_path)


# --- 02.3: FP16 from a builder flag or from the FP16 model ------------------------------------------------------------

VERSIONS = ["TensorRT 8.6.1", "TensorRT 10.13.0", "TensorRT 11.0.0", "TensorRT-RTX 1.7.1"]
RIGHT = {"TensorRT 8.6.1": "flag", "TensorRT 10.13.0": "flag", "TensorRT 11.0.0": "model", "TensorRT-RTX 1.7.1": "model"}


def test_02_3_accepts_flag_before_11_and_model_from_11_and_on_rtx(capsys):
    check("02.3", RIGHT, versions=VERSIONS)
    check("02.3", {"TensorRT 12.1.0": "model", "TensorRT-RTX 1.0.0.21": "model", "TensorRT 10.0.1.6": "flag"},
          versions=["TensorRT 12.1.0", "TensorRT-RTX 1.0.0.21", "TensorRT 10.0.1.6"])
    assert capsys.readouterr().out.count("✓ 02.3 correct") == 2


@pytest.mark.parametrize("answer, message", [
    (["flag", "flag", "model", "model"], 'answer with a dict {version: "flag" or "model"}, not a list'),
    ({k: v for k, v in RIGHT.items() if "RTX" not in k}, "no answer for 'TensorRT-RTX 1.7.1'"),
    ({**RIGHT, "TensorRT 8.6.1": "FP16"}, "answer \"flag\" or \"model\" for each version; 'TensorRT 8.6.1' has 'FP16'"),
    ({**RIGHT, "TensorRT-RTX 1.7.1": "flag"}, "TensorRT-RTX 1.7.1: TensorRT-RTX networks are always strongly typed"),
    ({**RIGHT, "TensorRT 11.0.0": "flag"}, "TensorRT 11.0.0: TensorRT 11 removed BuilderFlag.FP16"),
    ({**RIGHT, "TensorRT 10.13.0": "model"}, "TensorRT 10.13.0 still has BuilderFlag.FP16"),
    ({v: "model" for v in VERSIONS}, "TensorRT 8.6.1 still has BuilderFlag.FP16: the workbook builds FP16 from the FP32 "
                                     "model with the flag, and TensorRT may keep some layers in FP32; TensorRT 10.13.0"),
])
def test_02_3_mistakes(answer, message):
    with pytest.raises(NotYetRight, match=re.escape(message)):
        check("02.3", answer, versions=VERSIONS)


def test_02_3_refuses_a_version_it_cannot_read():
    from utils.errors import WorkbookError

    with pytest.raises(WorkbookError, match="'TRT 10' is not a TensorRT version"):
        check("02.3", {"TRT 10": "flag"}, versions=["TRT 10"])
