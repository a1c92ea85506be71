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
    steps: dict[int, list[int]] = {}  # merges done -> the rows of ks that cut there (a k may repeat)
    for i, k in enumerate(ks):
        steps.setdefault(n - max(1, min(int(k), n)), []).append(i)
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
        for i in steps.get(row, []):
            out[i], nodes[i] = labels, roots

    if 0 in steps:
        snapshot(0)
    for row in range(n - 1):
        a, b = int(Z[row, 0]), int(Z[row, 1])
        parent[a] = parent[b] = n + row
        if row + 1 in steps:
            snapshot(row + 1)
    return (out, nodes) if return_nodes else out


def shared_cut_counts(Z: np.ndarray, ks: list[int]) -> np.ndarray:
    """For every pair of points, in how many of the cuts at `ks` they share a cluster (n x n, float32).

    A pair first merged at linkage row r shares a cluster in every cut at k <= n - 1 - r (`cuts` takes the
    first n - k merges). The members of a node are contiguous in the leaf order, so each merge fills one
    block of the matrix of merge rows; no cut is materialised."""
    n = len(Z) + 1
    usable = np.sort(np.asarray([k for k in ks if k < n], dtype=np.int64))
    order = hierarchy.leaves_list(Z) if n > 1 else np.zeros(1, dtype=np.int64)
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    start = np.empty(2 * n - 1, dtype=np.int64)
    size = np.ones(2 * n - 1, dtype=np.int64)
    start[:n] = position
    rows = np.full((n, n), -1, dtype=np.int32)  # in leaf order
    for row, (a, b) in enumerate(Z[:, :2].astype(np.int64)):
        first, second = (a, b) if start[a] < start[b] else (b, a)
        lo = start[first]
        mid = lo + size[first]
        hi = mid + size[second]
        rows[lo:mid, mid:hi] = row
        rows[mid:hi, lo:mid] = row
        start[n + row], size[n + row] = lo, hi - lo
    out = np.empty((n, n), dtype=np.float32)
    for begin in range(0, n, 1024):  # bounded temporaries for large n
        block = rows[position[begin:begin + 1024]][:, position]
        out[begin:begin + 1024] = np.searchsorted(usable, n - 1 - block.astype(np.int64), side="right")
    np.fill_diagonal(out, len(usable))
    return out


def coassociation(views: list[np.ndarray], ks: list[int], method: str = "ward", bags: int = 0,
                  fraction: float = 0.8, seed: int = 0) -> np.ndarray:
    """Fraction of (view, sample, k) partitions in which two papers share a cluster, over the partitions
    whose sample holds both. Each view is clustered whole and, with `bags` > 0, on that many random
    `fraction`-subsamples too (bagging: a group that only the exact full sample produces weighs less)."""
    n = len(views[0])
    together = np.zeros((n, n), dtype=np.float32)
    seen = np.zeros((n, n), dtype=np.float32) if bags else None  # partitions holding each pair (all, unbagged)
    count = 0
    rng = np.random.default_rng(seed)
    m = max(2, int(round(fraction * n)))
    for X in views:
        X = np.asarray(X)
        samples = [np.arange(n)] + [np.sort(rng.choice(n, m, replace=False)) for _ in range(bags if m < n else 0)]
        for sample in samples:
            cuts_here = sum(1 for k in ks if k < len(sample))
            if len(sample) < 2 or not cuts_here:
                continue
            shared = shared_cut_counts(exact_linkage(X[sample], method), ks)
            if len(sample) == n:
                together += shared
                count += cuts_here
            else:
                block = np.ix_(sample, sample)
                together[block] += shared
                seen[block] += cuts_here
    if seen is None:
        return together / max(count, 1)
    seen += count
    return together / np.maximum(seen, 1)


