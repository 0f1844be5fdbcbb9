"""utils.exercises.lesson02: each check accepts the right answer and names each anticipated mistake.

02.1 builds with the installed TensorRT (TensorRT-RTX on a machine without a GPU, as in CI) and is skipped with the
reason where none can build. The others need no GPU or TensorRT: 02.2 compares build requests made by
`build_request` with a stand-in TensorRT, and an ONNX "file" there is only hashed, so any bytes will do."""

from __future__ import annotations

import re

import pytest

from utils.exercises import NotYetRight, check
from utils.exercises.lesson02 import REBUILD_CHANGES, REBUILD_CHANGES_DETAIL, changed_fields
from utils.gpu import current_gpu
from utils.tensorrt.api import tensorrt_or_none

# --- 02.1: two optimization profiles, built into one engine ---------------------------------------------------------

TWO_KINDS = {"interactive": [1, 1, 2, 1, 4, 1, 1, 3, 1], "bulk": [128, 64, 128, 256, 128, 96]}
needs_tensorrt = pytest.mark.skipif(tensorrt_or_none() is None, reason="needs TensorRT or TensorRT-RTX to build "
                                    "(pip install -r requirements.txt installs TensorRT-RTX)")


@pytest.fixture(scope="module")
def parsed(lite0_onnx):
    """A real builder and the parsed network of the default model, as notebook 02 makes them."""
    from utils.tensorrt.logger import shared_logger

    trt = tensorrt_or_none()
    if trt is None or (current_gpu() is None and not trt.is_rtx):
        pytest.skip("needs TensorRT-RTX on a machine without a GPU, or TensorRT on a GPU, to build")
    logger = shared_logger(trt).trt_logger
    builder = trt.module.Builder(logger)
    network = builder.create_network(trt.network_flags())
    parser = trt.module.OnnxParser(network, logger)
    assert parser.parse_from_file(str(lite0_onnx))
    return builder, network, parser


def _profiles(builder, *ranges):
    profiles = []
    for low, opt, high in ranges:
        profile = builder.create_optimization_profile()
        profile.set_shape("input", (low, 3, 224, 224), (opt, 3, 224, 224), (high, 3, 224, 224))
        profiles.append(profile)
    return profiles


@needs_tensorrt
def test_02_1_builds_the_engine_with_both_profiles_and_names_the_gap(parsed, capsys):
    builder, network, _ = parsed
    check("02.1", _profiles(builder, (1, 1, 4), (64, 128, 256)), requests=TWO_KINDS, builder=builder, network=network)
    out = capsys.readouterr().out
    assert "✓ 02.1 correct" in out and "built one engine with both profiles" in out
    assert "a batch from 5 to 63 fits neither" in out


@needs_tensorrt
@pytest.mark.parametrize("ranges, message", [
    ([(1, 1, 4)], "give `profiles` as a list of two optimization profiles"),
    ([(1, 1, 2), (64, 128, 256)], "profile 0 (interactive): a request of batch 4 would be refused: it is above MAX=2"),
    ([(1, 1, 4), (64, 64, 256)], "profile 1 (bulk): TensorRT tunes its kernels for OPT; batch 64 comes 1 time(s), batch 128 3"),
    ([(1, 1, 4), (1, 128, 256)], "profile 1 (bulk): every request fits, but (1, 128, 256) is wider than needed"),
    ([(64, 128, 256), (1, 1, 4)], "profile 0 (interactive): a request of batch 1 would be refused: it is below MIN=64"),
])
def test_02_1_mistakes(parsed, ranges, message):
    builder, network, _ = parsed
    with pytest.raises(NotYetRight, match=re.escape(message)):
        check("02.1", _profiles(builder, *ranges), requests=TWO_KINDS, builder=builder, network=network)


@needs_tensorrt
def test_02_1_a_profile_without_shapes_or_with_another_image_size_is_named(parsed):
    builder, network, _ = parsed
    empty = [builder.create_optimization_profile(), *_profiles(builder, (64, 128, 256))]
    with pytest.raises(NotYetRight, match=re.escape("profiles[0] has no shapes for input 'input'")):
        check("02.1", empty, requests=TWO_KINDS, builder=builder, network=network)
    small = builder.create_optimization_profile()
    small.set_shape("input", (1, 3, 112, 112), (1, 3, 112, 112), (4, 3, 112, 112))
    with pytest.raises(NotYetRight, match=re.escape("only the batch may vary, each image stays (3, 224, 224)")):
        check("02.1", [small, *_profiles(builder, (64, 128, 256))], requests=TWO_KINDS, builder=builder, network=network)
    with pytest.raises(NotYetRight, match="profiles\\[1\\] is a tuple, not an optimization profile"):
        check("02.1", [_profiles(builder, (1, 1, 4))[0], (64, 128, 256)], requests=TWO_KINDS, builder=builder, network=network)


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
