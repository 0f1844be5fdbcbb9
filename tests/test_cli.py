"""Errors users hit at the command line: one line on stderr, exit status 2, no partial files; a missing or unreadable
input is reported before anything about the environment."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from utils.cli import main
from utils.errors import WorkbookError


def test_export_writes_dynamic_batch_onnx(tmp_path, capsys):
    import onnx

    from tests.onnx_io import io_summary

    out = tmp_path / "lite0.onnx"
    assert main(["export", "--model", "efficientnet_lite0", "--out", str(out), "--opset", "17"]) == 0
    model = onnx.load(str(out))
    assert io_summary(model) == {"inputs": [("input", "FLOAT", ["batch", 3, 224, 224])],
                                 "outputs": [("logits", "FLOAT", ["batch", 1000])]}
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [17]
    assert capsys.readouterr().out == f"wrote {out} (efficientnet_lite0, opset 17, FP32, dynamic batch)\n"


def test_export_fp16_leaves_only_the_fp16_file(tmp_path):
    import onnx

    from tests.onnx_io import io_summary

    out = tmp_path / "lite0_fp16.onnx"
    assert main(["export", "--out", str(out), "--fp16"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lite0_fp16.onnx"]
    model = onnx.load(str(out))
    summary = io_summary(model)
    assert [t for _, t, _ in summary["inputs"] + summary["outputs"]] == ["FLOAT", "FLOAT"]  # FP32 at the edges
    weights = {onnx.TensorProto.DataType.Name(i.data_type) for i in model.graph.initializer if len(i.dims) > 1}
    assert weights == {"FLOAT16"}  # and FP16 inside


@pytest.mark.parametrize("argv, message", [
    (["export", "--model", "vgg16", "--out", "x.onnx"], "unknown model 'vgg16'"),
    (["build", "missing.onnx", "--out", "x.engine"], "does not exist"),
    (["build", "missing.onnx", "--out", "x.engine", "--batch", "8,4,2"], "MIN <= OPT <= MAX"),
    (["build", "missing.onnx", "--out", "x.engine", "--batch", "1,8"], "MIN,OPT,MAX"),
    (["diff", "nope-a.json", "nope-b.json"], "does not exist"),
    (["inspect", "missing.engine"], "does not exist"),
    (["classify", "missing.jpg", "--backend", "tensorrt"], "image missing.jpg does not exist"),
])
def test_one_line_errors(argv, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    completed = subprocess.run([sys.executable, "-m", "utils", *argv], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 2, completed.stderr
    assert message in completed.stderr
    assert completed.stderr.strip().count("\n") == 0, completed.stderr
    assert not (tmp_path / "x.onnx").exists() and not (tmp_path / "x.engine").exists()


def test_unwritable_export_path(tmp_path, capsys):
    (tmp_path / "blocker").write_text("")
    assert main(["export", "--out", str(tmp_path / "blocker" / "m.onnx")]) == 2
    assert "cannot create output folder" in capsys.readouterr().err


# --- a GPU machine without TensorRT: the file error wins ------------------------------------------------------------


@pytest.fixture()
def gpu_without_tensorrt(monkeypatch):
    """A machine with an NVIDIA GPU and no TensorRT (nor TensorRT-RTX), whatever this one has."""
    import utils.gpu
    from utils.tensorrt import api

    def no_tensorrt():
        raise WorkbookError(f"no TensorRT is installed here; {api.INSTALL_HINT}")

    no_tensorrt.cache_clear = lambda: None  # type: ignore[attr-defined]
    monkeypatch.setattr(api, "load_tensorrt", no_tensorrt)
    monkeypatch.setattr(api, "tensorrt_or_none", lambda: None)
    monkeypatch.setattr(utils.gpu, "current_gpu", lambda: utils.gpu.GpuInfo("NVIDIA H100 80GB HBM3", "9.0", 79.1))


def _one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1, captured.err
    return captured.err


def _garbage(path, content=b"not what the name says\n"):
    path.write_bytes(content)
    return str(path)


@pytest.mark.parametrize("argv, message", [
    (["build", "{tmp}/missing.onnx", "--out", "{tmp}/x.engine"], "ONNX file {tmp}/missing.onnx does not exist"),
    (["build", "{tmp}/garbage.onnx", "--out", "{tmp}/x.engine"], "{tmp}/garbage.onnx is not a valid ONNX model"),
    (["classify", "{tmp}/missing.jpg", "--backend", "tensorrt"], "image {tmp}/missing.jpg does not exist"),
    (["classify", "{tmp}/garbage.jpg", "--backend", "tensorrt"], "{tmp}/garbage.jpg cannot be read as an image"),
    (["classify", "{tmp}", "--backend", "tensorrt", "--precision", "fp16"], "{tmp} is a directory; give an image file"),
    (["inspect", "{tmp}/missing.engine"], "engine {tmp}/missing.engine does not exist"),
])
def test_without_tensorrt_the_input_file_error_comes_first(gpu_without_tensorrt, tmp_path, capsys, argv, message):
    _garbage(tmp_path / "garbage.onnx")
    _garbage(tmp_path / "garbage.jpg")
    before = sorted(tmp_path.iterdir())
    assert main([arg.format(tmp=tmp_path) for arg in argv]) == 2
    assert message.format(tmp=tmp_path) in _one_line_error(capsys)
    assert sorted(tmp_path.iterdir()) == before


def test_without_tensorrt_a_good_input_gets_the_tensorrt_error(gpu_without_tensorrt, tmp_path, capsys, lite0_onnx, sample_dir):
    """The simulation above is real: with readable inputs, the same commands do say that TensorRT is missing."""
    assert main(["build", str(lite0_onnx), "--out", str(tmp_path / "x.engine")]) == 2
    assert "no TensorRT is installed here" in _one_line_error(capsys)
    assert main(["classify", str(sample_dir / "chelsea.jpg"), "--backend", "tensorrt"]) == 2
    assert "tensorrt cannot run here" in _one_line_error(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# --- nothing half-written ----------------------------------------------------------------------------------------


@pytest.fixture()
def export_dies_half_way(monkeypatch):
    """torch.onnx.export writes part of its file, then fails (a crash, an exporter bug, or Ctrl-C)."""
    import torch.onnx

    def set_failure(exception):
        def export(model, args, f, *more, **options):
            with open(f, "wb") as handle:
                handle.write(b"\x08\x07half an ONNX protobuf")
            raise exception

        monkeypatch.setattr(torch.onnx, "export", export)

    return set_failure


@pytest.mark.parametrize("fp16", [False, True], ids=["fp32", "fp16"])
def test_export_that_fails_half_way_leaves_nothing(tmp_path, export_dies_half_way, fp16):
    export_dies_half_way(RuntimeError("exporter crashed"))
    with pytest.raises(RuntimeError, match="exporter crashed"):
        main(["export", "--out", str(tmp_path / "m.onnx"), *(["--fp16"] if fp16 else [])])
    assert sorted(tmp_path.iterdir()) == []


def test_export_interrupted_half_way_leaves_nothing(tmp_path, export_dies_half_way):
    export_dies_half_way(KeyboardInterrupt())
    assert main(["export", "--out", str(tmp_path / "m.onnx")]) == 130
    assert sorted(tmp_path.iterdir()) == []


def test_export_that_fails_half_way_keeps_the_previous_file(tmp_path, export_dies_half_way):
    out = tmp_path / "m.onnx"
    out.write_bytes(b"the previous export")
    export_dies_half_way(RuntimeError("exporter crashed"))
    with pytest.raises(RuntimeError):
        main(["export", "--out", str(out)])
    assert out.read_bytes() == b"the previous export" and sorted(tmp_path.iterdir()) == [out]


@pytest.fixture()
def saved_pair(tmp_path):
    from utils import compare

    rng = np.random.default_rng(0)
    reference = {"logits": rng.normal(size=(2, 10)).astype(np.float32)}
    target = {"logits": reference["logits"] + np.float32(1e-4)}
    return (compare.save_results(compare.results_from_arrays([reference], "onnxrt-runner"), tmp_path / "ref.json"),
            compare.save_results(compare.results_from_arrays([target], "trt-runner"), tmp_path / "tgt.json"))


def test_diff_to_an_unwritable_folder_writes_nothing(tmp_path, saved_pair, capsys):
    (tmp_path / "blocker").write_text("a file where the folder should be")
    before = sorted(tmp_path.rglob("*"))
    assert main(["diff", *map(str, saved_pair), "--out", str(tmp_path / "blocker" / "diff")]) == 2
    assert "cannot create output folder" in _one_line_error(capsys)
    assert sorted(tmp_path.rglob("*")) == before


def test_diff_writes_its_report_when_it_can(tmp_path, saved_pair, capsys):
    """The counterpart of the refusal above: the same inputs and a writable folder give stats.csv and figures."""
    out = tmp_path / "diff"
    assert main(["diff", *map(str, saved_pair), "--out", str(out)]) == 0
    assert (out / "stats.csv").read_text().count("\n") == 2  # header and one output
    assert sorted(p.suffix for p in out.iterdir()) == [".csv", ".png"]


def test_diff_of_missing_inputs_creates_no_output_folder(tmp_path, capsys):
    assert main(["diff", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--out", str(tmp_path / "out")]) == 2
    assert "does not exist" in _one_line_error(capsys)
    assert not (tmp_path / "out").exists()


# --- inspect: the engine report from the inspector's JSON (fixtures: tests/test_tensorrt_inspect.py says whence) ---

FIXTURES = Path(__file__).parent / "fixtures"
MNIST_FP32 = str(FIXTURES / "cookbook_mnist_fp32_trtexec_10.16.json")
MNIST_FP16 = str(FIXTURES / "cookbook_mnist_fp16_inspector_10.16.json")


def test_inspect_json_file_report(capsys):
    assert main(["inspect", "--json-file", MNIST_FP16, "--report"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.split()[:2] == ["7", "node_linear_myl5_2"]]
    assert len(rows) == 1 and rows[0].rstrip().endswith("node_linear, node_relu_2") and " FP16 " in rows[0]
    assert any(line.split()[:2] == ["2", "Reformatting"] and " reformat " in line for line in out.splitlines())
    assert f"{MNIST_FP16}: 26 layers (22 compute, 2 reformat, 2 no-op); I/O tensors x, y, z" in out
    assert "compute layers per precision (the narrowest each reads or writes): FP32 4, FP16 16, INT32 2" in out


def test_inspect_json_file_diff_expect_and_figure(tmp_path, capsys):
    figure = tmp_path / "precision.png"
    assert main(["inspect", "--json-file", MNIST_FP32, "--diff", MNIST_FP16, "--figure", str(figure), "--expect", "fp16"]) == 1
    out = capsys.readouterr().out
    assert f"wrote {figure}" in out and figure.read_bytes().startswith(b"\x89PNG")
    assert "precision changed (8):" in out and f"only in {MNIST_FP16} (1): node_view" in out
    assert "11 ONNX nodes in both engines: 8 changed precision (FP32 -> FP16: 8), 3 unchanged" in out
    assert f"8 of 8 compute layers of {MNIST_FP32} did not run in FP16:" in out and "none ran in FP16" in out
    assert "node_linear" not in out.split("precision changed")[0]  # no table unless --report


def test_inspect_expect_passes_when_every_compute_layer_ran_in_it(capsys):
    fp16_resnet = str(FIXTURES / "trex_resnet18_a100_fp16_excerpt.graph.json")
    assert main(["inspect", "--json-file", fp16_resnet, "--expect", "FP16"]) == 0
    assert capsys.readouterr().out == f"all 4 compute layers of {fp16_resnet} ran in FP16\n"


def test_inspect_json_file_without_options_prints_the_layer_table(capsys):
    assert main(["inspect", "--json-file", MNIST_FP32]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["#", "layer", "type", "kind", "in", "out", "output", "format", "tactic", "ONNX", "nodes"]
    assert len(lines) == 10 and lines[1].split()[:4] == ["0", "node_conv2d", "+", "node_relu"]


@pytest.mark.parametrize("argv, message", [
    (["inspect"], "give an ENGINE or --json-file FILE"),
    (["inspect", "x.engine", "--json-file", MNIST_FP32], "give an ENGINE or --json-file FILE"),
    (["inspect", "--json-file", "{tmp}/broken.json", "--report"], "{tmp}/broken.json is not JSON"),
    (["inspect", "--json-file", "{tmp}/other.json", "--report"], "{tmp}/other.json is JSON but not the engine inspector's"),
    (["inspect", "--json-file", "{tmp}/missing.json"], "JSON file {tmp}/missing.json does not exist"),
    (["inspect", "--json-file", MNIST_FP32, "--diff", "{tmp}/notes.txt"], "{tmp}/notes.txt is neither an engine nor"),
    (["inspect", "--json-file", MNIST_FP32, "--diff", "{tmp}/missing.engine"], "{tmp}/missing.engine does not exist"),
    (["inspect", "--json-file", MNIST_FP32, "--expect", "fp12"], "unknown precision 'fp12'"),
    (["inspect", "--json-file", MNIST_FP32, "--figure", "{tmp}/precision.svg"], "name it with .png"),
    (["inspect", "--json-file", "{tmp}/names.json", "--diff", MNIST_FP16], "has only layer names"),
    (["inspect", "--json-file", MNIST_FP16, "--figure", "{tmp}/precision.png", "--diff", "{tmp}/names.json"],
     "{tmp}/names.json has only layer names"),
])
def test_inspect_report_errors_are_one_line(tmp_path, capsys, argv, message):
    (tmp_path / "broken.json").write_text('{"Layers": [{"Name": ')
    (tmp_path / "other.json").write_text('{"results": []}')
    (tmp_path / "notes.txt").write_text("Layer(CaskConvolution): conv\n")
    (tmp_path / "names.json").write_text('{"Layers": ["Conv_0 + Relu_1"], "Bindings": ["input"]}')
    assert main([arg.format(tmp=tmp_path) for arg in argv]) == 2
    assert message.format(tmp=tmp_path) in _one_line_error(capsys)
    assert not (tmp_path / "precision.svg").exists() and not (tmp_path / "precision.png").exists()
