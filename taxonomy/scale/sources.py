"""Records (id, text) streamed from a corpus of any size: JSON lines, Parquet or CSV, a chunk at a time.

A record's text is `text` if the file has that field, else the title with the abstract after it, the same
text the dendrogram embeds for a paper of the corpus (`PaperTexts.combined`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from taxonomy.errors import UserError
from taxonomy.fsutil import jsonl_objects

FORMATS = (".jsonl", ".parquet", ".csv")


def record_text(row: dict, where: str) -> str:
    """The text to embed for one record, or a one-line error naming the place and the field."""
    if row.get("text") not in (None, ""):
        return _string(row["text"], where, "text")
    if row.get("title") is None:
        raise UserError(f"{where}: title: missing; each record needs a `text`, or a `title` (and optionally an `abstract`)")
    title = _string(row["title"], where, "title")
    if not title.strip():
        raise UserError(f"{where}: title: empty; each record needs a `text`, or a `title` (and optionally an `abstract`)")
    abstract = row.get("abstract")
    abstract = "" if abstract is None or abstract != abstract else _string(abstract, where, "abstract")  # NaN: none
    return f"{title}. {abstract}" if abstract.strip() else title


def _string(value: object, where: str, field: str) -> str:
    if isinstance(value, str):
        return value
    raise UserError(f"{where}: {field}: expected text, got {type(value).__name__}")


def _record_id(row: dict, where: str) -> str:
    value = row.get("id")
    if value is None or value != value or str(value).strip() == "":
        raise UserError(f"{where}: id: missing; every record needs a unique `id`")
    return str(value)


def read_records(path: str | Path, chunk: int = 4096) -> Iterator[list[tuple[str, str]]]:
    """Lists of (id, text), `chunk` records at a time, in file order. Duplicate ids are an error (the
    shards are addressed by id and text)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise UserError(f"{path}: unknown format '{suffix}'; expected one of {', '.join(FORMATS)}")
    rows = {".jsonl": _jsonl_rows, ".parquet": _parquet_rows, ".csv": _csv_rows}[suffix](path, chunk)
    seen: set[str] = set()
    batch: list[tuple[str, str]] = []
    for where, row in rows:
        record_id = _record_id(row, where)
        if record_id in seen:
            raise UserError(f"{where}: id: '{record_id}' appears twice; ids must be unique")
        seen.add(record_id)
        batch.append((record_id, record_text(row, where)))
        if len(batch) == chunk:
            yield batch
            batch = []
    if batch:
        yield batch


def _jsonl_rows(path: Path, chunk: int) -> Iterator[tuple[str, dict]]:
    for number, value in jsonl_objects(path):
        if not isinstance(value, dict):
            raise UserError(f"{path}:{number}: -: expected a JSON object with `id` and `text` or `title`")
        yield f"{path}:{number}", value


def _parquet_rows(path: Path, chunk: int) -> Iterator[tuple[str, dict]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise UserError(f"{path}: reading Parquet needs pyarrow: pip install -e \".[scale]\"") from None
    try:
        handle = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise UserError(f"{path}: not a readable Parquet file ({type(exc).__name__})") from None
    names = set(handle.schema_arrow.names)
    wanted = [c for c in ("id", "text", "title", "abstract") if c in names]
    if "id" not in names or not ({"text", "title"} & names):
        raise UserError(f"{path}: columns {sorted(names)}: expected `id` and `text` or `title`")
    row = 0
    for batch in handle.iter_batches(batch_size=chunk, columns=wanted):
        for values in batch.to_pylist():
            row += 1
            yield f"{path}: row {row}", values


def _csv_rows(path: Path, chunk: int) -> Iterator[tuple[str, dict]]:
    import pandas as pd

    row = 0
    try:
        for frame in pd.read_csv(path, dtype=str, keep_default_na=False, chunksize=chunk):
            if "id" not in frame.columns or not ({"text", "title"} & set(frame.columns)):
                raise UserError(f"{path}:1: header: columns {list(frame.columns)}; expected `id` and `text` or `title`")
            for values in frame.to_dict("records"):
                row += 1
                yield f"{path}: row {row}", values
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not a readable CSV file ({str(exc).splitlines()[0][:120]})") from None
