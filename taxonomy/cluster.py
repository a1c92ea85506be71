"""Hierarchical clustering: exact linkage, consensus of several views, two-stage for large n, nested trees.

Every function returns a SciPy linkage matrix (n-1 rows of [a, b, height, size]) so SciPy's tools
(fcluster, cophenet, dendrogram) apply. Inputs are taken in the order given; the same input gives the same
tree (SciPy breaks ties by index; our own merges sort on (height, ids)).
"""

from __future__ import annotations

import numpy as np
from scipy.cluster import hierarchy
from scipy.spatial.distance import pdist, squareform

EXACT_MAX = 20_000  # above this, exact linkage needs too much memory (n^2/2 distances)
LINKAGES = ("ward", "average", "complete")


def exact_linkage(X: np.ndarray, method: str = "ward") -> np.ndarray:
    """SciPy linkage: Ward on Euclidean distances, average/complete on cosine distances."""
    X = np.asarray(X, dtype=np.float64)
    if method == "ward":
        return hierarchy.linkage(X, "ward")
    if method not in LINKAGES:
        raise ValueError(f"unknown linkage '{method}'")
    return hierarchy.linkage(pdist(X, "cosine"), method)


def cut(Z: np.ndarray, k: int) -> np.ndarray:
    """Flat clusters from a tree: exactly min(k, n) clusters (even with tied heights), numbered 1..k in
    order of each cluster's first paper."""
    return cuts(Z, [k])[0]


def cuts(Z: np.ndarray, ks: list[int], return_nodes: bool = False):
    """Flat clusters for several k at once (one pass over the merges); row i holds the cut at ks[i].
    With return_nodes, also the tree node (SciPy id) each paper's cluster is, row by row."""
    n = len(Z) + 1
    parent = np.arange(2 * n - 1)
    steps = {n - max(1, min(int(k), n)): i for i, k in enumerate(ks)}
    out = np.zeros((len(ks), n), dtype=np.int64)
    nodes = np.zeros((len(ks), n), dtype=np.int64)

    def snapshot(row: int) -> None:
        roots = parent[:n].copy()
        # path compression over the whole forest, vectorised
        while True:
            nxt = parent[roots]
            if np.array_equal(nxt, roots):
                break
            roots = nxt
        _, first, inverse = np.unique(roots, return_index=True, return_inverse=True)
        rank = np.argsort(np.argsort(first))
        labels = rank[inverse] + 1
        for step, i in steps.items():
            if step == row:
                out[i], nodes[i] = labels, roots

    if 0 in steps:
        snapshot(0)
    for row in range(n - 1):
        a, b = int(Z[row, 0]), int(Z[row, 1])
        parent[a] = parent[b] = n + row
        if row + 1 in steps:
            snapshot(row + 1)
    return (out, nodes) if return_nodes else out


def coassociation(views: list[np.ndarray], ks: list[int], method: str = "ward") -> np.ndarray:
    """Fraction of (view, k) partitions in which two papers share a cluster."""
    n = len(views[0])
    together = np.zeros((n, n), dtype=np.float32)
    count = 0
    for X in views:
        Z = exact_linkage(X, method)
        for labels in cuts(Z, [k for k in ks if k < n]):
            together += labels[:, None] == labels[None, :]
            count += 1
    return together / max(count, 1)


