"""Readers that turn a user's paper list into `Record`s, one module per format.

Each reader takes a path and returns a `Source` (records, and the heading tree where the format has one).
`read_source` picks the reader from `--format` or the file's extension. Problems are reported as
`file:line: field: message` through CorpusError, so a malformed file names where it is broken.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from taxonomy.corpus.readers.records import Record, Source
from taxonomy.errors import UserError

Reader = Callable[..., Source]


def _bibtex(path: Path, **_: object) -> Source:
    from taxonomy.corpus.readers.bibtex import read_bibtex
    return read_bibtex(path)


def _ris(path: Path, **_: object) -> Source:
    from taxonomy.corpus.readers.ris import read_ris
    return read_ris(path)


def _csl(path: Path, **_: object) -> Source:
    from taxonomy.corpus.readers.csljson import read_csl_json
    return read_csl_json(path)


def _csv(path: Path, mapping: dict[str, str] | None = None, **_: object) -> Source:
    from taxonomy.corpus.readers.tabular import read_table_file
    return read_table_file(path, ",", mapping)


def _tsv(path: Path, mapping: dict[str, str] | None = None, **_: object) -> Source:
    from taxonomy.corpus.readers.tabular import read_table_file
    return read_table_file(path, "\t", mapping)


def _jsonl(path: Path, mapping: dict[str, str] | None = None, **_: object) -> Source:
    from taxonomy.corpus.readers.tabular import read_jsonl
    return read_jsonl(path, mapping)


def _markdown(path: Path, **_: object) -> Source:
    from taxonomy.corpus.readers.markdown import read_awesome_list
    return read_awesome_list(path)


READERS: dict[str, Reader] = {
    "bibtex": _bibtex, "ris": _ris, "csl-json": _csl, "csv": _csv, "tsv": _tsv, "jsonl": _jsonl, "markdown": _markdown,
}
EXTENSIONS = {
    ".bib": "bibtex", ".bibtex": "bibtex", ".ris": "ris", ".json": "csl-json", ".csljson": "csl-json",
    ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".md": "markdown",
    ".markdown": "markdown",
}


def detect_format(path: Path) -> str:
    fmt = EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        raise UserError(f"{path}: cannot tell the format from the extension '{path.suffix}'; pass --format "
                        f"({', '.join(READERS)})")
    return fmt


def read_source(path: str | Path, fmt: str | None = None, mapping: dict[str, str] | None = None) -> Source:
    """Records from one file, with the reader chosen by `fmt` or the extension."""
    path = Path(path)
    fmt = (fmt or detect_format(path)).lower()
    if fmt not in READERS:
        raise UserError(f"unknown format '{fmt}'; choose one of {', '.join(READERS)}")
    if path.is_dir():
        raise UserError(f"{path}: is a folder; give a file of papers (BibTeX, RIS, CSL-JSON, CSV/TSV, JSONL, Markdown)")
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    return READERS[fmt](path, mapping=mapping)


__all__ = ["EXTENSIONS", "READERS", "Record", "Source", "detect_format", "read_source"]
