"""Awesome-list Markdown (the format of Lupin1998/Awesome-MIM): headings become taxonomy nodes, entries papers.

An entry is a bullet whose text starts with a bold title, followed by lines with the authors in italics, a
`Venue'Year [[Paper](url)] [[Code](url)]` line and an optional `<summary>Name Framework</summary>`. Fenced
code blocks (templates in "how to contribute" sections) are skipped; headings without papers are not nodes.
"""

from __future__ import annotations

import re
from pathlib import Path

from taxonomy.corpus.readers.records import Record, Source, clean_arxiv, clean_doi, fail, read_utf8, squash
from taxonomy.errors import Problem

HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
ENTRY = re.compile(r"^\s{0,3}[*-]\s+\*\*(.+?)\*\*")
AUTHORS = re.compile(r"^\s*\*([^*].*?)\*\s*(<br>)?\s*$")
VENUE = re.compile(r"^\s*([^\[<*][^\[]*?)'\s*(\d{4})")
LINK = re.compile(r"\[\[([^\]]+)\]\((\S+?)\)\]")
SUMMARY = re.compile(r"<summary>(.*?)</summary>")


def _finish(record: Record, lines: list[str]) -> None:
    for line in lines:
        if not record.authors and (m := AUTHORS.match(line)):
            record.authors = [squash(a) for a in m.group(1).split(",") if squash(a)]
            continue
        if not record.year and (m := VENUE.match(line)):
            venue = squash(m.group(1))
            record.venue, record.year = ("arXiv" if venue.lower() == "arxiv" else venue), m.group(2)
        for name, url in LINK.findall(line):
            kind = name.strip().lower()
            if kind == "paper" and not record.url:
                record.url = url
            elif kind == "code" and not record.code_url:
                record.code_url = url
            elif kind in ("project", "project page", "website", "homepage") and not record.project_url:
                record.project_url = url
        if not record.short_name and (m := SUMMARY.search(line)):
            record.short_name = squash(re.sub(r"(^|\s+)Framework$", "", m.group(1).strip()))
    record.arxiv_id = clean_arxiv(record.url)
    record.doi = clean_doi(record.url) if "doi.org" in record.url else ""


def read_awesome_list(path: Path) -> Source:
    text = read_utf8(path)
    records: list[Record] = []
    stack: list[tuple[int, str]] = []  # (heading level, title) from level 2 down; '#' is the list's own title
    current: Record | None = None
    body: list[str] = []
    fenced = False
    problems: list[Problem] = []

    def close() -> None:
        nonlocal current, body
        if current is not None:
            _finish(current, body)
            records.append(current)
        current, body = None, []

    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            close()
            continue
        if fenced:
            continue
        if m := HEADING.match(line):
            close()
            level = len(m.group(1))
            if level >= 2:
                stack = [s for s in stack if s[0] < level] + [(level, squash(m.group(2)))]
            continue
        if m := ENTRY.match(line):
            close()
            title = squash(re.sub(r"<[^>]+>", "", m.group(1)))
            if not title:
                problems.append(Problem(str(path), number, "title", "entry with an empty bold title"))
                continue
            path_ = tuple(t for _, t in stack)
            current = Record(title=title, file=str(path), line=number, labels=[path_] if path_ else [])
            body = [line[m.end():]]
            continue
        if current is not None:
            body.append(line)
    close()
    if fenced:
        problems.append(Problem(str(path), 0, "-", "a fenced code block is not closed"))
    if not records and not problems:
        problems.append(Problem(str(path), 0, "-", "no entries found; expected bullets like '* **Title**<br>'"))
    fail(path, problems)
    headings = list(dict.fromkeys(p for r in records for p in r.labels))
    return Source(path, "markdown", records, headings)