def consensus_linkage(views: list[np.ndarray], ks: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Average linkage on 1 - co-association over Ward trees of several views (evidence accumulation).

    Returns the linkage and the condensed consensus distances (for leaf ordering and cophenetic scores).
    """
    n = len(views[0])
    ks = ks or list(range(5, min(120, n), 5)) or [2]
    distance = 1.0 - coassociation(views, ks)
    np.fill_diagonal(distance, 0.0)
    condensed = squareform(distance.astype(np.float64), checks=False)
    return hierarchy.linkage(condensed, "average"), condensed


def weighted_ward(centroids: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Ward linkage of groups given their centroids and sizes (nearest-neighbour chain, O(m^2) time).

    Heights follow SciPy's convention: sqrt(2 n_a n_b / (n_a + n_b)) * ||c_a - c_b||.
    """
    m = len(centroids)
    if m == 1:
        return np.zeros((0, 4))
    cent = np.asarray(centroids, dtype=np.float64).copy()
    size = np.asarray(sizes, dtype=np.float64).copy()
    active = np.ones(m, dtype=bool)
    merges: list[tuple[float, int, int]] = []
    chain: list[int] = []

    def nearest(i: int) -> tuple[int, float]:
        d = ((cent - cent[i]) ** 2).sum(1) * (2 * size * size[i] / (size + size[i]))
        d[~active] = np.inf
        d[i] = np.inf
        j = int(np.argmin(d))
        return j, float(d[j])

    remaining = m
    while remaining > 1:
        if not chain:
            chain.append(int(np.flatnonzero(active)[0]))
        i = chain[-1]
        j, dist = nearest(i)
        if len(chain) > 1 and chain[-2] == j:
            chain.pop(), chain.pop()
            a, b = min(i, j), max(i, j)
            total = size[a] + size[b]
            cent[a] = (cent[a] * size[a] + cent[b] * size[b]) / total
            size[a] = total
            active[b] = False
            merges.append((np.sqrt(dist), a, b))
            remaining -= 1
        else:
            chain.append(j)
    return _relabel(merges, np.asarray(sizes, dtype=np.float64))


def _relabel(merges: list[tuple[float, int, int]], sizes: np.ndarray) -> np.ndarray:
    """Turn (height, slot_a, slot_b) merges into a SciPy linkage (sorted, cluster ids n, n+1, ...)."""
    m = len(sizes)
    order = sorted(range(len(merges)), key=lambda t: (merges[t][0], t))
    parent = list(range(m))
    cluster_id = list(range(m))
    weight = list(sizes)
    Z = np.zeros((len(merges), 4))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for row, t in enumerate(order):
        h, a, b = merges[t]
        ra, rb = find(a), find(b)
        ia, ib = sorted((cluster_id[ra], cluster_id[rb]))
        Z[row] = [ia, ib, h, weight[ra] + weight[rb]]
        parent[rb] = ra
        cluster_id[ra] = m + row
        weight[ra] += weight[rb]
    return Z


def nested_linkage(X: np.ndarray, paths: list[tuple]) -> np.ndarray:
    """A tree whose upper levels follow given groups and whose lowest level is learned from X.

    `paths[i]` is point i's group at each level, coarse to fine. Points sharing a full path are joined by
    exact Ward; groups are then merged level by level with Ward on their centroids, each level above the
    last so heights stay monotone. Used by the guided tree (taxonomy levels) and the two-stage method.
    """
    X = np.asarray(X, dtype=np.float32)  # float32 halves memory at 1M points; merges use float64 distances
    n = len(X)
    rows: list[list[float]] = []
    depth_max = len(paths[0]) if paths else 0
    # integer codes per level, in the sorted order of the keys' text (deterministic grouping)
    codes = [np.unique(np.array([str(p[d]) for p in paths]), return_inverse=True)[1] for d in range(depth_max)]

    def emit(a: int, b: int, h: float, s: float) -> int:
        rows.append([min(a, b), max(a, b), h, s])
        return n + len(rows) - 1

    def subtree(idx: np.ndarray, base: float) -> tuple[int, float]:
        """Exact Ward over the points `idx`; returns (node id, top height)."""
        if len(idx) == 1:
            return int(idx[0]), base
        Z = hierarchy.linkage(_euclidean_condensed(X[idx]), "ward")
        ids = list(map(int, idx))
        for a, b, h, s in Z:
            ids.append(emit(ids[int(a)], ids[int(b)], base + h, s))
        return ids[-1], base + Z[-1, 2]

    def build(idx: np.ndarray, depth: int, base: float) -> tuple[int, float]:
        if depth == depth_max:
            return subtree(idx, base)
        level = codes[depth][idx]
        order = np.argsort(level, kind="stable")
        bounds = np.flatnonzero(np.diff(level[order])) + 1
        if len(bounds) == 0:
            return build(idx, depth + 1, base)
        parts = np.split(idx[order], bounds)
        built = [build(part, depth + 1, base) for part in parts]
        top = max(h for _, h in built)
        Z = weighted_ward(np.array([X[p].mean(0, dtype=np.float64) for p in parts]), np.array([len(p) for p in parts]))
        ids = [node for node, _ in built]
        for a, b, h, s in Z:
            ids.append(emit(ids[int(a)], ids[int(b)], top + h, s))
        return ids[-1], top + (Z[-1, 2] if len(Z) else 0.0)

    build(np.arange(n), 0, 0.0)
    return sort_rows(np.array(rows, dtype=np.float64).reshape(-1, 4))


def _euclidean_condensed(X: np.ndarray) -> np.ndarray:
    """Condensed Euclidean distances through one matrix product (BLAS, multi-threaded): much faster than
    pdist in high dimension, and exact enough for Ward's merge order."""
    sq = (X * X).sum(1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * (X @ X.T), 0.0)
    np.fill_diagonal(d2, 0.0)
    return squareform(np.sqrt(d2), checks=False).astype(np.float64)


def sort_rows(Z: np.ndarray) -> np.ndarray:
    """Reorder merges by height (children before parents) and renumber, as SciPy's cut functions expect."""
    n = len(Z) + 1
    order = sorted(range(len(Z)), key=lambda r: (Z[r, 2], r))
    new_id = {n + old: n + new for new, old in enumerate(order)}
    out = Z[order].copy()
    for col in (0, 1):
        out[:, col] = [new_id.get(int(v), int(v)) for v in out[:, col]]
    out[:, :2] = np.sort(out[:, :2], axis=1)
    return out


def two_stage_linkage(X: np.ndarray, n_micro: int | None = None, seed: int = 0, max_leaf: int = 2000) -> np.ndarray:
    """Micro-clusters by mini-batch k-means, exact Ward inside each, Ward on size-weighted centroids above.

    A micro-cluster larger than `max_leaf` points is split again by k-means (and so on), so no exact Ward
    ever runs on more than `max_leaf` points: time stays near-linear in n and memory in O(n)."""
    from sklearn.cluster import MiniBatchKMeans

    n = len(X)
    X32 = np.asarray(X, dtype=np.float32)
    n_micro = n_micro or int(min(max(2 * np.sqrt(n), 50), 4000, n))
    km = MiniBatchKMeans(n_micro, random_state=seed, batch_size=8192, n_init=1, max_iter=10, init="random")
    levels = [km.fit_predict(X32)]
    for depth in range(4):
        current = np.zeros(n, dtype=np.int64)
        _, group = np.unique(np.stack(levels, 1), axis=0, return_inverse=True)
        sizes = np.bincount(group.ravel())
        big = np.flatnonzero(sizes > max_leaf)
        if len(big) == 0:
            break
        for g in big:
            idx = np.flatnonzero(group.ravel() == g)
            parts = int(np.ceil(len(idx) / (max_leaf / 4)))
            sub = MiniBatchKMeans(parts, random_state=seed + depth + 1, batch_size=4096, n_init=1, max_iter=20,
                                  init="random").fit_predict(X32[idx])
            current[idx] = sub
        levels.append(current)
    return nested_linkage(X, [tuple(int(v) for v in row) for row in np.stack(levels, 1)])


def build_linkage(X: np.ndarray, method: str = "ward", exact_max: int = EXACT_MAX, seed: int = 0) -> np.ndarray:
    """Exact linkage while affordable, two-stage Ward beyond `exact_max` points."""
    if len(X) <= exact_max:
        return exact_linkage(X, method)
    return two_stage_linkage(X, seed=seed)


def order_leaves(Z: np.ndarray, condensed: np.ndarray, max_n: int = 1500) -> np.ndarray:
    """Optimal leaf ordering for small trees (the picture reads better); unchanged above `max_n`."""
    if len(Z) + 1 > max_n:
        return Z
    return hierarchy.optimal_leaf_ordering(Z, condensed)
