"""utils.exercises.lesson03: each check accepts the right answer and names each anticipated mistake.

03.1 gets planted logits, so the right ranking is known without ranking anything: row 2 (the astronaut) has its five
largest logits at classes 10 to 14, its five smallest at 200 to 204, and five classes (60 to 64) that no other photo
likes, which rank first if the softmax is taken across photos instead of across classes."""

from __future__ import annotations

import re

import numpy as np
import pytest

from utils.classify import top_k
from utils.exercises import NotYetRight, check
from utils.labels import class_name

PHOTOS = ["chelsea", "coffee", "astronaut", "rocket"]
TOP = [10, 11, 12, 13, 14]
OTHER_ROW_TOP = [100, 101, 102, 103, 104]
LEAST = [200, 201, 202, 203, 204]
ACROSS_PHOTOS = [60, 61, 62, 63, 64]


def _names(ids):
    return [class_name(i) for i in ids]


@pytest.fixture(scope="module")
def logits():
    planted = np.zeros((4, 1000), dtype=np.float32)
    planted[2, TOP] = [9, 8, 7, 6, 5]
    planted[2, LEAST] = [-9, -8, -7, -6, -5]
    planted[2, ACROSS_PHOTOS] = [4.5, 4.4, 4.3, 4.2, 4.1]
    for row in (0, 1, 3):
        planted[row, ACROSS_PHOTOS] = -10
    planted[0, OTHER_ROW_TOP] = [9, 8, 7, 6, 5]
    return planted


# --- 03.1: the astronaut's top five ------------------------------------------------------------------------------------


def test_03_1_accepts_the_five_most_probable_names_in_order(logits, capsys):
    check("03.1", _names(TOP), logits=logits, photo_names=PHOTOS)
    check("03.1", tuple(_names(TOP)), logits=logits, photo_names=PHOTOS)
    assert capsys.readouterr().out.count(f"✓ 03.1 correct: {class_name(TOP[0])!r} first") == 2
    # The check finds the astronaut by name: here it is row 0, whose top five are 100 to 104.
    check("03.1", _names(OTHER_ROW_TOP), logits=logits, photo_names=["astronaut", "coffee", "chelsea", "rocket"])


@pytest.mark.parametrize("make, message", [
    (lambda: class_name(TOP[0]), "give a list of five class names, not a str"),
    (lambda: TOP, "these are class ids; give the names"),
    (lambda: [np.int64(i) for i in TOP], "these are class ids"),
    (lambda: None, "no answer yet"),
    (lambda: [1.5, "x"], "give the class names as strings"),
    (lambda: _names(TOP[:3]), "give exactly 5 names, most probable first; you gave 3"),
    (lambda: _names(reversed(TOP)), "the right five classes in the wrong order: most probable first"),
    (lambda: _names(OTHER_ROW_TOP), "these are the top five of 'chelsea' (row 0); the astronaut is row 2"),
    (lambda: _names(LEAST), "these are the five LEAST probable classes"),
    (lambda: _names(ACROSS_PHOTOS), "the softmax ran across the photos (axis 0)"),
    (lambda: _names(TOP[:4] + [500]), f"{class_name(500)!r} is not among the astronaut's five most probable classes"),
])
def test_03_1_mistakes(logits, make, message):
    with pytest.raises(NotYetRight, match=re.escape(message)):
        check("03.1", make(), logits=logits, photo_names=PHOTOS)


def test_03_1_names_prediction_objects(logits):
    with pytest.raises(NotYetRight, match=re.escape("these are Prediction objects; give their names")):
        check("03.1", top_k(logits[2:3], k=5)[0], logits=logits, photo_names=PHOTOS)


# --- 03.2: the input buffer's bytes ------------------------------------------------------------------------------------

PROFILE, SHAPE = (2, 4, 16), (3, 32, 32)
VALUES = 16 * 3 * 32 * 32  # MAX images of 3 × 32 × 32 values


def test_03_2_accepts_max_batch_of_float32_images(capsys):
    check("03.2", VALUES * 4, profile=PROFILE, input_shape=SHAPE)
    check("03.2", float(VALUES * 4), profile=PROFILE, input_shape=SHAPE)
    check("03.2", 32 * 3 * 224 * 224 * 4, profile=(1, 8, 32), input_shape=(3, 224, 224))
    assert "18.4 MiB of pinned host memory" in capsys.readouterr().out


@pytest.mark.parametrize("answer, message", [
    ("196608", "give a number of bytes, not a str"),
    (4 * 3 * 32 * 32 * 4, "that is OPT's batch (4); the buffers must hold the largest batch the profile accepts, MAX (16)"),
    (2 * 3 * 32 * 32 * 4, "that is MIN's batch (2); the buffers must hold MAX (16) images"),
    (VALUES, "that counts float32 values; each takes 4 bytes"),
    (VALUES * 2, "the input stays float32 (4 bytes) even for an FP16 engine"),
    (VALUES * 4 * 8, "that is bits; divide by 8"),
    (VALUES * 4 / 2**20, "that is MiB; give bytes"),
    (16 * 32 * 32 * 4, "one image has 3 channels; count them too"),
    (12345, "12,345 bytes is not it; hint: MAX images × 3 × 32 × 32 values × 4 bytes"),
])
def test_03_2_mistakes(answer, message):
    with pytest.raises(NotYetRight, match=re.escape(message)):
        check("03.2", answer, profile=PROFILE, input_shape=SHAPE)


def test_03_2_names_both_slips_that_give_the_same_number():
    # With the workbook's profile 1,8,32, OPT's bytes (8 × 4) equal MAX's float32 values (32): either slip is possible.
    with pytest.raises(NotYetRight, match=re.escape("that is OPT's batch (8)")) as error:
        check("03.2", 8 * 3 * 224 * 224 * 4, profile=(1, 8, 32), input_shape=(3, 224, 224))
    assert "that counts float32 values" in str(error.value)


# --- 03.3: batches inside the profile ---------------------------------------------------------------------------------


def test_03_3_accepts_the_fewest_batches_inside_the_profile(capsys):
    check("03.3", [32, 32, 6], n_images=70, profile=(1, 8, 32))
    check("03.3", [6, 32, 32], n_images=70, profile=(1, 8, 32))
    check("03.3", [16, 13, 4], n_images=33, profile=(4, 8, 16))  # MIN 4: 16, 16, 1 would be refused
    check("03.3", (11, 11, 11), n_images=33, profile=(4, 8, 16))
    assert capsys.readouterr().out.count("✓ 03.3 correct") == 4


@pytest.mark.parametrize("answer, n_images, profile, message", [
    (70, 70, (1, 8, 32), "give a list of batch sizes, like [32, 32, ...], not 70"),
    ([32.0, 32, 6], 70, (1, 8, 32), "each batch size is a whole number of images"),
    ([64, 6], 70, (1, 8, 32), "a batch of 64 is above the profile's MAX (32)"),
    ([16, 16, 1], 33, (4, 8, 16), "a batch of 1 is below the profile's MIN (4)"),
    ([32, 32, 0, 6], 70, (1, 8, 32), "a batch of 0 is below the profile's MIN (1)"),
    ([32, 32, 8], 70, (1, 8, 32), "the batches hold 72 images, not 70"),
    ([8] * 8 + [6], 70, (1, 8, 32), "9 calls; 3 would do; hint: fill each batch up to MAX (32)"),
])
def test_03_3_mistakes(answer, n_images, profile, message):
    with pytest.raises(NotYetRight, match=re.escape(message)):
        check("03.3", answer, n_images=n_images, profile=profile)
