import urllib.error

import pytest

from utils import models
from utils.errors import WorkbookError


def test_unknown_model_is_a_one_line_error_listing_choices():
    with pytest.raises(WorkbookError, match="unknown model 'resnet5'.*efficientnet_lite0, resnet50") as info:
        models.get_model_spec("resnet5")
    assert "\n" not in str(info.value)


def test_model_selection_order(monkeypatch):
    assert models.selected_model_name() == models.DEFAULT_MODEL
    monkeypatch.setenv(models.MODEL_ENV_VAR, "resnet50")
    assert models.selected_model_name() == "resnet50"
    assert models.selected_model_name("efficientnet_lite0") == "efficientnet_lite0"
    monkeypatch.setenv(models.MODEL_ENV_VAR, "vgg")
    with pytest.raises(WorkbookError, match="unknown model 'vgg'"):
        models.selected_model_name()


def test_lite0_weights_are_the_real_imagenet_weights(lite0_model, sample_batch):
    """Random or mis-mapped weights would not recognise the cat and the espresso."""
    from utils.classify import top_k
    from utils.runtimes.pytorch import PyTorchCpu

    cat, coffee = top_k(PyTorchCpu("efficientnet_lite0", model=lite0_model).infer(sample_batch), k=3)
    assert cat[0].name in {"tiger cat", "tabby", "Egyptian cat"}
    assert coffee[0].name == "espresso"


def test_resnet50_without_weights_says_how_to_get_them(monkeypatch, tmp_path):
    import torch.hub

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(WorkbookError) as info:
        models.load_model("resnet50")
    message = str(info.value)
    assert "\n" not in message
    assert "resnet50-11ad3fa6.pth" in message and "TORCH_HOME" in message and "efficientnet_lite0" in message


def test_resnet50_loads_from_the_torch_home_cache(monkeypatch, tmp_path):
    import torch
    import torchvision

    checkpoint_dir = tmp_path / "hub" / "checkpoints"
    checkpoint_dir.mkdir(parents=True)
    torch.manual_seed(1)
    reference = torchvision.models.resnet50(weights=None).state_dict()
    torch.save(reference, checkpoint_dir / "resnet50-11ad3fa6.pth")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    model = models.load_model("resnet50")
    assert not model.training
    assert torch.equal(model.state_dict()["fc.weight"], reference["fc.weight"])
