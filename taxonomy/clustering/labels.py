"""Names for the branches of a tree.

`topic_names` (the default): one-to-three-word key phrases taken from each node's own titles and abstracts,
shortlisted by class-based TF-IDF against the node's sibling, then ranked by how close the phrase's embedding is
to the node's papers (KeyBERT-like) and how far from its sibling's, with maximal marginal relevance for variety.
Phrases that start with a corpus-wide word (one used by more than CORPUS_WIDE_SHARE of the papers, decided from
document frequency) or hold a title word of praise ("enhanced", "scalable") never name a node, and no node repeats
its parent's name. The root (every paper) has no name, and a branch of MIXED_MIN_SIZE or more papers whose best
phrase occurs in fewer than MIXED_COVERAGE of its papers is named "mixed: ..." (its two best phrases), so a
reader is not told that a grab-bag is about point clouds. `node_terms` (single words and word pairs by class-based TF-IDF) is the earlier namer, kept for
the names benchmark.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Callable

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
    idf = _class_idf(counts)
    first = 0 if max_nodes is None else max(0, len(Z) - max_nodes)
    out: dict[int, list[str]] = {}
    for node, tf, docs, sibling_tf in _bottom_up(counts, Z):
        if node - n >= first:
            score = _contrast(tf, docs, sibling_tf, idf, int(Z[node - n, 3]))[1]
            top = [i for i in np.lexsort((vocab, -score))[: n_terms * 3] if score[i] > 0]
            out[node] = _dedupe([vocab[i] for i in top])[:n_terms]
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


def term_words(term: str) -> set[str]:
    """The words of a term, without the "mixed: " that marks a grab-bag branch (not a topic word)."""
    return set(term.removeprefix(MIXED_PREFIX).replace(" + ", " ").split())


def fresh_terms(terms: list[str], used_words: set[str], k: int = 1) -> list[str]:
    """The first `k` terms none of whose words a higher branch's name already shows ("medical" after
    "medical segmentation" would read as a second branch about the same thing)."""
    return [t for t in terms if not term_words(t) & used_words][:k]


def branch_names(Z: np.ndarray, terms: dict[int, list[str]], count: int, k: int = 1) -> dict[int, str]:
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
            used.update(word for term in chosen for word in term_words(term))
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


# Words a title uses to praise or frame a method, not to say what it is about (English, not tuned on any corpus).
TITLE_WORDS = frozenset("""
accurate adaptive advanced all-in-one beyond better boosting boost boosts comprehensive deeper easy effective
effectively efficient efficiently empirical enhanced enhancing enhance exploring explore exploiting faster fast
general generic good great improved improving improve improves large-scale making make makes more most new
novel powerful rethinking revisiting revisit scalable scaling simple simpler simplified strong stronger
towards toward understanding unified unifying universal unleashing unleash versatile via better-than
significantly substantially consistently remarkable extensive experiments demonstrate demonstrates show shows
propose proposes proposed introduce introduces present presents achieve achieves achieving outperform
outperforms outperforming existing previous prior various different several recent recently state-of-the-art
sota code available https http github com www pdf arxiv et al furthermore moreover additionally specifically
""".split())
CORPUS_WIDE_SHARE = 0.15  # a word in more papers than this says what the corpus is about, not a branch
PHRASE_WORDS = 3
SHORTLIST = 12  # phrases per node (by class-based TF-IDF) that the embedding model ranks
CONTRAST = 0.5  # weight of the similarity to the sibling's papers, subtracted
DIVERSITY = 0.3  # maximal marginal relevance: weight of the similarity to phrases already chosen
NAMES_PER_NODE = 3
MIXED_PREFIX = "mixed: "
MIXED_COVERAGE = 0.1  # a branch whose best phrase occurs in fewer of its papers than this is named "mixed: ..."
MIXED_MIN_SIZE = 20  # smaller branches keep their phrase: a few papers rarely share words in their titles
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[-'][A-Za-z0-9]+)*")
_BREAK = re.compile(r"[.,;:!?()\[\]{}\"/|<>=+*&%$#@~`]|\s[-\u2013\u2014]\s|\s-{2,}\s")


@dataclass
class Phrases:
    """Candidate phrases of a corpus: (papers x phrases) counts, the phrases (lower case) and how to show them."""

    counts: object  # SciPy CSR
    vocab: np.ndarray
    display: dict[str, str]
    corpus_wide: frozenset[str]


def _segments(text: str, stop: set[str]) -> list[list[str]]:
    """Runs of words between punctuation and stop words, in their original spelling."""
    out = []
    for part in _BREAK.split(text):
        run: list[str] = []
        for token in _TOKEN.findall(part):
            if token.lower() in stop or not re.search("[A-Za-z]", token) or len(token) < 2:
                if run:
                    out.append(run)
                run = []
            else:
                run.append(token)
        if run:
            out.append(run)
    return out


def candidate_phrases(texts: list[str], corpus_wide_share: float = CORPUS_WIDE_SHARE) -> Phrases:
    """Every run of one to three words inside a sentence part that could name a topic: it does not start with a
    corpus-wide word, holds no title word of praise and has at least one word that is not corpus-wide.
    Phrases used by a single paper are left out once the corpus has more than ten papers."""
    from scipy import sparse

    stop = _english()
    segments = [_segments(t, stop) for t in texts]
    spelling: dict[str, Counter] = {}
    df: Counter = Counter()
    for runs in segments:
        df.update({_fold(w) for run in runs for w in run})  # "pretraining" and "pre-training" are one word
        for run in runs:
            for w in run:
                spelling.setdefault(w.lower(), Counter())[w] += 1
    n = max(len(texts), 1)
    wide = frozenset(w for w in spelling if df[_fold(w)] / n > corpus_wide_share)

    def usable(words: list[str]) -> bool:
        return (words[0] not in wide and not any(w in TITLE_WORDS for w in words)
                and any(w not in wide for w in words))

    rows, cols, index = [], [], {}
    for i, runs in enumerate(segments):
        for run in runs:
            low = [w.lower() for w in run]
            for size in range(1, PHRASE_WORDS + 1):
                for start in range(len(low) - size + 1):
                    words = low[start:start + size]
                    if usable(words):
                        rows.append(i)
                        cols.append(index.setdefault(" ".join(words), len(index)))
    counts = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(texts), len(index)))
    counts.sum_duplicates()
    vocab = np.array(sorted(index, key=index.get), dtype=str) if index else np.array([], dtype=str)
    if len(texts) > 10 and len(vocab):
        keep = np.flatnonzero(np.asarray((counts > 0).sum(0)).ravel() >= 2)
        counts, vocab = counts[:, keep], vocab[keep]

    def shown(phrase: str) -> str:
        """Each word as the papers most often write it where that keeps capitals inside the word (CLIP, MAE,
        NeRF), else in lower case (a capital first letter only says the word began a title or sentence)."""
        words = []
        for w in phrase.split():
            form = sorted(spelling[w].items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
            words.append(form if any(ch.isupper() for ch in form[1:]) else w)
        return " ".join(words)

    return Phrases(counts.tocsr(), vocab, {p: shown(p) for p in vocab}, wide)


def _fold(word: str) -> str:
    return word.lower().replace("-", "")


def _repeats(phrase: str, parent: str | None) -> bool:
    """A name repeats its parent's when either one's words hold the other's."""
    if not parent:
        return False
    a, b = set(phrase.lower().split()), set(parent.lower().split())
    return a <= b or b <= a


