"""The common shape every reader produces, and the identifier clean-up they share."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from taxonomy.errors import CorpusError, Problem

ARXIV_NEW = re.compile(r"(?<![\d.])(\d{4}\.\d{4,5})(v\d+)?(?![\d])")
ARXIV_OLD = re.compile(r"\b([a-z-]+(?:\.[A-Z]{2})?/\d{7})(v\d+)?\b")
DOI_RE = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>]+)", re.IGNORECASE)


@dataclass
class Record:
    """One paper as a source lists it; `labels` are heading paths such as ('Fundamental', 'MIM for CNNs')."""

    title: str
    file: str = ""
    line: int = 0
    key: str = ""
    authors: list[str] = field(default_factory=list)
    year: str = ""
    venue: str = ""
    doi: str = ""
    arxiv_id: str = ""
    url: str = ""
    code_url: str = ""
    project_url: str = ""
    abstract: str = ""
    short_name: str = ""
    labels: list[tuple[str, ...]] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class Skipped:
    """Something that looks like an entry but did not become a paper, and why (listed in import-skipped.csv)."""

    file: str
    line: int
    reason: str
    text: str = ""


@dataclass
class Source:
    """What one file holds: its records and, for heading-structured lists, the heading tree in order; `skipped`
    holds the entry-like lines that did not become records, so every entry is accounted for."""

    path: Path
    format: str
    records: list[Record]
    headings: list[tuple[str, ...]] = field(default_factory=list)  # every heading path that holds papers
    skipped: list[Skipped] = field(default_factory=list)


def clean_arxiv(*values: str) -> str:
    """The first arXiv id (without version) found in any value: a bare id, 'arXiv:…', or an arxiv.org URL."""
    for value in values:
        value = str(value or "").strip()
        if not value:
            continue
        if "arxiv" not in value.lower() and not re.fullmatch(r"\d{4}\.\d{4,5}(v\d+)?", value):
            continue
        m = ARXIV_NEW.search(value) or ARXIV_OLD.search(value)
        if m:
            return m.group(1)
    return ""


def clean_doi(value: str) -> str:
    """A bare lower-case DOI from '10.…', 'doi:10.…' or a doi.org URL; '' when there is none."""
    m = DOI_RE.search(str(value or ""))
    return m.group(1).rstrip(".,;").lower() if m else ""


def clean_year(value: object) -> str:
    m = re.search(r"(1[89]|20)\d\d", str(value or ""))
    return m.group(0) if m else ""


def squash(text: object) -> str:
    """One line of text: whitespace runs collapsed."""
    return " ".join(str(text or "").split())


def read_utf8(path: Path) -> str:
    """The file's text; a file that is not UTF-8 is a problem naming the line of the first bad byte."""
    from taxonomy.corpus.folder import decode_utf8

    text, problems = decode_utf8(path, path.read_bytes())
    fail(path, problems)
    return text or ""


def fail(path: Path, problems: list[Problem]) -> None:
    if problems:
        problems = sorted(problems)
        shown = "; ".join(str(q) for q in problems[1:4])
        raise CorpusError(problems, hint=f"{shown}{' …' if len(problems) > 4 else ''}")


MAX_TITLE = 2000


def check_titles(path: Path, records: list[Record]) -> list[Problem]:
    """Every record needs a title of title length; anything else may be missing."""
    problems = [Problem(str(path), r.line, "title", "entry has no title") for r in records if not r.title]
    return problems + [Problem(str(path), r.line, "title", f"{len(r.title):,} characters long; expected a title "
                               f"(at most {MAX_TITLE:,}), is an abstract or a whole file in this field?")
                       for r in records if len(r.title) > MAX_TITLE]
