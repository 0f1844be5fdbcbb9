"""utils.exercises.lesson03: each check accepts the right answer and names each anticipated mistake.

03.1 gets planted logits whose answer is known by construction: the rocket's two best classes are a hair apart
(logits 6.0 and 5.999), the astronaut's top class is the least probable of all four photos (one logit of 3 among
zeros) but well ahead of its second, the coffee is confident. 03.4 gets the reference logits and answers made from
them."""

from __future__ import annotations

import re

import numpy as np
import pytest

from utils.exercises import NotYetRight, check

PHOTOS = ["chelsea", "coffee", "astronaut", "rocket"]


@pytest.fixture(scope="module")
def logits():
    planted = np.zeros((4, 1000), dtype=np.float32)
    planted[0, [281, 282]] = [8.0, 7.0]  # chelsea: tabby well ahead
    planted[1, [967, 968]] = [12.0, 2.0]  # coffee: confident
    planted[2, 610] = 3.0  # astronaut: the least confident top class, yet far from a tie
    planted[3, [657, 744]] = [6.0, 5.999]  # rocket: a near tie
    return planted


# --- 03.1: the answer closest to a tie --------------------------------------------------------------------------------


def test_03_1_accepts_the_photo_whose_two_best_are_closest(logits, capsys):
    check("03.1", "rocket", logits=logits, photo_names=PHOTOS)
    out = capsys.readouterr().out
    assert "✓ 03.1 correct: rocket:" in out and "0.0% apart" in out and "only where FP32 is confident" in out


@pytest.mark.parametrize("answer, message", [
    ("astronaut", "It has the least confident top class, but confidence is not the question"),
    ("coffee", "another photo's two best are closer. hint: classify.top_k(logits, k=2)"),
    ("moon", "'moon' is not one of the photos"),
    (3, "give the photo's name as a str"),
])
def test_03_1_mistakes(logits, answer, message):
    with pytest.raises(NotYetRight, match=re.escape(message)):
        check("03.1", answer, logits=logits, photo_names=PHOTOS)


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


# --- 03.4: many images through one engine -----------------------------------------------------------------------------

@pytest.fixture
def fifty(logits):
    return np.concatenate([logits] * 13)[:50]


def test_03_4_accepts_every_image_in_the_fewest_calls(fifty, capsys):
    check("03.4", {"logits": fifty + np.float32(1e-4), "calls": 2}, reference=fifty, profile=(1, 8, 32))
    assert "50 images in 2 calls" in capsys.readouterr().out


def test_03_4_mistakes(fifty):
    context = {"reference": fifty, "profile": (1, 8, 32)}
    with pytest.raises(NotYetRight, match=re.escape("logits of shape (32, 1000), expected (50, 1000)")):
        check("03.4", {"logits": fifty[:32], "calls": 1}, **context)
    stale = fifty.copy()
    stale[32:] = fifty[1:19]  # the second call read rows of the first call shifted by one
    with pytest.raises(NotYetRight, match="image 32 gets class"):
        check("03.4", {"logits": stale, "calls": 2}, **context)
    with pytest.raises(NotYetRight, match="differ from ONNX Runtime's by up to 0.5"):
        check("03.4", {"logits": fifty + np.float32(0.5) * (np.arange(1000) == 0), "calls": 2}, **context)
    with pytest.raises(NotYetRight, match="50 calls; the profile takes up to 32 images a call, so 2 are enough"):
        check("03.4", {"logits": fifty, "calls": 50}, **context)
    with pytest.raises(NotYetRight, match="give a dict"):
        check("03.4", fifty, **context)
