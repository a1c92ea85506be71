"""How good are the tree's names? Three namers on the same clusters, two measures, two corpora.

Namers: `tf-idf (before)`, the three words the tree showed until now (labels.node_terms, against the sibling);
`c-TF-IDF (BERTopic)`, the three top words of each cluster against the other clusters of its cut (BERTopic's
class-based TF-IDF, written here); `phrases (new)`, the three key phrases of labels.topic_names, and `name (new)`,
the first of them alone (what the page, the figure and clusters.csv's name column show).

Clusters: every merge that is a cluster when the tree is cut at a taxonomy level's size (3 to 40 clusters), with at
least 3 papers on its side and on its sibling's.
(a) Recognition, on the clusters whose papers match a survey node with F1 >= 0.5: `rank1`, the name's MiniLM
    embedding is closer to that node's "name: description" than to any other node of the taxonomy; `overlap`, the
    name shares a word with the node's name or description (lower case, plural s dropped, stop words out).
(b) Retrieval, on all of them: the name ranks the cluster's papers against its sibling's, by cosine with the
    papers' MiniLM embeddings (`auc`) and by how many of the name's words a paper's text holds (`lexical_auc`).
    The embedding measures share the model the new namer ranks with, which favours it; the lexical and overlap
    measures do not.

Differences are paired per cluster with bootstrap intervals (10,000 resamples, seed 0), Bonferroni-widened over
every comparison in the run. Corpora: the shipped MIM corpus (with abstracts where --abstracts gives them) and
benchmarks/data/nlp-titles, 79 NLP paper titles in eight areas (a field the namer was never looked at on).

    python benchmarks/bench_names.py --abstracts /path/to/abstracts.jsonl
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save  # noqa: E402

SECOND = Path(__file__).resolve().parent / "data" / "nlp-titles"
NEW, NEW_NAME, OLD, CTFIDF = "phrases (new)", "name (new)", "tf-idf (before)", "c-TF-IDF (BERTopic)"
METRICS = ("rank1", "overlap", "auc", "lexical_auc")


def build(folder, abstracts):
    """(texts, linkage, corpus outlines, papers) with the tree `mimtax dendrogram` builds."""
    from taxonomy.clustering import dendrogram as D
    from taxonomy.corpus.folder import load_corpus
    from taxonomy.corpus.store import store_rows
    from taxonomy.corpus.text import paper_texts

    corpus = load_corpus(folder)
    texts = paper_texts(corpus.papers, abstracts, store_rows(corpus))
    views = D.representation_views(texts, "minilm", None, False)
    Z = D.ordered_tree(views, "consensus", None)
    outlines = {t.id: D.taxonomy_outline(t) for t in corpus.taxonomies.values()}
    return texts.combined(), Z, outlines, corpus, texts.n_with_abstract


def c_tfidf_names(texts: list[str], labels: np.ndarray, words: int = 3) -> dict[int, str]:
    """BERTopic's class-based TF-IDF: each cluster's papers joined into one document; a word's weight is its
    share of the cluster's words times log(1 + mean words per cluster / the word's count in the corpus)."""
    from sklearn.feature_extraction.text import CountVectorizer

    classes = sorted(set(labels.tolist()))
    joined = [" ".join(t for t, c in zip(texts, labels) if c == k) for k in classes]
    vectorizer = CountVectorizer(stop_words="english")
    counts = vectorizer.fit_transform(joined).toarray().astype(float)
    vocab = vectorizer.get_feature_names_out()
    tf = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    idf = np.log1p(counts.sum(1).mean() / np.maximum(counts.sum(0), 1))
    weights = tf * idf
    return {k: ", ".join(vocab[np.argsort(-weights[i], kind="stable")[:words]]) for i, k in enumerate(classes)}


def eval_clusters(Z: np.ndarray, n: int, ks: list[int], min_side: int = 3) -> dict[int, int]:
    """Merge node -> the smallest k among `ks` at whose cut it is a cluster (both it and its sibling >= min_side)."""
    from taxonomy.clustering import cluster

    size = {i: 1 for i in range(n)} | {n + r: int(s) for r, s in enumerate(Z[:, 3])}
    sibling = {}
    for a, b in Z[:, :2].astype(int):
        sibling[a], sibling[b] = b, a
    _, nodes = cluster.cuts(Z, ks, return_nodes=True)
    out: dict[int, int] = {}
    for k, at_k in sorted(zip(ks, nodes)):
        for node in sorted(set(int(x) for x in at_k)):
            if node >= n and node in sibling and size[node] >= min_side and size[sibling[node]] >= min_side:
                out.setdefault(node, k)
    return out


def members(Z: np.ndarray, n: int, node: int) -> list[int]:
    from taxonomy.render.plotting import leaves_under

    return leaves_under(Z, n, node)


def _words(text: str) -> set[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return {w[:-1] if w.endswith("s") and len(w) > 3 else w for w in re.findall(r"[a-z0-9]+", text.lower())
            if w not in ENGLISH_STOP_WORDS and len(w) > 1}


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(a cluster paper scores above a sibling paper), ties counting half (Mann-Whitney)."""
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)


