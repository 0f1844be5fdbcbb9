import numpy as np
import pytest

from utils import calibration
from utils.calibration import (
    CALIBRATION_PHOTOS,
    EVALUATION_PHOTOS,
    cached_inputs,
    calibration_inputs,
    evaluation_inputs,
    load_calibration,
    save_inputs,
)
from utils.errors import WorkbookError
from utils.images import SAMPLE_IMAGES

MODEL = "efficientnet_lite0"


@pytest.fixture(scope="module")
def calibration_set():
    return calibration_inputs(MODEL)


@pytest.fixture(scope="module")
def evaluation_set():
    return evaluation_inputs(MODEL)


def test_default_sizes_and_values(calibration_set, evaluation_set):
    assert calibration_set.shape == (256, 3, 224, 224) and calibration_set.dtype == np.float32
    assert evaluation_set.shape == (96, 3, 224, 224) and evaluation_set.dtype == np.float32
    for inputs in (calibration_set, evaluation_set):
        # EfficientNet-Lite0 normalises with mean 0.5, std 0.5: [0, 1] pixels become [-1, 1]
        assert inputs.min() >= -1.0 and inputs.max() <= 1.0
        assert inputs.reshape(len(inputs), -1).std(axis=1).min() > 0.01  # no blank samples
        assert len({sample.tobytes() for sample in inputs}) == len(inputs)  # augmentation makes every sample new


def test_same_seed_same_arrays_and_smaller_counts_are_prefixes(calibration_set):
    again = calibration_inputs(MODEL, count=12, seed=0)
    assert np.array_equal(again, calibration_set[:12])
    assert np.array_equal(evaluation_inputs(MODEL, count=5, seed=3), evaluation_inputs(MODEL, count=5, seed=3))
    assert not np.array_equal(calibration_inputs(MODEL, count=4, seed=1), calibration_set[:4])


def test_the_global_torch_generator_is_left_alone():
    import torch

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    calibration_inputs(MODEL, count=2, seed=7)
    assert torch.equal(torch.rand(3), expected)


def test_calibration_and_evaluation_share_no_source_photo(calibration_set, evaluation_set):
    assert not set(CALIBRATION_PHOTOS) & set(EVALUATION_PHOTOS)
    # Evaluation: natural photos of ImageNet subjects; the astronaut (no ImageNet class) calibrates instead.
    assert {"chelsea", "coffee", "rocket", "grace_hopper"} <= set(EVALUATION_PHOTOS) and "astronaut" in CALIBRATION_PHOTOS
    seen = {sample.tobytes() for sample in calibration_set}
    assert not any(sample.tobytes() in seen for sample in evaluation_set)


def test_evaluation_inputs_keep_their_subject(evaluation_set, lite0_model):
    """Mild augmentation: every crop of the cat (sample i shows photo i mod 6, the cat first) still shows a cat."""
    import torch

    from utils.labels import class_name

    crops = evaluation_set[::len(EVALUATION_PHOTOS)]
    with torch.no_grad():
        top = lite0_model(torch.from_numpy(crops)).argmax(1).tolist()
    assert len(crops) == 16 and {class_name(i) for i in top} <= {"tiger cat", "tabby", "Egyptian cat"}


def test_the_source_photos_load_as_rgb():
    for name in EVALUATION_PHOTOS + CALIBRATION_PHOTOS:
        photo = calibration.source_photo(name)
        assert photo.mode == "RGB" and min(photo.size) >= 128, name
    with pytest.raises(WorkbookError, match="unknown source photo 'lena'"):
        calibration.source_photo("lena")


def test_the_models_own_preprocessing_is_used():
    resnet = calibration_inputs("resnet50", count=4)  # ImageNet mean/std: values reach beyond [-1, 1]
    assert resnet.shape == (4, 3, 224, 224)
    assert resnet.min() < -1.5 and resnet.max() > 1.5


@pytest.mark.parametrize("count", [0, -3, 2.5, True])
def test_a_bad_count_is_refused(count):
    with pytest.raises(WorkbookError, match="positive number of samples"):
        calibration_inputs(MODEL, count=count)


# --- what a user brings ------------------------------------------------------------------------------------------


def test_npz_round_trip(tmp_path):
    batch = calibration_inputs(MODEL, count=3)
    path = save_inputs(tmp_path / "calib.npz", batch)
    assert np.array_equal(load_calibration(path, MODEL), batch)
    np.savez(tmp_path / "f64.npz", input=batch.astype(np.float64))
    assert load_calibration(tmp_path / "f64.npz", MODEL).dtype == np.float32


