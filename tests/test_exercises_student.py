"""utils.exercises.student: the student notebooks hide every solution, keep everything else, and tag exactly the
cells that may raise (each solution cell and the check cell after it).

The first tests build the student versions of the real notebooks (whatever exercises they hold as they are now);
the others use small made-up notebooks for each rule and each refusal.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from utils.errors import WorkbookError
from utils.exercises.student import BEGIN, END, RAISES_TAG, make_student, notebook_text

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
HINT = re.compile(r"^\s*# HINT:\s*(.*?)\s*$")


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def _split(cell: dict) -> tuple[list[str], list[list[str]], list[list[str]]]:
    """A cell's lines outside solution blocks, the lines of each block, and the HINT lines above each block.

    Written independently of the module under test (a plain walk over the lines), to check it."""
    outside: list[str] = []
    blocks: list[list[str]] = []
    hints: list[list[str]] = []
    current: list[str] | None = None
    pending: list[str] = []
    for line in _source(cell).splitlines():
        if line.strip() == BEGIN:
            current = []
            hints.append(pending)
            pending = []
        elif line.strip() == END:
            blocks.append(current or [])
            current = None
        elif current is not None:
            current.append(line)
        else:
            outside.append(line)
            if match := HINT.match(line):
                pending.append(match.group(1))
    return outside, blocks, hints


def _raised_hints(source: str) -> list[str]:
    """The string each `raise NotImplementedError("...")` in `source` carries, in order (IPython magics dropped)."""
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("%"))
    return [node.exc.args[0].value for node in ast.walk(ast.parse(code))
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
            and getattr(node.exc.func, "id", None) == "NotImplementedError"
            and len(node.exc.args) == 1 and isinstance(node.exc.args[0], ast.Constant)]


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _meaningful(line: str) -> bool:
    """A solution line worth looking for in the student notebook: code, not a blank line, a comment or a bare bracket.

    Lines such as `)`, `]` or `else:` appear in any notebook, so finding one in the student version proves nothing;
    a line with a name or a number and at least four characters (`x = 1`, `pass` aside) is the solution's own."""
    text = line.strip()
    return bool(text) and not text.startswith("#") and len(text) >= 4 and re.search(r"[A-Za-z0-9]", text) is not None


# --- the real notebooks -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[dict, dict, str]]:
    """(instructor notebook, student notebook, name) for every NN_*.ipynb in notebooks/."""
    out = tmp_path_factory.mktemp("student")
    written = make_student(NOTEBOOKS, out)
    sources = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    assert [item.path.name for item in written] == [path.name for path in sources]
    return [(_read(path), _read(out / path.name), path.name) for path in sources]


def test_no_solution_text_leaks_into_the_student_notebooks(real):
    """Every meaningful line between the markers is absent from the student notebook (as a stripped line of any
    cell). A line that also appears outside every solution block of the source (an import the lesson already made,
    say) is not the solution's secret and is left out of the comparison."""
    hidden = 0
    for source, student, name in real:
        outside, solution = set(), set()
        for cell in source["cells"]:
            lines_outside, blocks, _ = _split(cell)
            outside |= {line.strip() for line in lines_outside}
            solution |= {line.strip() for block in blocks for line in block if _meaningful(line)}
        secret = solution - outside
        student_lines = {line.strip() for cell in student["cells"] for line in _source(cell).splitlines()}
        leaked = sorted(secret & student_lines)
        assert not leaked, f"{name}: solution lines in the student version: {leaked}"
        markers = [line for line in student_lines if "BEGIN SOLUTION" in line or "END SOLUTION" in line]
        assert not markers, f"{name}: markers left in the student version: {markers}"
        hidden += len(secret)
    assert hidden > 0, "the notebooks hold solutions (01 to 03 at least), so this test compared something"