def measure(folder, abstracts, ks_limit=(3, 40)) -> tuple[dict, list[dict]]:
    from taxonomy.clustering import cluster
    from taxonomy.clustering.embeddings import embed
    from taxonomy.clustering.labels import leaf_names, name_tree, node_terms, survey_letter, survey_matches

    texts, Z, outlines, corpus, with_abstract = build(folder, abstracts)
    n = len(texts)
    ks = sorted({k for t in corpus.taxonomies.values() for k in t.level_sizes() if ks_limit[0] <= k <= ks_limit[1]})
    started = time.perf_counter()
    new = name_tree(texts, Z, leaf_names(corpus.papers), "minilm", None)
    new_s = time.perf_counter() - started
    old = node_terms(texts, Z)
    chosen = eval_clusters(Z, n, ks)
    ctf: dict[int, str] = {}
    labels_at, nodes_at = cluster.cuts(Z, ks, return_nodes=True)
    for k, labels, nodes in zip(ks, labels_at, nodes_at):
        by_label = c_tfidf_names(texts, labels)
        for label, node in zip(labels, nodes):
            if chosen.get(int(node)) == k:
                ctf[int(node)] = by_label[label]
    names = {node: {OLD: ", ".join(old.get(node, [])), CTFIDF: ctf[node], NEW: ", ".join(new.get(node, [])),
                    NEW_NAME: (new.get(node) or [""])[0]} for node in chosen}

    matches = survey_matches(corpus.papers, Z, outlines)
    node_text, node_key = [], {}
    for outline in outlines.values():
        letter = survey_letter(outline)
        tax = corpus.taxonomy(outline["id"])
        for node_id, name, _, _ in outline["nodes"]:
            node_key[f"{letter}: {name}"] = (outline["id"], len(node_text))
            node_text.append(f"{name}: {tax.nodes[node_id].description}")
    node_vecs = embed(node_text, "minilm", None, False).astype(np.float64)
    papers_vec = embed(texts, "minilm", None, False).astype(np.float64)
    all_labels = sorted({label for per in names.values() for label in per.values()})
    label_vec = dict(zip(all_labels, embed(all_labels, "minilm", None, False).astype(np.float64)))
    paper_words = [_words(t) for t in texts]
    sibling = {}
    for a, b in Z[:, :2].astype(int):
        sibling[a], sibling[b] = b, a

    rows = []
    for node in sorted(chosen):
        pos, neg = members(Z, n, node), members(Z, n, sibling[node])
        match = matches.get(node)
        for namer, label in names[node].items():
            v = label_vec[label]
            row = {"node": node, "k": chosen[node], "size": len(pos), "namer": namer, "name": label,
                   "match": match[0] if match else "", "match_f1": match[1] if match else None}
            row["auc"] = auc(papers_vec[pos] @ v, papers_vec[neg] @ v)
            words = _words(label)
            lex = np.array([len(words & pw) for pw in paper_words], dtype=float)
            row["lexical_auc"] = auc(lex[pos], lex[neg])
            if match:
                tax_id, index = node_key[match[0]]
                same = [i for key, (t, i) in node_key.items() if t == tax_id]
                sims = node_vecs[same] @ v
                row["rank1"] = float(same[int(np.argmax(sims))] == index)
                row["overlap"] = float(bool(words & _words(node_text[index])))
            rows.append(row)
    info = {"corpus": str(folder or "shipped"), "papers": n, "with_abstract": with_abstract, "ks": ks,
            "clusters": len(chosen),
            "matched_clusters": sum(1 for node in chosen if node in matches), "new_names_seconds": round(new_s, 2)}
    return info, rows


