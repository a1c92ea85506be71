"""CSL-JSON (Zotero's "Better CSL JSON" / "CSL JSON" export): a JSON array of items.

The array is decoded item by item so that a problem can name the line where its item starts.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from taxonomy.corpus.readers.records import (Record, Source, check_titles, clean_arxiv, clean_doi, clean_year, fail,
                                             read_utf8, squash)
from taxonomy.errors import Problem


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _items(path: Path, text: str) -> list[tuple[int, object]]:
    """(line, item) for each element of the top-level array."""
    decoder = json.JSONDecoder()
    pos = len(text) - len(text.lstrip())
    if not text.strip():
        fail(path, [Problem(str(path), 1, "-", "file is empty; expected a JSON array of CSL items")])
    if text[pos] != "[":
        if text[pos] == "{":  # a single item
            try:
                return [(_line(text, pos), decoder.raw_decode(text, pos)[0])]
            except json.JSONDecodeError as exc:
                fail(path, [Problem(str(path), exc.lineno, "-", f"invalid JSON: {exc.msg}")])
        fail(path, [Problem(str(path), _line(text, pos), "-", "expected a JSON array of CSL items")])
    pos += 1
    items = []
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text):
            fail(path, [Problem(str(path), _line(text, pos), "-", "invalid JSON: the array is not closed by ']'")])
        if text[pos] == "]":
            return items
        try:
            item, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            fail(path, [Problem(str(path), exc.lineno, "-", f"invalid JSON: {exc.msg}")])
        items.append((_line(text, pos), item))
        pos = end


def _name(person: object) -> str:
    if not isinstance(person, dict):
        return squash(person)
    if person.get("literal"):
        return squash(person["literal"])
    parts = [person.get("given", ""), person.get("non-dropping-particle", ""), person.get("family", ""),
             person.get("suffix", "")]
    return squash(" ".join(str(p) for p in parts if p))


def _year(item: dict) -> str:
    for key in ("issued", "original-date", "event-date"):
        date = item.get(key)
        if isinstance(date, dict):
            parts = date.get("date-parts") or [[date.get("raw", "")]]
            if parts and parts[0]:
                return clean_year(parts[0][0])
    return ""


def _citation_key(item: dict) -> str:
    """The item's citation key (Better BibTeX's field, or Zotero's 'Citation Key:' note line), else its id unless
    that is a Zotero item URI (http://zotero.org/users/1/items/AB12CD34), which would make ids like http-zotero-org-2."""
    key = item.get("citation-key") or item.get("citation_key")
    if not key:
        match = re.search(r"^\s*Citation Key:\s*(\S+)", str(item.get("note", "")), re.MULTILINE | re.IGNORECASE)
        key = match.group(1) if match else ""
    if not key:
        key = str(item.get("id", ""))
        if re.match(r"^[a-z][a-z0-9+.-]*://", key, re.IGNORECASE) or re.fullmatch(r"\d+", key):
            key = ""
    return str(key)


def read_csl_json(path: Path) -> Source:
    text = read_utf8(path)
    problems: list[Problem] = []
    records = []
    for line, item in _items(path, text):
        if not isinstance(item, dict):
            problems.append(Problem(str(path), line, "-", f"expected a CSL item (an object), found {type(item).__name__}"))
            continue
        authors = item.get("author", [])
        if not isinstance(authors, list):
            problems.append(Problem(str(path), line, "author", "expected a list of names"))
            authors = []
        title = item.get("title", "")
        if not isinstance(title, str):
            problems.append(Problem(str(path), line, "title", "expected a string"))
            title = ""
        records.append(Record(
            title=squash(title), file=str(path), line=line, key=_citation_key(item),
            authors=[_name(a) for a in authors], year=_year(item),
            venue=squash(item.get("container-title") or item.get("event-title") or item.get("publisher") or ""),
            doi=clean_doi(item.get("DOI", "")),
            arxiv_id=clean_arxiv(str(item.get("number", "")) if "arxiv" in str(item.get("publisher", "")).lower() else "",
                                 item.get("URL", ""), item.get("note", ""), item.get("archive_location", ""),
                                 item.get("container-title", "")),
            url=squash(item.get("URL", "")), abstract=squash(item.get("abstract", ""))))
    problems += check_titles(path, records)
    fail(path, problems)
    return Source(path, "csl-json", records)