def topic_names(texts: list[str], Z: np.ndarray, embed_texts: Callable[[list[str]], np.ndarray] | None = None,
                paper_vectors: np.ndarray | None = None, max_nodes: int | None = None,
                phrases: Phrases | None = None) -> dict[int, list[str]]:
    """Up to NAMES_PER_NODE key phrases for every internal node (SciPy ids n..2n-2), the name first.

    `embed_texts` embeds phrases (batched, once for all nodes) and `paper_vectors` are the papers' embeddings
    in the same space; without them the phrases are ranked by class-based TF-IDF alone. Only the top
    `max_nodes` merges are named when given."""
    n = len(texts)
    phrases = phrases if phrases is not None else candidate_phrases(texts)
    counts, vocab = phrases.counts, phrases.vocab
    if len(Z) == 0:
        return {}
    first = 0 if max_nodes is None else max(0, len(Z) - max_nodes)
    size = {i: 1 for i in range(n)}
    parent: dict[int, int] = {}
    sibling: dict[int, int] = {}
    for row, (a, b, _, s) in enumerate(Z):
        a, b = int(a), int(b)
        parent[a] = parent[b] = n + row
        sibling[a], sibling[b] = b, a
        size[n + row] = int(s)
    shortlist = _shortlists(counts, Z, first) if len(vocab) else {}
    scores: dict[int, dict[int, float]] = {}
    root = n + len(Z) - 1
    if embed_texts is not None and paper_vectors is not None and shortlist:
        wanted = sorted({i for cands in shortlist.values() for i in cands})
        P = _unit(np.asarray(embed_texts([str(vocab[i]) for i in wanted]), dtype=np.float64))
        row_of = {v: r for r, v in enumerate(wanted)}
        sums = _subtree_sums(np.asarray(paper_vectors, dtype=np.float64), Z)
        shared = sums[root] / n  # what every paper of the corpus has in common, as the tree itself removes it

        def direction(node: int) -> np.ndarray:  # the root has nothing beyond the shared part: it keeps its mean
            return _unit((sums[node] / size[node] - (shared if node != root else 0))[None])[0]

        for node, cands in shortlist.items():
            vectors = P[[row_of[i] for i in cands]]
            rel = vectors @ direction(node)
            other = sibling.get(node)
            con = vectors @ direction(other) if other is not None else 0 * rel
            scores[node] = dict(zip(cands, (rel - CONTRAST * con).tolist()))
        similarity = lambda i, j: float(P[row_of[i]] @ P[row_of[j]])  # noqa: E731
    else:
        for node, cands in shortlist.items():
            scores[node] = {i: -rank for rank, i in enumerate(cands)}

        def similarity(i: int, j: int) -> float:
            a, b = set(str(vocab[i]).split()), set(str(vocab[j]).split())
            return len(a & b) / len(a | b)

    out: dict[int, list[str]] = {}
    name_phrase: dict[int, int] = {}  # node -> the vocabulary index of its name
    for node in range(root, n + first - 1, -1):  # top-down: a parent is named before its children
        up = parent.get(node)
        above = out[up][0] if up in out and out[up] else None
        chosen: list[int] = []
        pool = [i for i in sorted(scores.get(node, {}), key=lambda i: (-scores[node][i], vocab[i]))
                if not _repeats(str(vocab[i]), above)]
        while pool and len(chosen) < NAMES_PER_NODE:
            best = max(pool, key=lambda i: ((1 - DIVERSITY) * scores[node][i]
                                            - DIVERSITY * max((similarity(i, j) for j in chosen), default=0.0),
                                            -pool.index(i)))
            pool.remove(best)
            if any(set(str(vocab[best]).split()) & set(str(vocab[j]).split()) for j in chosen):
                continue  # "point clouds" and "point cloud completion" would read as one name twice
            chosen.append(best)
        out[node] = [phrases.display[str(vocab[i])] for i in chosen]
        if chosen and node != root:
            name_phrase[node] = chosen[0]
    out[root] = []  # every paper: no topic to name
    return _mark_mixed(out, name_phrase, counts, Z, n)


