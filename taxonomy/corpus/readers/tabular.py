"""CSV, TSV and JSONL paper lists, with a column mapping (`--map title=Title`) on top of common names.

Without a mapping, columns are recognised by the names that Zotero, Google Scholar exports and the shared
lists use ("Title", "Publication Year", "Abstract Note", "section_path", …). A `labels` column holds heading
paths: several separated by ';', levels separated by ' > ' or '/'.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from taxonomy.corpus.folder import read_table
from taxonomy.corpus.readers.records import (Record, Source, check_titles, clean_arxiv, clean_doi, clean_year, fail,
                                             read_utf8, squash)
from taxonomy.errors import Problem, UserError

ALIASES: dict[str, tuple[str, ...]] = {
    "title": ("title", "paper title", "name"),
    "key": ("id", "key", "citation key", "citekey"),
    "authors": ("authors", "author", "creators"),
    "year": ("year", "publication year", "date", "published"),
    "venue": ("venue", "publication title", "journal", "booktitle", "container-title", "conference"),
    "doi": ("doi",),
    "arxiv_id": ("arxiv_id", "arxiv", "eprint", "arxiv id"),
    "url": ("url", "paper_url", "link", "paper url"),
    "code_url": ("code_url", "code", "github"),
    "project_url": ("project_url", "project"),
    "abstract": ("abstract", "abstract note", "summary"),
    "short_name": ("short_name", "method", "acronym"),
    "labels": ("labels", "section_path", "category", "categories", "section", "taxonomy"),
}
FIELDS = tuple(ALIASES)


def resolve_mapping(columns: list[str], mapping: dict[str, str] | None, path: Path) -> dict[str, str]:
    """Record field -> source column: the user's mapping first, then the known aliases."""
    mapping = dict(mapping or {})
    for fld, column in mapping.items():
        if fld not in FIELDS:
            raise UserError(f"--map {fld}={column}: unknown field '{fld}'; fields are {', '.join(FIELDS)}")
        if column not in columns:
            raise UserError(f"{path}:1: {column}: --map {fld}={column} names no column; columns are "
                            f"{', '.join(columns)}")
    lower = {c.strip().lower(): c for c in columns}
    for fld, names in ALIASES.items():
        if fld not in mapping:
            found = next((lower[n] for n in names if n in lower), None)
            if found is not None:
                mapping[fld] = found
    if "title" not in mapping:
        raise UserError(f"{path}:1: title: no title column among {', '.join(columns) or 'none'}; "
                        "name it with --map title=COLUMN")
    return mapping


def split_label_paths(value: str) -> list[tuple[str, ...]]:
    paths = []
    for part in str(value or "").split(";"):
        levels = [squash(x) for x in re.split(r"\s+>\s+|\s*/\s*", part) if squash(x)]
        if levels:
            paths.append(tuple(levels))
    return paths


def _labels(value: object) -> list[tuple[str, ...]]:
    """Heading paths from 'A > B; C' text or from a JSON list of paths (strings or lists of levels)."""
    if isinstance(value, list):
        return [p for item in value for p in
                (split_label_paths(item) if isinstance(item, str) else [tuple(squash(x) for x in item if squash(x))])]
    return split_label_paths(str(value or ""))


def _authors(value: object) -> list[str]:
    if isinstance(value, list):
        return [squash(v.get("name", "") if isinstance(v, dict) else v) for v in value]
    text = str(value or "")
    parts = re.split(r";|\band\b", text) if ";" in text or " and " in text else text.split(",")
    out = []
    for part in parts:
        part = squash(part)
        if part.count(",") == 1:  # Zotero's "Last, First; Last, First"
            last, first = part.split(",")
            part = squash(f"{first} {last}")
        if part:
            out.append(part)
    return out


def _record(row: dict, mapping: dict[str, str], path: Path, line: int) -> Record:
    def get(fld: str) -> object:
        column = mapping.get(fld)
        value = row.get(column, "") if column else ""
        return "" if value is None else value

    return Record(
        title=squash(get("title")), file=str(path), line=line, key=squash(get("key")), authors=_authors(get("authors")),
        year=clean_year(get("year")), venue=squash(get("venue")), doi=clean_doi(get("doi")),
        arxiv_id=clean_arxiv(f"arXiv:{get('arxiv_id')}" if get("arxiv_id") else "", str(get("url"))),
        url=squash(get("url")), code_url=squash(get("code_url")), project_url=squash(get("project_url")),
        abstract=squash(get("abstract")), short_name=squash(get("short_name")),
        labels=_labels(get("labels")))


def _headings(records: list[Record]) -> list[tuple[str, ...]]:
    return list(dict.fromkeys(path for r in records for path in r.labels))


def read_table_file(path: Path, delimiter: str, mapping: dict[str, str] | None = None) -> Source:
    header, rows, problems = read_table(path, [], delimiter)
    fail(path, problems if not rows else [])  # an empty or undecodable file stops here
    fields = resolve_mapping(header, mapping, path)
    records = [_record(row, fields, path, line) for line, row in rows]
    problems += check_titles(path, records)
    fail(path, problems)
    return Source(path, "tsv" if delimiter == "\t" else "csv", records, _headings(records))


def read_jsonl(path: Path, mapping: dict[str, str] | None = None) -> Source:
    text = read_utf8(path)
    records, problems = [], []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(Problem(str(path), number, "-", f"invalid JSON: {exc.msg}"))
            continue
        if not isinstance(row, dict):
            problems.append(Problem(str(path), number, "-", "expected one JSON object per line"))
            continue
        try:
            fields = resolve_mapping(list(row), mapping, path)
        except UserError:
            problems.append(Problem(str(path), number, "title", "object has no title field"))
            continue
        records.append(_record(row, fields, path, number))
    problems += check_titles(path, records)
    fail(path, problems)
    return Source(path, "jsonl", records, _headings(records))
