"""One source, two versions: the student notebooks, made from the instructor notebooks.

The notebooks in `notebooks/` are the instructor's version: every exercise is solved, so the whole workbook runs and
is tested as it is. A solution sits between nbgrader's markers, in the exercise's code cell, with the hint the
learner will see on a comment line above it:

    # HINT: the smallest power of ten above the difference you measured
    ### BEGIN SOLUTION
    tolerance = 1e-4
    ### END SOLUTION

`make_student` (`python -m utils student notebooks --out build/student`, `make student`) writes a student copy of
every `NN_*.ipynb`: each solution block becomes `raise NotImplementedError("<hint>")` at the block's indentation
(the hint is the cell's `# HINT:` lines above the block, joined; a default naming the exercise if there are none),
solution blocks in markdown cells are removed, and every output is cleared. Where the check cell passes a name as
the answer (`check("04.1", smallest_atol, ...)`) and a top-level solution block assigns it, the stub first sets it
to `...`, so that running the check before solving says "no answer yet" instead of a NameError. The cells that held
a solution and the check cell right after each (the next code cell, if it calls `check(`) are tagged
`raises-exception`, so nbval (`pytest --nbval-lax`) accepts their exceptions and still fails on any other cell that
raises; JupyterLab's Run All goes past them too.

The markers are nbgrader's own, so a teacher who grades with nbgrader can use the source notebooks as they are:
nbgrader's "clear solutions" step recognises the same blocks. Markers must be balanced and not nested; anything
else is refused with a one-line `WorkbookError` naming the notebook and cell, and then nothing is written.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from utils.errors import WorkbookError

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
HINT = re.compile(r"^\s*# HINT:\s*(.*?)\s*$")
CHECK_CALL = re.compile(r"\bcheck\(")
# A check call: the exercise id, and the answer when it is passed as a plain name (`check("04.1", smallest_atol, ...)`).
# check("06.3", answer, ...) or check("06.3", (scale, q), ...): the exercise and the name(s) its answer is read from.
CHECK_ID = re.compile(r"""\bcheck\(\s*["'](\d{2}\.\d+)["'](?:\s*,\s*(\((?:\s*[A-Za-z_]\w*\s*,?)+\)|[A-Za-z_]\w*)\s*[,)])?""")
EXERCISE_HEADING = re.compile(r"\*\*Exercise (\d{2}\.\d+)\*\*")
RAISES_TAG = "raises-exception"
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"


@dataclass
class StudentNotebook:
    """One student notebook: where it was written, how many solutions it hides, and the cells tagged to raise."""

    path: Path
    solutions: int = 0
    tagged: list[str] = field(default_factory=list)  # cell ids (or "cell N" where a cell has none)


@dataclass
class _Block:
    start: int  # line index of BEGIN
    end: int  # line index of END
    indent: str
    hints: list[str]


def _lines(cell: dict[str, Any]) -> list[str]:
    source = cell.get("source", "")
    text = "".join(source) if isinstance(source, list) else source
    return text.splitlines(keepends=True)


def _set_source(cell: dict[str, Any], lines: list[str]) -> None:
    text = "".join(lines)
    cell["source"] = text.splitlines(keepends=True)


def _blocks(lines: list[str], where: str, strict: bool = True) -> list[_Block]:
    """The solution blocks of one cell, checked to be balanced and not nested. `strict` (code cells): a line that
    mentions BEGIN/END SOLUTION without being exactly a marker is refused, as nbgrader would take it for one."""
    blocks: list[_Block] = []
    open_at: int | None = None
    hints: list[str] = []
    for number, line in enumerate(lines):
        stripped = line.strip()
        if stripped == BEGIN:
            if open_at is not None:
                raise WorkbookError(f"{where}: nested {BEGIN} on line {number + 1} (the block opened on line "
                                    f"{open_at + 1} is not closed); close each block with {END} before the next")
            open_at = number
        elif stripped == END:
            if open_at is None:
                raise WorkbookError(f"{where}: {END} on line {number + 1} has no {BEGIN} above it")
            begin_line = lines[open_at]
            blocks.append(_Block(open_at, number, begin_line[: len(begin_line) - len(begin_line.lstrip())], hints))
            open_at, hints = None, []
        elif strict and ("BEGIN SOLUTION" in stripped or "END SOLUTION" in stripped):
            raise WorkbookError(f"{where}: line {number + 1} ({stripped!r}) looks like a solution marker but is not "
                                f"exactly {BEGIN!r} or {END!r} on a line of its own")
        elif open_at is None and (match := HINT.match(line)):
            hints.append(match.group(1))
    if open_at is not None:
        raise WorkbookError(f"{where}: {BEGIN} on line {open_at + 1} has no {END}")
    return blocks


def _exercise_id(cells: list[dict[str, Any]], index: int) -> str | None:
    """The exercise a solution cell belongs to: the id its check cell names, else the markdown heading above it."""
    for cell in cells[index:index + 2]:
        if cell.get("cell_type") == "code" and (match := CHECK_ID.search("".join(_lines(cell)))):
            return match.group(1)
    for cell in reversed(cells[:index]):
        if cell.get("cell_type") == "markdown" and (matches := EXERCISE_HEADING.findall("".join(_lines(cell)))):
            return str(matches[-1])
    return None


def _assigns(lines: list[str], name: str) -> bool:
    assignment = re.compile(rf"^\s*{re.escape(name)}\s*(:[^=]*)?=(?!=)")
    return any(assignment.match(line) for line in lines)


def _hide_solutions(lines: list[str], blocks: list[_Block], default_hint: str, answer_names: Sequence[str] = ()) -> list[str]:
    result: list[str] = []
    position = 0
    for block in blocks:
        result += lines[position:block.start]
        for name in answer_names:
            if not block.indent and _assigns(lines[block.start + 1:block.end], name):
                result.append(f"{name} = ...  # your answer\n")
        hint = " ".join(h for h in block.hints if h) or default_hint
        result.append(f"{block.indent}raise NotImplementedError({json.dumps(hint, ensure_ascii=False)})\n")
        position = block.end + 1
    result += lines[position:]
    if result and not "".join(lines).endswith("\n"):
        result[-1] = result[-1].rstrip("\n")  # the cell ended without a newline; so does the student's
    return result


def _remove_blocks(lines: list[str], blocks: list[_Block]) -> list[str]:
    result: list[str] = []
    position = 0
    for block in blocks:
        result += lines[position:block.start]
        position = block.end + 1
    return result + lines[position:]


def _tag(cell: dict[str, Any]) -> None:
    tags = cell.setdefault("metadata", {}).setdefault("tags", [])
    if RAISES_TAG not in tags:
        tags.append(RAISES_TAG)


def student_notebook(notebook: dict[str, Any], name: str) -> tuple[dict[str, Any], int, list[str]]:
    """The student version of one notebook (parsed JSON, not modified), its number of solutions and tagged cells."""
    import copy

    student = copy.deepcopy(notebook)
    cells: list[dict[str, Any]] = student.get("cells", [])
    solutions = 0
    to_tag: set[int] = set()
    for index, cell in enumerate(cells):
        where = f"{name}, cell {index}" + (f" (id {cell['id']})" if cell.get("id") else "")
        lines = _lines(cell)
        blocks = _blocks(lines, where, strict=cell.get("cell_type") == "code")
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
            if not blocks:
                continue
            exercise = _exercise_id(cells, index)
            default = (f"exercise {exercise}" if exercise else "this exercise") + ": write your answer here, then run the check below"
            following = next((i for i in range(index + 1, len(cells)) if cells[i].get("cell_type") == "code"), None)
            check_source = "".join(_lines(cells[following])) if following is not None else ""
            check_call = CHECK_ID.search(check_source)
            names = re.findall(r"[A-Za-z_]\w*", check_call.group(2) or "") if check_call else []
            _set_source(cell, _hide_solutions(lines, blocks, default, names))
            solutions += len(blocks)
            to_tag.add(index)
            if following is not None and CHECK_CALL.search(check_source):
                to_tag.add(following)
        elif blocks:
            _set_source(cell, _remove_blocks(lines, blocks))
    for index in sorted(to_tag):
        _tag(cells[index])
    tagged = [str(cells[i].get("id") or f"cell {i}") for i in sorted(to_tag)]
    return student, solutions, tagged


def _read(path: Path) -> dict[str, Any]:
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WorkbookError(f"cannot read notebook {path} ({exc}); is it a saved .ipynb file?") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise WorkbookError(f"{path} is not a Jupyter notebook (no list of cells)")
    return notebook


def notebook_text(notebook: dict[str, Any]) -> str:
    """A notebook as Jupyter writes it (nbformat's layout: sorted keys, one-space indent, trailing newline)."""
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def make_student(source_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> list[StudentNotebook]:
    """Write the student version of every `NN_*.ipynb` in `source_dir` into `out_dir`; return what was written.

    Every notebook is converted before any file is written, so a marker error leaves `out_dir` as it was. Older
    `NN_*.ipynb` files in `out_dir` with no source any more are removed, so the folder mirrors `source_dir`.
    """
    from utils.files import ensure_writable_dir, write_text_atomic

    source_dir, out_dir = Path(source_dir), Path(out_dir)
    if not source_dir.is_dir():
        raise WorkbookError(f"notebook folder {source_dir} does not exist; give the folder of the instructor notebooks")
    sources = sorted(source_dir.glob(NOTEBOOK_GLOB))
    if not sources:
        raise WorkbookError(f"no NN_*.ipynb notebooks in {source_dir}; give the folder of the instructor notebooks")
    if out_dir.resolve() == source_dir.resolve():
        raise WorkbookError(f"--out {out_dir} is the source folder; the student notebooks would replace the solutions")
    converted = [(out_dir / path.name, *student_notebook(_read(path), path.name)) for path in sources]
    ensure_writable_dir(out_dir)
    written = []
    for path, notebook, solutions, tagged in converted:
        write_text_atomic(path, notebook_text(notebook))
        written.append(StudentNotebook(path, solutions, tagged))
    for stale in sorted(set(out_dir.glob(NOTEBOOK_GLOB)) - {item.path for item in written}):
        stale.unlink()
    return written
