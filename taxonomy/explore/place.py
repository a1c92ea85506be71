"""Place a new paper in both taxonomies, measure placement by leave-one-out, and audit existing labels.

Placement scores the finest level of each taxonomy (its leaves) from two kinds of evidence:
- a similarity-weighted k-nearest-neighbour vote over the corpus (weights exp(similarity / T)), shrunk
  towards the nodes' base rates, p = (1 - a) * vote + a * prior — where the text says little (survey B's
  contribution categories are not topics) the prior dominates; a neighbour listed under several nodes
  spreads its vote equally over them;
- how close the paper is to each node's own name and description, embedded like a paper (MiniLM and
  TF-IDF views), standardised per node over the corpus so that a node whose wording is close to every paper
  gains nothing. This is what lets a node with one or two papers, or a new paper whose neighbours are
  scattered, still be found.
The two are multiplied, log p(node) = log vote + b_minilm * z_minilm + b_tfidf * z_tfidf (then
normalised). A node higher up scores the sum of the leaves below it, so the levels never disagree.
T, a and the two b's of each taxonomy are fitted at `fit` time by minimising the leave-one-out log-loss on a
grid, so the scores are calibrated on the corpus itself: a node scored 0.9 is right about 90 % of the time.
`nested_loo_probabilities` also refits them without each held-out paper, for an estimate in which the paper had
no say in the parameters.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from taxonomy.corpus.folder import Corpus, load_corpus
from taxonomy.errors import UserError
from taxonomy.explore.search import Representation, represent

TEMPERATURES = (0.02, 0.03, 0.04, 0.05, 0.07, 0.1, 0.2)
PRIOR_WEIGHTS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)
DESCRIPTION_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5)

Key = tuple[str, int]  # (taxonomy id, level)


@dataclass(frozen=True)
class VoteParams:
    """Fitted parameters of one taxonomy (shared by its levels)."""

    temperature: float
    prior_weight: float
    description_minilm: float = 0.0
    description_tfidf: float = 0.0


@dataclass
class NodeAffinity:
    """Standardised similarity of items to the nodes' names and descriptions, in the two views."""

    dense: np.ndarray  # nodes x dim
    sparse: object  # nodes x vocabulary
    mean: np.ndarray  # (2, nodes): corpus mean of the raw similarity per view
    std: np.ndarray

    def __call__(self, dense: np.ndarray, sparse) -> tuple[np.ndarray, np.ndarray]:
        raw = np.stack([dense @ self.dense.T, (sparse @ self.sparse.T).toarray()])
        z = (raw - self.mean[:, None, :]) / self.std[:, None, :]
        return z[0], z[1]