def consensus_linkage(views: list[np.ndarray], ks: list[int] | None = None,
                      bags: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Average linkage on 1 - co-association over Ward trees of several views (evidence accumulation;
    `bags` subsamples per view, see `coassociation`).

    Returns the linkage and the condensed consensus distances (for leaf ordering and cophenetic scores).
    """
    n = len(views[0])
    ks = ks or list(range(5, min(120, n), 5)) or [2]
    distance = 1.0 - coassociation(views, ks, bags=bags)
    np.fill_diagonal(distance, 0.0)
    condensed = squareform(distance.astype(np.float64), checks=False)
    return hierarchy.linkage(condensed, "average"), condensed


def ward_above(Z: np.ndarray, X: np.ndarray, k: int) -> np.ndarray:
    """Keep a tree's merges below its k-cluster cut and rebuild everything above it by Ward on X.

    Consensus trees find small groups reliably but order the large ones poorly (average linkage on
    co-association lets a few tight groups decide the top); Ward on one embedding does the opposite. The
    k groups' subtrees stay as they are; their centroids in X are merged by size-weighted Ward, placed
    above the highest kept merge so heights stay monotone."""
    n = len(Z) + 1
    k = max(1, min(int(k), n))
    labels, nodes = cuts(Z, [k], return_nodes=True)
    labels, nodes = labels[0], nodes[0]
    first = np.array([np.flatnonzero(labels == g)[0] for g in range(1, k + 1)])
    group_nodes = nodes[first]
    keep = np.zeros(len(Z), dtype=bool)
    stack = [int(g) for g in group_nodes if g >= n]
    while stack:  # every merge inside a kept group
        row = stack.pop() - n
        keep[row] = True
        stack += [int(c) for c in Z[row, :2] if c >= n]
    kept = Z[keep]
    new_id = np.arange(2 * n - 1)
    new_id[n + np.flatnonzero(keep)] = n + np.arange(len(kept))
    inside = kept.copy()
    inside[:, :2] = new_id[kept[:, :2].astype(np.int64)]
    X = np.asarray(X, dtype=np.float64)
    sizes = np.bincount(labels, minlength=k + 1)[1:]
    centroids = np.array([X[labels == g].mean(0) for g in range(1, k + 1)])
    top = weighted_ward(centroids, sizes)
    base = float(kept[:, 2].max()) if len(kept) else 0.0
    ids = list(new_id[group_nodes])
    rows = [inside]
    for a, b, height, size in top:
        parent = n + len(kept) + len(ids) - k
        rows.append(np.array([[min(ids[int(a)], ids[int(b)]), max(ids[int(a)], ids[int(b)]),
                               base + 1e-9 + height, size]]))
        ids.append(parent)
    return np.concatenate(rows) if rows else np.zeros((0, 4))


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


def nested_linkage(X: np.ndarray, paths: list[tuple] | np.ndarray) -> np.ndarray:
    """A tree whose upper levels follow given groups and whose lowest level is learned from X.

    `paths[i]` is point i's group at each level, coarse to fine (tuples of labels, or an n x depth integer
    array). Points sharing a full path are joined by exact Ward; groups are then merged level by level with
    Ward on their centroids, each level above the last so heights stay monotone. Used by the guided tree
    (taxonomy levels) and the two-stage method.
    """
    if isinstance(X, (np.ndarray, list)):  # float32 halves memory at 1M points; merges use float64 distances
        X = np.asarray(X, dtype=np.float32)
    n = len(X)  # else a row-indexable view (scale.ShardedVectors): rows are read as they are needed
    if isinstance(paths, np.ndarray):
        codes = [np.unique(paths[:, d], return_inverse=True)[1].ravel() for d in range(paths.shape[1])]
    else:  # integer codes per level, in the sorted order of the keys' text (deterministic grouping)
        depth = len(paths[0]) if paths else 0
        codes = [np.unique(np.array([str(p[d]) for p in paths]), return_inverse=True)[1] for d in range(depth)]
    depth_max = len(codes)
    blocks: list[np.ndarray] = []
    made = 0  # merges emitted so far; the next merge is node n + made

    def emit(Z: np.ndarray, leaves: np.ndarray, base: float) -> int:
        """Append a local linkage over `leaves` (node ids) as global rows; returns the id of its root."""
        nonlocal made
        ids = np.concatenate([leaves, n + made + np.arange(len(Z))])
        children = ids[Z[:, :2].astype(np.int64)]
        blocks.append(np.column_stack([children.min(1), children.max(1), base + Z[:, 2], Z[:, 3]]))
        made += len(Z)
        return n + made - 1

    def subtree(idx: np.ndarray, base: float) -> tuple[int, float]:
        """Exact Ward over the points `idx`; returns (node id, top height)."""
        if len(idx) == 1:
            return int(idx[0]), base
        Z = hierarchy.linkage(_euclidean_condensed(X[idx]), "ward")
        return emit(Z, idx, base), base + Z[-1, 2]

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
        if len(Z) == 0:
            return built[0][0], top
        return emit(Z, np.array([node for node, _ in built]), top), top + Z[-1, 2]

    build(np.arange(n), 0, 0.0)
    return sort_rows(np.concatenate(blocks) if blocks else np.zeros((0, 4)))


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
    order = np.lexsort((np.arange(len(Z)), Z[:, 2]))  # by height, ties by creation order
    new_id = np.arange(2 * n - 1)
    new_id[n + order] = n + np.arange(len(Z))
    out = Z[order].copy()
    out[:, :2] = np.sort(new_id[out[:, :2].astype(np.int64)], axis=1)
    return out


def _project(X: np.ndarray, dim: int, seed: int, sample: int = 20_000) -> np.ndarray:
    """PCA to `dim` dimensions, fitted on a sample and applied in chunks (float32): k-means only needs to find
    neighbourhoods, and distances in 64 dimensions cost a sixth of those in 384."""
    if X.shape[1] <= dim:
        return np.asarray(X, dtype=np.float32)
    rng = np.random.default_rng(seed)
    S = X[np.sort(rng.choice(len(X), min(sample, len(X)), replace=False))].astype(np.float64)
    mean = S.mean(0)
    _, _, vt = np.linalg.svd(S - mean, full_matrices=False)
    basis = vt[:dim].T.astype(np.float32)
    out = np.empty((len(X), dim), dtype=np.float32)
    for start in range(0, len(X), 100_000):
        out[start:start + 100_000] = (X[start:start + 100_000] - mean.astype(np.float32)) @ basis
    return out


def _assign(X: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Nearest centre of every row, in chunks (one float32 matrix product each)."""
    c2 = (centres * centres).sum(1)
    out = np.empty(len(X), dtype=np.int64)
    for start in range(0, len(X), 65_536):
        out[start:start + 65_536] = np.argmin(c2 - 2 * (X[start:start + 65_536] @ centres.T), axis=1)
    return out


