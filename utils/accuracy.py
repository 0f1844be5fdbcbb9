"""Accuracy on labelled images: top-1 and top-5 against the true classes, for each precision, through any runtime.

The folder holds one sub-folder per class, named by the class's WordNet id (`n02123045/tabby.jpg`): ImageNet's
layout as torchvision's `ImageFolder` reads it. ImageNet's validation set comes as 50,000 files in one folder;
sorted into class folders (the PyTorch ImageNet example's `valprep.sh` does it) it is such a folder, and so is a
folder of one's own photos. Each image is read and preprocessed exactly as `classify` does, so an accuracy here is
what counting `classify` results by hand gives. Files whose suffix is not an image's are left out, as ImageFolder
does; an image that cannot be read stops the run with its name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from utils.calibration import IMAGE_SUFFIXES
from utils.errors import WorkbookError

if TYPE_CHECKING:
    import numpy as np

LAYOUT_HINT = "one sub-folder per class named by its WordNet id, e.g. n02123045/tabby.jpg (ImageNet's layout)"


@dataclass(frozen=True)
class Accuracy:
    precision: str
    backend: str
    images: int
    top1: float  # share of images whose true class is the most probable
    top5: float  # share whose true class is among the five most probable


def labelled_images(folder: str | os.PathLike[str]) -> list[tuple[Path, int]]:
    """(image file, ImageNet class id) for every image of `folder`'s class sub-folders, in sorted order; a
    one-line error for a folder that is missing, has no class folders, an unknown class name or an empty class."""
    from utils.labels import lookup

    folder = Path(folder)
    if not folder.is_dir():
        raise WorkbookError(f"{folder} is {'a file' if folder.exists() else 'missing'}; give a folder with {LAYOUT_HINT}")
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise WorkbookError(f"{folder} has no class folders; put the images in {LAYOUT_HINT}")
    images = []
    for directory in classes:
        try:
            class_id = lookup(directory.name).class_id if re.fullmatch(r"n\d{8}", directory.name) else None
        except WorkbookError:
            class_id = None
        if class_id is None:
            raise WorkbookError(f"{directory} is not named by an ImageNet WordNet id; name each class folder by its id "
                                f"(n01440764 is tench, n02123045 tabby: timm's imagenet_synsets.txt lists all 1000)")
        files = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise WorkbookError(f"class folder {directory} has no images ({', '.join(IMAGE_SUFFIXES)})")
        images += [(path, class_id) for path in files]
    return images


def _batches(images: Sequence[tuple[Path, int]], size: int) -> Iterator[Sequence[tuple[Path, int]]]:
    for start in range(0, len(images), size):
        yield images[start:start + size]


def evaluate(folder: str | os.PathLike[str], model_name: str, backend: str = "onnxruntime-cpu",
             precisions: Sequence[str] = ("fp32",), *, batch: int = 32, progress: bool = False) -> list[Accuracy]:
    """Top-1 and top-5 accuracy of `model_name` on `folder`'s labelled images (see the module docstring), for each
    of `precisions` on `backend`. The images are listed and checked before any model is loaded, and each batch is
    read once for every precision."""
    import numpy as np
    from tqdm.auto import tqdm

    from utils.images import load_batch
    from utils.models import get_model_spec
    from utils.runtimes import open_runtime, runtime_class

    images = labelled_images(folder)
    cls = runtime_class(backend)
    unknown = [precision for precision in precisions if precision not in cls.precisions]
    if unknown or not precisions:
        raise WorkbookError(f"{backend} runs {', '.join(cls.precisions)}, not {', '.join(unknown) or 'nothing'}; "
                            "choose --precision from those")
    preprocessing = get_model_spec(model_name).preprocessing
    runtimes = [open_runtime(backend, model_name, precision, max_batch=batch) for precision in precisions]
    hits = np.zeros((len(precisions), 2), dtype=np.int64)
    try:
        with tqdm(total=len(images), desc=f"evaluating {model_name}", unit="image", disable=not progress) as bar:
            for chunk in _batches(images, batch):
                inputs = load_batch([path for path, _ in chunk], preprocessing)
                truth = np.array([class_id for _, class_id in chunk])
                for index, runtime in enumerate(runtimes):
                    hits[index] += _hits(runtime.infer(inputs), truth)
                bar.update(len(chunk))
    finally:
        for runtime in runtimes:
            runtime.close()
    return [Accuracy(precision, backend, len(images), float(top1 / len(images)), float(top5 / len(images)))
            for precision, (top1, top5) in zip(precisions, hits)]


def _hits(logits: np.ndarray, truth: np.ndarray) -> tuple[int, int]:
    """How many rows have the true class first, and among the first five (the order `classify.top_k` gives)."""
    import numpy as np

    order = np.argsort(-logits.astype(np.float64), axis=1, kind="stable")[:, :5]
    return int(np.sum(order[:, 0] == truth)), int(np.sum(np.any(order == truth[:, None], axis=1)))