class Placer:
    """k-NN vote times node-description affinity (scikit-learn style: configure in __init__, learn in fit,
    learned state ends in `_`)."""

    def __init__(self, k: int = 20, dense_weight: float | None = None, use_descriptions: bool = True):
        self.k = k
        self.dense_weight = dense_weight
        self.use_descriptions = use_descriptions

    def fit(self, corpus: Corpus, abstracts: str | Path | None = None, cache_dir=None, progress: bool = True,
            representation: Representation | None = None) -> "Placer":
        if not corpus.taxonomies:
            raise UserError(f"{corpus.path}: this corpus has no taxonomy to place papers in (import it with "
                            "--taxonomy-from-headings, or add taxonomies/*.yaml)")
        self.corpus_ = corpus
        self.rep_ = representation or represent(corpus, abstracts, cache_dir=cache_dir, progress=progress)
        self.similarity_ = self._blend(self.rep_.dense @ self.rep_.dense.T,
                                       (self.rep_.sparse @ self.rep_.sparse.T).toarray())
        self.levels_: dict[Key, tuple[np.ndarray, list[str]]] = {}
        self.ancestry_: dict[Key, np.ndarray] = {}
        self.affinity_: dict[str, NodeAffinity] = {}
        self.params_: dict[str, VoteParams] = {}
        self._loo_cache: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._grid_losses: dict[str, tuple[list[VoteParams], np.ndarray]] = {}
        for name, tax in corpus.taxonomies.items():
            leaf = len(tax.levels) - 1
            for level in range(len(tax.levels)):
                self.levels_[(name, level)] = self._membership(name, level)
            leaves = self.levels_[(name, leaf)][1]
            for level in range(len(tax.levels)):
                nodes = self.levels_[(name, level)][1]
                self.ancestry_[(name, level)] = np.array(
                    [[tax.at_level(n, level) == m for m in nodes] for n in leaves], dtype=float)
            self.affinity_[name] = self._node_affinity(name, leaves)
            self.params_[name] = self._fit(name)
        return self

    def _blend(self, dense: np.ndarray, sparse: np.ndarray) -> np.ndarray:
        from taxonomy.explore.search import DENSE_WEIGHT

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

    def _node_affinity(self, taxonomy: str, nodes: list[str]) -> NodeAffinity:
        """Embed each node's name and description as if it were a paper's title, and the corpus statistics
        that standardise the similarity per node."""
        tax = self.corpus_.taxonomy(taxonomy)
        texts = [f"{tax.nodes[n].name}. {tax.nodes[n].description or ''}".strip() for n in nodes]
        dense, sparse = self.rep_.encode(texts, [""] * len(texts))
        raw = np.stack([self.rep_.dense @ dense.T, (self.rep_.sparse @ sparse.T).toarray()])
        std = raw.std(axis=1)
        return NodeAffinity(dense, sparse, raw.mean(axis=1), np.where(std > 0, std, 1.0))

    def _leaf(self, taxonomy: str) -> tuple[np.ndarray, list[str]]:
        return self.levels_[(taxonomy, len(self.corpus_.taxonomy(taxonomy).levels) - 1)]

    def _neighbours(self, sim: np.ndarray, taxonomy: str) -> tuple[np.ndarray, np.ndarray]:
        """Indices and similarities of the k nearest labelled corpus papers for each row of `sim`."""
        M, _ = self._leaf(taxonomy)
        labelled = M.sum(1) > 0
        sim = np.where(labelled[None, :], sim, -np.inf)
        k = min(self.k, int(labelled.sum()) - 1)
        idx = np.argsort(-sim, axis=1, kind="stable")[:, :k]
        return idx, np.take_along_axis(sim, idx, axis=1)

    def _vote(self, idx: np.ndarray, top: np.ndarray, taxonomy: str, temperature: float,
              prior_weight: float) -> np.ndarray:
        """Similarity-weighted vote of the neighbours over the leaf nodes, shrunk towards their base rates."""
        M, _ = self._leaf(taxonomy)
        weights = np.exp((top - top[:, :1]) / temperature)
        probs = np.einsum("nk,nkc->nc", weights, M[idx])
        return self._shrink(probs / probs.sum(1, keepdims=True), taxonomy, prior_weight)

    def _shrink(self, vote: np.ndarray, taxonomy: str, prior_weight: float) -> np.ndarray:
        """Pull a vote towards the leaf nodes' base rates: where the text says little, the prior dominates."""
        M, _ = self._leaf(taxonomy)
        return (1 - prior_weight) * vote + prior_weight * (M.sum(0) / M.sum())[None, :]

    @staticmethod
    def _combine(vote: np.ndarray, z_minilm: np.ndarray, z_tfidf: np.ndarray, params: VoteParams) -> np.ndarray:
        score = np.log(np.maximum(vote, 1e-12)) + params.description_minilm * z_minilm + params.description_tfidf * z_tfidf
        probs = np.exp(score - score.max(1, keepdims=True))
        return probs / probs.sum(1, keepdims=True)

    def _loo_neighbours(self, taxonomy: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(labelled rows, neighbour indices, similarities) with each paper left out of its own vote.
        Computed once per taxonomy: the grid search reuses it."""
        if taxonomy not in self._loo_cache:
            M, _ = self._leaf(taxonomy)
            rows = np.flatnonzero(M.sum(1) > 0)
            sim = self.similarity_[rows].copy()
            sim[np.arange(len(rows)), rows] = -np.inf
            self._loo_cache[taxonomy] = (rows, *self._neighbours(sim, taxonomy))
        return self._loo_cache[taxonomy]

    def _loo_affinity(self, taxonomy: str, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.affinity_[taxonomy](self.rep_.dense[rows], self.rep_.sparse[rows])

    def _fit(self, taxonomy: str) -> VoteParams:
        """Grid search for the parameters with the lowest leave-one-out log-loss at the leaf level; keeps every
        grid point's per-paper losses for the nested estimate."""
        M, _ = self._leaf(taxonomy)
        rows, idx, top = self._loo_neighbours(taxonomy)
        truth = M[rows] > 0
        z_minilm, z_tfidf = self._loo_affinity(taxonomy, rows)
        weights = DESCRIPTION_WEIGHTS if self.use_descriptions else (0.0,)
        pairs = np.array(list(itertools.product(weights, weights)))  # (pairs, 2)
        grid, losses = [], []
        for temperature, prior_weight in itertools.product(TEMPERATURES, PRIOR_WEIGHTS):
            vote = self._vote(idx, top, taxonomy, temperature, prior_weight)
            score = (np.log(np.maximum(vote, 1e-12))[None] + pairs[:, 0, None, None] * z_minilm[None]
                     + pairs[:, 1, None, None] * z_tfidf[None])  # every weight pair at once
            probs = np.exp(score - score.max(2, keepdims=True))
            right = (probs * truth[None]).sum(2) / probs.sum(2)
            grid += [VoteParams(temperature, prior_weight, float(b1), float(b2)) for b1, b2 in pairs]
            losses.append(-np.log(np.clip(right, 1e-6, 1)))
        losses = np.concatenate(losses)
        self._grid_losses[taxonomy] = (grid, losses)
        return grid[int(np.argmin(losses.sum(1)))]

    def _loo_leaf_probs(self, taxonomy: str, params: VoteParams,
                        select: np.ndarray | slice = slice(None)) -> np.ndarray:
        rows, idx, top = self._loo_neighbours(taxonomy)
        z_minilm, z_tfidf = self._loo_affinity(taxonomy, rows[select])
        vote = self._vote(idx[select], top[select], taxonomy, params.temperature, params.prior_weight)
        return self._combine(vote, z_minilm, z_tfidf, params)

    def loo_probabilities(self, taxonomy: str, level: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Leave-one-out probabilities for every labelled paper: (rows, probs, node ids). A node's probability
        is the sum over the leaves below it, so the levels always agree."""
        rows = self._loo_neighbours(taxonomy)[0]
        probs = self._loo_leaf_probs(taxonomy, self.params_[taxonomy])
        return rows, probs @ self.ancestry_[(taxonomy, level)], self.levels_[(taxonomy, level)][1]

    def nested_loo_probabilities(self, taxonomy: str, level: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Leave-one-out probabilities where each paper's parameters are fitted on the other papers only."""
        rows = self._loo_neighbours(taxonomy)[0]
        grid, losses = self._grid_losses[taxonomy]
        chosen = np.argmin(losses.sum(1)[:, None] - losses, axis=0)
        probs = np.zeros((len(rows), len(self._leaf(taxonomy)[1])))
        for g in np.unique(chosen):
            select = np.flatnonzero(chosen == g)
            probs[select] = self._loo_leaf_probs(taxonomy, grid[g], select)
        return rows, probs @ self.ancestry_[(taxonomy, level)], self.levels_[(taxonomy, level)][1]

    def place(self, titles: list[str], abstracts: list[str] | None = None, top: int = 3) -> pd.DataFrame:
        """Most likely nodes per taxonomy and level for each new paper (one row per candidate). `score` is the
        calibrated probability; `neighbour_vote` the share of the nearest papers' vote alone, so a reader can
        see when a node's name rather than its papers carried the score."""
        abstracts = abstracts or [""] * len(titles)
        dense, sparse = self.rep_.encode(titles, abstracts)
        sim = self._blend(dense @ self.rep_.dense.T, (sparse @ self.rep_.sparse.T).toarray())
        rows = []
        leaf_probs, leaf_votes = {}, {}
        for name, params in self.params_.items():
            idx, top_sim = self._neighbours(sim, name)
            leaf_votes[name] = self._vote(idx, top_sim, name, params.temperature, 0.0)
            vote = self._shrink(leaf_votes[name], name, params.prior_weight)
            leaf_probs[name] = self._combine(vote, *self.affinity_[name](dense, sparse), params)
        for (name, level), (_, nodes) in self.levels_.items():
            tax = self.corpus_.taxonomy(name)
            probs = leaf_probs[name] @ self.ancestry_[(name, level)]
            votes = leaf_votes[name] @ self.ancestry_[(name, level)]
            for item, p in enumerate(probs):
                for rank, j in enumerate(np.argsort(-p, kind="stable")[:top], 1):
                    rows.append(dict(paper=item, title=titles[item], taxonomy=name, level=tax.levels[level],
                                     rank=rank, node=nodes[j], name=tax.nodes[nodes[j]].name,
                                     score=round(float(p[j]), 3), neighbour_vote=round(float(votes[item, j]), 3)))
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
    """Leave-one-out top-1 / top-3 accuracy per taxonomy level: the default (also with its parameters refitted
    without each held-out paper), the vote alone, a TF-IDF k-NN and the majority class.

    A prediction is right when the node is one of the labels the survey gave the paper (at that level).
    """
    placer = placer or Placer().fit(corpus, abstracts, cache_dir=cache_dir, progress=False)
    vote_only = Placer(k=placer.k, dense_weight=placer.dense_weight, use_descriptions=False).fit(
        corpus, representation=placer.rep_)
    tfidf = Placer(k=placer.k, dense_weight=0.0, use_descriptions=False).fit(corpus, representation=placer.rep_)
    methods = (("default: k-nn x node descriptions", placer.loo_probabilities),
               ("default, parameters fitted without the paper", placer.nested_loo_probabilities),
               ("k-nn vote only (minilm + tf-idf)", vote_only.loo_probabilities),
               ("k-nn vote only (tf-idf)", tfidf.loo_probabilities))
    rows = []
    for (name, level), (M, nodes) in placer.levels_.items():
        tax = corpus.taxonomy(name)
        truth_rows = np.flatnonzero(M.sum(1) > 0)
        truth = M[truth_rows] > 0
        for method, probabilities in methods:
            _, probs, _ = probabilities(name, level)
            order = np.argsort(-probs, axis=1, kind="stable")
            rows.append(_accuracy(name, tax.levels[level], len(nodes), method, order, truth))
        majority = np.argsort(-truth.sum(0), kind="stable")
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
    tax = corpus.taxonomy(taxonomy)  # an unknown name fails before the placer is fitted
    if not 0.0 <= threshold <= 1.0:
        raise UserError(f"--threshold {threshold}: expected a score between 0 and 1")
    placer = placer or Placer().fit(corpus, abstracts, cache_dir=cache_dir, progress=False)
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


def audit_flags(corpus: Corpus, abstracts=None, cache_dir=None) -> dict[str, str]:
    """Paper id -> what `mimtax audit` says of it, in every taxonomy (for the interactive page's panel; pass it as
    `build_dendrogram(audit=audit_flags)`)."""
    if not corpus.taxonomies:
        return {}
    placer = Placer().fit(corpus, abstracts, cache_dir=cache_dir, progress=False)
    flags: dict[str, list[str]] = {}
    for name in corpus.taxonomies:
        for row in audit(corpus, name, placer=placer).itertuples(index=False):
            flags.setdefault(row.id, []).append(f"{name}: the text places it in {row.suggested_name} "
                                                f"(score {row.score:.2f}), not {row.survey_label}")
    return {pid: "; ".join(lines) for pid, lines in flags.items()}
