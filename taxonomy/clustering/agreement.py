"""How closely a tree mirrors a taxonomy: flat-cut scores, B_k curve, dendrogram purity, cophenetic correlation.

Multi-label rule: a paper listed under several nodes of one taxonomy is scored with its *primary* label, the
first one in the survey's list order (for survey A, the section where the list introduces it). Papers with no
label in a taxonomy are clustered but left out of that taxonomy's scores.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.cluster import hierarchy

from taxonomy.clustering.cluster import cut, cuts
from taxonomy.corpus.folder import Corpus
from taxonomy.corpus.tree import Taxonomy

SCORES = ("ami", "ari", "v_measure", "fowlkes_mallows")
LEVEL_COLUMNS = ["taxonomy", "level", "k", "papers", "metric", "value", "permutation_mean", "not_scored"]
# A level is scored only when it can say something: two nodes or more, and labels on at least MIN_LEVEL_PAPERS
# papers making up at least MIN_LEVEL_SHARE of the corpus. One node scores 1.000 against anything (nothing to tell
# apart); a dozen labelled papers out of hundreds gives an AMI whose chance spread is as wide as the score.
MIN_LEVEL_PAPERS = 20
MIN_LEVEL_SHARE = 0.3


def why_not_scored(truth: np.ndarray) -> str:
    """'' when a level's labels (one per corpus paper, '' for unlabelled) can be scored; otherwise the reason."""
    labelled = truth[truth != ""]
    nodes = len(set(labelled))
    if nodes < 2:
        return f"{nodes} node{'s' if nodes != 1 else ''} at this level: nothing to tell apart"
    if len(labelled) < MIN_LEVEL_PAPERS:
        return f"labels {len(labelled)} papers: fewer than {MIN_LEVEL_PAPERS}"
    if len(labelled) < MIN_LEVEL_SHARE * len(truth):
        return (f"labels {len(labelled)} of {len(truth)} papers ({len(labelled) / len(truth):.0%}): fewer than "
                f"{MIN_LEVEL_SHARE:.0%}")
    return ""


def primary_labels(corpus: Corpus, taxonomy: str, level: int | None = None) -> np.ndarray:
    """Each paper's first label (or its ancestor at `level`); "" for papers without one."""
    tax = corpus.taxonomy(taxonomy)
    out = []
    for labels in corpus.labels(taxonomy):
        if not labels:
            out.append("")
        else:
            out.append(labels[0] if level is None else tax.at_level(labels[0], level))
    return np.array(out, dtype=object)


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


EMI_CHUNK = 1 << 18  # feasible cell counts evaluated at once: about 20 MB of temporaries, whatever n and k


def expected_mutual_information(rows: np.ndarray, cols: np.ndarray, n: int, chunk: int = EMI_CHUNK) -> float:
    """E[MI] under random relabelling with the margins fixed (Vinh, Epps & Bailey 2010).

    The sum runs over every feasible count of every cell: about k * n terms (10^8 at a million papers and
    254 labels), so it is evaluated `chunk` terms at a time, in fixed memory, not all at once."""
    from scipy.special import gammaln

    a = np.broadcast_to(rows.astype(np.float64)[:, None], (len(rows), len(cols))).ravel()
    b = np.broadcast_to(cols.astype(np.float64)[None, :], (len(rows), len(cols))).ravel()
    start = np.maximum(1.0, a + b - n)
    count = np.maximum(np.minimum(a, b) - start + 1, 0).astype(np.int64)
    ends = np.cumsum(count)
    total = int(ends[-1]) if len(ends) else 0
    # the part of log P(n_ij) that depends on the cell only, once per cell
    cell_term = gammaln(a + 1) + gammaln(b + 1) + gammaln(n - a + 1) + gammaln(n - b + 1) - gammaln(n + 1)
    emi = 0.0
    for first in range(0, total, chunk):
        term = np.arange(first, min(first + chunk, total))
        cell = np.searchsorted(ends, term, side="right")
        nij = start[cell] + (term - (ends[cell] - count[cell]))
        ai, bj = a[cell], b[cell]
        log_p = (cell_term[cell] - gammaln(nij + 1) - gammaln(ai - nij + 1) - gammaln(bj - nij + 1)
                 - gammaln(n - ai - bj + nij + 1))
        emi += float((nij / n * (np.log(n * nij) - np.log(ai) - np.log(bj)) * np.exp(log_p)).sum())
    return emi


def _ami(mi: float, h_t: float, h_p: float, rows: np.ndarray, cols: np.ndarray, n: int) -> float:
    """Adjusted mutual information with the arithmetic-mean normaliser (scikit-learn's default and edge cases)."""
    if len(rows) == len(cols) == 1 or len(rows) == len(cols) == 0:
        return 1.0
    if len(rows) == 1 or len(cols) == 1:
        return 0.0
    emi = expected_mutual_information(rows, cols, n)
    denominator = (h_t + h_p) / 2 - emi
    if abs(denominator) < 1e-12:  # chance already attains the maximum: only a perfect match scores
        return 1.0 if abs(mi - emi) < 1e-12 else 0.0
    return float((mi - emi) / denominator)


