"""The local store of fetched abstracts and arXiv ids that sits next to a corpus (never inside `data/`).

A SQLite database (stdlib `sqlite3`, write-ahead log), one row per paper id. `mimtax enrich` writes one
transaction per batch, so an interrupted run keeps every batch it finished and the next run resumes; each
batch costs a few row upserts, not a rewrite of the whole store; and two runs at once merge their rows
instead of overwriting each other (a write transaction re-reads a row before it merges into it).
JSONL stays the exchange format: `export_jsonl` / `import_jsonl`, and a store from before SQLite
(`abstracts.jsonl` beside it) is imported the first time it is opened.
For the shipped corpus the store lives in the user's cache folder, so the shipped files are never touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from taxonomy.corpus.folder import SHIPPED_DATA, default_data_dir
from taxonomy.errors import UserError
from taxonomy.fsutil import default_cache_dir, jsonl_objects, write_text_atomic

STORE_FILE = "abstracts.sqlite"
LEGACY_FILE = "abstracts.jsonl"
FIELDS = ("id", "title", "abstract", "arxiv_id", "doi", "source")
BUSY_TIMEOUT_S = 60.0


def store_path(corpus_folder: str | Path | None) -> Path:
    """Where a corpus's store lives: `<corpus>/store/abstracts.sqlite`, or the cache for the shipped corpus."""
    if os.environ.get("MIMTAX_STORE"):
        return Path(os.environ["MIMTAX_STORE"])
    folder = Path(corpus_folder) if corpus_folder else default_data_dir()
    if folder.resolve() == SHIPPED_DATA:
        return default_cache_dir() / "store" / "shipped" / STORE_FILE
    return folder / "store" / STORE_FILE


def _merge(old: dict | None, paper_id: str, title: str, source: str, abstract: str, arxiv_id: str,
           doi: str) -> dict:
    """A row with what `source` found added; earlier finds are never overwritten."""
    row = dict(old) if old else {"id": paper_id, "title": title, "abstract": "", "arxiv_id": "", "doi": "",
                                 "source": "", "tried": []}
    if abstract and not row.get("abstract"):
        row["abstract"], row["source"] = abstract, source
    if arxiv_id and not row.get("arxiv_id"):
        row["arxiv_id"] = arxiv_id
    if doi and not row.get("doi"):
        row["doi"] = doi
    if source and source not in row["tried"]:
        row["tried"] = sorted([*row["tried"], source])
    return row


