"""Place a new paper in both taxonomies, measure placement by leave-one-out, and audit existing labels.

Placement is a similarity-weighted k-nearest-neighbour vote over the corpus (weights exp(similarity / T)).
The vote is shrunk towards the nodes' base rates, p = (1 - a) * vote + a * prior: where the text says little
(survey B's contribution categories are not topics) the prior dominates. The temperature T and the weight a
of each taxonomy are fitted at `fit` time by minimising the leave-one-out log-loss, so the scores are
calibrated on the corpus itself: a node scored 0.9 is right about 90 % of the time.
A neighbour listed under several nodes spreads its vote equally over them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from taxonomy.corpus import Corpus, load_corpus
from taxonomy.search import Representation, represent

TEMPERATURES = (0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.07, 0.1, 0.15, 0.2, 0.3)
PRIOR_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)


class Placer:
    """k-NN placement (scikit-learn style: configure in __init__, learn in fit, state ends in `_`)."""

    def __init__(self, k: int = 20, dense_weight: float | None = None):
        self.k = k
        self.dense_weight = dense_weight

    def fit(self, corpus: Corpus, abstracts: str | Path | None = None, cache_dir=None, progress: bool = True,
            representation: Representation | None = None) -> "Placer":
        self.corpus_ = corpus
        self.rep_ = representation or represent(corpus, abstracts, cache_dir=cache_dir, progress=progress)
        self.similarity_ = self._blend(self.rep_.dense @ self.rep_.dense.T,
                                       (self.rep_.sparse @ self.rep_.sparse.T).toarray())
        self.levels_: dict[tuple[str, int], tuple[np.ndarray, list[str]]] = {}
        self.temperature_: dict[str, float] = {}
        self.prior_weight_: dict[str, float] = {}
        self._loo_cache: dict[tuple[str, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for name, tax in corpus.taxonomies.items():
            for level in range(len(tax.levels)):
                self.levels_[(name, level)] = self._membership(name, level)
            leaf = len(tax.levels) - 1
            grid = [(t, a) for t in TEMPERATURES for a in PRIOR_WEIGHTS]
            self.temperature_[name], self.prior_weight_[name] = min(grid, key=lambda ta: self._loo_logloss(name, leaf, *ta))
        return self

    def _blend(self, dense: np.ndarray, sparse: np.ndarray) -> np.ndarray:
        from taxonomy.search import DENSE_WEIGHT

        w = DENSE_WEIGHT if self.dense_weight is None else self.dense_weight
        return w * dense + (1 - w) * sparse

    def _membership(self, taxonomy: str, level: int) -> tuple[np.ndarray, list[str]]:
        """(papers x nodes) matrix of fractional votes at one level, and the node ids."""
        tax = self.corpus_.taxonomy(taxonomy)
        labels = [tuple(dict.fromkeys(tax.at_level(x, level) for x in ls)) for ls in self.corpus_.labels(taxonomy)]
        nodes = sorted({n for ls in labels for n in ls})
        index = {n: i for i, n in enumerate(nodes)}
        M = np.zeros((len(labels), len(nodes)))
        for i, ls in enumerate(labels):
            for n in ls:
                M[i, index[n]] = 1 / len(ls)
        return M, nodes

    def _neighbours(self, sim: np.ndarray, taxonomy: str, level: int) -> tuple[np.ndarray, np.ndarray]:
        """Indices and similarities of the k nearest labelled corpus papers for each row of `sim`."""
        M, _ = self.levels_[(taxonomy, level)]
        sim = np.where((M.sum(1) > 0)[None, :], sim, -np.inf)
        k = min(self.k, int((M.sum(1) > 0).sum()) - 1)
        idx = np.argsort(-sim, axis=1, kind="stable")[:, :k]
        return idx, np.take_along_axis(sim, idx, axis=1)

    def _probs(self, idx: np.ndarray, top: np.ndarray, taxonomy: str, level: int, temperature: float,
               prior_weight: float | None = None) -> np.ndarray:
        """Similarity-weighted vote of the neighbours, shrunk towards the nodes' base rates."""
        M, _ = self.levels_[(taxonomy, level)]
        weights = np.exp((top - top[:, :1]) / temperature)
        probs = np.einsum("nk,nkc->nc", weights, M[idx])
        probs = probs / probs.sum(1, keepdims=True)
        a = self.prior_weight_.get(taxonomy, 0.0) if prior_weight is None else prior_weight
        return (1 - a) * probs + a * (M.sum(0) / M.sum())[None, :]

    def _loo_neighbours(self, taxonomy: str, level: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(labelled rows, neighbour indices, similarities) with each paper left out of its own vote.
        Computed once per level: the grid search over T and the prior weight reuses it."""
        key = (taxonomy, level)
        if key not in self._loo_cache:
            M, _ = self.levels_[key]
            rows = np.flatnonzero(M.sum(1) > 0)
            sim = self.similarity_[rows].copy()
            sim[np.arange(len(rows)), rows] = -np.inf
            self._loo_cache[key] = (rows, *self._neighbours(sim, taxonomy, level))
        return self._loo_cache[key]

    def _loo_logloss(self, taxonomy: str, level: int, temperature: float, prior_weight: float) -> float:
        M, _ = self.levels_[(taxonomy, level)]
        rows, idx, top = self._loo_neighbours(taxonomy, level)
        probs = self._probs(idx, top, taxonomy, level, temperature, prior_weight)
        return float(-np.log(np.clip((probs * (M[rows] > 0)).sum(1), 1e-6, 1)).mean())

    def loo_probabilities(self, taxonomy: str, level: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Leave-one-out probabilities for every labelled paper: (rows, probs, node ids)."""
        rows, idx, top = self._loo_neighbours(taxonomy, level)
        return rows, self._probs(idx, top, taxonomy, level, self.temperature_[taxonomy]), self.levels_[(taxonomy, level)][1]

    def place(self, titles: list[str], abstracts: list[str] | None = None, top: int = 3) -> pd.DataFrame:
        """Most likely nodes per taxonomy and level for each new paper (one row per candidate)."""
        abstracts = abstracts or [""] * len(titles)
        dense, sparse = self.rep_.encode(titles, abstracts)
        sim = self._blend(dense @ self.rep_.dense.T, (sparse @ self.rep_.sparse.T).toarray())
        rows = []
        for (name, level), (_, nodes) in self.levels_.items():
            tax = self.corpus_.taxonomy(name)
            probs = self._probs(*self._neighbours(sim, name, level), name, level, self.temperature_[name])
            for item, p in enumerate(probs):
                for rank, j in enumerate(np.argsort(-p, kind="stable")[:top], 1):
                    rows.append(dict(paper=item, title=titles[item], taxonomy=name, level=tax.levels[level],
                                     rank=rank, node=nodes[j], name=tax.nodes[nodes[j]].name,
                                     score=round(float(p[j]), 3)))
        self.last_similarity_ = sim
        return pd.DataFrame(rows)

    def neighbours(self, sim_row: np.ndarray, n: int = 5, exclude: int | None = None) -> pd.DataFrame:
        """The corpus papers nearest to one item, with their labels."""
        sim_row = sim_row.copy()
        if exclude is not None:
            sim_row[exclude] = -np.inf
        idx = np.argsort(-sim_row, kind="stable")[:n]
        papers = self.corpus_.papers.iloc[idx]
        out = pd.DataFrame({"id": papers["id"].to_numpy(), "method": papers["short_name"].to_numpy(),
                            "title": papers["title"].to_numpy(), "similarity": np.round(sim_row[idx], 3)})
        for tax in self.corpus_.taxonomies.values():
            out[tax.label_column] = papers[tax.label_column].to_numpy()
        return out


def place(title: str | list[str], abstract: str | list[str] | None = None, corpus=None, abstracts=None,
          top: int = 3, cache_dir=None) -> pd.DataFrame:
    """Library entry point: candidate nodes with calibrated scores for one or several new papers."""
    corpus = corpus if isinstance(corpus, Corpus) else load_corpus(corpus)
    titles = [title] if isinstance(title, str) else list(title)
    if abstract is None:
        abstract_list = [""] * len(titles)
    else:
        abstract_list = [abstract] if isinstance(abstract, str) else list(abstract)
    placer = Placer().fit(corpus, abstracts, cache_dir=cache_dir, progress=False)
    return placer.place(titles, abstract_list, top)


def evaluate_placement(corpus: Corpus, abstracts=None, cache_dir=None, placer: Placer | None = None) -> pd.DataFrame:
    """Leave-one-out top-1 / top-3 accuracy per taxonomy level, beside majority-class and TF-IDF k-NN baselines.

    A prediction is right when the node is one of the labels the survey gave the paper (at that level).
    """
    placer = placer or Placer().fit(corpus, abstracts, cache_dir=cache_dir, progress=False)
    tfidf = Placer(dense_weight=0.0).fit(corpus, representation=placer.rep_)
    rows = []
    for (name, level), (M, nodes) in placer.levels_.items():
        tax = corpus.taxonomy(name)
        truth_rows = np.flatnonzero(M.sum(1) > 0)
        truth = M[truth_rows] > 0
        majority = np.argsort(-truth.sum(0), kind="stable")
        for method, model in (("knn (minilm + tf-idf)", placer), ("knn (tf-idf only)", tfidf)):
            _, probs, _ = model.loo_probabilities(name, level)
            order = np.argsort(-probs, axis=1, kind="stable")
            rows.append(_accuracy(name, tax.levels[level], len(nodes), method, order, truth))
        order = np.tile(majority, (len(truth_rows), 1))
        rows.append(_accuracy(name, tax.levels[level], len(nodes), "majority class", order, truth))
    return pd.DataFrame(rows)


def _accuracy(taxonomy, level, n_nodes, method, order, truth) -> dict:
    hit = lambda k: float(np.mean([truth[i, order[i, :k]].any() for i in range(len(truth))]))  # noqa: E731
    return dict(taxonomy=taxonomy, level=level, nodes=n_nodes, method=method, papers=len(truth),
                top1=round(hit(1), 4), top3=round(hit(3), 4))


def calibration(placer: Placer, taxonomy: str, bins: tuple[float, ...] = (0.0, 0.3, 0.5, 0.7, 0.9, 1.01)) -> pd.DataFrame:
    """Reliability of the leaf-level top-1 score: mean score vs accuracy in score bins (leave-one-out)."""
    tax = placer.corpus_.taxonomy(taxonomy)
    level = len(tax.levels) - 1
    M, _ = placer.levels_[(taxonomy, level)]
    rows, probs, _ = placer.loo_probabilities(taxonomy, level)
    best = probs.argmax(1)
    score = probs.max(1)
    right = (M[rows, best] > 0).astype(float)
    out = []
    for lo, hi in zip(bins[:-1], bins[1:]):
        sel = (score >= lo) & (score < hi)
        if sel.any():
            out.append(dict(taxonomy=taxonomy, bin=f"{lo:.1f}-{min(hi, 1):.1f}", papers=int(sel.sum()),
                            mean_score=round(float(score[sel].mean()), 3), accuracy=round(float(right[sel].mean()), 3)))
    return pd.DataFrame(out)


def audit(corpus: Corpus, taxonomy: str, abstracts=None, threshold: float = 0.7, cache_dir=None,
          placer: Placer | None = None) -> pd.DataFrame:
    """Papers that the text places, with score >= threshold, in a node the survey did not give them."""
    placer = placer or Placer().fit(corpus, abstracts, cache_dir=cache_dir, progress=False)
    tax = corpus.taxonomy(taxonomy)
    level = len(tax.levels) - 1
    M, nodes = placer.levels_[(taxonomy, level)]
    rows, probs, _ = placer.loo_probabilities(taxonomy, level)
    out = []
    for row, p in zip(rows, probs):
        best = int(p.argmax())
        if p[best] >= threshold and M[row, best] == 0:
            sim = placer.similarity_[row]
            near = placer.neighbours(sim, 3, exclude=row)
            paper = corpus.papers.iloc[row]
            evidence = "; ".join(f"{m or i} ({lbl})" for i, m, lbl in
                                 zip(near["id"], near["method"], near[tax.label_column]))
            out.append(dict(id=paper["id"], method=paper["short_name"], title=paper["title"],
                            survey_label=paper[tax.label_column], suggested=nodes[best],
                            suggested_name=tax.nodes[nodes[best]].name, score=round(float(p[best]), 3),
                            evidence=evidence))
    frame = pd.DataFrame(out, columns=["id", "method", "title", "survey_label", "suggested", "suggested_name",
                                       "score", "evidence"])
    return frame.sort_values(["score", "id"], ascending=[False, True], kind="stable").reset_index(drop=True)