def _mark_mixed(out: dict[int, list[str]], name_phrase: dict[int, int], counts, Z: np.ndarray,
                n: int) -> dict[int, list[str]]:
    """Rename the branches of MIXED_MIN_SIZE or more papers whose best phrase occurs in fewer than
    MIXED_COVERAGE of them: "mixed: A + B". Each subtree's papers are one run of the tree's leaf order, so a
    phrase's count in a branch is a difference of cumulative sums (linear in the papers, for any corpus size)."""
    from scipy.cluster.hierarchy import leaves_list

    if not len(Z):
        return out
    order = leaves_list(np.asarray(Z, dtype=np.float64))
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    span = {i: (int(position[i]), int(position[i]) + 1) for i in range(n)}
    for row, (a, b) in enumerate(Z[:, :2].astype(int)):
        span[n + row] = (min(span[a][0], span[b][0]), max(span[a][1], span[b][1]))
    presence = (counts > 0).tocsc()
    cumulative: dict[int, np.ndarray] = {}
    for node, names in out.items():
        lo, hi = span[node]
        if node not in name_phrase or hi - lo < MIXED_MIN_SIZE:
            continue
        j = name_phrase[node]  # the name's column of `counts`
        if j not in cumulative:
            column = np.asarray(presence[:, j].todense()).ravel()[order]
            cumulative[j] = np.concatenate([[0], np.cumsum(column)])
        if (cumulative[j][hi] - cumulative[j][lo]) / (hi - lo) < MIXED_COVERAGE:
            out[node] = [MIXED_PREFIX + " + ".join(names[:2])] + names[2:]
    return out


def _unit(X: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms == 0, 1, norms)


