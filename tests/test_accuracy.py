"""`python -m utils evaluate`: top-1/top-5 accuracy on a folder of labelled images, the same as counting `classify`
results by hand, and one-line errors for folders that do not have ImageNet's layout."""

import json
import shutil

import pytest

from utils.accuracy import evaluate, labelled_images
from utils.cli import EXIT_USER_ERROR, main
from utils.labels import lookup

# The sample photos under the ImageNet class each shows (the astronaut is no ImageNet class).
LABELS = {"coffee": "n07920052", "chelsea": "n02123045", "rocket": "n03773504"}


@pytest.fixture()
def labelled(sample_dir, tmp_path):
    folder = tmp_path / "labelled"
    for photo, wnid in LABELS.items():
        (folder / wnid).mkdir(parents=True)
        shutil.copy(sample_dir / f"{photo}.jpg", folder / wnid / f"{photo}.jpg")
    shutil.copy(sample_dir / "coffee.jpg", folder / LABELS["coffee"] / "coffee_again.png")
    (folder / LABELS["rocket"] / "notes.txt").write_text("not an image: left out, as ImageFolder does")
    (folder / ".ipynb_checkpoints").mkdir()
    return folder


def test_the_images_and_their_classes(labelled):
    found = labelled_images(labelled)
    assert [(path.name, class_id) for path, class_id in found] == [
        ("chelsea.jpg", lookup("n02123045").class_id), ("rocket.jpg", lookup("n03773504").class_id),
        ("coffee.jpg", lookup("n07920052").class_id), ("coffee_again.png", lookup("n07920052").class_id)]


def test_the_same_as_counting_classify_results_by_hand(labelled, capsys):
    assert main(["evaluate", str(labelled), "--precision", "fp32,fp16", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [set(r) for r in results] == [{"precision", "backend", "images", "top1", "top5"}] * 2
    for result in results:
        hits = {"top1": 0, "top5": 0}
        for path, class_id in labelled_images(labelled):
            assert main(["classify", str(path), "--backend", "onnxruntime-cpu", "--precision", result["precision"],
                         "--json"]) == 0
            top = [entry["class_id"] for entry in json.loads(capsys.readouterr().out)[0]["top"]]
            hits["top1"] += top[0] == class_id
            hits["top5"] += class_id in top
        assert result["images"] == 4 and result["backend"] == "onnxruntime-cpu"
        assert result["top1"] == hits["top1"] / 4 and result["top5"] == hits["top5"] / 4, result
    assert results[0]["top5"] == 1.0  # every photo's class is among FP32's five most probable


def test_the_table(labelled, capsys):
    assert main(["evaluate", str(labelled), "--backend", "pytorch-cpu"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"4 labelled images in {labelled}; efficientnet_lite0 on pytorch-cpu"
    assert lines[2].split()[0] == "fp32" and lines[2].split()[2] == "100.0%" and len(lines) == 3


def failing(argv, capsys):
    assert main(argv) == EXIT_USER_ERROR
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("error: ") and captured.err.count("\n") == 1
    return captured.err


def test_folders_without_imagenets_layout_are_one_line_errors(labelled, tmp_path, capsys):
    assert "is missing; give a folder with one sub-folder per class" in failing(["evaluate", str(tmp_path / "no")], capsys)
    (tmp_path / "flat").mkdir()
    shutil.copy(labelled / LABELS["coffee"] / "coffee.jpg", tmp_path / "flat")
    assert "has no class folders" in failing(["evaluate", str(tmp_path / "flat")], capsys)
    (labelled / "tabby").mkdir()
    assert "tabby is not named by an ImageNet WordNet id" in failing(["evaluate", str(labelled)], capsys)
    (labelled / "tabby").rmdir()
    (labelled / "n99999999").mkdir()
    assert "n99999999 is not named by an ImageNet WordNet id" in failing(["evaluate", str(labelled)], capsys)
    (labelled / "n99999999").rename(labelled / "n01440764")
    assert "class folder" in failing(["evaluate", str(labelled)], capsys)  # tench's folder holds no image
    (labelled / "n01440764" / "tench.jpg").write_bytes(b"not a JPEG")
    assert "tench.jpg" in failing(["evaluate", str(labelled)], capsys)
    assert "pytorch-cpu runs fp32, not int8" in failing(["evaluate", str(labelled), "--backend", "pytorch-cpu",
                                                         "--precision", "int8"], capsys)


def test_precisions_are_checked_before_a_model_loads(labelled):
    from utils.errors import WorkbookError

    with pytest.raises(WorkbookError, match="runs fp32, fp16, int8, not bf16"):
        evaluate(labelled, "efficientnet_lite0", "onnxruntime-cpu", ["fp32", "bf16"])
