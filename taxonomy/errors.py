"""Errors a user can cause, reported as `file:line: column: message` and exit code 1."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One problem found in an input file; line 0 means the whole file or an unknown line."""

    file: str
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.column}: {self.message}"


class UserError(Exception):
    """A mistake in the user's input or options: the CLI prints it in one line and exits 1."""


class CorpusError(UserError):
    """A corpus that failed validation; carries every problem found."""

    def __init__(self, problems: list[Problem], hint: str = "run `mimtax corpus validate` to list them all"):
        self.problems = problems
        head = str(problems[0]) if problems else "invalid corpus"
        more = f" (and {len(problems) - 1} more; {hint})" if len(problems) > 1 else ""
        super().__init__(head + more)
