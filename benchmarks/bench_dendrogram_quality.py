"""Agreement of the unsupervised tree with survey A's taxonomy: the default against its baselines, in two
conditions, with a robustness check and an ablation of every view and step.

Conditions (dev abstracts: ../shared/corpus/abstracts-dev.jsonl):
  (a) "as shipped": every paper of the corpus; those with a dev abstract use it, the others their title alone;
  (b) "complete text": only the papers that have a dev abstract, so every paper has title and abstract;
  and, for information, every paper by its title alone (the shipped corpus without --abstracts).
Baselines: survey B's recipe (TF-IDF + Ward; the survey does not give its TF-IDF settings, so both the plain and
the sublinear term-frequency reading run, and the default must beat the stronger of the two), plain MiniLM +
Ward, and the previous default (the aligned four-view consensus, LSA topics included, unbagged, with average
linkage all the way up).
Robustness: AMI over 10 runs that each drop a random 5 % of the papers; the spread is the standard deviation.
Statistics: one AMI on one set of labels moves by +-0.03 when a few papers change, so the single figures are
compared as asked and also paired, run by run, over --paired runs (the first 10 are the spread's): the mean
difference default - baseline with a t interval, Bonferroni-corrected for the 12 comparisons (2 conditions x 2
levels x 3 baselines). The runs share 95 % of their papers: the interval says how robust a difference is to
perturbing the corpus, not how it would generalise to other labels.
Also saves a preview of the default dendrogram for the README.
Usage: python benchmarks/bench_dendrogram_quality.py [--drops 10] [--paired 30]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.cluster import hierarchy
from sklearn.feature_extraction.text import TfidfVectorizer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, save  # noqa: E402

from taxonomy.clustering import cluster  # noqa: E402
from taxonomy.clustering.agreement import level_scores  # noqa: E402
from taxonomy.corpus.folder import Corpus, load_corpus  # noqa: E402
from taxonomy.clustering.dendrogram import (PAPERS_PER_GROUP, align_text_kinds, build_dendrogram, consensus,  # noqa: E402
                                 make_tree, representation_views)
from taxonomy.clustering.embeddings import lsa_vectors  # noqa: E402
from taxonomy.render.export import score_table  # noqa: E402
from taxonomy.corpus.text import PaperTexts, paper_texts  # noqa: E402

ABSTRACTS = ROOT.parent / "shared" / "corpus" / "abstracts-dev.jsonl"
LEVELS = ("section", "subsection")
DEFAULT = "default: bagged consensus below, Ward on MiniLM above"
BASELINES = ("survey B recipe: TF-IDF + Ward", "survey B recipe: sublinear TF-IDF + Ward",
             "plain MiniLM(title + abstract) + Ward", "previous default: aligned consensus, average linkage")
SCRATCH: Path | bool = False  # main() points it at a temporary folder: each consensus is computed once per run
VIEW_NAMES = ("MiniLM(title + abstract) + MiniLM(title)", "MiniLM, top direction removed",
              "MiniLM title/abstract mix")


def tfidf_ward(texts: list[str], sublinear: bool) -> np.ndarray:
    matrix = TfidfVectorizer(stop_words="english", sublinear_tf=sublinear).fit_transform(texts).toarray()
    return hierarchy.linkage(matrix, "ward")


def trees(texts: PaperTexts, ablations: bool) -> dict[str, np.ndarray]:
    """Every tree compared, built from the same texts (the default through the library's own functions)."""
    views = representation_views(texts, "minilm", progress=False)
    raw = representation_views(texts, "minilm", progress=False, align=False)
    n = len(texts.titles)
    groups = max(1, n // PAPERS_PER_GROUP)
    has_abstract = np.array([bool(a) for a in texts.abstracts])
    with_lsa = views[1:] + align_text_kinds([lsa_vectors(texts.combined())], has_abstract)
    previous = cluster.consensus_linkage(with_lsa)[0]  # the default when the issue was filed: LSA, no bagging
    below = consensus(views[1:], SCRATCH)[0]  # make_tree reads it back instead of computing it again
    out = {
        DEFAULT: make_tree(views, "consensus", cache_dir=SCRATCH)[0],
        BASELINES[0]: tfidf_ward(texts.combined(), False),
        BASELINES[1]: tfidf_ward(texts.combined(), True),
        BASELINES[2]: hierarchy.linkage(raw[0], "ward"),
        BASELINES[3]: previous,
    }
    if ablations:
        out["ablation: Ward on MiniLM alone (no consensus below)"] = hierarchy.linkage(views[0], "ward")
        out["ablation: no bagging"] = cluster.ward_above(cluster.consensus_linkage(views[1:])[0], views[0], groups)
        out["ablation: LSA topics as a fourth view"] = cluster.ward_above(consensus(with_lsa)[0], views[0], groups)
        out["ablation: the eighth session's default (LSA, no bagging)"] = cluster.ward_above(previous, views[0],
                                                                                             groups)
        out["ablation: Ward above on the consensus's first view"] = cluster.ward_above(below, views[1], groups)
        out["ablation: text kinds not aligned"] = cluster.ward_above(consensus(raw[1:], SCRATCH)[0], raw[0], groups)
        for factor, label in ((2, "twice as many groups below Ward (n/10)"), (1 / 2, "half as many groups (n/40)")):
            out[f"ablation: {label}"] = cluster.ward_above(below, views[0], max(1, round(groups * factor)))
        for i, name in enumerate(VIEW_NAMES):
            rest = [v for j, v in enumerate(views[1:]) if j != i]
            out[f"ablation: without the view '{name}'"] = cluster.ward_above(consensus(rest)[0], views[0], groups)
    return out


def scores(Z: np.ndarray, corpus: Corpus) -> dict:
    table = level_scores(Z, corpus, "awesome-mim", permutations=1)
    return {f"{row.level} {row.metric}": round(float(row.value), 4) for row in table.itertuples()
            if row.metric in ("ami", "ari")}


def subset(corpus: Corpus, texts: PaperTexts, rows: np.ndarray) -> tuple[Corpus, PaperTexts]:
    papers = corpus.papers.iloc[rows].reset_index(drop=True)
    return (Corpus(papers=papers, taxonomies=corpus.taxonomies),
            PaperTexts([texts.titles[i] for i in rows], [texts.abstracts[i] for i in rows]))


def condition(name: str, corpus: Corpus, texts: PaperTexts, rows: np.ndarray, drops: int, paired: int,
              ablate: bool = True) -> dict:
    """Scores of every tree on `rows`; the AMI spread of the default and the baselines over the first `drops`
    runs that each leave out a random 5 % of those papers, and every run's AMI (max(drops, paired) runs; the
    ablations too when `ablate`)."""
    sub_corpus, sub_texts = subset(corpus, texts, rows)
    full = {variant: scores(Z, sub_corpus) for variant, Z in trees(sub_texts, ablations=True).items()}
    rng = np.random.default_rng(0)
    runs: dict[str, list[dict]] = {}
    for _ in range(max(drops, paired)):
        kept = np.sort(rng.choice(rows, len(rows) - round(0.05 * len(rows)), replace=False))
        drop_corpus, drop_texts = subset(corpus, texts, kept)
        for variant, Z in trees(drop_texts, ablations=ablate).items():
            runs.setdefault(variant, []).append(scores(Z, drop_corpus))
    spread = {variant: {f"{level} ami {stat}": round(float(fn([r[f"{level} ami"] for r in rs[:drops]])), 4)
                        for level in LEVELS for stat, fn in (("mean", np.mean), ("sd", np.std))}
              for variant, rs in runs.items()} if drops else {}
    print(f"\n({name}) {len(rows)} papers, {sum(1 for a in sub_texts.abstracts if a)} with an abstract")
    print(f"{'':62s} {'section':>15s} {'subsection':>15s}   {'AMI sd over ' + str(drops) + ' drops':>22s}")
    print(f"{'':62s} {'AMI':>7s} {'ARI':>7s} {'AMI':>7s} {'ARI':>7s}   {'section':>10s} {'subsection':>11s}")
    for variant, s in full.items():
        sd = spread.get(variant)
        tail = f"   {sd['section ami sd']:10.3f} {sd['subsection ami sd']:11.3f}" if sd else ""
        print(f"{variant[:62]:62s} {s['section ami']:7.3f} {s['section ari']:7.3f} "
              f"{s['subsection ami']:7.3f} {s['subsection ari']:7.3f}{tail}")
    run_ami = {variant: {level: [r[f"{level} ami"] for r in rs] for level in LEVELS} for variant, rs in runs.items()}
    return {"papers": int(len(rows)), "scores": full, "drop_5_percent": spread, "runs": run_ami}


def paired_difference(mine: list[float], theirs: list[float], comparisons: int) -> dict:
    """Mean of the run-by-run differences and its two-sided t interval at 95 % / comparisons (Bonferroni)."""
    from scipy import stats

    d = np.asarray(mine) - np.asarray(theirs)
    if len(d) < 2:
        return {"mean": float(d.mean()) if len(d) else float("nan"), "low": float("nan"), "high": float("nan")}
    half = stats.t.ppf(1 - 0.05 / (2 * comparisons), len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    return {"mean": round(float(d.mean()), 4), "low": round(float(d.mean() - half), 4),
            "high": round(float(d.mean() + half), 4)}


def verdicts(results: dict) -> tuple[list[str], dict]:
    """The acceptance checks, one line each: the default >= every baseline (the recipe: its stronger reading)
    at both levels in both conditions, and its spread no larger than plain Ward's; then the same comparisons
    paired over the runs: 'better' or 'worse' when the corrected interval excludes 0, else 'tie'."""
    lines, paired = [], {}
    comparisons = len(results) * len(LEVELS) * 3
    for name, res in results.items():
        s = res["scores"]
        for level in LEVELS:
            key = f"{level} ami"
            recipe = max(s[BASELINES[0]][key], s[BASELINES[1]][key])
            others = {"survey B recipe (stronger reading)": recipe, **{b: s[b][key] for b in BASELINES[2:]}}
            for base, value in others.items():
                ok = s[DEFAULT][key] >= value
                lines.append(f"({name}) {level} AMI: default {s[DEFAULT][key]:.3f} vs {base[:40]} {value:.3f}: "
                             + ("holds" if ok else "FAILS"))
            if res["drop_5_percent"]:  # not with --drops 0
                mine, plain = (res["drop_5_percent"][v][f"{level} ami sd"] for v in (DEFAULT, BASELINES[2]))
                lines.append(f"({name}) {level} AMI spread: default {mine:.3f} vs plain Ward {plain:.3f}: "
                             + ("holds" if mine <= plain else "FAILS"))
            runs = res["runs"]
            if not runs:
                continue
            recipe_runs = np.maximum(runs[BASELINES[0]][level], runs[BASELINES[1]][level])
            for base, theirs in {"survey B recipe (stronger reading)": recipe_runs,
                                 **{b: runs[b][level] for b in BASELINES[2:]}}.items():
                d = paired_difference(runs[DEFAULT][level], theirs, comparisons)
                verdict = "better" if d["low"] > 0 else "worse" if d["high"] < 0 else "tie"
                paired[f"({name}) {level} vs {base}"] = {**d, "verdict": verdict}
                lines.append(f"({name}) {level} AMI, paired over {len(theirs)} runs: default - {base[:40]} "
                             f"{d['mean']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]: {verdict}")
    return lines, paired


def ablation_verdicts(results: dict) -> tuple[list[str], dict]:
    """Does each view or step pay for itself? Default - ablation, paired over the runs, corrected for every
    (condition, level, ablation): 'default better' when the interval is above 0 (the step pays), 'default worse'
    when below, else 'no difference'."""
    named = {name: res for name, res in results.items() if any(v.startswith("ablation") for v in res["runs"])}
    ablations = sorted({v for res in named.values() for v in res["runs"] if v.startswith("ablation")})
    comparisons = max(1, len(named) * len(LEVELS) * len(ablations))
    lines, out = [], {}
    for name, res in named.items():
        runs = res["runs"]
        for variant in (v for v in runs if v.startswith("ablation")):
            for level in LEVELS:
                d = paired_difference(runs[DEFAULT][level], runs[variant][level], comparisons)
                verdict = "default better" if d["low"] > 0 else "default worse" if d["high"] < 0 else "no difference"
                out[f"({name}) {level} vs {variant}"] = {**d, "verdict": verdict}
                lines.append(f"({name}) {level}: default - {variant[10:60]} {d['mean']:+.3f} "
                             f"[{d['low']:+.3f}, {d['high']:+.3f}]: {verdict}")
    return lines, out


def save_preview(result) -> None:
    """The top 1,500 px of the full tree's PNG: the README's picture."""
    from PIL import Image

    from taxonomy.render.plotting import plot_dendrogram

    RESULTS.mkdir(exist_ok=True)
    plot_dendrogram(result, RESULTS / "dendrogram-with-abstracts.png")
    with Image.open(RESULTS / "dendrogram-with-abstracts.png") as im:
        im.crop((0, 0, im.size[0], min(im.size[1], 1500))).save(RESULTS / "dendrogram-preview.png", optimize=True)
    (RESULTS / "dendrogram-with-abstracts.png").unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drops", type=int, default=10, help="runs that each leave out 5 %% of the papers (spread)")
    parser.add_argument("--paired", type=int, default=30, help="runs for the paired comparisons (the first --drops "
                        "are the spread's)")
    parser.add_argument("--preview-only", action="store_true",
                        help="only redraw the README's preview (after a change to the names or the drawing)")
    args = parser.parse_args()
    if not ABSTRACTS.exists():
        sys.exit(f"{ABSTRACTS} is absent: this benchmark needs the dev abstracts")
    if args.preview_only:
        save_preview(build_dendrogram(load_corpus(), abstracts=ABSTRACTS, progress=False))
        return
    start = time.perf_counter()
    global SCRATCH
    scratch = tempfile.TemporaryDirectory(prefix="mimtax-quality-")
    SCRATCH = Path(scratch.name)
    corpus = load_corpus()
    texts = paper_texts(corpus.papers, ABSTRACTS)
    for line in texts.conflicts:
        print("abstract match:", line)
    everyone = np.arange(len(corpus))
    with_abstract = np.array([i for i, a in enumerate(texts.abstracts) if a])
    results = {"a: as shipped": condition("a: as shipped", corpus, texts, everyone, args.drops, args.paired),
               "b: complete text": condition("b: complete text", corpus, texts, with_abstract, args.drops,
                                             args.paired)}
    checks, paired = verdicts(results)
    ablation_lines, ablation_paired = ablation_verdicts(results)
    titles_only = PaperTexts(texts.titles, [""] * len(texts.titles))  # what `mimtax dendrogram` does by default
    results["titles only (for information)"] = condition("titles only (for information)", corpus, titles_only,
                                                         everyone, args.drops, args.paired, ablate=False)
    print("\n" + "\n".join(checks))
    print("\nwhat each view or step is worth (positive: the default is better with it)")
    print("\n".join(ablation_lines))
    result = build_dendrogram(corpus, abstracts=ABSTRACTS, progress=False)
    table = score_table(result)
    print("\nthe shipped corpus's report (mimtax dendrogram --abstracts ...):")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    save_preview(result)
    print("wrote", save("dendrogram-quality", {
        "seconds": round(time.perf_counter() - start, 1), "abstract_conflicts": texts.conflicts,
        "conditions": results, "checks": checks, "paired": paired,
        "ablations_paired": ablation_paired,
        "default_table": table.round(4).to_dict(orient="records"),
        "tree_scores": {k: {m: round(float(v), 4) for m, v in s.items()} for k, s in result.agreement["tree"].items()},
    }))


if __name__ == "__main__":
    main()
