"""How much of survey B's contribution labels can be read from a paper's text at all?

Placement at survey B's category stays at the majority-class rate whatever the method (bench_placement.py,
bench_placement_variants.py). This script measures the signal underneath, one label at a time, and sets it
beside survey A's sections measured the same way:

- **neighbour share**: for each labelled paper, the similarity-weighted share of its 20 nearest labelled papers
  (leave-one-out, the placement's blended similarity) that carry the label; ROC AUC over the papers;
- **name match**: cosine of the paper's MiniLM vector to the label's own name and description (the taxonomy
  YAML's); ROC AUC;
- **null**: the neighbour-share AUC with the labels shuffled among the same papers (200 shuffles): its 95th
  percentile is what chance alone reaches.

Then the whole category: leave-one-out top-1 of the pure neighbour vote against the same shuffles.
AUC 0.5 is no signal; a label whose AUC is inside its null carries none this text can show.
Usage: python benchmarks/bench_survey_b_signal.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save  # noqa: E402

from taxonomy.corpus.folder import load_corpus  # noqa: E402
from taxonomy.explore.place import Placer  # noqa: E402

ABSTRACTS = ROOT.parent / "shared" / "corpus" / "abstracts-dev.jsonl"
K, TEMPERATURE, SHUFFLES = 20, 0.05, 200


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Mann-Whitney form of the ROC AUC (ties count half)."""
    from scipy.stats import rankdata

    ranks = rankdata(score)
    pos = y.astype(bool)
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def neighbour_weights(similarity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-out k nearest (indices, normalised weights) among the rows of a square similarity matrix."""
    sim = similarity.copy()
    np.fill_diagonal(sim, -np.inf)
    idx = np.argsort(-sim, axis=1, kind="stable")[:, :K]
    top = np.take_along_axis(sim, idx, axis=1)
    w = np.exp((top - top[:, :1]) / TEMPERATURE)
    return idx, w / w.sum(1, keepdims=True)


def label_signal(y: np.ndarray, idx: np.ndarray, w: np.ndarray, name_score: np.ndarray,
                 rng: np.random.Generator) -> dict:
    share = (w * y[idx]).sum(1)
    null = [roc_auc(p, (w * p[idx]).sum(1)) for p in (rng.permutation(y) for _ in range(SHUFFLES))]
    return {"papers_with_label": int(y.sum()), "neighbour_share_auc": round(roc_auc(y, share), 3),
            "null_auc_95th": round(float(np.percentile(null, 95)), 3),
            "name_match_auc": round(roc_auc(y, name_score), 3)}


def category_vote(labels: np.ndarray, idx: np.ndarray, w: np.ndarray, n: int) -> float:
    """Leave-one-out top-1 of the neighbour vote over categories (ties to the lower category index)."""
    votes = np.zeros((len(labels), n))
    np.add.at(votes, (np.repeat(np.arange(len(labels)), idx.shape[1]), labels[idx].ravel()), w.ravel())
    return float(np.mean(np.argmax(votes, axis=1) == labels))


def main() -> None:
    if not ABSTRACTS.exists():
        sys.exit(f"{ABSTRACTS} is absent: this benchmark needs the dev abstracts")
    corpus = load_corpus()
    placer = Placer().fit(corpus, ABSTRACTS, progress=False)
    rng = np.random.default_rng(0)
    out = {}
    targets = {"mim-survey": ("aspect", 1), "awesome-mim": ("section", 0)}
    for name, (kind, level) in targets.items():
        tax = corpus.taxonomy(name)
        membership, nodes = placer.levels_[(name, level)]
        rows = np.flatnonzero(membership.sum(1) > 0)
        idx, w = neighbour_weights(placer.similarity_[np.ix_(rows, rows)])
        if kind == "aspect":  # a paper has an aspect when its (combined) category includes it
            units = {a: (spec["name"], spec.get("description", "")) for a, spec in tax.aspects.items()}
            has = {a: np.array([any(a in tax.nodes[n].aspects for n in np.array(nodes)[membership[r] > 0])
                                for r in rows], dtype=float) for a in units}
        else:
            units = {n: (tax.nodes[n].name, tax.nodes[n].description or "") for n in nodes}
            has = {n: (membership[rows, j] > 0).astype(float) for j, n in enumerate(nodes)}
        texts = [f"{title}. {description}" for title, description in units.values()]
        unit_vectors, _ = placer.rep_.encode(texts, [""] * len(texts))
        name_scores = placer.rep_.dense[rows] @ unit_vectors.T
        per_label = {u: label_signal(has[u], idx, w, name_scores[:, j], rng) for j, u in enumerate(units)
                     if 0 < has[u].sum() < len(rows)}
        out[f"{name} {kind}s"] = per_label
        print(f"{name}: one {kind} at a time, {len(rows)} labelled papers "
              "(AUC: neighbour share / its null's 95th percentile / name match)")
        for u, s in per_label.items():
            print(f"  {u:28s} n={s['papers_with_label']:3d}  {s['neighbour_share_auc']:.3f} / "
                  f"{s['null_auc_95th']:.3f} / {s['name_match_auc']:.3f}")
    M, nodes = placer._leaf("mim-survey")
    rows = np.flatnonzero(M.sum(1) > 0)
    labels = np.array([int(np.flatnonzero(M[r])[0]) for r in rows])
    idx, w = neighbour_weights(placer.similarity_[np.ix_(rows, rows)])
    real = category_vote(labels, idx, w, len(nodes))
    null = [category_vote(rng.permutation(labels), idx, w, len(nodes)) for _ in range(SHUFFLES)]
    majority = float(np.bincount(labels).max() / len(labels))
    category = {"neighbour_vote_top1": round(real, 3), "null_top1_mean": round(float(np.mean(null)), 3),
                "null_top1_95th": round(float(np.percentile(null, 95)), 3), "majority_class": round(majority, 3)}
    print(f"mim-survey category ({len(nodes)} nodes), leave-one-out top-1 of the pure neighbour vote: "
          f"{real:.3f}; shuffled labels: mean {np.mean(null):.3f}, 95th percentile {np.percentile(null, 95):.3f}; "
          f"majority class {majority:.3f}")
    out["mim-survey category"] = category
    print("wrote", save("survey-b-signal", out))


if __name__ == "__main__":
    main()
