"""Content-addressed shards of embeddings, and a read-only view of all of them by memory map.

A shard folder holds `plan.json` (the model, the shard size and every shard's key, in input order) and, per
shard, `shards/<key>.npy` (float16 vectors, one row per record) and `shards/<key>.json` (ids and text hashes).
A shard's key hashes the model, its ids and its texts, so a shard that exists is never computed again, by any
process: a killed run resumes where it stopped, and array tasks can share one folder. The `.json` is written
after the `.npy`, both through a temporary file and a rename, so a shard is complete exactly when its `.json`
exists and agrees with its `.npy`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from taxonomy.clustering.embeddings import text_key
from taxonomy.errors import UserError
from taxonomy.fsutil import write_atomic, write_text_atomic

PLAN = "plan.json"
FORMAT = 1


def shard_key(model: str, ids: list[str], text_hashes: list[str]) -> str:
    digest = hashlib.sha256(model.encode("utf-8"))
    for record_id, text_hash in zip(ids, text_hashes):
        digest.update(b"\0" + record_id.encode("utf-8") + b"\0" + text_hash.encode("ascii"))
    return digest.hexdigest()[:32]


class Shard:
    """One planned shard: its records and where its files go."""

    def __init__(self, folder: Path, model: str, index: int, records: list[tuple[str, str]]):
        self.index = index
        self.ids = [r[0] for r in records]
        self.texts = [r[1] for r in records]
        self.text_hashes = [text_key(t) for t in self.texts]
        self.key = shard_key(model, self.ids, self.text_hashes)
        self.vectors_path = folder / "shards" / f"{self.key}.npy"
        self.rows_path = folder / "shards" / f"{self.key}.json"

    def done(self) -> bool:
        return _complete(self.vectors_path, self.rows_path, len(self.ids))

    def write(self, vectors: np.ndarray) -> None:
        vectors = np.asarray(vectors, dtype=np.float16)
        if vectors.shape[0] != len(self.ids):
            raise ValueError(f"shard {self.key}: {vectors.shape[0]} vectors for {len(self.ids)} records")
        self.vectors_path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.vectors_path, lambda fh: np.save(fh, vectors, allow_pickle=False))
        write_text_atomic(self.rows_path, json.dumps({"ids": self.ids, "text_hashes": self.text_hashes}))


def _complete(vectors_path: Path, rows_path: Path, rows: int) -> bool:
    if not rows_path.is_file() or not vectors_path.is_file():
        return False
    try:
        header = np.load(vectors_path, mmap_mode="r", allow_pickle=False)
        return header.shape[0] == rows and len(json.loads(rows_path.read_text(encoding="utf-8"))["ids"]) == rows
    except (OSError, ValueError, KeyError, json.JSONDecodeError):
        return False


def write_plan(folder: Path, model: str, shard_size: int, source: str, keys: list[tuple[str, int]]) -> None:
    """The plan is the same for every process that reads the same input, so concurrent writers agree."""
    folder.mkdir(parents=True, exist_ok=True)
    plan = {"format": FORMAT, "model": model, "dtype": "float16", "shard_size": shard_size,
            "source": source, "n": sum(rows for _, rows in keys),
            "shards": [{"key": key, "rows": rows} for key, rows in keys]}
    from taxonomy.fsutil import write_output_text

    write_output_text(folder / PLAN, json.dumps(plan, indent=1) + "\n", "embed")


def read_plan(folder: str | Path) -> dict:
    path = Path(folder) / PLAN
    if not path.is_file():
        raise UserError(f"{folder}: no {PLAN}; make the shards with `mimtax embed INPUT --out {folder}`")
    try:
        plan = json.loads(path.read_text(encoding="utf-8"))
        if plan.get("format") != FORMAT or not isinstance(plan.get("shards"), list):
            raise ValueError
        return plan
    except (ValueError, json.JSONDecodeError):
        raise UserError(f"{path}: not a shard plan written by mimtax (format {FORMAT})") from None


class ShardedVectors:
    """All shards of a folder as one read-only (n, dim) matrix: each shard's `.npy` is memory-mapped, and
    indexing with a slice or an integer array returns float32 rows, so clustering code reads it like an array
    without ever holding all vectors in memory."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.plan = read_plan(folder)
        missing = [s["key"] for s in self.plan["shards"]
                   if not _complete(self._vectors(s["key"]), self._rows(s["key"]), s["rows"])]
        if missing:
            raise UserError(f"{self.folder}: {len(missing)} of {len(self.plan['shards'])} shards missing or incomplete "
                            f"(first: {missing[0]}); run the same `mimtax embed` again to finish them")
        self.parts = [np.load(self._vectors(s["key"]), mmap_mode="r", allow_pickle=False) for s in self.plan["shards"]]
        self.offsets = np.cumsum([0] + [len(p) for p in self.parts])
        dims = {p.shape[1] for p in self.parts}
        if len(dims) > 1:
            raise UserError(f"{self.folder}: shards of different widths {sorted(dims)}; were they made by one model?")
        self.shape = (int(self.offsets[-1]), dims.pop() if dims else 0)
        self.dtype = np.dtype(np.float32)

    def _vectors(self, key: str) -> Path:
        return self.folder / "shards" / f"{key}.npy"

    def _rows(self, key: str) -> Path:
        return self.folder / "shards" / f"{key}.json"

    @property
    def ids(self) -> list[str]:
        out: list[str] = []
        for s in self.plan["shards"]:
            out += json.loads(self._rows(s["key"]).read_text(encoding="utf-8"))["ids"]
        return out

    @property
    def model(self) -> str:
        return self.plan["model"]

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index) -> np.ndarray:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                return self[np.arange(start, stop, step)]
            return self._range(start, stop)
        index = np.asarray(index)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        if index.ndim == 0:
            return self[index.reshape(1)][0]
        index = np.where(index < 0, index + len(self), index).astype(np.int64)
        if len(index) and (index.min() < 0 or index.max() >= len(self)):
            raise IndexError("row index out of range")
        out = np.empty((len(index), self.shape[1]), dtype=np.float32)
        which = np.searchsorted(self.offsets, index, side="right") - 1
        for part in np.unique(which):
            sel = np.flatnonzero(which == part)
            out[sel] = self.parts[part][index[sel] - self.offsets[part]]
        return out

    def _range(self, start: int, stop: int) -> np.ndarray:
        out = np.empty((max(0, stop - start), self.shape[1]), dtype=np.float32)
        first = int(np.searchsorted(self.offsets, start, side="right") - 1)
        row = start
        for part in range(max(first, 0), len(self.parts)):
            if row >= stop:
                break
            lo, hi = row - self.offsets[part], min(stop, self.offsets[part + 1]) - self.offsets[part]
            out[row - start:row - start + hi - lo] = self.parts[part][lo:hi]
            row += hi - lo
        return out

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self._range(0, len(self))
        return out if dtype is None else out.astype(dtype)
