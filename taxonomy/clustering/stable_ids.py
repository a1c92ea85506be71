"""Cluster ids that survive a rebuild: when papers are added and the tree is regenerated, each flat cluster
keeps the id of the earlier cluster it matches, and a change log says which clusters split, merged, appeared or
vanished.

With an earlier run, each cut is also chosen to keep clusters: instead of cutting the new tree at one height,
`tracked_partition` picks, among the partitions of the new tree into k subtrees, the one under which the most
earlier clusters survive (ties: the most papers kept together). The tree itself is never changed; only which of
its subtrees are called the k clusters.

Matching is by members, per cut (k): only papers present in both runs count. Old and new clusters are paired one
to one so that the pairs share as many papers as possible (the assignment problem), and a pair keeps the old id
when the new cluster holds at least half of the old cluster's papers (a cluster "survives" when most of it stays
together, as in MONIC-style cluster tracking). Unmatched clusters get fresh ids, numbered
after the largest id ever used at that cut, so an id is never reused for a different group.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

MATCH = 0.5  # share of an old cluster's (surviving) papers its successor must hold to keep the id
SHARE = 0.2  # share of a cluster's members that must go to (or come from) another to count in a split / merge
CHANGE_COLUMNS = ["k", "event", "id", "from_ids", "to_ids", "papers", "detail"]
_ID = re.compile(r"^C(\d+)$")


def _k_columns(cuts: pd.DataFrame) -> list[int]:
    return sorted(int(c[9:]) for c in cuts.columns if c.startswith("cluster_k"))


def _groups(ids: pd.Series, labels: pd.Series) -> dict:
    out: dict = {}
    for pid, label in zip(ids, labels):
        out.setdefault(label, set()).add(pid)
    return out


def _number(cluster_id: str) -> int:
    match = _ID.match(str(cluster_id))
    return int(match.group(1)) if match else 0


def read_previous(path: str | Path) -> pd.DataFrame | None:
    """An earlier clusters.csv, or None when there is none or it carries no ids (then every id is fresh)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError):
        return None
    if "id" not in frame or not any(c.startswith("id_k") for c in frame.columns):
        return None
    return frame


