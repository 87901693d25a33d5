"""The one error type a user sees: a location and what was expected, printed on one line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


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


MAX_ERRORS = 20  # like a compiler: enough to fix in one pass, not a wall of text


class DramaErrors(DramaError):
    """Several problems found in one pass of `drama check`, one line each."""

    def __init__(self, errors: list[DramaError]):
        self.errors = errors[:MAX_ERRORS]
        first = self.errors[0]
        super().__init__(first.message, first.file, first.line, first.column)

    def __str__(self) -> str:
        # Printed after "error: " by the CLI and by watch: every further line gets its own.
        return "\nerror: ".join(DramaError.__str__(e) for e in self.errors)


class Collector:
    """Gathers the errors of independent parts (chapters, scenes, lines, voices) so one run
    reports them all; `done()` raises what was gathered."""

    def __init__(self) -> None:
        self.errors: list[DramaError] = []

    @contextmanager
    def attempt(self) -> Iterator[None]:
        try:
            yield
        except DramaErrors as exc:
            self.errors.extend(exc.errors)
        except DramaError as exc:
            self.errors.append(exc)

    def done(self) -> None:
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise DramaErrors(self.errors)
