"""Shared fixtures: the offline default model, its ONNX export and the sample photos, made once per session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_build_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing a test writes lands in the project's build/ folder."""
    monkeypatch.setenv("WORKBOOK_BUILD_DIR", str(tmp_path_factory.getbasetemp() / "build"))
    monkeypatch.delenv("WORKBOOK_MODEL", raising=False)
    monkeypatch.delenv("WORKBOOK_TENSORRT", raising=False)


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from utils.images import write_sample_images

    directory = tmp_path_factory.mktemp("samples")
    write_sample_images(directory)
    return directory


@pytest.fixture(scope="session")
def lite0_model():
    from utils.models import load_model

    return load_model("efficientnet_lite0")


@pytest.fixture(scope="session")
def lite0_onnx(tmp_path_factory: pytest.TempPathFactory, lite0_model) -> Path:
    from utils.models import get_model_spec
    from utils.onnx.export import export_onnx

    path = tmp_path_factory.mktemp("onnx") / "efficientnet_lite0.onnx"
    return export_onnx(lite0_model, path, get_model_spec("efficientnet_lite0").input_shape)


@pytest.fixture(scope="session")
def lite0_fp16_onnx(lite0_onnx: Path) -> Path:
    from utils.onnx.precision import convert_to_fp16

    return convert_to_fp16(lite0_onnx, lite0_onnx.with_name("efficientnet_lite0_fp16.onnx"))


@pytest.fixture(scope="session")
def resnet50_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ResNet-50's architecture with random weights: what an engine build depends on is the graph, not the values."""
    import torch
    import torchvision

    from utils.onnx.export import export_onnx

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("onnx") / "resnet50_random.onnx"
    return export_onnx(torchvision.models.resnet50(weights=None).eval(), path, (3, 224, 224))


@pytest.fixture(scope="session")
def sample_batch(sample_dir: Path):
    from utils.images import load_batch
    from utils.models import get_model_spec

    paths = [sample_dir / "chelsea.jpg", sample_dir / "coffee.jpg"]
    return load_batch(paths, get_model_spec("efficientnet_lite0").preprocessing)
