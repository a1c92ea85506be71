"""Agreement of the unsupervised tree with survey A's taxonomy, for the default recipe and the alternatives
that were tried, with the dev abstracts (../shared/corpus/abstracts-dev.jsonl).

Prints AMI at survey A's section (9) and subsection (28) levels for each variant, and the default's full
table against survey B's recipe; then a robustness check of the text-kind alignment (the default's last step)
on random halves and four-fifths of the abstracts. Also saves a preview of the default dendrogram for the README.
Usage: python benchmarks/bench_dendrogram_quality.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from scipy.cluster import hierarchy
from sklearn.preprocessing import normalize

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, save  # noqa: E402

from taxonomy import cluster  # noqa: E402
from taxonomy.agreement import level_scores  # noqa: E402
from taxonomy.corpus import load_corpus  # noqa: E402
from taxonomy.dendrogram import align_text_kinds, build_dendrogram, representation_views  # noqa: E402
from taxonomy.embeddings import embed, tfidf_vectors  # noqa: E402
from taxonomy.export import score_table  # noqa: E402
from taxonomy.text import PaperTexts, paper_texts  # noqa: E402

ABSTRACTS = ROOT.parent / "shared" / "corpus" / "abstracts-dev.jsonl"


def ami(Z, corpus) -> dict:
    table = level_scores(Z, corpus, "awesome-mim", permutations=1)
    table = table[table.metric == "ami"].set_index("level")["value"]
    return {level: round(float(v), 3) for level, v in table.items()}


def consensus_with_kmeans(views, seeds: tuple[int, ...], ks=tuple(range(5, 120, 5))):
    """Tried, not adopted: the default consensus plus a k-means partition of every view at every k per seed."""
    import numpy as np
    from scipy.spatial.distance import squareform

    n = len(views[0])
    parts = [labels for X in views for labels in cluster.cuts(cluster.exact_linkage(X), list(ks))]
    parts += [cluster.kmeans_labels(np.asarray(X, dtype=np.float32), k, seed=1000 * s + k, iters=5)
              for X in views for k in ks for s in seeds]
    together = np.zeros((n, n), dtype=np.float32)
    for labels in parts:
        together += labels[:, None] == labels[None, :]
    distance = 1.0 - together / len(parts)
    np.fill_diagonal(distance, 0.0)
    return hierarchy.linkage(squareform(distance.astype(np.float64), checks=False), "average")


def contribution_sentences(abstract: str) -> str:
    """Tried, not adopted: the abstract from its first sentence that speaks of 'we', 'our' or 'this paper/work'."""
    import re

    sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z])", abstract)
    for i, sentence in enumerate(sentences):
        if re.search(r"\b(we|We|our|Our|this paper|This paper|this work|This work)\b", sentence):
            return " ".join(sentences[i:])
    return abstract


def raw_views(titles: list[str], abstracts: list[str]) -> list:
    """The default's four views before the text-kind alignment."""
    return representation_views(PaperTexts(titles, abstracts), "minilm", progress=False, align=False)


def alignment_robustness(corpus, texts, fractions=(0.5, 0.8), draws=2, seed=0) -> list[dict]:
    """Subsection AMI of the consensus with and without the alignment when only a random share of the papers
    keep their abstract: does the gain hold on other mixes of title-only and full texts than the one tuned on?"""
    import numpy as np

    rng = np.random.default_rng(seed)
    with_abstract = [i for i, a in enumerate(texts.abstracts) if a]
    out = []
    for fraction in fractions:
        for draw in range(draws):
            keep = set(rng.choice(with_abstract, int(fraction * len(with_abstract)), replace=False).tolist())
            abstracts = [a if i in keep else "" for i, a in enumerate(texts.abstracts)]
            views = raw_views(texts.titles, abstracts)
            plain = ami(cluster.consensus_linkage(views)[0], corpus)["subsection"]
            aligned = ami(cluster.consensus_linkage(align_text_kinds(views, [bool(a) for a in abstracts]))[0],
                          corpus)["subsection"]
            out.append({"abstract_share": fraction, "draw": draw, "papers_with_abstract": len(keep),
                        "subsection_ami_not_aligned": plain, "subsection_ami_aligned": aligned})
            print(f"abstracts kept {fraction:.0%} (draw {draw}): subsection AMI {plain:.3f} -> {aligned:.3f} aligned")
    return out