def assign_ids(cuts: pd.DataFrame, previous: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`cuts` with an `id_k{k}` column beside each `cluster_k{k}`, and the change log (one row per event)."""
    out = cuts.drop(columns=[c for c in cuts.columns if c.startswith("id_k")])
    changes: list[dict] = []
    for k in _k_columns(cuts):
        new = _groups(out["id"], out[f"cluster_k{k}"])
        column = f"id_k{k}"
        old = _groups(previous["id"], previous[column]) if previous is not None and column in previous else None
        names = _match(new, old, k, changes)
        out.insert(out.columns.get_loc(f"cluster_k{k}") + 1, column, [names[c] for c in out[f"cluster_k{k}"]])
    return out, pd.DataFrame(changes, columns=CHANGE_COLUMNS)


def _match(new: dict, old: dict | None, k: int, changes: list[dict]) -> dict:
    labels = sorted(new)
    if not old:
        return {label: f"C{label}" for label in labels}  # the first run: ids follow the tree's leaf order
    common = set().union(*new.values()) & set().union(*old.values())
    old_ids = sorted(old, key=_number)
    overlap = np.array([[len(new[a] & old[b] & common) for b in old_ids] for a in labels], dtype=float)
    size_new = np.array([len(new[a] & common) for a in labels], dtype=float)
    size_old = np.array([len(old[b] & common) for b in old_ids], dtype=float)
    names: dict = {}
    taken: set = set()
    rows, cols = _pairs(overlap)
    for i, j in zip(rows, cols):
        if overlap[i, j] > 0 and overlap[i, j] >= MATCH * size_old[j]:
            names[labels[i]] = old_ids[j]
            taken.add(old_ids[j])
    counter = max((_number(b) for b in old_ids), default=0)
    for i, a in enumerate(labels):
        sources = [old_ids[j] for j in np.flatnonzero(overlap[i] >= max(2, SHARE * size_new[i]))
                   if overlap[i, j] >= SHARE * size_old[j]]
        if a in names:
            b = names[a]
            added, removed = len(new[a] - old[b]), len(old[b] - new[a])
            event = "kept" if not added and not removed else "changed"
            changes.append(dict(k=k, event=event, id=b, from_ids=b, to_ids=b, papers=len(new[a]),
                                detail=f"+{added} -{removed} papers" if event == "changed" else ""))
            if len(sources) >= 2:
                changes.append(dict(k=k, event="merged", id=b, from_ids=" ".join(sources), to_ids=b,
                                    papers=len(new[a]), detail=""))
            continue
        counter += 1
        names[a] = f"C{counter}"
        event = "merged" if len(sources) >= 2 else "appeared"
        changes.append(dict(k=k, event=event, id=names[a], from_ids=" ".join(sources), to_ids=names[a],
                            papers=len(new[a]), detail=""))
    for j, b in enumerate(old_ids):
        targets = [names[labels[i]] for i in np.flatnonzero(overlap[:, j] >= max(2, SHARE * size_old[j]))]
        if len(targets) >= 2:
            changes.append(dict(k=k, event="split", id=b, from_ids=b, to_ids=" ".join(targets),
                                papers=len(old[b]), detail=""))
        if b not in taken:
            changes.append(dict(k=k, event="vanished", id=b, from_ids=b, to_ids=" ".join(targets),
                                papers=len(old[b]), detail=""))
    return names


def _pairs(overlap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one pairs of new (rows) and old (columns) clusters sharing the most papers in total. When every
    row's best column is also that column's best row, those pairs are the answer (the usual rebuild); otherwise
    the assignment problem is solved."""
    if overlap.size:
        best_col, best_row = overlap.argmax(axis=1), overlap.argmax(axis=0)
        if len(set(best_col)) == len(best_col) and all(best_row[c] == r for r, c in enumerate(best_col)):
            return np.arange(len(best_col)), best_col
    from scipy.optimize import linear_sum_assignment

    return linear_sum_assignment(-overlap)


def kept_share(changes: pd.DataFrame) -> float:
    """Share of the earlier clusters whose id lives on (kept or changed)."""
    if changes.empty:
        return 1.0
    kept = changes["event"].isin(["kept", "changed"]).sum()
    return float(kept / max(kept + (changes["event"] == "vanished").sum(), 1))


def tracked_partition(Z: np.ndarray, paper_ids: list[str], old_groups: dict, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels (1..k, numbered by each cluster's first paper) and subtree roots of the partition of tree `Z` into
    k subtrees under which the most `old_groups` survive (a subtree holding at least MATCH of an old group's
    surviving papers); ties go to the partition keeping the most papers with their old group.

    Dynamic programming over the tree: best[v][j] is the best score of v's subtree cut into j parts; O(n k^2)."""
    n = len(Z) + 1
    k = max(1, min(int(k), n))
    old_ids = sorted(old_groups, key=str)
    index = {pid: i for i, pid in enumerate(paper_ids)}
    counts = np.zeros((2 * n - 1, max(len(old_ids), 1)))
    for j, b in enumerate(old_ids):
        for pid in old_groups[b]:
            if pid in index:
                counts[index[pid], j] += 1
    children = np.zeros((2 * n - 1, 2), dtype=np.int64)
    size = np.ones(2 * n - 1, dtype=np.int64)
    for r, row in enumerate(Z):
        a, b = int(row[0]), int(row[1])
        counts[n + r] = counts[a] + counts[b]
        size[n + r] = size[a] + size[b]
        children[n + r] = (a, b)
    total = np.maximum(counts[2 * n - 2], 1)
    survives = (counts >= MATCH * total[None, :]) & (counts > 0)
    # one survivor per subtree at most; the small second term prefers keeping more papers together
    gain = survives.any(axis=1) + counts.max(axis=1) / (counts[2 * n - 2].sum() + 1)
    best: dict[int, np.ndarray] = {v: np.array([-np.inf, gain[v]]) for v in range(n)}
    split: dict[int, np.ndarray] = {}
    for r in range(n - 1):
        v = n + r
        fa, fb = best.pop(int(children[v, 0])), best.pop(int(children[v, 1]))
        m = int(min(k, size[v]))
        sums = np.add.outer(fa, fb)  # sums[i, j]: i parts on the left, j on the right
        out = np.full(m + 1, -np.inf)
        arg = np.zeros(m + 1, dtype=np.int64)
        out[1] = gain[v]
        for t in range(2, m + 1):
            i = np.arange(max(1, t - len(fb) + 1), min(t, len(fa)))
            if len(i):
                values = sums[i, t - i]
                pick = int(np.argmax(values))
                out[t], arg[t] = values[pick], i[pick]
        best[v], split[v] = out, arg
    roots = []
    stack = [(2 * n - 2, k)]
    while stack:
        v, j = stack.pop()
        if j == 1:
            roots.append(v)
            continue
        i = int(split[v][j])
        stack += [(int(children[v, 1]), j - i), (int(children[v, 0]), i)]
    node_of = np.zeros(n, dtype=np.int64)
    for root in roots:
        stack = [root]
        while stack:
            v = stack.pop()
            if v < n:
                node_of[v] = root
            else:
                stack += [int(children[v, 0]), int(children[v, 1])]
    _, first, inverse = np.unique(node_of, return_index=True, return_inverse=True)
    labels = np.argsort(np.argsort(first))[inverse] + 1
    return labels, node_of


def previous_groups(previous: pd.DataFrame, k: int) -> dict | None:
    column = f"id_k{k}"
    return _groups(previous["id"], previous[column]) if column in previous else None
