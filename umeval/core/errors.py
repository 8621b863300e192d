"""Errors a user can act on.

Every error raised for bad input says what is wrong, where (task, file, row) and how to fix it, in
one line; the CLI prints ``str(err)`` and exits non-zero without a traceback.
"""

from __future__ import annotations


class UmevalError(Exception):
    """Base class: a one-line, user-facing message with a fix."""

    def __init__(self, problem: str, fix: str | None = None) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem}; {fix}" if fix else problem)


class ConfigError(UmevalError):
    """Bad configuration: unknown task/model name, unknown key, bad value."""


class DataError(UmevalError):
    """Missing or malformed data: names the task, file and row."""

    def __init__(
        self,
        problem: str,
        fix: str | None = None,
        *,
        task: str | None = None,
        file: str | None = None,
        row: int | str | None = None,
    ) -> None:
        where = ", ".join(
            p for p in (f"task {task}" if task else "", f"file {file}" if file else "",
                        f"row {row}" if row is not None else "") if p
        )
        self.task, self.file, self.row = task, file, row
        super().__init__(f"{where}: {problem}" if where else problem, fix)


class DependencyError(UmevalError):
    """An optional dependency is missing; the message has the exact install line."""
