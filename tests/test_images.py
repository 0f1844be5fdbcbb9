"""A learner's own photos come in many forms; each must classify like the plain RGB original, and every file
that is not a readable image must give one line that names it, never a traceback or a decoder's chatter."""

import io
import os
import struct
import subprocess
import sys
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile

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


def test_a_directory_is_called_a_directory(tmp_path):
    with pytest.raises(WorkbookError, match=f"^{tmp_path} is a directory; give an image file$"):
        images.load_image(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX-only")
def test_a_named_pipe_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "photo.jpg"
    os.mkfifo(fifo)
    with pytest.raises(WorkbookError, match="is not a regular file; give an image file"):
        images.load_image(fifo)


# --- damaged and hostile files --------------------------------------------------------------------------------------
# Each builder returns the bytes of a file that made `python -m utils classify FILE` print a traceback or a decoder's
# messages (several lines on stderr) before load_image caught every error a decoder raises and silenced its output.


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_claiming(width: int, height: int) -> bytes:
    """A valid PNG header for a width x height RGB image, with a few bytes of pixel data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", zlib.compress(b"\0" * 16))
            + _png_chunk(b"IEND", b""))


def _bmp_claiming(width: int, height: int) -> bytes:
    """A BITMAPINFOHEADER for a width x height 24-bit image, and no pixels."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + len(info), 0, 0, 14 + len(info)) + info


def _small_image() -> Image.Image:
    return Image.fromarray((np.random.default_rng(0).random((32, 32, 3)) * 255).astype(np.uint8))


def _encoded(format: str, **options) -> bytes:
    buffer = io.BytesIO()
    _small_image().save(buffer, format=format, **options)
    return buffer.getvalue()


def _tiff_entry(data: bytes, tag: int) -> int:
    """The byte offset of `tag`'s entry in a little-endian TIFF's first IFD."""
    ifd = struct.unpack_from("<I", data, 4)[0]
    for index in range(struct.unpack_from("<H", data, ifd)[0]):
        position = ifd + 2 + 12 * index
        if struct.unpack_from("<H", data, position)[0] == tag:
            return position
    raise AssertionError(f"no tag {tag}")


def _tiff_with_value(tag: int, value: int, **options) -> bytes:
    data = bytearray(_encoded("TIFF", **options))
    position = _tiff_entry(data, tag)
    kind, count = struct.unpack_from("<HI", data, position + 2)
    inline = count * (2 if kind == 3 else 4) <= 4  # else the entry holds the offset of its data
    struct.pack_into("<H" if inline and kind == 3 else "<I", data, position + 8, value)
    return bytes(data)


def _tiff_with_garbage_strip(compression: str, fill: bytes) -> bytes:
    """A compressed TIFF whose (single) strip is overwritten, so libtiff's decoder fails and prints why."""
    data = bytearray(_encoded("TIFF", compression=compression))
    offset = struct.unpack_from("<I", data, _tiff_entry(data, 273) + 8)[0]
    length = struct.unpack_from("<I", data, _tiff_entry(data, 279) + 8)[0]
    data[offset + 2:offset + length] = fill * (length - 2)
    return bytes(data)


DAMAGED = {
    # PIL raises DecompressionBombError (not an OSError): a traceback before.
    "bomb.png": lambda: _png_claiming(100_000, 100_000),
    "bomb.bmp": lambda: _bmp_claiming(100_000, 100_000),
    "bomb.tif": lambda: _tiff_with_value(256, 1_000_000_000),  # ImageWidth
    # libtiff writes "Using code not yet in table." / "ZIPDecode: Decoding error ..." straight to file descriptor 2.
    "garbage_lzw.tif": lambda: _tiff_with_garbage_strip("tiff_lzw", b"\xff"),
    "garbage_deflate.tif": lambda: _tiff_with_garbage_strip("tiff_adobe_deflate", b"\x00"),
    # PIL logs "More samples per pixel than can be decoded" through logging's last-resort printer.
    "2048_samples.tif": lambda: _tiff_with_value(277, 2048),  # SamplesPerPixel
    # PIL warns "Truncated File Read" (a UserWarning printed on stderr) for a tag whose data lies past the end.
    "bad_tag_offset.tif": lambda: _tiff_with_value(258, 0x7FFFFF00),  # BitsPerSample's data offset
    # Truncated files of every common format.
    **{f"truncated.{extension}": (lambda f=fmt: _encoded(f)[:40]) for fmt, extension in
       (("PNG", "png"), ("JPEG", "jpg"), ("GIF", "gif"), ("TIFF", "tif"), ("BMP", "bmp"), ("WEBP", "webp"))},
}


@pytest.mark.parametrize("name", sorted(DAMAGED))
def test_damaged_files_are_one_line_errors_and_print_nothing(tmp_path, name, capfd):
    path = tmp_path / name
    path.write_bytes(DAMAGED[name]())
    filters = list(warnings.filters)
    with pytest.raises(WorkbookError) as info:
        images.load_image(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    assert "cannot be read as an image" in message or "more than PIL decodes safely" in message, message
    assert capfd.readouterr() == ("", "")  # no warning, log record or libtiff message reached the terminal
    assert warnings.filters == filters
    print("stderr works again", file=sys.stderr)  # file descriptor 2 is restored
    os.write(2, b"and so does fd 2\n")
    assert capfd.readouterr().err == "stderr works again\nand so does fd 2\n"


def test_decompression_bomb_says_how_big_it_claims_to_be(tmp_path):
    path = tmp_path / "huge.png"
    path.write_bytes(_png_claiming(100_000, 100_000))
    with pytest.raises(WorkbookError, match=r"claims 10000000000 pixels, more than PIL decodes safely .*give a smaller image"):
        images.load_image(path)


def _classify_cli(*paths, cwd):
    return subprocess.run([sys.executable, "-m", "utils", "classify", *map(str, paths)],
                          capture_output=True, text=True, timeout=300, cwd=cwd)


@pytest.mark.parametrize("name", sorted(DAMAGED))
def test_cli_classify_of_a_damaged_file_is_one_line(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(DAMAGED[name]())
    completed = _classify_cli(path, cwd=tmp_path)
    assert completed.returncode == 2, completed.stderr
    assert completed.stderr.startswith(f"error: {path} ") and completed.stderr.count("\n") == 1, completed.stderr
    assert completed.stdout == ""


@pytest.mark.parametrize("target, message", [("folder", "is a directory; give an image file"), ("nope.jpg", "does not exist")])
def test_cli_classify_of_a_directory_or_missing_file_is_one_line(tmp_path, target, message):
    (tmp_path / "folder").mkdir()
    completed = _classify_cli(tmp_path / target, cwd=tmp_path)
    assert completed.returncode == 2 and message in completed.stderr and completed.stderr.count("\n") == 1, completed.stderr


@pytest.mark.parametrize("error", [
    struct.error("unpack requires a buffer of 4 bytes"), EOFError(), IndexError("list index out of range"),
    KeyError("tile"), TypeError("unsupported operand"), ZeroDivisionError("division by zero"), MemoryError(),
    RuntimeError("decoder crashed"), SyntaxError("not a TIFF"), ValueError("bad mode"),
    Image.DecompressionBombError("Image size (400000000 pixels) exceeds limit of 178956970 pixels"),
], ids=lambda error: f"{type(error).__module__}.{type(error).__name__}".removeprefix("builtins."))
def test_every_error_a_decoder_raises_becomes_a_one_line_error(tmp_path, monkeypatch, error):
    path = tmp_path / "photo.png"
    _small_image().save(path)

    def failing_load(self):
        raise error

    monkeypatch.setattr(ImageFile.ImageFile, "load", failing_load)
    with pytest.raises(WorkbookError) as info:
        images.load_image(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    assert "give" in str(info.value)  # says what to do


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, SystemExit])
def test_interrupts_are_not_swallowed(tmp_path, monkeypatch, interrupt):
    path = tmp_path / "photo.png"
    _small_image().save(path)

    def interrupted(self):
        raise interrupt()

    monkeypatch.setattr(ImageFile.ImageFile, "load", interrupted)
    with pytest.raises(interrupt):
        images.load_image(path)


def test_permission_denied_is_one_line(tmp_path, monkeypatch, capsys):
    """Simulated, since root (as in CI containers) reads any file; the real case is tested below where it can be."""
    from utils.cli import main

    path = tmp_path / "locked.jpg"
    _small_image().save(path)

    def denied(fp, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(fp))

    monkeypatch.setattr(Image, "open", denied)
    with pytest.raises(WorkbookError, match=f"^{path} cannot be read \\(permission denied\\); check its permissions"):
        images.load_image(path)
    assert main(["classify", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and "permission denied" in captured.err


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_file_through_the_cli_is_one_line(tmp_path):
    path = tmp_path / "locked.jpg"
    _small_image().save(path)
    path.chmod(0)
    completed = _classify_cli(path, cwd=tmp_path)
    assert completed.returncode == 2 and "permission denied" in completed.stderr, completed.stderr
    assert completed.stderr.count("\n") == 1, completed.stderr


def test_sample_images_are_written_once(tmp_path):
    first = images.write_sample_images(tmp_path)
    assert [p.name for p in first] == [f"{n}.jpg" for n in images.SAMPLE_IMAGES]
    mtimes = [p.stat().st_mtime_ns for p in first]
    assert [p.stat().st_mtime_ns for p in images.write_sample_images(tmp_path)] == mtimes
    with pytest.raises(WorkbookError, match="unknown sample image"):
        images.sample_image("lena")
