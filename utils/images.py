"""Images a learner brings, turned into the batch a model expects.

`load_image` accepts any photo PIL can open (JPEG with EXIF orientation, PNG with alpha, grayscale, palette,
16-bit) and returns 8-bit RGB. `preprocess` applies a model's resize, centre crop and normalisation.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from utils.errors import WorkbookError, one_of

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


class _DecoderMessages(logging.Handler):
    """What PIL logs while decoding (a corrupt TIFF tag, for example), kept instead of printed."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            self.lines.append(record.getMessage())


@contextlib.contextmanager
def _decoder_output() -> Iterator[list[str]]:
    """Silence what decoders print about a damaged file, and collect it: Python warnings (TIFF metadata, a
    decompression-bomb warning), PIL's log records, and what C libraries such as libtiff write straight to file
    descriptor 2 ("ZIPDecode: Decoding error ..."). The caller either succeeds or raises one `WorkbookError`,
    so nothing else may reach the terminal. The yielded list is filled when the block ends."""
    collected: list[str] = []
    handler = _DecoderMessages()
    pil_logger = logging.getLogger("PIL")
    pil_logger.addHandler(handler)  # a handler on the way up keeps logging's last-resort printer quiet
    native, saved_fd = None, None
    try:
        if sys.stderr is not None:
            sys.stderr.flush()
        native = tempfile.TemporaryFile()
        saved_fd = os.dup(2)
        os.dup2(native.fileno(), 2)
    except (OSError, ValueError):  # no usable file descriptor 2 (an embedded interpreter): leave it alone
        if saved_fd is not None:
            os.close(saved_fd)
        if native is not None:
            native.close()
        native, saved_fd = None, None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                yield collected
            finally:  # PIL's own warnings only: a DeprecationWarning from some import says nothing about the file
                collected.extend(str(w.message).strip() for w in caught if "PIL" in Path(w.filename).parts)
    finally:
        if saved_fd is not None:
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
        if native is not None:
            native.seek(0)
            collected[:0] = [line.strip() for line in native.read().decode(errors="replace").splitlines()]
            native.close()
        pil_logger.removeHandler(handler)
        collected[:0] = handler.lines
        collected[:] = [line for line in collected if line]


def _check_is_a_file(path: Path) -> None:
    if path.is_dir():
        raise WorkbookError(f"{path} is a directory; give an image file")
    if not path.exists():
        raise WorkbookError(f"image {path} does not exist; check the path")
    if not path.is_file():  # a FIFO or device would block or stream forever
        raise WorkbookError(f"{path} is not a regular file; give an image file")


def _decode_failure(path: Path, exc: Exception, messages: list[str]) -> WorkbookError:
    """The one-line error for anything a decoder raised on `path`."""
    from PIL import Image, UnidentifiedImageError

    what_to_do = "give a JPEG, PNG, BMP, TIFF or WebP file"
    if isinstance(exc, PermissionError):
        return WorkbookError(f"{path} cannot be read (permission denied); check its permissions or copy it somewhere readable")
    if isinstance(exc, Image.DecompressionBombError):
        sizes = re.findall(r"\((\d+) pixels\)|of (\d+) pixels", str(exc))
        claimed = sizes[0][0] if sizes and sizes[0][0] else "too many"
        return WorkbookError(f"{path} claims {claimed} pixels, more than PIL decodes safely ({2 * (Image.MAX_IMAGE_PIXELS or 0)}): "
                             f"a damaged file or a decompression bomb; give a smaller image")
    if isinstance(exc, MemoryError):
        return WorkbookError(f"{path} needs more memory to decode than is available; give a smaller image")
    if isinstance(exc, UnidentifiedImageError):
        reason = "not an image PIL can read"
    else:
        text = " ".join(str(exc).split())
        plain = isinstance(exc, (OSError, SyntaxError, ValueError))  # PIL's usual types: the message says it all
        reason = text if text and plain else f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    # libtiff names the file it decodes "tempfile.tif" whatever it is called
    detail = next((" ".join(line.removeprefix("tempfile.tif:").split()) for line in messages if line.strip()), None)
    if detail and detail not in reason:
        reason = f"{reason}; {detail}"
    if len(reason) > 200:
        reason = reason[:197] + "..."
    return WorkbookError(f"{path} cannot be read as an image ({reason}); {what_to_do}")


def load_image(path: str | os.PathLike[str]) -> Image.Image:
    """Open an image file as upright 8-bit RGB, or fail with a one-line error.

    Whatever a decoder raises on a damaged or hostile file (truncated data, a corrupt TIFF tag, a header that
    claims 100000 x 100000 pixels, ...) becomes a `WorkbookError` that names the file; only KeyboardInterrupt
    and SystemExit pass through.
    """
    from PIL import Image, ImageOps

    path = Path(path)
    _check_is_a_file(path)
    messages: list[str] = []
    try:
        with _decoder_output() as messages, Image.open(path) as opened:
            opened.load()
            image = ImageOps.exif_transpose(opened)
            if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
                image = _to_8bit(image)
            if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
                return _flatten_alpha(image)
            return image.convert("RGB")
    except Exception as exc:  # PIL raises a dozen types on damaged files; each one means "unreadable"
        raise _decode_failure(path, exc, messages) from None


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

    one_of(name, SAMPLE_IMAGES, "sample image")
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
