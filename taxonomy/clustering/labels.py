"""Names for the branches of a tree: class-based TF-IDF over each node's papers.

A term scores high for a node when it is frequent among the node's papers but rare in the corpus as a whole,
so words every MIM paper uses ("masked", "image") do not name any branch.
"""

from __future__ import annotations

import numpy as np

FIELD_WORDS = {"masked", "mask", "masking", "image", "images", "modeling", "modelling", "model", "models",
               "learning", "pre", "training", "pretraining", "self", "supervised", "autoencoders", "autoencoder",
               "autoencoding", "via", "based", "using", "towards", "new", "approach", "method", "propose",
               "proposed", "paper", "work", "show", "results", "pre-training", "self-supervised", "tasks",
               "task", "performance", "mim", "mae", "vision", "visual", "data", "representation", "representations",
               "transformer", "transformers", "downstream", "framework", "mae", "vit", "introduce", "achieves",
               "extensive", "experiments", "demonstrate", "state-of-the-art", "art"}


def term_counts(texts: list[str]) -> tuple[object, np.ndarray]:
    """(papers x terms) count matrix (SciPy CSR) and the vocabulary; words of the field and English stop words
    left out."""
    from scipy import sparse
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(stop_words=sorted(FIELD_WORDS | _english()), ngram_range=(1, 2),
                                 token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z0-9-]+\b", min_df=2 if len(texts) > 10 else 1)
    try:
        counts = vectorizer.fit_transform(texts).tocsr().astype(np.float64)
    except ValueError:  # empty vocabulary
        return sparse.csr_matrix((len(texts), 0)), np.array([], dtype=str)
    return counts, vectorizer.get_feature_names_out().astype(str)


def node_terms(texts: list[str], Z: np.ndarray, n_terms: int = 3, max_nodes: int | None = None,
               counts: tuple[object, np.ndarray] | None = None) -> dict[int, list[str]]:
    """Key terms for internal nodes (SciPy ids n..2n-2); the top `max_nodes` merges only if given.
    `counts` = term_counts(texts), when the caller has them already."""
    n = len(texts)
    counts, vocab = counts if counts is not None else term_counts(texts)
    if counts.shape[1] == 0:
        return {}
    presence = (counts > 0).astype(np.float64)
    corpus_freq = np.asarray(counts.sum(0)).ravel()
    n_classes = max(2, int(np.sqrt(n)))
    avg_words = counts.sum() / n_classes
    idf = np.log1p(avg_words / np.maximum(corpus_freq, 1))

    first = 0 if max_nodes is None else max(0, len(Z) - max_nodes)
    out: dict[int, list[str]] = {}

    def name(node: int, tf: np.ndarray, docs: np.ndarray, sibling_tf: np.ndarray | None) -> None:
        """Score one internal node against its sibling (or the corpus, for the root)."""
        if node - n < first:
            return
        share = tf / max(tf.sum(), 1)
        score = share * idf
        if sibling_tf is not None:
            other = sibling_tf / max(sibling_tf.sum(), 1)
            score = score * np.maximum(np.log((share + 1e-4) / (other + 1e-4)), 0)
        if Z[node - n, 3] >= 4:
            score[docs < 2] = 0  # a word from one paper does not name a branch
        top = [i for i in np.lexsort((vocab, -score))[: n_terms * 3] if score[i] > 0]
        out[node] = _dedupe([vocab[i] for i in top])[:n_terms]

    # bottom-up over the merges, keeping term counts only for the clusters still open: when two clusters
    # merge they are siblings, so both are named right then and their vectors dropped (memory stays O(open))
    dense = lambda m, i: np.asarray(m[i].todense()).ravel()  # noqa: E731
    tf: dict[int, np.ndarray] = {}
    docs: dict[int, np.ndarray] = {}
    for row, (a, b, _, _) in enumerate(Z):
        a, b = int(a), int(b)
        ta, tb = (tf.pop(a) if a >= n else dense(counts, a)), (tf.pop(b) if b >= n else dense(counts, b))
        da, db = (docs.pop(a) if a >= n else dense(presence, a)), (docs.pop(b) if b >= n else dense(presence, b))
        if a >= n:
            name(a, ta, da, tb)
        if b >= n:
            name(b, tb, db, ta)
        tf[n + row], docs[n + row] = ta + tb, da + db
    if len(Z):
        root = n + len(Z) - 1
        name(root, tf[root], docs[root], None)
    return out


def _dedupe(terms: list[str]) -> list[str]:
    """Drop a unigram already contained in a chosen bigram (and vice versa), keeping the order."""
    kept: list[str] = []
    for term in terms:
        words = set(term.split())
        if any(words & set(k.split()) for k in kept):
            continue
        kept.append(term)
    return kept


def fresh_terms(terms: list[str], used_words: set[str], k: int = 2) -> list[str]:
    """The first `k` terms none of whose words a higher branch's name already shows ("medical" after
    "medical segmentation" would read as a second branch about the same thing)."""
    return [t for t in terms if not set(t.split()) & used_words][:k]


def branch_names(Z: np.ndarray, terms: dict[int, list[str]], count: int, k: int = 2) -> dict[int, str]:
    """Names for the `count` highest named merges, root first, each made of terms no higher name shows."""
    n = len(Z) + 1
    used: set[str] = set()
    names: dict[int, str] = {}
    for row in range(len(Z) - 1, -1, -1):
        if len(names) >= count:
            break
        chosen = fresh_terms(terms.get(n + row, []), used, k)
        if chosen:
            names[n + row] = ", ".join(chosen)
            used.update(word for term in chosen for word in term.split())
    return names


def _english() -> set[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return set(ENGLISH_STOP_WORDS)


def leaf_names(papers) -> list[str]:
    """The method's short name, or the start of the title when the paper has none."""
    names = []
    for short, title in zip(papers["short_name"], papers["title"]):
        if short:
            names.append(str(short))
        else:
            words = str(title).split()
            names.append(" ".join(words[:5]) + ("…" if len(words) > 5 else ""))
    return names

