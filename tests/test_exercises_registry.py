"""utils.exercises.registry: registering and running checks, and the notebooks and the registry agreeing.

The first tests work on a private copy of the registry, so the made-up exercises they register (lesson 99) never
reach the real one. The last ones read every notebook as it is now: each exercise a notebook checks is registered,
each registered exercise is checked in exactly one notebook, its own lesson's, under its "**Exercise NN.K**" task."""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from utils.errors import WorkbookError
from utils.exercises import NotYetRight, check, exercise, registry

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CHECK_ID = re.compile(r"""\bcheck\(\s*["']([^"']*)["']""")


@pytest.fixture
def private_registry(monkeypatch):
    """A copy of the registry for the test; lesson modules first imported during it are forgotten afterwards, so
    their next import registers them in the real registry."""
    monkeypatch.setattr(registry, "_CHECKS", dict(registry._CHECKS))
    imported = set(sys.modules)
    yield
    for name in set(sys.modules) - imported:
        if name.startswith("utils.exercises.lesson"):
            del sys.modules[name]


def test_a_registered_check_runs_and_prints_its_confirmation(private_registry, capsys):
    @exercise("99.1")
    def is_seven(answer, *, offset=0):
        if answer + offset != 7:
            raise NotYetRight(f"{answer} + {offset} is not 7; hint: count again")
        return "seven it is"

    @exercise("99.2")
    def quiet(answer):
        return None

    check("99.1", 5, offset=2)
    check("99.2", 0)
    assert capsys.readouterr().out == "✓ 99.1 correct: seven it is\n✓ 99.2 correct\n"
    with pytest.raises(NotYetRight, match="6 \\+ 0 is not 7; hint: count again"):
        check("99.1", 6)
    assert isinstance(NotYetRight("x"), AssertionError)  # a failed check reads as a failed assertion to nbval and pytest
    assert {"99.1", "99.2"} <= set(registry.registered())


@pytest.mark.parametrize("answer", [..., None, (..., ...)])  # a tuple: the student stub of check("06.3", (scale, q))
def test_no_answer_yet(private_registry, answer):
    exercise("99.3")(lambda answer: None)
    with pytest.raises(NotYetRight, match="99.3: no answer yet; replace the `...` or `raise NotImplementedError`"):
        check("99.3", answer)


def test_an_array_answer_is_an_answer(private_registry):
    import numpy as np

    exercise("99.4")(lambda answer: "fine")
    check("99.4", np.zeros(3))  # compared by identity with `...`, never elementwise
    check("99.4", (np.zeros(3), ...))


@pytest.mark.parametrize("bad_id", ["4.2", "04", "04.x", "lesson04.2", " 04.2"])
def test_ids_look_like_nn_dot_k(private_registry, bad_id):
    with pytest.raises(ValueError, match="exercise ids look like '04.2'"):
        exercise(bad_id)
    with pytest.raises(WorkbookError, match="exercise ids look like '04.2'"):
        check(bad_id, 1)


def test_an_id_is_registered_once(private_registry):
    exercise("99.4")(lambda answer: None)
    with pytest.raises(ValueError, match="exercise 99.4 is registered twice"):
        exercise("99.4")(lambda answer: None)


def test_an_unknown_exercise_is_named_even_before_an_answer(private_registry):
    with pytest.raises(WorkbookError, match="there is no exercise 99.9; check the id"):
        check("99.9", ...)  # no lesson99 module: the id is wrong, whatever the answer
    with pytest.raises(WorkbookError, match="there is no exercise 01.99"):
        check("01.99", 1)  # lesson01 exists, but has no exercise 99


def test_a_lesson_that_fails_to_import_is_not_reported_as_a_missing_exercise(private_registry, monkeypatch):
    def import_module(name):
        raise ModuleNotFoundError("No module named 'tensorrt'", name="tensorrt")

    monkeypatch.setattr(registry.importlib, "import_module", import_module)
    with pytest.raises(ModuleNotFoundError, match="tensorrt"):
        check("98.1", 1)


def test_load_all_imports_every_lesson_module():
    lessons = sorted(p.stem[len("lesson"):] for p in (ROOT / "utils" / "exercises").glob("lesson[0-9][0-9].py"))
    ids = registry.load_all()
    assert ids == sorted(ids) and {i.split(".")[0] for i in ids} == set(lessons)


# --- the notebooks and the registry agree ----------------------------------------------------------------------------


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _text(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _checked_ids() -> dict[str, list[str]]:
    """exercise id -> the notebooks whose code cells check it (once per check call)."""
    used: dict[str, list[str]] = defaultdict(list)
    for path in NOTEBOOKS:
        for cell in _cells(path):
            if cell["cell_type"] == "code":
                for exercise_id in CHECK_ID.findall(_text(cell)):
                    used[exercise_id].append(path.name)
    return used


def test_every_exercise_a_notebook_checks_is_registered():
    registered = set(registry.load_all())
    unknown = {i: names for i, names in _checked_ids().items() if i not in registered}
    assert not unknown, f"checked in a notebook but not registered in utils/exercises/lessonNN.py: {unknown}"


def test_every_registered_exercise_is_checked_once_in_its_own_lessons_notebook():
    used = _checked_ids()
    problems = []
    for exercise_id in registry.load_all():
        names = used.get(exercise_id, [])
        if len(names) != 1:
            problems.append(f"{exercise_id} is checked {len(names)} times ({', '.join(names) or 'nowhere'})")
        elif not names[0].startswith(exercise_id.split(".")[0] + "_"):
            problems.append(f"{exercise_id} is checked in {names[0]}, not in its lesson's notebook")
    assert not problems, "; ".join(problems)


def test_every_checked_exercise_has_its_task_under_the_exercises_heading():
    problems = []
    for path in NOTEBOOKS:
        cells = _cells(path)
        markdown = [_text(c) for c in cells if c["cell_type"] == "markdown"]
        ids = [i for c in cells if c["cell_type"] == "code" for i in CHECK_ID.findall(_text(c))]
        if not ids:
            continue
        heading = next((n for n, c in enumerate(cells) if c["cell_type"] == "markdown"
                        and re.search(r"^## Exercises\s*$", _text(c), re.MULTILINE)), None)
        if heading is None:
            problems.append(f"{path.name} checks exercises but has no '## Exercises' heading")
            continue
        before = [i for c in cells[:heading] if c["cell_type"] == "code" for i in CHECK_ID.findall(_text(c))]
        problems += [f"{path.name}: {i} is checked above '## Exercises' (exercises go at the end)" for i in before]
        problems += [f"{path.name}: no markdown cell states '**Exercise {i}**'" for i in ids
                     if not any(f"**Exercise {i}**" in text for text in markdown)]
    assert not problems, "; ".join(problems)


def test_ipython_shows_only_the_message_of_a_wrong_answer(private_registry):
    """In a notebook a wrong answer reads as its message, not as a traceback through the registry's internals."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    @exercise("99.4")
    def five(answer):
        if answer != 5:
            raise NotYetRight(f"{answer} is not 5; hint: add one")

    shell = InteractiveShell.instance()
    try:
        shell.user_ns["check"] = check
        with capture_output() as captured:
            result = shell.run_cell('check("99.4", 4)')
        other = shell.run_cell("1 / 0")  # other errors keep IPython's full traceback
    finally:
        InteractiveShell.clear_instance()
    assert isinstance(result.error_in_exec, NotYetRight) and isinstance(other.error_in_exec, ZeroDivisionError)
    assert captured.stdout.strip() == "\x1b[31mNotYetRight\x1b[0m: 4 is not 5; hint: add one"