def paired(rows: list[dict], metric: str, a: str, b: str, alpha: float, draws: int = 10000, seed: int = 0) -> dict:
    """Mean of a - b over the clusters both have the metric for, with a percentile bootstrap interval."""
    by = {}
    for r in rows:
        if r.get(metric) is not None and not (isinstance(r.get(metric), float) and np.isnan(r[metric])):
            by.setdefault(r["node"], {})[r["namer"]] = r[metric]
    diffs = np.array([v[a] - v[b] for v in by.values() if a in v and b in v])
    if len(diffs) == 0:
        return {"metric": metric, "new": a, "baseline": b, "clusters": 0}
    rng = np.random.default_rng(seed)
    boot = diffs[rng.integers(0, len(diffs), (draws, len(diffs)))].mean(1)
    lo, hi = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
    return {"metric": metric, "new": a, "baseline": b, "clusters": int(len(diffs)),
            "new_mean": round(float(np.mean([v[a] for v in by.values() if b in v])), 3),
            "baseline_mean": round(float(np.mean([v[b] for v in by.values() if a in v])), 3),
            "difference": round(float(diffs.mean()), 3), "low": round(float(lo), 3), "high": round(float(hi), 3),
            "verdict": "better" if lo > 0 else "worse" if hi < 0 else "no clear difference"}


def summary(rows: list[dict]) -> dict:
    out = {}
    for namer in (OLD, CTFIDF, NEW, NEW_NAME):
        part = [r for r in rows if r["namer"] == namer]
        out[namer] = {m: round(float(np.mean([r[m] for r in part if m in r])), 3) if any(m in r for r in part)
                      else None for m in METRICS}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--abstracts", default=None, help="abstracts JSONL for the shipped corpus")
    args = parser.parse_args()
    corpora = [("mim (shipped)", None, args.abstracts), ("nlp-titles", SECOND, None)]
    comparisons = [(new, base, m) for new in (NEW, NEW_NAME) for base in (OLD, CTFIDF) for m in METRICS]
    alpha = 0.05 / (len(comparisons) * len(corpora))  # Bonferroni over every comparison in the run
    results = {}
    for name, folder, abstracts in corpora:
        info, rows = measure(folder, abstracts)
        results[name] = {**info, "means": summary(rows),
                         "paired": [paired(rows, m, a, b, alpha) for a, b, m in comparisons],
                         "names": [{k: r[k] for k in ("node", "k", "size", "namer", "name", "match")}
                                   for r in rows]}
        print(f"\n{name}: {info}")
        for namer, means in results[name]["means"].items():
            print(f"  {namer:22s} " + "  ".join(f"{m} {v}" for m, v in means.items()))
        for p in results[name]["paired"]:
            if p["clusters"]:
                print(f"  {p['new']:14s} - {p['baseline']:20s} {p['metric']:11s} {p['difference']:+.3f} "
                      f"[{p['low']:+.3f}, {p['high']:+.3f}] n={p['clusters']} {p['verdict']}")
    save("names", {"interval": f"{100 * (1 - alpha):.2f}% paired bootstrap (Bonferroni over "
                               f"{len(comparisons) * len(corpora)} comparisons)", "corpora": results})


if __name__ == "__main__":
    main()
