"""Records (id, text) streamed from a corpus of any size: JSON lines, Parquet or CSV, a chunk at a time.

A record's text is `text` if the file has that field, else the title with the abstract after it, the same
text the dendrogram embeds for a paper of the corpus (`PaperTexts.combined`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
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


ID_FIELDS = ("id", "key")  # tried in this order when no --id-field is given (the project's abstracts use `key`)


def _record_id(row: dict, where: str, field: str = "id") -> str:
    value = row.get(field)
    if value is None or value != value or str(value).strip() == "":
        raise UserError(f"{where}: {field}: missing; every record needs a unique `{field}`"
                        + (" (or name the id field with --id-field)" if field == "id" else ""))
    return str(value)


def check_source(path: Path) -> None:
    """A one-line error for a source that is not a readable file of a known format, before any work."""
    if path.is_dir():
        raise UserError(f"{path}: is a folder; give a .jsonl, .parquet or .csv file")
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    if path.suffix.lower() not in FORMATS:
        raise UserError(f"{path}: unknown format '{path.suffix.lower()}'; expected one of {', '.join(FORMATS)}")


def read_records(path: str | Path, chunk: int = 4096, id_field: str | None = None,
                 on_id_field: Callable[[str], None] | None = None) -> Iterator[list[tuple[str, str]]]:
    """Lists of (id, text), `chunk` records at a time, in file order. Duplicate ids are an error (the
    shards are addressed by id and text). Without `id_field`, the first record decides between `id` and
    `key` (`on_id_field` is told which, when it is not `id`)."""
    path = Path(path)
    check_source(path)
    suffix = path.suffix.lower()
    rows = {".jsonl": _jsonl_rows, ".parquet": _parquet_rows, ".csv": _csv_rows}[suffix](path, chunk)
    seen: set[str] = set()
    batch: list[tuple[str, str]] = []
    for where, row in rows:
        if id_field is None:
            id_field = next((f for f in ID_FIELDS if row.get(f) not in (None, "")), "id")
            if id_field != "id" and on_id_field is not None:
                on_id_field(id_field)
        record_id = _record_id(row, where, id_field)
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
