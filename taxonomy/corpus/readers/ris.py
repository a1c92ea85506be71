"""RIS files (EndNote, Zotero, Mendeley exports): `TAG  - value` lines, each record closed by `ER  -`."""

from __future__ import annotations

import re
from pathlib import Path

from taxonomy.corpus.readers.records import (Record, Source, check_titles, clean_arxiv, clean_doi, clean_year, fail,
                                             read_utf8, squash)
from taxonomy.errors import Problem

LINE_RE = re.compile(r"^([A-Z][A-Z0-9])  -(?: (.*))?$")
TITLE_TAGS = ("TI", "T1", "CT", "BT")
VENUE_TAGS = ("T2", "JO", "JF", "J2", "BT", "PB")
AUTHOR_TAGS = ("AU", "A1", "A2")


def _author(value: str) -> str:
    """'Last, First' -> 'First Last'."""
    if "," in value:
        last, first = value.split(",", 1)
        return squash(f"{first} {last}")
    return squash(value)


def _record(path: Path, line: int, tags: dict[str, list[str]]) -> Record:
    def first(*names: str) -> str:
        return next((squash(tags[n][0]) for n in names if tags.get(n)), "")

    titles = [first(t) for t in TITLE_TAGS if tags.get(t)]
    urls = tags.get("UR", []) + tags.get("L1", [])
    return Record(
        title=titles[0] if titles else "", file=str(path), line=line, key=first("ID"),
        authors=[_author(a) for tag in AUTHOR_TAGS[:2] for a in tags.get(tag, [])],
        year=clean_year(first("PY", "Y1", "DA")), venue=next((first(t) for t in VENUE_TAGS if tags.get(t) and
                                                              first(t) not in titles[:1]), ""),
        doi=clean_doi(first("DO")), arxiv_id=clean_arxiv(*urls, first("M1"), first("N1"), first("JO"), first("T2")),
        url=urls[0].strip() if urls else "", abstract=first("AB", "N2"))


def read_ris(path: Path) -> Source:
    problems: list[Problem] = []
    text = read_utf8(path)
    records: list[Record] = []
    tags: dict[str, list[str]] | None = None
    start = 0
    last_tag = ""
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not line.strip():
            continue
        m = LINE_RE.match(line)
        if not m:
            if tags is not None and last_tag in ("AB", "N2", "TI", "T1"):  # a wrapped continuation line
                tags[last_tag][-1] += " " + line.strip()
                continue
            problems.append(Problem(str(path), number, "-", f"expected 'TAG  - value', found '{line[:40]}'"))
            continue
        tag, value = m.group(1), (m.group(2) or "").strip()
        if tag == "TY":
            if tags is not None:
                problems.append(Problem(str(path), start, "ER", "record not closed by 'ER  -' before the next 'TY'"))
            tags, start = {}, number
        elif tags is None:
            problems.append(Problem(str(path), number, tag, "tag outside a record (a record starts with 'TY  -')"))
        elif tag == "ER":
            records.append(_record(path, start, tags))
            tags = None
        else:
            tags.setdefault(tag, []).append(value)
        last_tag = tag
    if tags is not None:
        problems.append(Problem(str(path), start, "ER", "last record is not closed by 'ER  -'"))
    problems += check_titles(path, records)
    fail(path, problems)
    return Source(path, "ris", records)