def main() -> None:
    if not ABSTRACTS.exists():
        sys.exit(f"{ABSTRACTS} is absent: this benchmark needs the dev abstracts")
    corpus = load_corpus()
    texts = paper_texts(corpus.papers, ABSTRACTS)
    views = raw_views(texts.titles, texts.abstracts)
    both = embed(texts.combined(), progress=False)
    has_abstract = [bool(a) for a in texts.abstracts]
    aligned = align_text_kinds(views, has_abstract)
    variants = {
        "survey B recipe: TF-IDF + Ward": hierarchy.linkage(tfidf_vectors(texts.combined()), "ward"),
        "LSA (20 topics) + Ward": hierarchy.linkage(views[3], "ward"),
        "MiniLM(title + abstract) + Ward (plain)": hierarchy.linkage(both, "ward"),
        "MiniLM(title + abstract) + MiniLM(title), Ward": hierarchy.linkage(views[0], "ward"),
        "  same, average linkage on cosine": cluster.exact_linkage(views[0], "average"),
        "  same, mean and top direction removed, Ward": hierarchy.linkage(views[1], "ward"),
        "consensus of 4 views, k = 8..76 step 4": cluster.consensus_linkage(views, list(range(8, 80, 4)))[0],
        "consensus of 4 views, k = 10..58 step 2": cluster.consensus_linkage(views, list(range(10, 60, 2)))[0],
        "consensus of 3 views (no LSA)": cluster.consensus_linkage(views[:3])[0],
        "consensus of 4 views, k = 5..115 step 5, not aligned": cluster.consensus_linkage(views)[0],
        "MiniLM plain + Ward, text kinds aligned": hierarchy.linkage(align_text_kinds([both], has_abstract)[0],
                                                                     "ward"),
        "MiniLM(title + abstract) + MiniLM(title), Ward, aligned": hierarchy.linkage(aligned[0], "ward"),
        "aligned consensus, k = 8..76 step 4": cluster.consensus_linkage(aligned, list(range(8, 80, 4)))[0],
        "aligned consensus, k = 10..58 step 2": cluster.consensus_linkage(aligned, list(range(10, 60, 2)))[0],
        "default: aligned consensus of 4 views, k = 5..115 step 5": None,
    }
    focus = [contribution_sentences(a) for a in texts.abstracts]
    focus_both = embed([f"{t}. {a}" if a else t for t, a in zip(texts.titles, focus)], progress=False)
    title = embed(texts.titles, progress=False)
    variants["consensus, main view on the contribution sentences only (not aligned)"] = cluster.consensus_linkage(
        [normalize(focus_both + title), *views[1:]])[0]
    for pair in ((0, 1), (2, 3), (4, 5), (6, 7)):
        variants[f"consensus + k-means partitions, seeds {pair} (not aligned)"] = consensus_with_kmeans(views, pair)
    result = build_dendrogram(corpus, abstracts=ABSTRACTS, progress=False)
    variants["default: aligned consensus of 4 views, k = 5..115 step 5"] = result.linkage
    rows = {}
    for name, Z in variants.items():
        rows[name] = ami(Z, corpus)
        print(f"{name:72s} AMI section {rows[name]['section']:.3f}   subsection {rows[name]['subsection']:.3f}")
    robustness = alignment_robustness(corpus, texts)
    table = score_table(result)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    from taxonomy.plotting import plot_dendrogram

    RESULTS.mkdir(exist_ok=True)
    plot_dendrogram(result, RESULTS / "dendrogram-with-abstracts.png")
    from PIL import Image

    with Image.open(RESULTS / "dendrogram-with-abstracts.png") as im:
        im.crop((0, 0, im.size[0], min(im.size[1], 1500))).save(RESULTS / "dendrogram-preview.png", optimize=True)
    (RESULTS / "dendrogram-with-abstracts.png").unlink()
    print("wrote", save("dendrogram-quality", {
        "papers": result.n, "papers_with_abstract": result.n_with_abstract, "ami_by_variant": rows,
        "alignment_on_abstract_subsets": robustness,
        "default_table": table.round(4).to_dict(orient="records"),
        "tree_scores": {k: {m: round(float(v), 4) for m, v in s.items()} for k, s in result.agreement["tree"].items()},
        "tree_scores_survey_recipe": {k: {m: round(float(v), 4) for m, v in s.items()}
                                      for k, s in result.baseline_agreement["tree"].items()},
    }))


if __name__ == "__main__":
    main()
