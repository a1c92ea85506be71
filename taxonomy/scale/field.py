"""The tree of a whole field, built from shards: two-stage Ward over the memory-mapped vectors, cut at a few
sizes. What a field of 10^5-10^6 papers can show is its coarse structure: the linkage and flat clusters
(`field-linkage.npy`, `field-clusters.csv`), not a picture with a leaf per paper."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from taxonomy.errors import UserError, check_cluster_counts
from taxonomy.scale.shards import ShardedVectors

DEFAULT_KS = (10, 30, 100)
EXACT_UP_TO = 2000  # exact Ward below this many records (seconds); two-stage Ward above (near-linear)


def compute_field_tree(folder: str | Path, ks: tuple[int, ...] | None = None,
                       seed: int = 0) -> tuple[np.ndarray, pd.DataFrame, dict]:
    """(linkage matrix, one row per record with its cluster at each k, facts about the run). Counts given are
    checked (2 <= k <= n - 1, else a usage error); the defaults keep those that fit."""
    from taxonomy.clustering.cluster import cuts, exact_linkage, two_stage_linkage

    started = time.perf_counter()
    X = ShardedVectors(folder)
    if len(X) < 2:
        raise UserError(f"{folder}: {len(X)} record(s) in the shards; a tree needs at least 2")
    exact = len(X) <= EXACT_UP_TO
    Z = exact_linkage(X[:], "ward") if exact else two_stage_linkage(X, seed=seed)
    if ks:
        check_cluster_counts(ks, len(X), "records in the shards")
    else:
        ks = tuple(k for k in DEFAULT_KS if k < len(X)) or (len(X),)
    labels = cuts(Z, list(ks))
    frame = pd.DataFrame({"id": X.ids, **{f"cluster_k{k}": row for k, row in zip(ks, labels)}})
    facts = {"n": len(X), "dim": X.shape[1], "model": X.model, "ks": list(ks), "seed": seed,
             "method": "ward" if exact else "two-stage ward", "seconds": round(time.perf_counter() - started, 3),
             "largest_cluster_share": {str(k): round(float(np.bincount(row).max() / len(X)), 4)
                                       for k, row in zip(ks, labels)}}
    return Z, frame, facts


FIELD_OUTPUTS = ("field-linkage.npy", "field-clusters.csv", "field.json")


def write_field_tree(folder: str | Path, out: str | Path, ks: tuple[int, ...] | None = None, seed: int = 0) -> dict:
    """The three files, changed together or not at all; files mimtax did not write are refused before any work."""
    from taxonomy.fsutil import check_outputs, check_writable, write_outputs_together

    out = Path(out)
    check_writable(out)
    check_outputs(out / name for name in FIELD_OUTPUTS)
    Z, frame, facts = compute_field_tree(folder, ks, seed)
    csv, facts_text = frame.to_csv(index=False, lineterminator="\n"), json.dumps(facts, indent=1) + "\n"
    write_outputs_together(out, {"field-linkage.npy": lambda fh: np.save(fh, Z, allow_pickle=False),
                                 "field-clusters.csv": lambda fh: fh.write(csv.encode("utf-8")),
                                 "field.json": lambda fh: fh.write(facts_text.encode("utf-8"))}, "dendrogram")
    return facts