def test_each_solution_cell_is_tagged_and_raises_its_hint(real):
    solved = 0
    for source, student, name in real:
        cells = list(zip(source["cells"], student["cells"]))
        for index, (before, after) in enumerate(cells):
            _, blocks, hints = _split(before)
            if not blocks:
                continue
            solved += 1
            where = f"{name} cell {before.get('id')}"
            assert after["cell_type"] == "code" and after.get("id") == before.get("id"), where
            assert RAISES_TAG in _tags(after), f"{where}: the solution cell is not tagged {RAISES_TAG}"
            assert _raised_hints(_source(after)) == [" ".join(h) for h in hints], where
            assert all(hint for hint in hints), f"{where}: every exercise in the notebooks has a # HINT: line"
            following = next(c for c in cells[index + 1:] if c[0]["cell_type"] == "code")
            assert "check(" in _source(following[0]), f"{where}: the check call goes in the next code cell"
            assert RAISES_TAG in _tags(following[1]), f"{where}: its check cell is not tagged {RAISES_TAG}"
    assert solved > 0


def test_only_solution_and_check_cells_change_or_may_raise(real):
    """Every other cell is the instructor's, unchanged; no other cell is tagged to raise."""
    for source, student, name in real:
        assert student["metadata"] == source["metadata"] and len(student["cells"]) == len(source["cells"]), name
        allowed: set[int] = set()
        for index, cell in enumerate(source["cells"]):
            if _split(cell)[1] and cell["cell_type"] == "code":
                allowed.add(index)
                allowed.add(next(i for i in range(index + 1, len(source["cells"]))
                                 if source["cells"][i]["cell_type"] == "code"))
        for index, (before, after) in enumerate(zip(source["cells"], student["cells"])):
            assert after.get("outputs", []) == [] and after.get("execution_count") is None, f"{name} cell {index}"
            if RAISES_TAG in _tags(after):
                assert index in allowed, f"{name} cell {index} ({after.get('id')}) may raise but holds no exercise"
            if index not in allowed or not _split(before)[1]:
                assert _source(after) == _source(before), f"{name} cell {index} changed"
                assert set(_tags(after)) - set(_tags(before)) <= {RAISES_TAG}, f"{name} cell {index}"


def test_notebooks_without_exercises_are_copied_as_they_are(real):
    for source, student, name in real:
        if not any(_split(cell)[1] for cell in source["cells"]):
            assert student == source, name  # the notebooks in git carry no outputs, so clearing them changes nothing


# --- made-up notebooks --------------------------------------------------------------------------------------------


def _cell(kind: str, source: str, cell_id: str, **extra) -> dict:
    cell = {"cell_type": kind, "id": cell_id, "metadata": {}, "source": source.splitlines(keepends=True)}
    if kind == "code":
        cell.update(execution_count=extra.pop("execution_count", None), outputs=extra.pop("outputs", []))
    cell.update(extra)
    return cell


