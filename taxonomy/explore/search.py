"""Semantic ranking and the shared paper representation for search, placement and audit.

Uses the same embeddings (and cache) as the dendrogram: MiniLM of title + abstract plus MiniLM of the title,
beside a TF-IDF view of the same text; similarities are a fixed blend of the two (the blend and k were chosen
by leave-one-out on the corpus, see benchmarks/bench_placement.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from taxonomy.corpus.folder import Corpus
from taxonomy.corpus.store import store_rows
from taxonomy.corpus.text import PaperTexts, paper_texts

DENSE_WEIGHT = 0.7


@dataclass
class Representation:
    """Corpus vectors in two views, and what is needed to place new text in the same space."""

    dense: np.ndarray
    sparse: object  # scipy CSR, rows L2-normalised
    vectorizer: object
    texts: PaperTexts
    embedding: str
    cache_dir: object

    def encode(self, titles: list[str], abstracts: list[str]) -> tuple[np.ndarray, object]:
        from sklearn.preprocessing import normalize

        from taxonomy.clustering.embeddings import embed

        new = PaperTexts(titles, abstracts)
        both = embed(new.combined(), self.embedding, self.cache_dir, progress=False)
        title = embed(new.titles, self.embedding, self.cache_dir, progress=False)
        return normalize(both + title), normalize(self.vectorizer.transform(_sparse_text(new)))

    def similarity(self, dense: np.ndarray, sparse) -> np.ndarray:
        """Blended cosine similarity of new items (rows) to every corpus paper (columns)."""
        return DENSE_WEIGHT * dense @ self.dense.T + (1 - DENSE_WEIGHT) * (sparse @ self.sparse.T).toarray()

    def self_similarity(self) -> np.ndarray:
        return self.similarity(self.dense, self.sparse)


def _sparse_text(texts: PaperTexts) -> list[str]:
    return [f"{t} {c}" for t, c in zip(texts.titles, texts.combined())]  # the title counts twice


def represent(corpus: Corpus, abstracts: str | Path | None = None, embedding: str = "minilm",
              cache_dir=None, progress: bool = True) -> Representation:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    from taxonomy.clustering.embeddings import embed

    texts = paper_texts(corpus.papers, abstracts, store_rows(corpus))
    both = embed(texts.combined(), embedding, cache_dir, progress)
    title = embed(texts.titles, embedding, cache_dir, progress)
    vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True, ngram_range=(1, 2),
                                 min_df=2 if len(texts.titles) > 20 else 1)
    sparse = normalize(vectorizer.fit_transform(_sparse_text(texts)))
    return Representation(normalize(both + title), sparse, vectorizer, texts, embedding, cache_dir)


def semantic_scores(corpus: Corpus, text: str, abstracts=None, cache_dir=None) -> np.ndarray:
    """Similarity of every paper to a free-text query (higher is closer)."""
    rep = represent(corpus, abstracts, cache_dir=cache_dir, progress=False)
    dense, sparse = rep.encode([text], [""])
    return np.round(rep.similarity(dense, sparse)[0], 4)
