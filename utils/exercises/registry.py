"""The registry of self-checks: `@exercise("NN.K")` registers a check, `check("NN.K", answer, **context)` runs it.

A check is a function `(answer, **context) -> str | None`. It raises `NotYetRight("what is wrong; hint: ...")` when
the answer is wrong (one specific message per kind of mistake), and returns an optional sentence to print on
success. `context` carries what the notebook measured (a largest difference, raw timings...), so checks compute
the expected answer from the learner's own run instead of comparing with a number written down in advance.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any

Check = Callable[..., "str | None"]

_CHECKS: dict[str, Check] = {}
_ID = re.compile(r"^(\d{2})\.(\d+)$")


class NotYetRight(AssertionError):
    """The learner's answer is not right yet; the message says what is wrong and gives a hint."""

    def _render_traceback_(self) -> list[str]:
        """What IPython shows for it (its hook for exceptions that draw themselves): the message alone, in red. The
        traceback would only show this module's internals; the cell that raised is the learner's check cell."""
        return [f"\x1b[31m{type(self).__name__}\x1b[0m: {self}"]


def exercise(exercise_id: str) -> Callable[[Check], Check]:
    """Register the decorated function as the check of `exercise_id` ("NN.K": lesson NN, exercise K)."""
    if not _ID.match(exercise_id):
        raise ValueError(f"exercise ids look like '04.2', not {exercise_id!r}")

    def register(function: Check) -> Check:
        if exercise_id in _CHECKS:
            raise ValueError(f"exercise {exercise_id} is registered twice")
        _CHECKS[exercise_id] = function
        return function

    return register


def _load(exercise_id: str) -> Check:
    from utils.errors import WorkbookError

    match = _ID.match(exercise_id)
    if not match:
        raise WorkbookError(f"exercise ids look like '04.2', not {exercise_id!r}")
    if exercise_id not in _CHECKS:
        module = f"utils.exercises.lesson{match.group(1)}"
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:  # the lesson exists but imports something missing: say so, don't hide it
                raise
    try:
        return _CHECKS[exercise_id]
    except KeyError:
        raise WorkbookError(f"there is no exercise {exercise_id}; check the id written above the exercise") from None


def check(exercise_id: str, answer: Any, **context: Any) -> None:
    """Check the learner's `answer` to exercise `exercise_id`; print a confirmation or raise `NotYetRight`."""
    function = _load(exercise_id)  # a mistyped id is reported before anything about the answer
    def unanswered(value: Any) -> bool:  # by identity: an answer may be an array, whose == is elementwise
        return value is Ellipsis or value is None

    if unanswered(answer) or (isinstance(answer, tuple) and answer and all(unanswered(part) for part in answer)):
        raise NotYetRight(f"{exercise_id}: no answer yet; replace the `...` or `raise NotImplementedError` above "
                          "with your code, run that cell, then this one")
    praise = function(answer, **context)
    print(f"✓ {exercise_id} correct" + (f": {praise}" if praise else ""))


# How close an answer must be to a value to count as that value: float32 against float64 arithmetic, or a number
# copied from a printout (4 significant digits), still counts.
CLOSE = 1e-3


def close_to(answer: float, value: float) -> bool:
    """`answer` is `value` within CLOSE, relative (and within 1e-12 absolute, for values that are 0)."""
    import math

    return math.isclose(answer, value, rel_tol=CLOSE, abs_tol=1e-12)


def is_number(value: Any) -> bool:
    """A real number, and not a bool (which Python counts as one)."""
    import numbers

    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def as_number(answer: Any, what: str) -> float:
    """`answer` as a float (a one-element numpy array counts), or `NotYetRight` naming `what` was expected."""
    import numpy as np

    if isinstance(answer, np.ndarray) and answer.size == 1:
        answer = answer.item()
    if not is_number(answer):
        raise NotYetRight(f"give {what} as one number, not a {type(answer).__name__}")
    return float(answer)


def registered() -> list[str]:
    """Every exercise id whose lesson module has been loaded, sorted."""
    return sorted(_CHECKS)


def load_all() -> list[str]:
    """Import every lesson module and return every exercise id."""
    from pathlib import Path

    for path in sorted(Path(__file__).parent.glob("lesson[0-9][0-9].py")):
        importlib.import_module(f"utils.exercises.{path.stem}")
    return registered()