def _subtree_sums(X: np.ndarray, Z: np.ndarray) -> np.ndarray:
    """Sum of the unit paper vectors under every node (rows 0..2n-2)."""
    n = len(X)
    sums = np.zeros((2 * n - 1, X.shape[1]))
    sums[:n] = _unit(X)
    for row, (a, b) in enumerate(Z[:, :2].astype(int)):
        sums[n + row] = sums[a] + sums[b]
    return sums


def _shortlists(counts, Z: np.ndarray, first: int) -> dict[int, list[int]]:
    """For every internal node from row `first` up, the SHORTLIST phrases best by class-based TF-IDF against its
    sibling (the root against the corpus): frequent among its papers, rarer among its sibling's. A phrase must
    be used by two of the node's papers once it has four or more."""
    n = counts.shape[0]
    idf = _class_idf(counts)
    out: dict[int, list[int]] = {}
    for node, tf, docs, other_tf in _bottom_up(counts, Z):
        if node - n < first:
            continue
        plain, score = _contrast(tf, docs, other_tf, idf, int(Z[node - n, 3]))
        if not (score > 0).any():  # it says nothing its sibling does not: name it by what it says at all
            score = plain
        top = np.argsort(-score, kind="stable")[:SHORTLIST]
        out[node] = [int(i) for i in top if score[i] > 0]
    return out


def _class_idf(counts) -> np.ndarray:
    """Class-based IDF (BERTopic's): log(1 + average words per class / a word's corpus frequency), with about
    sqrt(n) classes."""
    n = counts.shape[0]
    corpus_freq = np.asarray(counts.sum(0)).ravel()
    return np.log1p(counts.sum() / max(2, int(np.sqrt(n))) / np.maximum(corpus_freq, 1))


def _contrast(tf: np.ndarray, docs: np.ndarray, sibling_tf: np.ndarray | None, idf: np.ndarray,
              size: int) -> tuple[np.ndarray, np.ndarray]:
    """(plain, contrasted) class-based TF-IDF of one node: frequent among its papers, and, against a sibling,
    scaled by how much more frequent than there. Once a node has four papers, a term from one of them scores 0
    (a word from one paper does not name a branch)."""
    share = tf / max(tf.sum(), 1)
    plain = share * idf
    score = plain
    if sibling_tf is not None:
        other = sibling_tf / max(sibling_tf.sum(), 1)
        score = plain * np.maximum(np.log((share + 1e-4) / (other + 1e-4)), 0)
    if size >= 4:
        score[docs < 2] = 0
    return plain, score


def _bottom_up(counts, Z: np.ndarray):
    """(node, term counts, document counts, its sibling's term counts) for every internal node, bottom-up, the
    root last with no sibling. Counts are kept only for the clusters still open: when two clusters merge they
    are siblings, so both are yielded right then and their vectors dropped (memory stays O(open))."""
    n = counts.shape[0]
    presence = (counts > 0).astype(np.float64).tocsr()
    dense = lambda m, i: np.asarray(m[i].todense()).ravel()  # noqa: E731
    tf: dict[int, np.ndarray] = {}
    docs: dict[int, np.ndarray] = {}
    for row, (a, b) in enumerate(np.asarray(Z)[:, :2].astype(int)):
        ta, tb = (tf.pop(a) if a >= n else dense(counts, a)), (tf.pop(b) if b >= n else dense(counts, b))
        da, db = (docs.pop(a) if a >= n else dense(presence, a)), (docs.pop(b) if b >= n else dense(presence, b))
        for node, t, d, other in ((a, ta, da, tb), (b, tb, db, ta)):
            if node >= n:
                yield node, t, d, other
        tf[n + row], docs[n + row] = ta + tb, da + db
    if len(Z):
        root = n + len(Z) - 1
        yield root, tf[root], docs[root], None


