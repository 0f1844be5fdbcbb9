"""Every lesson, run the way a student first meets it: its student version (each solution replaced by its hint)
opened in JupyterLab in Chromium, Run > Run All Cells, and read back from the page. nbval proves the instructor
version runs and its checks pass; this proves the lesson works in the browser: Run All goes past every unsolved
exercise (JupyterLab does not stop at a cell tagged raises-exception), each exercise cell shows its hint, each check
says there is no answer yet, no other cell shows an error, every cell got its execution count, and progress bars draw
as widgets (tqdm.auto with ipywidgets), not as text.

A screenshot of each notebook, tall enough to hold it (up to 16000 px, scrolled to its end), goes to
build/browser/<notebook>.png.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import nbformat
import pytest

from tests.browser.lab_driver import run_all_cells, screenshot

ROOT = Path(__file__).resolve().parent.parent.parent
NOTEBOOKS = sorted(path.name for path in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# The slowest notebook (06) takes 2 to 5 minutes on a 2-core CPU, the whole set 5 to 10. Each notebook may take up to
# NOTEBOOK_TIMEOUT_S, all of them together up to SET_TIMEOUT_S: a hung kernel fails the run well inside CI's 90 min.
NOTEBOOK_TIMEOUT_S = 15 * 60
SET_TIMEOUT_S = 45 * 60
# Notebooks whose progress bar must draw as a widget: 05's benchmark sweep runs with tqdm's bar on.
PROGRESS_WIDGET_NOTEBOOKS = {"05_benchmark.ipynb"}


def test_the_lessons_are_found():
    assert len(NOTEBOOKS) >= 7 and NOTEBOOKS[0].startswith("00_"), NOTEBOOKS
    assert PROGRESS_WIDGET_NOTEBOOKS <= set(NOTEBOOKS)


@pytest.fixture(scope="module")
def set_deadline() -> float:
    return time.monotonic() + SET_TIMEOUT_S


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_in_jupyterlab(name, lab, page, screenshot_dir, set_deadline):
    from utils.exercises.student import RAISES_TAG

    timeout_s = min(NOTEBOOK_TIMEOUT_S, set_deadline - time.monotonic())
    if timeout_s <= 0:
        pytest.fail(f"the notebooks together took over {SET_TIMEOUT_S // 60} min; {name} was not run")
    cells = json.loads((lab.root_dir / name).read_text(encoding="utf-8"))["cells"]
    tagged = {index for index, cell in enumerate(cells) if RAISES_TAG in cell.get("metadata", {}).get("tags", [])}
    try:
        run = run_all_cells(page, lab, name, timeout_s, frozenset(tagged))
        shot = screenshot(page, screenshot_dir / f"{Path(name).stem}.png")
    finally:
        lab.shut_down_kernels()
    print(f"{name}: {run.seconds:.0f} s, {len(run.cells)} cells, {len(tagged) // 2} exercises, screenshot {shot}")
    assert not run.not_executed(), f"{name}: Run All stopped, cells without an execution count: {run.not_executed()}"
    raised = {cell.index: cell.errors for cell in run.cells if cell.errors}
    others = {index: errors for index, errors in raised.items() if index not in tagged}
    assert not others, f"{name} shows errors in JupyterLab outside its exercises:\n{others}"
    skipped = {cell.index for cell in run.cells if cell.shown.startswith("SKIPPED (needs ")}  # a GPU exercise, here
    silent = sorted(tagged - set(raised) - skipped)
    assert not silent, f"{name}: exercise cells that did not say they await an answer: {silent}"
    tagged -= skipped
    stubs = [index for index in sorted(tagged) if "check(" not in run.cells[index].source]
    assert len(stubs) == len(tagged) - len(stubs), f"{name}: each exercise cell is followed by its check"
    for index in sorted(tagged):
        [error] = raised[index]
        if index in stubs:
            hint = error.removeprefix("NotImplementedError: ")
            assert error.startswith("NotImplementedError: ") and hint and hint in run.cells[index].shown, error
        else:
            assert error.startswith("NotYetRight: ") and "no answer yet" in error, error
            assert "Traceback" not in run.cells[index].shown, "a check shows its message, not the registry's traceback"
    if name in PROGRESS_WIDGET_NOTEBOOKS:
        assert run.progress_widgets() >= 1, f"{name}: no progress bar drawn as a widget (tqdm.auto with ipywidgets)"


def _broken_notebook(path: Path) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# A notebook with a mistake"),
        nbformat.v4.new_code_cell("import sys\nprint('to stdout')\nprint('a warning on stderr', file=sys.stderr)"),
        nbformat.v4.new_code_cell("from tqdm.auto import tqdm\nfor _ in tqdm(range(3), desc='steps'):\n    pass"),
        nbformat.v4.new_code_cell("ratio = 1 / 0"),
        nbformat.v4.new_code_cell("print('never reached')"),
    ]
    nbformat.write(notebook, path)
    return path


def test_a_cell_that_raises_is_reported(lab, page, screenshot_dir):
    """The detection above, on a notebook made to fail: the error is found in the cell that raised (and shown there),
    stderr is not mistaken for an error, Run All stops, and the tqdm bar is found as a widget."""
    name = _broken_notebook(lab.root_dir / "zz_broken.ipynb").name
    try:
        run = run_all_cells(page, lab, name, timeout_s=180)
        screenshot(page, screenshot_dir / "zz_broken.png")
    finally:
        lab.shut_down_kernels()
        (lab.root_dir / name).unlink()
    assert run.errors() == ["cell 3 ('ratio = 1 / 0'): ZeroDivisionError: division by zero"]
    assert "ZeroDivisionError" in run.cells[3].shown  # the traceback is on the page, not just in the model
    assert "a warning on stderr" in run.cells[1].shown and not run.cells[1].errors
    assert run.not_executed() == ["cell 4 (\"print('never reached')\")"]
    assert run.cells[2].widgets == 1 and run.progress_widgets() == 1
