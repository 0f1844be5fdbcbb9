"""Calibration and evaluation inputs for reduced precision, built offline and reproducibly, or loaded from the user.

The workbook's own sets come from photos that ship with its packages (scikit-image, and matplotlib's
`grace_hopper.jpg`), augmented with torchvision and then passed through the model's own preprocessing
(`images.preprocess`):

* `evaluation_inputs` draws from `EVALUATION_PHOTOS`, the natural photos of ImageNet subjects the packages carry (a
  cat, an espresso, a rocket, a motorcycle seen from two sides, Grace Hopper in uniform), mildly augmented (crops of
  at least half the picture, flips, slight colour changes), so each input still shows its subject.
* `calibration_inputs` draws from `CALIBRATION_PHOTOS`, every other bundled picture (the astronaut, the cameraman,
  textures, microscopy, astronomy, a page of text), strongly augmented. Natural photos are scarce offline, and the
  evaluation gets them; max calibration on these pictures measured within 0.1 dB of calibration on the evaluation
  photos themselves (notebook 06 shows it).
* The two sets share no source picture, so a quantized model is judged on pictures its calibration never saw.
* The same model, count and seed give bit-identical arrays on any machine (the augmentation runs on a private
  copy of torch's CPU generator; the global one is left untouched), and a smaller count is a prefix of a larger one.

`load_calibration` reads what a user brings: an `.npz` file (arrays keyed by the model's input name, first axis =
samples) or a folder of images (each preprocessed as the model expects).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from utils.errors import WorkbookError, one_of

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

CALIBRATION_COUNT = 256
EVALUATION_COUNT = 96
# Natural photos of ImageNet subjects, no download: scikit-image's and matplotlib's sample data.
EVALUATION_PHOTOS = ("chelsea", "coffee", "rocket", "motorcycle_left", "motorcycle_right", "grace_hopper")
# scikit-image's other bundled pictures (the astronaut is no ImageNet class); grey ones are used as RGB.
CALIBRATION_PHOTOS = ("astronaut", "camera", "hubble_deep_field", "immunohistochemistry", "retina", "brick", "grass",
                      "gravel", "clock", "coins", "moon", "cell", "page")
# (smallest crop as a share of the picture, colour jitter): calibration varies a lot, evaluation keeps its subject.
CALIBRATION_AUGMENTATION = (0.25, 0.3)
EVALUATION_AUGMENTATION = (0.5, 0.1)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
# The exported models' one input (utils.onnx.export.INPUT_NAME; that layer is not imported from here).
INPUT_NAME = "input"


def source_photo(name: str) -> Image.Image:
    """One of `CALIBRATION_PHOTOS` or `EVALUATION_PHOTOS`, as RGB."""
    import numpy as np
    from PIL import Image
    from skimage import data

    one_of(name, EVALUATION_PHOTOS + CALIBRATION_PHOTOS, "source photo")
    if name == "grace_hopper":
        import matplotlib.cbook

        with Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")) as photo:
            return photo.convert("RGB")
    if name in ("motorcycle_left", "motorcycle_right"):
        pixels = data.stereo_motorcycle()[0 if name.endswith("left") else 1]
    else:
        pixels = getattr(data, name)()
    return Image.fromarray(np.asarray(pixels, dtype=np.uint8)).convert("RGB")


def _augmented(photos: tuple[str, ...], model_name: str, count: int, seed: int,
               augmentation: tuple[float, float]) -> np.ndarray:
    """`count` preprocessed samples; sample i comes from photo i mod len(photos), randomly cropped (at least
    `augmentation[0]` of the picture), flipped, colour-jittered by `augmentation[1]`."""
    import numpy as np
    import torch
    from torchvision.transforms import v2 as transforms

    from utils.images import preprocess
    from utils.models import get_model_spec

    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise WorkbookError(f"count must be a positive number of samples, not {count!r}")
    preprocessing = get_model_spec(model_name).preprocessing
    smallest_crop, jitter = augmentation
    augment = transforms.Compose([
        transforms.RandomResizedCrop(preprocessing.resize, scale=(smallest_crop, 1.0), antialias=True),
        transforms.RandomHorizontalFlip(),
        transforms.ColorJitter(brightness=jitter, contrast=jitter, saturation=jitter, hue=jitter / 6),
    ])
    images = [source_photo(name) for name in photos]
    samples = np.empty((count, *get_model_spec(model_name).input_shape), dtype=np.float32)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for index in range(count):
            samples[index] = preprocess(augment(images[index % len(images)]), preprocessing)
    return samples


def calibration_inputs(model_name: str, count: int = CALIBRATION_COUNT, seed: int = 0) -> np.ndarray:
    """The workbook's calibration set for `model_name`: float32 [count, 3, H, W] from `CALIBRATION_PHOTOS`."""
    return _augmented(CALIBRATION_PHOTOS, model_name, count, seed, CALIBRATION_AUGMENTATION)


def evaluation_inputs(model_name: str, count: int = EVALUATION_COUNT, seed: int = 0) -> np.ndarray:
    """Held-out inputs: float32 [count, 3, H, W] from `EVALUATION_PHOTOS`, which calibration never uses."""
    return _augmented(EVALUATION_PHOTOS, model_name, count, seed, EVALUATION_AUGMENTATION)


