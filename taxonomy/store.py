"""The local store of fetched abstracts and arXiv ids that sits next to a corpus (never inside `data/`).

One JSON object a line, keyed by paper id, rewritten through a temporary file after every batch, so an
interrupted `mimtax enrich` keeps everything fetched so far and the next run resumes where it stopped.
For the shipped corpus the store lives in the user's cache folder, so the shipped files are never touched.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from taxonomy.corpus import SHIPPED_DATA, default_data_dir
from taxonomy.errors import UserError
from taxonomy.fsutil import jsonl_objects

STORE_FILE = "abstracts.jsonl"


def store_path(corpus_folder: str | Path | None) -> Path:
    """Where a corpus's store lives: `<corpus>/store/abstracts.jsonl`, or the cache for the shipped corpus."""
    if os.environ.get("MIMTAX_STORE"):
        return Path(os.environ["MIMTAX_STORE"])
    from taxonomy.embeddings import default_cache_dir

    folder = Path(corpus_folder) if corpus_folder else default_data_dir()
    if folder.resolve() == SHIPPED_DATA:
        return default_cache_dir() / "store" / "shipped" / STORE_FILE
    return folder / "store" / STORE_FILE


@dataclass
class AbstractStore:
    """Rows by paper id: id, title, abstract, arxiv_id, doi, source, and `tried` (services asked, found or not)."""

    path: Path
    rows: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> "AbstractStore":
        path = Path(path)
        store = cls(path)
        if not path.exists():
            return store
        for number, row in jsonl_objects(path, "JSON in the abstract store; delete the line and run "
                                                  "`mimtax enrich` again"):
            if not isinstance(row, dict) or not row.get("id"):
                raise UserError(f"{path}:{number}: id: expected an object with an 'id'")
            store.rows[str(row["id"])] = row
        return store

    def __len__(self) -> int:
        return len(self.rows)

    def abstract(self, paper_id: str) -> str:
        return str(self.rows.get(paper_id, {}).get("abstract", "") or "")

    def tried(self, paper_id: str, source: str) -> bool:
        return source in self.rows.get(paper_id, {}).get("tried", [])

    def record(self, paper_id: str, title: str, source: str, abstract: str = "", arxiv_id: str = "",
               doi: str = "") -> None:
        """Note that `source` was asked about a paper, keeping what it found (earlier finds are not overwritten)."""
        row = self.rows.setdefault(paper_id, {"id": paper_id, "title": title, "abstract": "", "arxiv_id": "",
                                              "doi": "", "source": "", "tried": []})
        if abstract and not row.get("abstract"):
            row["abstract"], row["source"] = abstract, source
        if arxiv_id and not row.get("arxiv_id"):
            row["arxiv_id"] = arxiv_id
        if doi and not row.get("doi"):
            row["doi"] = doi
        if source not in row["tried"]:
            row["tried"] = sorted([*row["tried"], source])

    def as_abstract_rows(self) -> list[dict]:
        """Rows in the shape `taxonomy.text.match_abstracts` reads."""
        return [{"id": r["id"], "title": r.get("title", ""), "arxiv_id": r.get("arxiv_id", ""),
                 "abstract": r.get("abstract", "")} for r in self.rows.values() if r.get("abstract")]

    def save(self) -> None:
        """Rewrite the whole store through a temporary file and rename: never half a store on disk."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with tmp.open("w", encoding="utf-8", newline="\n") as fh:
            for key in sorted(self.rows):
                fh.write(json.dumps(self.rows[key], ensure_ascii=False, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


def store_rows(corpus) -> list[dict]:
    """Abstract rows from a corpus's store; empty when it has none."""
    path = store_path(getattr(corpus, "path", None))
    return AbstractStore.load(path).as_abstract_rows() if path.exists() else []