def name_tree(texts: list[str], Z: np.ndarray, leaf_labels: list[str], embedding: str | None = "minilm",
              cache_dir=None, max_nodes: int | None = None, progress: bool = False) -> dict[int, list[str]]:
    """`topic_names` of a tree with the papers' and phrases' embeddings from `embedding` (a neural model;
    None or a sparse method ranks by class-based TF-IDF alone), cached under `<cache>/corpus/` by the texts,
    the tree and this module's code (embedding the candidate phrases is the costly part). A node no phrase
    can name is named after two of its papers."""
    import hashlib
    from pathlib import Path

    from taxonomy.clustering.embeddings import SPARSE_METHODS, embed
    from taxonomy.clustering.featcache import cached_arrays

    neural = embedding is not None and embedding not in SPARSE_METHODS
    Z = np.asarray(Z, dtype=np.float64)

    def compute() -> dict[str, np.ndarray]:
        vectors = embed(texts, embedding, cache_dir, progress) if neural else None
        embed_phrases = (lambda phrases: embed(phrases, embedding, cache_dir, progress)) if neural else None
        names = topic_names(texts, Z, embed_phrases, vectors, max_nodes)
        nodes = sorted(names)
        return {"nodes": np.array(nodes, dtype=np.int64),
                "names": np.array(["\x1f".join(names[k]) for k in nodes], dtype=str)}

    params = {"tree": hashlib.sha256(np.ascontiguousarray(Z[:, :2]).tobytes()).hexdigest()[:16],
              "embedding": embedding if neural else "none", "max_nodes": max_nodes,
              "code": hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]}
    arrays = cached_arrays("topic-names", texts, params, compute, cache_dir)
    out = {int(k): [p for p in str(v).split("\x1f") if p] for k, v in zip(arrays["nodes"], arrays["names"])}
    n = len(texts)
    first = {i: i for i in range(n)}  # a node's first leaf, for the names of nodes no phrase fits
    for row, (a, b) in enumerate(Z[:, :2].astype(int)):
        first[n + row] = first[a]
        if n + row in out and not out[n + row] and row < len(Z) - 1:  # the root stays unnamed
            out[n + row] = [f"{leaf_labels[first[a]]} & {leaf_labels[first[b]]}"]
    return out


MATCH_F1 = 0.5  # a cluster this close to a survey node (F1 over the papers both label) is shown beside it
MATCH_MIN_SHARED = 3


def survey_letter(outline: dict) -> str:
    """'A' for a taxonomy named '... (survey A)', else its id: the prefix of a matched node's name."""
    found = re.search(r"\(survey ([A-Za-z0-9]+)\)\s*$", str(outline.get("name", "")))
    return found.group(1) if found else str(outline["id"])


def survey_matches(papers, Z: np.ndarray, taxonomies: dict[str, dict]) -> dict[int, tuple[str, float]]:
    """Node id (papers 0..n-1, merges n..2n-2) -> ("A: Audio and Speech", F1) for every node whose papers match
    a survey node with F1 >= MATCH_F1 and at least MATCH_MIN_SHARED papers in common. F1 counts only the papers
    the survey labels (a paper under a node's descendant belongs to the node); the best node over all surveys
    and levels is kept, the deeper one on ties."""
    n = len(papers)
    best: dict[int, tuple[float, int, str]] = {}
    Z = np.asarray(Z)
    for outline in taxonomies.values():
        column = outline.get("column")
        if column not in papers or not outline.get("nodes"):
            continue
        ids = [node[0] for node in outline["nodes"]]
        index = {node_id: j for j, node_id in enumerate(ids)}
        member = np.zeros((2 * n - 1, len(ids)), dtype=np.int32)
        labelled = np.zeros(2 * n - 1, dtype=np.int32)
        for i, value in enumerate(papers[column]):
            labels = [x for x in str(value if isinstance(value, str) else "").split(";") if x]
            for label in labels:
                parts = label.split("/")
                for depth in range(1, len(parts) + 1):
                    j = index.get("/".join(parts[:depth]))
                    if j is not None:
                        member[i, j] = 1
            labelled[i] = bool(labels)
        for row, (a, b) in enumerate(Z[:, :2].astype(int)):
            member[n + row] = member[a] + member[b]
            labelled[n + row] = labelled[a] + labelled[b]
        node_size = member[2 * n - 2] if len(Z) else member[0]
        f1 = 2 * member / np.maximum(labelled[:, None] + node_size[None, :], 1)
        f1[member < MATCH_MIN_SHARED] = 0
        letter = survey_letter(outline)
        depth = np.array([node[3] for node in outline["nodes"]])
        for node in np.flatnonzero(f1.max(1) >= MATCH_F1):
            j = int(np.lexsort((-depth, -f1[node]))[0])
            candidate = (float(f1[node, j]), int(depth[j]), f"{letter}: {outline['nodes'][j][1]}")
            if node not in best or candidate[:2] > best[node][:2]:
                best[int(node)] = candidate
    return {node: (text, round(score, 3)) for node, (score, _, text) in best.items()}