@pytest.mark.parametrize(("arrays", "message"), [
    ({"images": np.zeros((2, 3, 224, 224), np.float32)}, r"has 'images'; the model's input is named 'input'"),
    ({"input": np.zeros((2, 3, 128, 128), np.float32)}, r"shape \[2, 3, 128, 128\]; the model needs \[N, 3, 224, 224\]"),
    ({"input": np.zeros((3, 224, 224), np.float32)}, r"shape \[3, 224, 224\]"),
    ({"input": np.zeros((0, 3, 224, 224), np.float32)}, r"shape \[0, 3, 224, 224\]"),
    ({"input": np.zeros((2, 3, 224, 224), np.uint8)}, "uint8; the model needs preprocessed float32"),
    ({"input": np.full((1, 3, 224, 224), np.nan, np.float32)}, "NaN or infinite"),
])
def test_a_wrong_npz_is_one_line(tmp_path, arrays, message):
    path = tmp_path / "calib.npz"
    np.savez(path, **arrays)
    with pytest.raises(WorkbookError, match=message):
        load_calibration(path, MODEL)


def test_missing_paths_and_wrong_files_are_one_line(tmp_path):
    with pytest.raises(WorkbookError, match="does not exist; give a folder of images or an .npz file"):
        load_calibration(tmp_path / "nowhere", MODEL)
    (tmp_path / "data.csv").write_text("1,2,3\n")
    with pytest.raises(WorkbookError, match="neither a folder nor an .npz file"):
        load_calibration(tmp_path / "data.csv", MODEL)
    (tmp_path / "broken.npz").write_bytes(b"not a zip file")
    with pytest.raises(WorkbookError, match=r"cannot be read as an .npz file"):
        load_calibration(tmp_path / "broken.npz", MODEL)


def test_image_folders(tmp_path, sample_dir):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(WorkbookError, match="is empty"):
        load_calibration(empty, MODEL)
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "photo.jpg").write_bytes(b"not a jpeg")
    (junk / "notes.txt").write_text("hello")
    with pytest.raises(WorkbookError, match=r"has no readable images \(2 files; first: \S+notes.txt cannot be read as an image"):
        load_calibration(junk, MODEL)
    (junk / "chelsea.jpg").write_bytes((sample_dir / "chelsea.jpg").read_bytes())
    loaded = load_calibration(junk, MODEL)  # unreadable files are skipped
    assert loaded.shape == (1, 3, 224, 224) and loaded.dtype == np.float32
    photos = load_calibration(sample_dir, MODEL)
    assert photos.shape == (len(SAMPLE_IMAGES), 3, 224, 224)


def test_cached_inputs_are_built_once_and_rebuilt_when_damaged(tmp_path, monkeypatch):
    calls = []

    def small_set(model_name):
        calls.append(model_name)
        return calibration_inputs(model_name, count=2)

    monkeypatch.setattr(calibration, "calibration_inputs", small_set)
    path = tmp_path / "cache" / "lite0_calibration.npz"
    first = cached_inputs(path, MODEL, "calibration")
    assert path.is_file() and first.shape == (2, 3, 224, 224) and calls == [MODEL]
    assert np.array_equal(cached_inputs(path, MODEL, "calibration"), first) and calls == [MODEL]  # read, not rebuilt
    path.write_bytes(b"damaged")
    assert np.array_equal(cached_inputs(path, MODEL, "calibration"), first) and calls == [MODEL, MODEL]
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # written atomically: no temporary files left
    with pytest.raises(WorkbookError, match="choose calibration or evaluation"):
        cached_inputs(path, MODEL, "training")


def test_a_cache_made_from_another_recipe_is_rebuilt(tmp_path, monkeypatch):
    """A cache from before the photos, counts or augmentation changed is not reused (its recipe differs)."""
    monkeypatch.setattr(calibration, "calibration_inputs", lambda model_name: calibration_inputs(model_name, count=2))
    path = tmp_path / "lite0_calibration.npz"
    save_inputs(path, np.zeros((2, 3, 224, 224), np.float32))  # no recipe: an older workbook's cache
    assert cached_inputs(path, MODEL, "calibration").any()
    save_inputs(path, np.zeros((2, 3, 224, 224), np.float32), recipe="calibration: 256 samples from motorcycle_left")
    assert cached_inputs(path, MODEL, "calibration").any()
    assert str(np.load(path)["recipe"]).startswith("calibration: 256 samples from astronaut, camera")