def flat_scores(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """AMI, ARI, V-measure and Fowlkes-Mallows from one contingency table (the same values as scikit-learn,
    without its per-call validation: the permutation baselines call this hundreds of times)."""
    if len(truth) != len(predicted):
        raise ValueError(f"labels of different lengths: {len(truth)} and {len(predicted)}")
    if len(truth) == 0:  # nothing to disagree about: scikit-learn's values
        return {"ami": 1.0, "ari": 1.0, "v_measure": 1.0, "fowlkes_mallows": 0.0}
    _, t = np.unique(truth, return_inverse=True)
    _, p = np.unique(predicted, return_inverse=True)
    n = len(t)
    joint = np.bincount(t * (p.max() + 1) + p, minlength=(t.max() + 1) * (p.max() + 1)).astype(np.float64)
    rows, cols = np.bincount(t).astype(np.float64), np.bincount(p).astype(np.float64)
    pairs = lambda x: (x * (x - 1) / 2).sum()  # noqa: E731
    total, sum_rows, sum_cols, index = n * (n - 1) / 2, pairs(rows), pairs(cols), pairs(joint)
    expected = sum_rows * sum_cols / total if total else 0.0
    denominator = (sum_rows + sum_cols) / 2 - expected
    ari = 1.0 if denominator == 0 else (index - expected) / denominator
    h_t, h_p, h_joint = _entropy(rows), _entropy(cols), _entropy(joint)
    mi = h_t + h_p - h_joint
    homogeneity = 1.0 if h_t == 0 else mi / h_t
    completeness = 1.0 if h_p == 0 else mi / h_p
    v = 0.0 if homogeneity + completeness == 0 else 2 * homogeneity * completeness / (homogeneity + completeness)
    ami = _ami(mi, h_t, h_p, rows, cols, n)
    return {
        "ami": ami,
        "ari": float(ari),
        "v_measure": float(v),
        "fowlkes_mallows": fowlkes_mallows(t, p)[0],
    }


def permutation_baseline(truth: np.ndarray, predicted: np.ndarray, n: int = 20, seed: int = 0) -> dict[str, float]:
    """Mean score when the labels are shuffled among the same papers: what chance alone gives."""
    rng = np.random.default_rng(seed)
    runs = [flat_scores(rng.permutation(truth), predicted) for _ in range(n)]
    return {key: float(np.mean([r[key] for r in runs])) for key in SCORES}


def level_scores(Z: np.ndarray, corpus: Corpus, taxonomy: str, permutations: int = 10) -> pd.DataFrame:
    """For each taxonomy level: cut into as many clusters as the level has nodes and score the cut. A level that
    cannot be scored (`why_not_scored`) gets rows with NaN values and the reason in `not_scored`, never 1.0."""
    tax = corpus.taxonomy(taxonomy)
    rows = []
    for level, name in enumerate(tax.levels):
        truth = primary_labels(corpus, taxonomy, level)
        keep = truth != ""
        if not keep.any():  # no paper carries this taxonomy's labels: nothing to score (not a perfect 1.0)
            continue
        k = len(set(truth[keep]))
        reason = why_not_scored(truth)
        if reason:
            rows += [dict(taxonomy=tax.id, level=name, k=k, papers=int(keep.sum()), metric=key, value=np.nan,
                          permutation_mean=np.nan, not_scored=reason) for key in SCORES]
            continue
        predicted = cut(Z, k)[keep]
        scores = flat_scores(truth[keep], predicted)
        chance = permutation_baseline(truth[keep], predicted, permutations)
        for key in SCORES:
            rows.append(dict(taxonomy=tax.id, level=name, k=k, papers=int(keep.sum()), metric=key,
                             value=scores[key], permutation_mean=chance[key], not_scored=""))
    return pd.DataFrame(rows, columns=LEVEL_COLUMNS)


def fowlkes_mallows(truth: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    """B_k = T / sqrt(P Q) and its exact expectation under random relabelling, sqrt(P Q) / (n (n - 1))
    (Fowlkes & Mallows 1983), from pair counts of the contingency table."""
    _, t = np.unique(truth, return_inverse=True)
    _, p = np.unique(predicted, return_inverse=True)
    n = len(t)
    joint = np.bincount(t * (p.max() + 1) + p).astype(np.float64)
    T = (joint ** 2).sum() - n
    P = (np.bincount(t).astype(np.float64) ** 2).sum() - n
    Q = (np.bincount(p).astype(np.float64) ** 2).sum() - n
    if P == 0 or Q == 0:
        return 0.0, 0.0
    return float(T / np.sqrt(P * Q)), float(np.sqrt(P * Q) / (n * (n - 1)))


def bk_curve(Z: np.ndarray, truth: np.ndarray, ks: list[int] | None = None) -> pd.DataFrame:
    """Fowlkes-Mallows B_k between the tree cut at k and the taxonomy partition, with its chance level."""
    keep = truth != ""
    n = int(keep.sum())
    ks = ks or list(range(2, min(n, 60) + 1))
    rows = []
    for k, labels in zip(ks, cuts(Z, ks)):
        bk, expected = fowlkes_mallows(truth[keep], labels[keep])
        rows.append(dict(k=k, bk=bk, permutation_mean=expected))
    return pd.DataFrame(rows, columns=["k", "bk", "permutation_mean"])  # no labelled paper: no row, same columns


def dendrogram_purity(Z: np.ndarray, truth: np.ndarray) -> float:
    """Mean, over pairs of papers with the same label, of the share of that label under their lowest
    common ancestor (Heller & Ghahramani 2005); counts only labelled papers. 1.0 = every class is a subtree."""
    n = len(Z) + 1
    classes = sorted({t for t in truth if t != ""})
    if not classes:
        return float("nan")
    index = {c: i for i, c in enumerate(classes)}
    counts = np.zeros((2 * n - 1, len(classes)))
    for i, t in enumerate(truth):
        if t != "":
            counts[i, index[t]] = 1
    total = 0.0
    pairs = 0.0
    for row, (a, b, _, _) in enumerate(Z):
        ca, cb = counts[int(a)], counts[int(b)]
        node = ca + cb
        counts[n + row] = node
        cross = ca * cb
        if cross.sum():
            total += float((cross * node / node.sum()).sum())
            pairs += float(cross.sum())
    return total / pairs if pairs else float("nan")


def cophenetic_correlation(Z: np.ndarray, truth: np.ndarray, taxonomy: Taxonomy) -> float:
    """Pearson correlation between tree (cophenetic) distance and taxonomy tree distance of primary labels."""
    keep = np.flatnonzero(truth != "")
    if len(keep) < 3:
        return float("nan")
    coph = hierarchy.cophenet(Z)
    n = len(Z) + 1
    labels = sorted({truth[i] for i in keep})
    pos = {label: i for i, label in enumerate(labels)}
    dist = np.array([[taxonomy.tree_distance(a, b) for b in labels] for a in labels], dtype=float)
    ii, jj = np.triu_indices(len(keep), 1)
    a, b = keep[ii], keep[jj]
    condensed_index = n * a - a * (a + 1) // 2 + (b - a - 1)
    tree_d = dist[[pos[truth[x]] for x in a], [pos[truth[y]] for y in b]]
    if np.std(tree_d) == 0:
        return float("nan")
    return _pearson(coph[condensed_index], tree_d)


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation (scipy.stats is not imported for this one number: its import costs 0.7 s)."""
    x = np.asarray(x, dtype=np.float64) - np.mean(x)
    y = np.asarray(y, dtype=np.float64) - np.mean(y)
    return float(np.clip(np.dot(x / np.linalg.norm(x), y / np.linalg.norm(y)), -1.0, 1.0))


def labelled_taxonomies(corpus: Corpus) -> list[str]:
    """The taxonomies that label at least one paper of the corpus: the only ones a tree can be scored against."""
    return [t for t in corpus.taxonomies if (primary_labels(corpus, t) != "").any()]


def bk_curves(Z: np.ndarray, corpus: Corpus) -> dict[str, pd.DataFrame]:
    """The B_k curve of one tree against each labelled taxonomy (cheap: drawn before the other scores exist)."""
    return {t: bk_curve(Z, primary_labels(corpus, t)) for t in labelled_taxonomies(corpus)}


def compute_agreement(Z: np.ndarray, corpus: Corpus, permutations: int = 10,
                      curves: dict[str, pd.DataFrame] | None = None) -> dict[str, pd.DataFrame | dict]:
    """All scores of one tree against every taxonomy of the corpus that labels at least one of its papers
    (`curves`: its B_k curves when already computed)."""
    labelled = labelled_taxonomies(corpus)
    frames = [level_scores(Z, corpus, t, permutations) for t in labelled]
    levels = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=LEVEL_COLUMNS)
    tree_scores = {}
    for t in labelled:
        tax = corpus.taxonomies[t]
        truth = primary_labels(corpus, t)
        tree_scores[t] = dict(dendrogram_purity=dendrogram_purity(Z, truth),
                              cophenetic_correlation=cophenetic_correlation(Z, truth, tax))
    return dict(levels=levels, tree=tree_scores, bk=curves if curves is not None else bk_curves(Z, corpus))
