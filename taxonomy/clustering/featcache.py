"""Corpus-level text features, cached per exact set of texts.

The embedding cache works text by text. Some features are computed from the whole corpus at once: the term
counts that name the tree's branches, survey B's TF-IDF + Ward tree that every score is shown beside, and the
bagged consensus and the leaf-ordered tree (keyed by the bytes of their views rather than by texts; see
`dendrogram.consensus` and `dendrogram.ordered_tree`). Each takes
a fraction of a second, and the first two need scikit-learn, whose import (it imports scipy.stats) is about a
third of a warm regenerate. So each is stored as one `.npz` (no pickle)
under `<cache>/corpus/`, keyed by a hash of the texts, the parameters and the scikit-learn version: a
regenerate of an unchanged corpus reads them back without importing scikit-learn; adding, removing or editing
one paper changes the key and recomputes them all. A file that cannot be read is recomputed, never trusted.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Callable

import numpy as np

from taxonomy.clustering.embeddings import default_cache_dir, text_key
from taxonomy.fsutil import warn_once, write_atomic

KEEP_PER_KIND = 8  # older entries of one kind are removed, so the folder does not grow without bound


def corpus_key(kind: str, texts: list[str], params: dict) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps([kind, params, _sklearn_version()], sort_keys=True).encode())
    for text in texts:
        digest.update(text_key(text).encode())
    return digest.hexdigest()[:32]


@lru_cache(maxsize=1)
def _sklearn_version() -> str:
    try:
        return metadata.version("scikit-learn")
    except metadata.PackageNotFoundError:  # pragma: no cover - a dependency of the package
        return "absent"


def cached_arrays(kind: str, texts: list[str], params: dict, compute: Callable[[], dict[str, np.ndarray]],
                  cache_dir: str | Path | None | bool = None) -> dict[str, np.ndarray]:
    """The arrays `compute()` returns, read from the cache when this exact corpus was seen before.
    cache_dir=False bypasses the cache."""
    if cache_dir is False:
        return compute()
    folder = Path(cache_dir or default_cache_dir()) / "corpus"
    path = folder / f"{kind}-{corpus_key(kind, texts, params)}.npz"
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
            if not all(a.dtype.kind != "f" or np.isfinite(a).all() for a in arrays.values()):
                raise ValueError("non-finite values")
            return arrays
        except Exception as exc:  # noqa: BLE001 - truncated zip, bad header, ...: whatever it is, it is recomputed
            warn_once(f"featcache-corrupt:{folder}", f"{path}: unreadable cache entry ({type(exc).__name__}); "
                                                     "recomputing it (and any other such entry)")
    arrays = compute()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(path, lambda fh: np.savez(fh, **arrays))
        _prune(folder, kind)
    except OSError as exc:  # a read-only or full cache only costs time
        warn_once(f"cache-unwritable:{folder}", f"{folder}: cache not writable ({exc.strerror or exc}); "
                                                "results are recomputed on every run")
    return arrays


def _prune(folder: Path, kind: str) -> None:
    entries = sorted(folder.glob(f"{kind}-*.npz"), key=lambda p: (p.stat().st_mtime, p.name), reverse=True)
    for old in entries[KEEP_PER_KIND:]:
        old.unlink(missing_ok=True)
