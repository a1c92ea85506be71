"""The placement variants that were tried and not adopted, measured the same way as the default
(leave-one-out over survey A's subsection, title + dev abstract where known), so the README's "tried" figures
come from a script anyone can rerun. Parameters of each variant are fitted by leave-one-out log-loss like the
default's, except logistic regression (two values of C are reported; its leave-one-out is most of the
run's 5-10 minutes).
Usage: python benchmarks/bench_placement_variants.py
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save  # noqa: E402

from taxonomy.corpus.folder import load_corpus  # noqa: E402
from taxonomy.explore.place import DESCRIPTION_WEIGHTS, PRIOR_WEIGHTS, TEMPERATURES, Placer, VoteParams  # noqa: E402

ABSTRACTS = ROOT.parent / "shared" / "corpus" / "abstracts-dev.jsonl"
TAXONOMY = "awesome-mim"


def accuracy(probs: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    order = np.argsort(-probs, axis=1, kind="stable")
    top1 = np.mean([truth[i, order[i, 0]] for i in range(len(truth))])
    top3 = np.mean([truth[i, order[i, :3]].any() for i in range(len(truth))])
    return round(float(top1), 4), round(float(top3), 4)


def log_loss(probs: np.ndarray, truth: np.ndarray) -> float:
    return float(-np.log(np.clip((probs * truth).sum(1), 1e-6, 1)).mean())


def best_by_log_loss(candidates, truth: np.ndarray) -> tuple[float, float]:
    """Accuracy of the candidate probability matrix with the lowest log-loss (candidates may be a generator:
    only the best is kept)."""
    return accuracy(min(candidates, key=lambda p: log_loss(p, truth)), truth)


def minilm_view_only(placer: Placer, truth: np.ndarray) -> tuple[float, float]:
    rows, idx, top = placer._loo_neighbours(TAXONOMY)
    z_minilm, z_tfidf = placer._loo_affinity(TAXONOMY, rows)
    return best_by_log_loss((placer._combine(placer._vote(idx, top, TAXONOMY, t, a), z_minilm, z_tfidf,
                                             VoteParams(t, a, b, 0.0))
                             for t, a, b in itertools.product(TEMPERATURES, PRIOR_WEIGHTS, DESCRIPTION_WEIGHTS)), truth)


def nearest_centroid(placer: Placer, truth_rows: np.ndarray, M: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Cosine to each node's mean MiniLM vector, the held-out paper removed from the means it belongs to."""
    X = placer.rep_.dense[truth_rows].astype(np.float64)
    W = M[truth_rows]
    sums = X.T @ W  # dim x nodes
    dots = X @ sums - W * (X * X).sum(1, keepdims=True)  # x_i . (s_c - w_ic x_i)
    norms2 = (sums * sums).sum(0)[None, :] - 2 * W * (X @ sums) + W ** 2 * (X * X).sum(1, keepdims=True)
    counts = W.sum(0)[None, :] - W
    cosine = np.where(counts > 0, dots / np.sqrt(np.maximum(norms2, 1e-12)), -np.inf)
    return best_by_log_loss((_softmax(cosine / t) for t in (0.01, 0.02, 0.05, 0.1)), truth)


def label_spreading(placer: Placer, M: np.ndarray, truth_rows: np.ndarray, truth: np.ndarray,
                    descriptions: bool) -> tuple[float, float]:
    """Zhou et al.'s spreading over a symmetric k-NN graph; closed form, so leaving one paper out is exact."""
    S0 = placer.similarity_.copy()
    np.fill_diagonal(S0, -np.inf)
    prior = M.sum(0) / M.sum()
    z_minilm, z_tfidf = placer._loo_affinity(TAXONOMY, truth_rows)
    weights = DESCRIPTION_WEIGHTS if descriptions else (0.0,)

    def candidates():
        for k, t, alpha in itertools.product((10, 20, 40), (0.03, 0.05, 0.1), (0.5, 0.8, 0.9, 0.99)):
            nn = np.argsort(-S0, axis=1, kind="stable")[:, :k]
            W = np.zeros_like(S0)
            W[np.arange(len(S0))[:, None], nn] = np.exp((np.take_along_axis(S0, nn, axis=1) - 1) / t)
            W = np.maximum(W, W.T)
            d = W.sum(1)
            K = np.linalg.inv(np.eye(len(W)) - alpha * W / np.sqrt(d[:, None] * d[None, :]))
            F = np.clip((K @ M - np.diag(K)[:, None] * M)[truth_rows], 0, None)
            F = F / F.sum(1, keepdims=True)
            for a, b1, b2 in itertools.product(PRIOR_WEIGHTS, weights, weights):
                yield Placer._combine((1 - a) * F + a * prior, z_minilm, z_tfidf, VoteParams(t, a, b1, b2))

    return best_by_log_loss(candidates(), truth)