def save_inputs(destination: str | os.PathLike[str], inputs: np.ndarray, recipe: str | None = None) -> Path:
    """Write inputs as an `.npz` file keyed by the model's input name (the form `load_calibration` reads), atomically;
    `recipe`, if given, is stored beside them as "recipe" (how the workbook made them)."""
    import numpy as np

    from utils.files import atomic_path

    destination = Path(destination)
    arrays = {INPUT_NAME: np.ascontiguousarray(inputs, dtype=np.float32)}
    if recipe is not None:
        arrays["recipe"] = np.array(recipe)
    with atomic_path(destination) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)
    return destination


def _recipe(kind: str) -> str:
    """What the workbook's default set of `kind` is made from, stored with it so a cache made otherwise is rebuilt."""
    photos, augmentation, count = ((CALIBRATION_PHOTOS, CALIBRATION_AUGMENTATION, CALIBRATION_COUNT)
                                   if kind == "calibration" else (EVALUATION_PHOTOS, EVALUATION_AUGMENTATION, EVALUATION_COUNT))
    return f"{kind}: {count} samples from {', '.join(photos)}; crops >= {augmentation[0]}, jitter {augmentation[1]}; seed 0"


def _stored_recipe(path: Path) -> str | None:
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as archive:
            return str(archive["recipe"]) if "recipe" in archive.files else None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None


def cached_inputs(path: str | os.PathLike[str], model_name: str, kind: str = "calibration") -> np.ndarray:
    """The workbook's default calibration or evaluation set, read from `path` or built and written there first.

    `path` is named by `utils.artifacts` (`calibration_path` / `evaluation_path`); a file that is unreadable, has
    the wrong shape for the model, or was made from another recipe (other photos, count or augmentation) is rebuilt.
    """
    builders = {"calibration": calibration_inputs, "evaluation": evaluation_inputs}
    if kind not in builders:
        raise WorkbookError(f"unknown input set {kind!r}; choose calibration or evaluation")
    path = Path(path)
    if path.is_file() and _stored_recipe(path) == _recipe(kind):
        try:
            return load_calibration(path, model_name)
        except WorkbookError:
            pass  # a damaged cache is rebuilt below
    inputs = builders[kind](model_name)
    save_inputs(path, inputs, _recipe(kind))
    return inputs


# --- what a user brings ----------------------------------------------------------------------------------------


def load_calibration(source: str | os.PathLike[str], model_name: str) -> np.ndarray:
    """A user's calibration data for `model_name` as float32 [N, 3, H, W], from an `.npz` file or a folder of images.

    An `.npz` file holds one array named after the model's input (`input`), already preprocessed, first axis =
    samples. A folder's image files (not its sub-folders) are each preprocessed with the model's own preprocessing;
    files that cannot be read as images are skipped. Anything unusable is one `WorkbookError`.
    """
    from utils.models import get_model_spec

    spec = get_model_spec(model_name)
    source = Path(source)
    if not source.exists():
        raise WorkbookError(f"calibration data {source} does not exist; give a folder of images or an .npz file")
    if source.is_dir():
        return _load_image_folder(source, model_name)
    if source.suffix.lower() != ".npz":
        raise WorkbookError(f"calibration data {source} is neither a folder nor an .npz file; give a folder of images "
                            f"or an .npz file with an array named {INPUT_NAME!r}")
    return _load_npz(source, spec.input_shape)


def _load_npz(path: Path, input_shape: tuple[int, int, int]) -> np.ndarray:
    import numpy as np

    expected = f"[N, {', '.join(map(str, input_shape))}]"
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.files)
            if INPUT_NAME not in names:
                found = ", ".join(repr(n) for n in names) or "no arrays"
                raise WorkbookError(f"{path} has {found}; the model's input is named {INPUT_NAME!r}: save the array as "
                                    f"np.savez(path, {INPUT_NAME}=batch)")
            array = archive[INPUT_NAME]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise WorkbookError(f"{path} cannot be read as an .npz file ({reason[:150]}); write it with numpy.savez") from None
    if array.ndim != 4 or tuple(array.shape[1:]) != input_shape or array.shape[0] < 1:
        raise WorkbookError(f"{path}: {INPUT_NAME!r} has shape {list(array.shape)}; the model needs {expected} "
                            "(samples first, preprocessed as the model expects)")
    if not np.issubdtype(array.dtype, np.floating):
        raise WorkbookError(f"{path}: {INPUT_NAME!r} is {array.dtype}; the model needs preprocessed float32 values, "
                            "not raw pixels (or give a folder of images instead)")
    if not np.all(np.isfinite(array)):
        raise WorkbookError(f"{path}: {INPUT_NAME!r} contains NaN or infinite values; calibration needs finite inputs")
    return np.ascontiguousarray(array, dtype=np.float32)


def _load_image_folder(folder: Path, model_name: str) -> np.ndarray:
    import numpy as np

    from utils.images import load_image, preprocess
    from utils.models import get_model_spec

    preprocessing = get_model_spec(model_name).preprocessing
    try:
        files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    except PermissionError:
        raise WorkbookError(f"calibration folder {folder} cannot be read (permission denied); check its permissions") from None
    if not files:
        raise WorkbookError(f"calibration folder {folder} is empty; put some photos like the ones the model will see in it")
    samples, first_problem = [], None
    for path in files:
        try:
            samples.append(preprocess(load_image(path), preprocessing))
        except WorkbookError as exc:
            first_problem = first_problem or str(exc).split("; give ")[0]  # its advice is repeated below
    if not samples:
        raise WorkbookError(f"calibration folder {folder} has no readable images ({len(files)} files; first: "
                            f"{first_problem}); give JPEG, PNG, BMP, TIFF or WebP photos")
    return np.stack(samples)