def _set_up(db: sqlite3.Connection) -> None:
    """WAL mode and the table. Switching a new file to WAL can report "database is locked" at once, without
    waiting, while another process does the same, so that step is retried until the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                db.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE IF NOT EXISTS papers (id TEXT PRIMARY KEY, title TEXT, abstract TEXT, "
               "arxiv_id TEXT, doi TEXT, source TEXT, tried TEXT)")


class AbstractStore:
    """Rows by paper id: id, title, abstract, arxiv_id, doi, source, and `tried` (services asked, found or not)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None

    @classmethod
    def load(cls, path: str | Path) -> "AbstractStore":
        """Open the store at `path` (read lazily; nothing is created until something is written)."""
        store = cls(path)
        legacy = store.path.with_name(LEGACY_FILE)
        if not store.path.exists() and legacy.exists():
            store.import_jsonl(legacy)
        return store

    # -- connection -------------------------------------------------------------------------------------
    def _connect(self, create: bool) -> sqlite3.Connection | None:
        if self._db is not None:
            return self._db
        if not create and not self.path.exists():
            return None
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            _set_up(db)
        except sqlite3.DatabaseError as exc:
            raise UserError(f"{self.path}: cannot open the abstract store ({exc}); move it aside and run "
                            "`mimtax enrich` again") from None
        except OSError as exc:
            raise UserError(f"{self.path}: cannot write the abstract store ({exc.strerror or exc})") from None
        self._db = db
        return db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> "AbstractStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextlib.contextmanager
    def batch(self) -> Iterator["AbstractStore"]:
        """One write transaction: every `record` inside commits together or not at all."""
        db = self._connect(create=True)
        db.execute("BEGIN IMMEDIATE")  # takes the write lock now, so the rows read below are the latest
        try:
            yield self
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # -- reading ----------------------------------------------------------------------------------------
    @staticmethod
    def _row(values: tuple) -> dict:
        row = dict(zip(FIELDS, (v or "" for v in values[:-1])))
        row["tried"] = json.loads(values[-1] or "[]")
        return row

    def get(self, paper_id: str) -> dict | None:
        db = self._connect(create=False)
        if db is None:
            return None
        found = db.execute(f"SELECT {', '.join(FIELDS)}, tried FROM papers WHERE id = ?", (paper_id,)).fetchone()
        return self._row(found) if found else None

    @property
    def rows(self) -> dict[str, dict]:
        """Every row by paper id, in id order."""
        db = self._connect(create=False)
        if db is None:
            return {}
        return {r[0]: self._row(r) for r in db.execute(f"SELECT {', '.join(FIELDS)}, tried FROM papers ORDER BY id")}

    def __len__(self) -> int:
        db = self._connect(create=False)
        return 0 if db is None else db.execute("SELECT COUNT(*) FROM papers").fetchone()[0]

    def abstract(self, paper_id: str) -> str:
        return str((self.get(paper_id) or {}).get("abstract", "") or "")

    def tried(self, paper_id: str, source: str) -> bool:
        return source in (self.get(paper_id) or {}).get("tried", [])

    def as_abstract_rows(self) -> list[dict]:
        """Rows in the shape `taxonomy.corpus.text.match_abstracts` reads."""
        return [{"id": r["id"], "title": r.get("title", ""), "arxiv_id": r.get("arxiv_id", ""),
                 "abstract": r.get("abstract", "")} for r in self.rows.values() if r.get("abstract")]

    # -- writing ----------------------------------------------------------------------------------------
    def record(self, paper_id: str, title: str, source: str, abstract: str = "", arxiv_id: str = "",
               doi: str = "") -> None:
        """Note that `source` was asked about a paper, keeping what it found (earlier finds are not overwritten).
        Outside `batch()` the upsert is its own transaction."""
        db = self._connect(create=True)
        own = not db.in_transaction
        if own:
            db.execute("BEGIN IMMEDIATE")
        try:
            row = _merge(self.get(paper_id), paper_id, title, source, abstract, arxiv_id, doi)
            db.execute(f"INSERT INTO papers ({', '.join(FIELDS)}, tried) VALUES (?, ?, ?, ?, ?, ?, ?) "
                       "ON CONFLICT(id) DO UPDATE SET title=excluded.title, abstract=excluded.abstract, "
                       "arxiv_id=excluded.arxiv_id, doi=excluded.doi, source=excluded.source, tried=excluded.tried",
                       (*(str(row.get(f, "") or "") for f in FIELDS), json.dumps(row["tried"])))
        except BaseException:
            if own:
                db.execute("ROLLBACK")
            raise
        if own:
            db.execute("COMMIT")

    def export_jsonl(self, path: str | Path) -> int:
        """Write every row as one JSON object a line (sorted by id), through a temporary file; returns the count."""
        path = Path(path)
        rows = self.rows
        text = "".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows.values())
        try:
            write_text_atomic(path, text)
        except OSError as exc:
            raise UserError(f"{path}: cannot write ({exc.strerror or exc})") from None
        return len(rows)

    def import_jsonl(self, path: str | Path) -> int:
        """Merge the rows of a JSONL export into the store, in one transaction; returns the rows read."""
        path = Path(path)
        rows = []
        for number, row in jsonl_objects(path, "JSON in the abstract store export"):
            if not isinstance(row, dict) or not row.get("id"):
                raise UserError(f"{path}:{number}: id: expected an object with an 'id'")
            rows.append(row)
        with self.batch():
            for row in rows:
                found_by = str(row.get("source", "") or "")
                tried = [s for s in row.get("tried", []) if isinstance(s, str) and s != found_by]
                pid, title = str(row["id"]), str(row.get("title", "") or "")
                self.record(pid, title, found_by, str(row.get("abstract", "") or ""),
                            str(row.get("arxiv_id", "") or ""), str(row.get("doi", "") or ""))
                for source in tried:
                    self.record(pid, title, source)
        return len(rows)


def store_rows(corpus) -> list[dict]:
    """Abstract rows from a corpus's store; empty when it has none."""
    path = store_path(getattr(corpus, "path", None))
    if not path.exists() and not path.with_name(LEGACY_FILE).exists():
        return []
    with AbstractStore.load(path) as store:
        return store.as_abstract_rows()