def _write(folder: Path, name: str, *cells: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    notebook = {"cells": list(cells), "metadata": {"kernelspec": {"name": "python3"}}, "nbformat": 4,
                "nbformat_minor": 5}
    path = folder / name
    path.write_text(notebook_text(notebook), encoding="utf-8")
    return path


OUTPUT = {"name": "stdout", "output_type": "stream", "text": ["42\n"]}


def test_indentation_hints_and_the_default_hint(tmp_path):
    _write(tmp_path / "src", "01_demo.ipynb",
           _cell("markdown", "**Exercise 01.1** · two answers", "task"),
           _cell("code", 'x = 1\n# HINT: say "two"\n# HINT: in words\n### BEGIN SOLUTION\nanswer = "two"\n'
                         '### END SOLUTION\nif x:\n    # HINT: indented\n    ### BEGIN SOLUTION\n    other = 2\n'
                         '    ### END SOLUTION', "solve", outputs=[OUTPUT], execution_count=3),
           _cell("code", 'check("01.1", answer)', "check-1"),
           _cell("code", "def f():\n    ### BEGIN SOLUTION\n    return 3\n    ### END SOLUTION\n", "solve-2"),
           _cell("code", 'check("01.2", f())', "check-2"),
           _cell("code", "print('after')", "after", outputs=[OUTPUT]))
    [item] = make_student(tmp_path / "src", tmp_path / "out")
    assert item.solutions == 3 and item.tagged == ["solve", "check-1", "solve-2", "check-2"]
    cells = _read(tmp_path / "out" / "01_demo.ipynb")["cells"]
    assert _source(cells[1]) == ('x = 1\n# HINT: say "two"\n# HINT: in words\nanswer = ...  # your answer\n'
                                 'raise NotImplementedError("say \\"two\\" in words")\nif x:\n    # HINT: indented\n'
                                 '    raise NotImplementedError("indented")')
    assert _raised_hints(_source(cells[1])) == ['say "two" in words', "indented"]
    with pytest.raises(NotImplementedError, match='say "two" in words'):
        exec(compile(_source(cells[1]), "<cell>", "exec"), {})  # the student's cell raises the hint, as written
    assert _raised_hints(_source(cells[3])) == ["exercise 01.2: write your answer here, then run the check below"]
    assert [RAISES_TAG in _tags(cell) for cell in cells] == [False, True, True, True, True, False]
    assert all(cell.get("outputs", []) == [] and cell.get("execution_count") is None for cell in cells)
    assert _source(cells[5]) == "print('after')"


def test_checking_before_solving_says_no_answer_yet(tmp_path):
    """The stub sets the name the check reads to `...` before raising, so running the check cell next (as Run All does
    past a cell tagged raises-exception) gives the registry's "no answer yet", not a NameError."""
    from utils.exercises.registry import NotYetRight, check

    _write(tmp_path / "src", "03_demo.ipynb",
           _cell("code", "# HINT: the class name\n### BEGIN SOLUTION\ntop_class: str = 'tabby'\n### END SOLUTION\n", "solve"),
           _cell("code", 'check("03.1", top_class, top5=[])', "check"),
           _cell("code", "if True:\n    ### BEGIN SOLUTION\n    nested = 1\n    ### END SOLUTION\n", "solve-2"),
           _cell("code", 'check("03.2", nested)', "check-2"))
    make_student(tmp_path / "src", tmp_path / "out")
    cells = _read(tmp_path / "out" / "03_demo.ipynb")["cells"]
    namespace: dict = {"check": check}
    with pytest.raises(NotImplementedError, match="the class name"):
        exec(compile(_source(cells[0]), "<cell>", "exec"), namespace)
    with pytest.raises(NotYetRight, match="03.1: no answer yet"):
        exec(compile(_source(cells[1]), "<cell>", "exec"), namespace)
    assert "nested = ..." not in _source(cells[2])  # inside a block: a placeholder there would not run either


def test_default_hint_names_the_exercise_from_the_heading_and_keeps_other_tags(tmp_path):
    _write(tmp_path / "src", "02_demo.ipynb",
           _cell("markdown", "**Exercise 02.3** · no check cell follows", "task"),
           _cell("code", "### BEGIN SOLUTION\nvalue = 7\n### END SOLUTION\n", "solve", metadata={"tags": ["keep"]}),
           _cell("code", "print(1)", "plain"))
    make_student(tmp_path / "src", tmp_path / "out")
    cells = _read(tmp_path / "out" / "02_demo.ipynb")["cells"]
    assert _raised_hints(_source(cells[1])) == ["exercise 02.3: write your answer here, then run the check below"]
    assert _tags(cells[1]) == ["keep", RAISES_TAG]
    assert _tags(cells[2]) == []  # not a check cell: it must not raise, so nbval still tests it


def test_markdown_solutions_are_removed(tmp_path):
    _write(tmp_path / "src", "03_demo.ipynb",
           _cell("markdown", f"Before.\n{BEGIN}\nThe answer is 42.\n{END}\nAfter.", "md"),
           _cell("markdown", "Mentions BEGIN SOLUTION in a sentence, which is fine in markdown.", "prose"))
    make_student(tmp_path / "src", tmp_path / "out")
    cells = _read(tmp_path / "out" / "03_demo.ipynb")["cells"]
    assert _source(cells[0]) == "Before.\nAfter."
    assert _source(cells[1]) == "Mentions BEGIN SOLUTION in a sentence, which is fine in markdown."
    assert not any(RAISES_TAG in _tags(cell) for cell in cells)


def test_a_notebook_without_exercises_is_copied_with_outputs_cleared(tmp_path):
    cells = [_cell("markdown", "# Title", "title"), _cell("code", "%load_ext x\nprint(42)", "run", outputs=[OUTPUT],
                                                            execution_count=1, metadata={"tags": ["parameters"]})]
    source = _write(tmp_path / "src", "00_plain.ipynb", *cells)
    [item] = make_student(tmp_path / "src", tmp_path / "out")
    assert item.solutions == 0 and item.tagged == []
    expected = _read(source)
    expected["cells"][1].update(outputs=[], execution_count=None)
    assert _read(item.path) == expected
    assert item.path.read_text(encoding="utf-8") == notebook_text(expected)  # Jupyter's own layout


@pytest.mark.parametrize("source, message", [
    (f"{BEGIN}\nx = 1\n", f"{BEGIN} on line 1 has no {END}"),
    (f"x = 1\n{END}\n", f"{END} on line 2 has no {BEGIN} above it"),
    (f"{BEGIN}\n{BEGIN}\nx = 1\n{END}\n{END}\n", f"nested {BEGIN} on line 2"),
    (f"{BEGIN}\nx = 1\n{END}\n{END}\n", f"{END} on line 4 has no {BEGIN}"),
    ("## BEGIN SOLUTION\nx = 1\n### END SOLUTION\n", "looks like a solution marker"),
    (f"{BEGIN} (typo)\nx = 1\n{END}\n", "looks like a solution marker"),
])
def test_unbalanced_or_nested_markers_are_refused_and_nothing_is_written(tmp_path, source, message):
    _write(tmp_path / "src", "01_good.ipynb", _cell("code", f"{BEGIN}\nx = 1\n{END}", "fine"))
    _write(tmp_path / "src", "02_bad.ipynb", _cell("markdown", "text", "md"), _cell("code", source, "broken"))
    with pytest.raises(WorkbookError, match=re.escape(message)) as error:
        make_student(tmp_path / "src", tmp_path / "out")
    assert str(error.value).startswith("02_bad.ipynb, cell 1 (id broken): ")
    assert not (tmp_path / "out").exists()  # 01_good was converted, but nothing is written unless all are


def test_unbalanced_markdown_markers_are_refused(tmp_path):
    _write(tmp_path / "src", "01_bad.ipynb", _cell("markdown", f"{BEGIN}\nThe answer.", "md"))
    with pytest.raises(WorkbookError, match=f"01_bad.ipynb, cell 0 \\(id md\\): {BEGIN} on line 1 has no {END}"):
        make_student(tmp_path / "src", tmp_path / "out")


def test_the_output_folder_mirrors_the_sources_and_is_never_the_source(tmp_path):
    src = tmp_path / "src"
    _write(src, "01_a.ipynb", _cell("code", "print(1)", "c"))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "09_renamed_since.ipynb").write_text("{}")
    (tmp_path / "out" / "notes.txt").write_text("mine")
    make_student(src, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["01_a.ipynb", "notes.txt"]
    with pytest.raises(WorkbookError, match="is the source folder"):
        make_student(src, src)
    with pytest.raises(WorkbookError, match="no NN_\\*.ipynb notebooks"):
        make_student(tmp_path / "out" / "..", tmp_path / "elsewhere")
    with pytest.raises(WorkbookError, match="does not exist"):
        make_student(tmp_path / "missing", tmp_path / "elsewhere")
    (src / "02_broken.ipynb").write_text("{not json")
    with pytest.raises(WorkbookError, match="cannot read notebook .*02_broken.ipynb"):
        make_student(src, tmp_path / "out")


def test_the_command_line(tmp_path, capsys):
    from utils.cli import main

    _write(tmp_path / "src", "01_a.ipynb", _cell("code", f"# HINT: h\n{BEGIN}\nx = 1\n{END}", "s"),
           _cell("code", 'check("01.1", x)', "c"))
    assert main(["student", str(tmp_path / "src"), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "01_a.ipynb: 1 solution(s) hidden, 2 cell(s) tagged raises-exception" in out
    assert f"wrote 1 student notebooks to {tmp_path / 'out'}" in out
    assert main(["student", str(tmp_path / "missing"), "--out", str(tmp_path / "out")]) == 2
    assert "does not exist" in capsys.readouterr().err
