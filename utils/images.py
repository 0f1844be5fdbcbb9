"""Images a learner brings, turned into the batch a model expects.

`load_image` accepts any photo PIL can open (JPEG with EXIF orientation, PNG with alpha, grayscale, palette,
16-bit) and returns 8-bit RGB. `preprocess` applies a model's resize, centre crop and normalisation.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from utils.errors import WorkbookError

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    from utils.models import Preprocessing

# Photos bundled with scikit-image, so the workbook needs no download.
SAMPLE_IMAGES = ("chelsea", "coffee", "astronaut", "rocket")


def _flatten_alpha(image: Image.Image) -> Image.Image:
    from PIL import Image

    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _to_8bit(image: Image.Image) -> Image.Image:
    """16- and 32-bit integer grayscale ("I;16", "I") scaled to 8-bit grayscale by the type's full range."""
    import numpy as np
    from PIL import Image

    values = np.asarray(image)
    full_scale = 65535.0 if values.dtype.itemsize <= 2 or values.max() <= 65535 else float(values.max())
    return Image.fromarray(np.clip(values / full_scale * 255.0 + 0.5, 0, 255).astype(np.uint8), mode="L")


def load_image(path: str | os.PathLike[str]) -> Image.Image:
    """Open an image file as upright 8-bit RGB, or fail with a one-line error."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise WorkbookError(f"image {path} does not exist; check the path")
    try:
        with Image.open(path) as opened:
            opened.load()
            image = ImageOps.exif_transpose(opened)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        reason = "not an image PIL can read" if isinstance(exc, UnidentifiedImageError) else str(exc)
        raise WorkbookError(f"{path} cannot be read as an image ({reason}); give a JPEG, PNG, BMP, TIFF or WebP file") from None

    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        image = _to_8bit(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        return _flatten_alpha(image)
    return image.convert("RGB")


def preprocess(image: Image.Image, preprocessing: Preprocessing) -> np.ndarray:
    """One image as a float32 CHW array: resize the short side, centre-crop, scale to [0, 1], normalise."""
    import numpy as np
    import torch
    from torchvision.transforms import v2 as transforms

    interpolation = {
        "bilinear": transforms.InterpolationMode.BILINEAR,
        "bicubic": transforms.InterpolationMode.BICUBIC,
    }[preprocessing.interpolation]
    pipeline = transforms.Compose([
        transforms.PILToTensor(),
        transforms.Resize(preprocessing.resize, interpolation=interpolation, antialias=True),
        transforms.CenterCrop(preprocessing.crop),
        transforms.ToDtype(torch.float32, scale=True),
        transforms.Normalize(mean=list(preprocessing.mean), std=list(preprocessing.std)),
    ])
    return np.ascontiguousarray(pipeline(image).numpy(), dtype=np.float32)


def load_batch(paths: Sequence[str | os.PathLike[str]], preprocessing: Preprocessing) -> np.ndarray:
    """Several image files as one float32 NCHW batch."""
    import numpy as np

    if not paths:
        raise WorkbookError("no images given; pass at least one image file")
    return np.stack([preprocess(load_image(path), preprocessing) for path in paths])


def sample_image(name: str) -> Image.Image:
    """A photo bundled with scikit-image, as RGB."""
    from PIL import Image
    from skimage import data

    if name not in SAMPLE_IMAGES:
        raise WorkbookError(f"unknown sample image {name!r}; choose one of: {', '.join(SAMPLE_IMAGES)}")
    return Image.fromarray(getattr(data, name)()).convert("RGB")


def write_sample_images(directory: str | os.PathLike[str]) -> list[Path]:
    """Save scikit-image's sample photos as JPEG files in `directory` and return their paths."""
    from utils.files import atomic_path, ensure_writable_dir

    directory = Path(directory)
    ensure_writable_dir(directory)
    paths = []
    for name in SAMPLE_IMAGES:
        path = directory / f"{name}.jpg"
        if not path.exists():
            with atomic_path(path) as tmp:
                sample_image(name).save(tmp, format="JPEG", quality=95)
        paths.append(path)
    return paths
