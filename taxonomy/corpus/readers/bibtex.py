"""BibTeX (and BibLaTeX) files, parsed by bibtexparser 2 with LaTeX escapes decoded to unicode."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from taxonomy.corpus.readers.records import (Record, Source, check_titles, clean_arxiv, clean_doi, clean_year, fail,
                                             read_utf8, squash)
from taxonomy.errors import Problem

VENUE_FIELDS = ("booktitle", "journal", "journaltitle", "eventtitle", "publisher", "howpublished", "institution")


def _strip_braces(text: str) -> str:
    return squash(re.sub(r"(?<!\\)[{}]", "", text))


def _name(parts) -> str:
    first = " ".join(parts.first)
    last = " ".join([*parts.von, *parts.last])
    return _strip_braces(f"{first} {last}".strip() + (f", {' '.join(parts.jr)}" if parts.jr else ""))


def read_bibtex(path: Path) -> Source:
    import bibtexparser
    from bibtexparser import middlewares

    text = read_utf8(path)
    problems: list[Problem] = []
    logging.getLogger("bibtexparser").setLevel(logging.CRITICAL)  # problems are reported below, by line
    library = bibtexparser.parse_string(text, append_middleware=[
        middlewares.LatexDecodingMiddleware(), middlewares.SeparateCoAuthors(), middlewares.SplitNameParts()])
    for block in library.failed_blocks:
        kind = type(block).__name__
        if kind == "DuplicateBlockKeyBlock":
            continue  # the same key twice: kept, and merged later by de-duplication
        error = getattr(block, "error", None)
        message = squash(getattr(error, "abort_reason", "") or str(error or "") or kind)
        problems.append(Problem(str(path), block.start_line + 1, "-", f"malformed BibTeX entry: {message}"))
    records = []
    blocks = list(library.entries) + [b for b in library.failed_blocks if type(b).__name__ == "DuplicateBlockKeyBlock"]
    for entry in sorted(blocks, key=lambda b: b.start_line):
        entry = getattr(entry, "ignore_error_block", entry)
        fields = {k.lower(): v for k, v in entry.fields_dict.items()}

        def value(name: str) -> str:
            f = fields.get(name)
            return _strip_braces(str(f.value)) if f is not None and isinstance(f.value, str) else ""

        authors = fields.get("author")
        names = [_name(p) for p in authors.value] if authors is not None and isinstance(authors.value, list) else []
        eprint = value("eprint") if value("archiveprefix").lower() in ("", "arxiv") else ""
        records.append(Record(
            title=value("title"), file=str(path), line=entry.start_line + 1, key=entry.key, authors=names,
            year=clean_year(value("year") or value("date")),
            venue=next((value(f) for f in VENUE_FIELDS if value(f)), ""),
            doi=clean_doi(value("doi")), arxiv_id=clean_arxiv(eprint, value("url"), value("journal"), value("note")),
            url=value("url"), abstract=value("abstract"), code_url=value("code")))
    problems += check_titles(path, records)
    fail(path, problems)
    return Source(path, "bibtex", records)
