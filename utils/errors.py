"""The one exception type the workbook raises for problems a user can fix."""


class WorkbookError(Exception):
    """A problem with the user's input or environment, described in one line that says what to do.

    The command line prints only the message (no traceback) and exits with status 2.
    """

    def __init__(self, message: str) -> None:
        if "\n" in message:
            raise ValueError("WorkbookError messages are one line")
        super().__init__(message)
