"""scripts/avx2_check.py: a notebook's code cells run as a script in a build folder of their own, and the printed
lines of two runs compared with what differs by nature (QEMU's warnings, progress bars, log times) left out."""

from __future__ import annotations

import json

from tests.script_modules import load_script

avx2 = load_script("avx2_check")


def _notebook(tmp_path, *sources):
    cells = [{"cell_type": "code", "source": source, "metadata": {}, "outputs": [], "execution_count": None}
             for source in sources]
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps({"cells": [{"cell_type": "markdown", "source": "# title", "metadata": {}}, *cells]}))
    return path


def test_cells_run_in_order_in_their_build_folder_skipping_magics_and_named_cells(tmp_path):
    notebook = _notebook(tmp_path,
                         "%load_ext something\nimport os\nx = 1.25",
                         "%%skip_unless pytorch-cuda\nprint('never')",
                         "print(f'x is {x:.1f} in', os.environ['WORKBOOK_BUILD_DIR'])",
                         "print('skipped by number')",
                         "raise ValueError('told')")
    cells = tmp_path / "cells.json"
    cells.write_text(json.dumps(avx2.code_cells(notebook)))
    lines = avx2.run(cells, "3", tmp_path / "build", [], tmp_path / "run.log")
    assert lines == ["----- cell 0", "----- cell 2", f"x is 1.2 in {tmp_path / 'build'}", "----- cell 4",
                     "cell 4 raised ValueError: told"]


def test_what_differs_by_nature_is_not_compared():
    text = ("qemu-x86_64: warning: TCG doesn't support requested feature: CPUID.01H:ECX.pcid [bit 17]\n"
            " 47%|████▋     | 75/161 [00:01<00:01, 43.93it/s]\n"
            "2026-12-07 17:55:53,186 - [modelopt][onnx] - ERROR - Failed to get GPU count\n"
            "max                       18.9 dB   96.2%\n\n")
    assert avx2.printed_lines(text) == ["[modelopt][onnx] - ERROR - Failed to get GPU count",
                                        "max                       18.9 dB   96.2%"]


def test_differences_pair_lines_in_order_and_name_missing_ones():
    native = ["a 18.9 dB", "b 16.0 dB", "c"]
    assert avx2.differences(native, native) == []
    assert avx2.differences(native, ["a 18.9 dB", "b 16.1 dB"]) == [("b 16.0 dB", "b 16.1 dB"), ("c", "")]


def test_a_cell_waits_for_what_is_prepared_beside_the_notebook(tmp_path):
    """Stages run one after another, their calls side by side; the named cell starts once all are done and prints
    the same line in every run, naming any call that failed."""
    build = tmp_path / "build"
    build.mkdir()
    notebook = _notebook(tmp_path, "import os", "print(sorted(os.listdir(os.environ['WORKBOOK_BUILD_DIR'])))")
    cells = tmp_path / "cells.json"
    cells.write_text(json.dumps(avx2.code_cells(notebook)))
    stages = (["import os, time; time.sleep(1); open(os.environ['WORKBOOK_BUILD_DIR'] + '/a', 'w').close()"],
              ["import os; assert os.path.exists(os.environ['WORKBOOK_BUILD_DIR'] + '/a')",
               "open(__import__('os').environ['WORKBOOK_BUILD_DIR'] + '/b', 'w').close()"])
    ready = tmp_path / "ready"
    helper = avx2.prepare(build, [], tmp_path / "prepare.log", ready, stages)
    lines = avx2.run(cells, "", build, [], tmp_path / "run.log", wait=(1, ready))
    helper.join()
    assert lines == ["----- cell 0", "prepared beside the notebook: all made", "----- cell 1", "['a', 'b']"]
    helper = avx2.prepare(build, [], tmp_path / "prepare.log", ready, (["raise SystemExit(3)"],))
    helper.join()
    assert ready.read_text() == "prepared beside the notebook: raise SystemExit(3) failed\n"
