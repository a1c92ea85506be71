"""Which new papers fit no existing category: a novelty score calibrated on the corpus itself.

A new line of work shows up as new papers that sit close to each other and away from the corpus. So a new
paper's `novelty` is the share of new papers among its K nearest neighbours in the corpus and the batch
together (blended MiniLM + TF-IDF similarity, as placement uses). If the batch were drawn like the corpus, that
share would follow a binomial law with p = batch / (corpus + batch); `novelty_p` is the binomial tail
probability of a share at least as high.

The threshold is calibrated on the corpus: random pseudo-batches of corpus papers, of the same size, play the
new papers, and the threshold is the `alpha` quantile of their p-values (so about `alpha` of papers that belong
to existing categories are flagged, whatever the corpus's own clumpiness). A paper is `novel` below it.

Suggested categories (see `suggest`) are tested the same way: a group's pooled count against the binomial, and
the threshold is the `alpha` quantile of the smallest group p-value in each pseudo-batch, so that a batch of papers
that fit the corpus yields a false suggestion about `alpha` of the time.

A single new paper has no batch to stand out from: its `atypical` score (the share of corpus papers whose nearest
neighbours are closer than its own, leave-one-out) is reported, but it is never flagged novel on that alone.
"""

from __future__ import annotations

import numpy as np

K_NEAREST = 10
ALPHA = 0.05
NULL_BATCHES = 50


def _nearest(similarity: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the k largest entries per row (ties broken by index, so results are reproducible)."""
    return np.argsort(-similarity, axis=1, kind="stable")[:, :k]


def new_neighbour_counts(batch_vs_batch: np.ndarray, batch_vs_corpus: np.ndarray, k: int) -> np.ndarray:
    """How many of each new paper's k nearest neighbours (corpus and batch, itself excluded) are new."""
    inner = np.array(batch_vs_batch, dtype=float, copy=True)
    np.fill_diagonal(inner, -np.inf)
    both = np.concatenate([inner, batch_vs_corpus], axis=1)
    return (_nearest(both, k) < inner.shape[1]).sum(axis=1)


def tail_probability(counts: np.ndarray, trials: int | np.ndarray, p: float) -> np.ndarray:
    """P(X >= count) for X ~ Binomial(trials, p)."""
    from scipy.stats import binom

    return binom.sf(np.asarray(counts) - 1, trials, p)


def _expected_share(n_batch: int, n_corpus: int) -> float:
    return (n_batch - 1) / max(n_batch + n_corpus - 1, 1)


class BatchNovelty:
    """Fitted on the corpus's self-similarity (scikit-learn style: learned state ends in `_`)."""

    def __init__(self, k: int = K_NEAREST, alpha: float = ALPHA, null_batches: int = NULL_BATCHES, seed: int = 0):
        self.k = k
        self.alpha = alpha
        self.null_batches = null_batches
        self.seed = seed

    def fit(self, self_similarity: np.ndarray, batch_size: int, cut_similarity: float | None = None,
            min_size: int = 3) -> "BatchNovelty":
        """Calibrate the paper and group thresholds on pseudo-batches of `batch_size` corpus papers (groups cut at
        `cut_similarity`, as `suggest.group_batch` does; no group threshold without it)."""
        from taxonomy.errors import UserError
        from taxonomy.update.suggest import group_batch, group_p_values

        sim = np.asarray(self_similarity, dtype=float)
        n = sim.shape[0]
        if n < 2 * self.k:
            raise UserError(f"the corpus has {n} papers; novelty needs at least {2 * self.k}")
        off = sim.copy()
        np.fill_diagonal(off, -np.inf)
        self.corpus_raw_ = np.sort(1.0 - np.sort(off, axis=1)[:, ::-1][:, :self.k].mean(axis=1))
        size = int(min(max(batch_size, 2), n // 2))
        rng = np.random.default_rng(self.seed)
        null, null_groups = [], []
        for _ in range(self.null_batches):
            batch = np.sort(rng.choice(n, size=size, replace=False))
            rest = np.setdiff1d(np.arange(n), batch)
            counts = new_neighbour_counts(sim[np.ix_(batch, batch)], sim[np.ix_(batch, rest)], self.k)
            null.append(tail_probability(counts, self.k, _expected_share(size, len(rest))))
            if cut_similarity is not None:
                groups = group_batch(sim[np.ix_(batch, batch)], cut_similarity)
                p_values = group_p_values(groups, counts, self.k, len(rest), min_size)
                null_groups.append(min(p_values.values(), default=1.0))
        self.null_p_ = np.sort(np.concatenate(null))
        # the alpha quantile of the null p-values, never looser than alpha itself
        self.threshold_ = float(min(np.quantile(self.null_p_, self.alpha), self.alpha))
        self.null_group_p_ = np.sort(null_groups)
        self.group_threshold_ = float(min(np.quantile(self.null_group_p_, self.alpha), self.alpha)) \
            if null_groups else self.alpha
        return self

    def score(self, batch_vs_batch: np.ndarray, batch_vs_corpus: np.ndarray) -> dict[str, np.ndarray]:
        """Per new paper: new-neighbour count and share, its p-value, the novel flag and the atypical score."""
        n_batch, n_corpus = batch_vs_corpus.shape
        atypical = 1.0 - np.sort(batch_vs_corpus, axis=1)[:, ::-1][:, :self.k].mean(axis=1)
        atypical = np.searchsorted(self.corpus_raw_, atypical, side="left") / len(self.corpus_raw_)
        if n_batch < 2:
            nothing = np.zeros(n_batch)
            return dict(new_neighbours=nothing.astype(int), novelty=nothing, novelty_p=np.ones(n_batch),
                        novel=np.zeros(n_batch, dtype=bool), atypical=atypical)
        counts = new_neighbour_counts(batch_vs_batch, batch_vs_corpus, self.k)
        p = tail_probability(counts, self.k, _expected_share(n_batch, n_corpus))
        return dict(new_neighbours=counts, novelty=counts / self.k, novelty_p=p, novel=p < self.threshold_,
                    atypical=atypical)
