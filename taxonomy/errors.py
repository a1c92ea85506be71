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


def taxonomy_first(problems: list[Problem]) -> list[Problem]:
    """Problems in taxonomy files before the others (stable): a broken taxonomy (a duplicate node id) makes every
    paper's label look wrong, so its cause is what the user must read first."""
    return sorted(problems, key=lambda p: "taxonomies" not in p.file.replace("\\", "/").split("/")[:-1])


class UserError(Exception):
    """A mistake in the user's input or options: the CLI prints it in one line and exits 1."""


class CorpusError(UserError):
    """A corpus that failed validation; carries every problem found."""

    def __init__(self, problems: list[Problem], hint: str = "run `mimtax corpus validate` to list them all"):
        problems = taxonomy_first(problems)
        self.problems = problems
        head = str(problems[0]) if problems else "invalid corpus"
        more = f" (and {len(problems) - 1} more; {hint})" if len(problems) > 1 else ""
        super().__init__(head + more)


class UsageError(UserError):
    """A wrong option value (e.g. a --k out of range): one line and exit 2, like the parser's own errors."""


def check_cluster_counts(ks, n: int, what: str = "papers") -> None:
    """The one --k rule of every command: a cluster count the user gives must split the items into at least two
    groups and fewer groups than items (2 <= k <= n - 1), else exit 2 naming the range; nothing is clamped."""
    for k in ks:
        if not 2 <= k <= n - 1:
            allowed = f"2 to {n - 1}" if n >= 3 else "none (too few to cluster)"
            raise UsageError(f"--k {k}: out of range for {n} {what}; choose {allowed}")