def kmeans_labels(X: np.ndarray, k: int, seed: int = 0, iters: int = 8, sample_per_centre: int = 40) -> np.ndarray:
    """Lloyd's k-means fitted on a sample (`sample_per_centre` points per centre), then every point assigned.
    Deterministic for a seed; an empty centre keeps its last position."""
    from scipy import sparse

    n = len(X)
    k = int(min(k, n))
    rng = np.random.default_rng(seed)
    S = X[np.sort(rng.choice(n, min(n, max(sample_per_centre * k, 1000)), replace=False))]
    centres = S[rng.choice(len(S), k, replace=False)].astype(np.float32)
    for _ in range(iters):
        labels = _assign(S, centres)
        counts = np.bincount(labels, minlength=k)
        member = sparse.csr_matrix((np.ones(len(S), dtype=np.float32), (labels, np.arange(len(S)))), shape=(k, len(S)))
        sums = np.asarray(member @ S)
        filled = counts > 0
        centres[filled] = sums[filled] / counts[filled, None]
    return _assign(X, centres)


def two_stage_linkage(X: np.ndarray, n_micro: int | None = None, seed: int = 0, max_leaf: int = 2000,
                      dim: int = 64) -> np.ndarray:
    """Micro-clusters by k-means (two nested rounds, in a 64-d PCA projection), exact Ward inside each, Ward on
    size-weighted centroids above.

    The first round splits the data into about sqrt(n_micro) parts and the second splits each part in
    proportion to its size, so the assignment costs n * 2 sqrt(n_micro) distances instead of n * n_micro.
    A micro-cluster larger than `max_leaf` points is split again, so no exact Ward ever runs on more than
    `max_leaf` points: time stays near-linear in n and memory in O(n). X may be any object indexable by
    slices and integer arrays (`scale.ShardedVectors`): it is read in chunks and never copied whole."""
    n = len(X)
    n_micro = n_micro or int(min(max(2 * np.sqrt(n), 50), 4000, n))
    Y = _project(X, dim, seed)
    coarse = kmeans_labels(Y, int(np.ceil(np.sqrt(n_micro))), seed)
    micro = np.zeros(n, dtype=np.int64)
    next_id = 0
    for part in np.unique(coarse):
        idx = np.flatnonzero(coarse == part)
        k = max(1, int(round(n_micro * len(idx) / n)))
        micro[idx] = next_id + (kmeans_labels(Y[idx], k, seed + 1 + int(part)) if k > 1 else 0)
        next_id += k
    levels = [micro]
    for depth in range(4):
        _, group = np.unique(np.stack(levels, 1), axis=0, return_inverse=True)
        group = group.ravel()
        sizes = np.bincount(group)
        big = np.flatnonzero(sizes > max_leaf)
        if len(big) == 0:
            break
        current = np.zeros(n, dtype=np.int64)
        for g in big:
            idx = np.flatnonzero(group == g)
            current[idx] = kmeans_labels(Y[idx], int(np.ceil(len(idx) / (max_leaf / 4))), seed + 101 + depth)
        levels.append(current)
    return nested_linkage(X, np.stack(levels, 1))


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
