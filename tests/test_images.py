"""A learner's own photos come in many forms; each must classify like the plain RGB original."""

import numpy as np
import pytest
from PIL import Image

from utils import images
from utils.classify import top_k
from utils.errors import WorkbookError
from utils.models import get_model_spec
from utils.runtimes.pytorch import PyTorchCpu

PREPROCESSING = get_model_spec("efficientnet_lite0").preprocessing


@pytest.fixture(scope="module")
def chelsea():
    return images.sample_image("chelsea")


def _top1(model, path):
    return top_k(PyTorchCpu("efficientnet_lite0", model=model).infer(images.load_batch([path], PREPROCESSING)), k=1)[0][0].name


def _save_variants(original: Image.Image, directory):
    rgba = original.convert("RGBA")
    rgba.putalpha(255)  # fully opaque alpha: the flattened picture must equal the original
    variants = {
        "grayscale.png": original.convert("L"),
        "alpha.png": rgba,
        "palette.png": original.convert("P", palette=Image.Palette.ADAPTIVE, colors=256),
        "gray16.png": Image.fromarray(np.asarray(original.convert("L"), dtype=np.uint16) * 257),
    }
    paths = {}
    for name, image in variants.items():
        path = directory / name
        image.save(path)
        paths[name] = path
    # A JPEG stored sideways with EXIF orientation 6 ("rotate 90° clockwise to display").
    rotated = original.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated.save(directory / "exif_rotated.jpg", exif=exif, quality=95)
    paths["exif_rotated.jpg"] = directory / "exif_rotated.jpg"
    return paths


def test_image_variants_classify_like_the_original(tmp_path, chelsea, lite0_model):
    original = tmp_path / "original.png"
    chelsea.save(original)
    expected = _top1(lite0_model, original)
    cats = {"tiger cat", "tabby", "Egyptian cat"}
    assert expected in cats
    for name, path in _save_variants(chelsea, tmp_path).items():
        assert _top1(lite0_model, path) in cats, name


def test_exif_orientation_is_applied(tmp_path, chelsea):
    paths = _save_variants(chelsea, tmp_path)
    upright = images.load_image(paths["exif_rotated.jpg"])
    assert upright.size == chelsea.size
    difference = np.abs(np.asarray(upright, dtype=np.int16) - np.asarray(chelsea, dtype=np.int16)).mean()
    assert difference < 4  # only JPEG noise remains


def test_every_variant_becomes_8bit_rgb(tmp_path, chelsea):
    for path in _save_variants(chelsea, tmp_path).values():
        image = images.load_image(path)
        assert image.mode == "RGB"
        assert image.size == chelsea.size


def test_sixteen_bit_gray_scales_to_full_range(tmp_path):
    ramp = np.linspace(0, 65535, 256, dtype=np.uint16).reshape(16, 16)
    Image.fromarray(ramp).save(tmp_path / "ramp.png")
    loaded = np.asarray(images.load_image(tmp_path / "ramp.png"))[..., 0]
    assert loaded.min() == 0 and loaded.max() == 255
    np.testing.assert_allclose(loaded.ravel(), np.round(ramp.ravel() / 257), atol=1)


def test_transparent_pixels_become_white(tmp_path):
    Image.new("RGBA", (8, 8), (255, 0, 0, 0)).save(tmp_path / "clear.png")
    assert np.all(np.asarray(images.load_image(tmp_path / "clear.png")) == 255)


def test_preprocess_shape_and_normalisation(chelsea):
    array = images.preprocess(chelsea, PREPROCESSING)
    assert array.shape == (3, 224, 224) and array.dtype == np.float32
    assert -1.0 <= array.min() and array.max() <= 1.0  # mean = std = 0.5 maps [0, 1] onto [-1, 1]
    white = images.preprocess(Image.new("RGB", (300, 400), (255, 255, 255)), PREPROCESSING)
    np.testing.assert_allclose(white, 1.0, atol=1e-6)


@pytest.mark.parametrize("content", [b"", b"hello, not an image", b"\x89PNG\r\n\x1a\n truncated"])
def test_non_images_give_one_line_errors(tmp_path, content):
    path = tmp_path / "photo.jpg"
    path.write_bytes(content)
    with pytest.raises(WorkbookError, match="cannot be read as an image") as info:
        images.load_image(path)
    assert "\n" not in str(info.value)


def test_missing_file_and_empty_batch(tmp_path):
    with pytest.raises(WorkbookError, match="does not exist"):
        images.load_image(tmp_path / "nope.jpg")
    with pytest.raises(WorkbookError, match="no images"):
        images.load_batch([], PREPROCESSING)


def test_sample_images_are_written_once(tmp_path):
    first = images.write_sample_images(tmp_path)
    assert [p.name for p in first] == [f"{n}.jpg" for n in images.SAMPLE_IMAGES]
    mtimes = [p.stat().st_mtime_ns for p in first]
    assert [p.stat().st_mtime_ns for p in images.write_sample_images(tmp_path)] == mtimes
    with pytest.raises(WorkbookError, match="unknown sample image"):
        images.sample_image("lena")
