"""The one error type a user sees: a location and what was expected, printed on one line."""

from __future__ import annotations


class DramaError(Exception):
    """A problem in the user's files or environment, reported as `file:line:column: message`."""

    def __init__(self, message: str, file: str | None = None, line: int = 0, column: int = 0):
        super().__init__(message)
        self.message = " ".join(str(message).split())
        self.file = file
        self.line = line
        self.column = column

    def __str__(self) -> str:
        if self.file is None:
            return self.message
        return f"{self.file}:{self.line}:{self.column}: {self.message}"
