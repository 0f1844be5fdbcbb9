import os

import onnx
import pytest

from tests.onnx_io import io_summary
from utils.compare.stats import max_abs_difference
from utils.errors import WorkbookError
from utils.onnx import export as onnx_export
from utils.runtimes.onnxruntime import create_session


def onnxruntime_logits(onnx_path, batch):
    return create_session(onnx_path).run(None, {"input": batch})[0]


def torch_logits(model, batch):
    import torch

    with torch.inference_mode():
        return model(torch.from_numpy(batch)).numpy()


def test_export_has_a_dynamic_batch_axis_and_checked_shapes(lite0_onnx):
    summary = io_summary(onnx.load(str(lite0_onnx)))
    assert summary["inputs"] == [("input", "FLOAT", ["batch", 3, 224, 224])]
    assert summary["outputs"] == [("logits", "FLOAT", ["batch", 1000])]
    model = onnx.load(str(lite0_onnx))
    assert model.opset_import[0].version == onnx_export.DEFAULT_OPSET
    assert len(model.graph.value_info) > 50  # shape inference filled in the intermediate tensors


@pytest.mark.parametrize("batch_size", [1, 3])
def test_onnxruntime_matches_pytorch_at_any_batch(lite0_onnx, lite0_model, sample_dir, batch_size):
    from utils.images import load_batch
    from utils.models import get_model_spec

    paths = sorted(sample_dir.glob("*.jpg"))[:batch_size]
    batch = load_batch(paths, get_model_spec("efficientnet_lite0").preprocessing)
    ort_logits = onnxruntime_logits(lite0_onnx, batch)
    assert ort_logits.shape == (batch_size, 1000)
    assert max_abs_difference(ort_logits, torch_logits(lite0_model, batch)) < 1e-4


def test_the_same_export_again_leaves_the_file_and_its_time(tmp_path, lite0_model):
    """TorchScript's export of the same model is the same bytes: the file stays, so what was made from it (judged
    by time) stays current; a different export replaces it."""
    path = onnx_export.export_onnx(lite0_model, tmp_path / "model.onnx", (3, 224, 224))
    os.utime(path, (1_000_000, 1_000_000))
    onnx_export.export_onnx(lite0_model, path, (3, 224, 224))
    assert path.stat().st_mtime == 1_000_000
    onnx_export.export_onnx(lite0_model, path, (3, 224, 224), opset=18)
    assert path.stat().st_mtime > 1_000_000 and onnx.load(str(path)).opset_import[0].version == 18
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def test_failed_export_leaves_no_partial_file(tmp_path, lite0_model, monkeypatch):
    import torch

    def crashing_export(model, args, f, **kwargs):
        with open(f, "wb") as handle:
            handle.write(b"partial protobuf")
        raise RuntimeError("exporter crashed halfway")

    monkeypatch.setattr(torch.onnx, "export", crashing_export)
    with pytest.raises(RuntimeError, match="halfway"):
        onnx_export.export_onnx(lite0_model, tmp_path / "model.onnx", (3, 224, 224))
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_path_is_a_one_line_error(tmp_path, lite0_model):
    (tmp_path / "file").write_text("x")
    with pytest.raises(WorkbookError, match="cannot create output folder") as info:
        onnx_export.export_onnx(lite0_model, tmp_path / "file" / "model.onnx", (3, 224, 224))
    assert "\n" not in str(info.value)


def test_bad_opset_is_refused(tmp_path, lite0_model):
    with pytest.raises(WorkbookError, match="opset 7"):
        onnx_export.export_onnx(lite0_model, tmp_path / "m.onnx", (3, 224, 224), opset=7)
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("content", [b"", b"\x00garbage\xff" * 100])
def test_corrupt_or_missing_onnx_is_a_one_line_error(tmp_path, content):
    path = tmp_path / "model.onnx"
    path.write_bytes(content)
    with pytest.raises(WorkbookError) as info:
        onnx_export.load_onnx(path)
    assert "\n" not in str(info.value) and "model.onnx" in str(info.value)
    with pytest.raises(WorkbookError, match="does not exist"):
        onnx_export.load_onnx(tmp_path / "missing.onnx")


def test_truncated_onnx_is_refused(tmp_path, lite0_onnx):
    truncated = tmp_path / "cut.onnx"
    truncated.write_bytes(lite0_onnx.read_bytes()[: lite0_onnx.stat().st_size // 2])
    with pytest.raises(WorkbookError, match="not a valid ONNX model"):
        create_session(truncated)
