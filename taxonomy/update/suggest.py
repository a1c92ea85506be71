"""Suggested new categories: groups of new papers that stand apart from the corpus together.

New papers are grouped by average linkage on their blended similarity, cut where two papers are as similar as a
typical pair of corpus papers that share a node (the median over those pairs), so a group is about as tight as
an existing category. A group of at least `min_size` papers is suggested when its members' pooled new-neighbour
counts are too high for a batch drawn like the corpus (binomial tail; the threshold is calibrated on
pseudo-batches of corpus papers, see `novelty`). Each suggestion gets a name from the terms that set it apart
from its nearest existing node, that node, and the reference implementation nearest to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from taxonomy.update.novelty import _expected_share, tail_probability

MIN_SIZE = 3
NAME_TERMS = 3


@dataclass
class Suggestion:
    members: list[int]  # rows of the batch
    name: str
    terms: list[str]
    p_value: float
    nearest_nodes: dict[str, tuple[str, float]] = field(default_factory=dict)  # taxonomy -> (node, cosine)
    nearest_impl: str = ""
    nearest_impl_paper: str = ""


def typical_within_node_similarity(self_similarity: np.ndarray, labels: list[tuple[str, ...]]) -> float:
    """Median similarity of corpus pairs that share a node; without labels, the median similarity of each
    paper to its nearest neighbour."""
    n = len(labels)
    iu = np.triu_indices(n, 1)
    if any(labels):
        node_sets = [set(ls) for ls in labels]
        same = np.array([bool(node_sets[i] & node_sets[j]) for i, j in zip(*iu)], dtype=bool)
        if same.any():
            return float(np.median(self_similarity[iu][same]))
    off = np.array(self_similarity, dtype=float, copy=True)
    np.fill_diagonal(off, -np.inf)
    return float(np.median(off.max(axis=1)))


def group_batch(batch_vs_batch: np.ndarray, cut_similarity: float) -> np.ndarray:
    """Group labels (1..g) of the new papers: average linkage on 1 - similarity, cut at 1 - cut_similarity."""
    from scipy.cluster import hierarchy
    from scipy.spatial.distance import squareform

    n = batch_vs_batch.shape[0]
    if n < 2:
        return np.ones(n, dtype=int)
    distance = np.clip(1.0 - (batch_vs_batch + batch_vs_batch.T) / 2, 0.0, None)
    np.fill_diagonal(distance, 0.0)
    Z = hierarchy.linkage(squareform(distance, checks=False), "average")
    return hierarchy.fcluster(Z, 1.0 - cut_similarity, "distance")


def group_p_values(groups: np.ndarray, new_neighbours: np.ndarray, k: int, n_corpus: int,
                   min_size: int = MIN_SIZE) -> dict[int, float]:
    """Binomial tail probability of each group's pooled new-neighbour count (groups of at least min_size)."""
    share = _expected_share(len(groups), n_corpus)
    out = {}
    for g in np.unique(groups):
        members = np.flatnonzero(groups == g)
        if len(members) >= min_size:
            out[int(g)] = float(tail_probability(new_neighbours[members].sum(), k * len(members), share))
    return out


def novel_groups(groups: np.ndarray, new_neighbours: np.ndarray, k: int, n_corpus: int, threshold: float,
                 min_size: int = MIN_SIZE) -> list[tuple[list[int], float]]:
    """(members, p-value) of the groups whose p-value is below the calibrated threshold, largest first."""
    p_values = group_p_values(groups, new_neighbours, k, n_corpus, min_size)
    out = [(np.flatnonzero(groups == g).tolist(), p) for g, p in p_values.items() if p < threshold]
    return sorted(out, key=lambda item: (-len(item[0]), item[1], item[0]))


def contrast_terms(group_tfidf: np.ndarray, node_tfidf: np.ndarray, vocabulary: np.ndarray,
                   n: int = NAME_TERMS) -> list[str]:
    """Terms much more present in the group than in its nearest node; a term inside one already chosen (or
    containing it) is skipped, so 'masked' and 'masked point' do not both appear."""
    contrast = group_tfidf - node_tfidf
    order = np.argsort(-contrast, kind="stable")
    chosen: list[str] = []
    for j in order:
        if contrast[j] <= 0 or len(chosen) == n:
            break
        term = str(vocabulary[j])
        words = set(term.split())
        if any(words <= set(c.split()) or set(c.split()) <= words for c in chosen):
            continue
        chosen.append(term)
    return chosen