def logistic_regression(placer: Placer, labels: np.ndarray, truth_rows: np.ndarray, n_nodes: int,
                        truth: np.ndarray) -> list[tuple[float, float]]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import LeaveOneOut, cross_val_predict

    X = placer.rep_.dense[truth_rows]
    out = []
    for C in (1.0, 10.0):
        model = LogisticRegression(C=C, max_iter=3000)
        probs = cross_val_predict(model, X, labels, cv=LeaveOneOut(), method="predict_proba")
        full = np.zeros((len(truth_rows), n_nodes))
        full[:, np.unique(labels)] = probs
        out.append(accuracy(full, truth))
    return out


def section_fitted_alone(placer: Placer) -> tuple[float, float]:
    """The section level voted and described on its own, instead of summing the subsections' probabilities."""
    M, nodes = placer.levels_[(TAXONOMY, 0)]
    rows = np.flatnonzero(M.sum(1) > 0)
    sim = placer.similarity_[rows].copy()
    sim[np.arange(len(rows)), rows] = -np.inf
    idx = np.argsort(-sim, axis=1, kind="stable")[:, :placer.k]
    top = np.take_along_axis(sim, idx, axis=1)
    z_minilm, z_tfidf = placer._node_affinity(TAXONOMY, nodes)(placer.rep_.dense[rows], placer.rep_.sparse[rows])
    truth = M[rows] > 0
    prior = M.sum(0) / M.sum()

    def candidates():
        for t, a in itertools.product(TEMPERATURES, PRIOR_WEIGHTS):
            w = np.exp((top - top[:, :1]) / t)
            vote = np.einsum("nk,nkc->nc", w, M[idx])
            vote = (1 - a) * vote / vote.sum(1, keepdims=True) + a * prior
            for b1, b2 in itertools.product(DESCRIPTION_WEIGHTS, DESCRIPTION_WEIGHTS):
                yield Placer._combine(vote, z_minilm, z_tfidf, VoteParams(t, a, b1, b2))

    return best_by_log_loss(candidates(), truth)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def main() -> None:
    if not ABSTRACTS.exists():
        sys.exit(f"{ABSTRACTS} is absent: this benchmark needs the dev abstracts")
    corpus = load_corpus()
    placer = Placer().fit(corpus, ABSTRACTS, progress=False)
    M, nodes = placer._leaf(TAXONOMY)
    truth_rows = np.flatnonzero(M.sum(1) > 0)
    truth = M[truth_rows] > 0
    primary = np.array([int(np.flatnonzero(M[r])[0]) for r in truth_rows])
    rows = {
        "default: k-nn x node descriptions (both views)": accuracy(placer.loo_probabilities(TAXONOMY, 1)[1], truth),
        "k-nn x node descriptions, MiniLM view only": minilm_view_only(placer, truth),
        "nearest centroid": nearest_centroid(placer, truth_rows, M, truth),
        "label spreading": label_spreading(placer, M, truth_rows, truth, descriptions=False),
        "label spreading x node descriptions": label_spreading(placer, M, truth_rows, truth, descriptions=True),
    }
    for k in (10, 40):
        other = Placer(k=k).fit(corpus, representation=placer.rep_)
        rows[f"default with k = {k}"] = accuracy(other.loo_probabilities(TAXONOMY, 1)[1], truth)
    lr = logistic_regression(placer, primary, truth_rows, len(nodes), truth)
    rows["logistic regression on MiniLM, C = 1 / 10"] = lr
    section_truth = placer.levels_[(TAXONOMY, 0)][0]
    section_truth = section_truth[section_truth.sum(1) > 0] > 0
    section = {"default (sum of subsections)": accuracy(placer.loo_probabilities(TAXONOMY, 0)[1], section_truth),
               "section fitted on its own": section_fitted_alone(placer)}
    print("survey A subsection (28 nodes), leave-one-out top-1 / top-3:")
    for name, value in rows.items():
        print(f"  {name:55s} {value}")
    print("survey A section (9 nodes):")
    for name, value in section.items():
        print(f"  {name:55s} {value}")
    print("wrote", save("placement-variants", {"subsection": rows, "section": section}))


if __name__ == "__main__":
    main()
