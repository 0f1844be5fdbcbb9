"""The one exception type the workbook raises for problems a user can fix, and the check every choice goes through."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

T = TypeVar("T")


class WorkbookError(Exception):
    """A problem with the user's input or environment, described in one line that says what to do.

    The command line prints only the message (no traceback) and exits with status 2.
    """

    def __init__(self, message: str) -> None:
        if "\n" in message:
            raise ValueError("WorkbookError messages are one line")
        super().__init__(message)


def one_of(value: T, choices: Iterable[T], what: str) -> T:
    """`value` where it is one of `choices`; else a one-line error naming the `what` and every choice."""
    options = list(choices)
    if value not in options:
        raise WorkbookError(f"unknown {what} {value!r}; choose one of: {', '.join(map(str, options))}")
    return value
