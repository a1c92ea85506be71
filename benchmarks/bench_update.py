"""How well `mimtax update` keeps a taxonomy current, measured three ways on the shipped corpus.

1. Leave one node out: for every survey A leaf with >= 8 papers, the node is removed from the taxonomy and its
   papers, with a random share of the other papers (the background: new papers that do fit), become the new
   batch. Measured: the best-match F1 between a suggested category's members and the node's papers, and the ROC
   AUC of the novelty score between the node's papers and the background. Targets: mean F1 >= 0.5, mean AUC >= 0.75.
2. Null batches: random corpus papers as the new batch (nothing is new): the share flagged novel and the number
   of suggested categories, which should be about alpha and zero.
3. Time split: the corpus up to 2022 plays the survey and later papers are new: placement top-1 / top-3 for them
   at each level, and the nodes they grew (predicted and true).

Both text conditions: titles only (as shipped) and title + dev abstract.
Usage: python benchmarks/bench_update.py [--seeds 3] [--background 0.1 0.25]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save  # noqa: E402

from taxonomy.corpus.folder import Corpus, load_corpus  # noqa: E402
from taxonomy.corpus.store import store_rows  # noqa: E402
from taxonomy.corpus.text import paper_texts  # noqa: E402
from taxonomy.update import NewPapers, compute_whats_new  # noqa: E402

ABSTRACTS = ROOT.parent / "shared" / "corpus" / "abstracts-dev.jsonl"
SURVEY = "awesome-mim"
MIN_NODE = 8


def subset(corpus: Corpus, rows: np.ndarray, drop_nodes: list[str] = ()) -> Corpus:
    """The corpus restricted to `rows`, with `drop_nodes` (and what is below them) removed from survey A."""
    papers = corpus.papers.iloc[np.sort(rows)].reset_index(drop=True)
    taxonomies = dict(corpus.taxonomies)
    if drop_nodes:
        tax = corpus.taxonomy(SURVEY)
        gone = {d for node in drop_nodes for d in tax.descendants(node)}
        taxonomies[tax.id] = replace(tax, nodes={k: v for k, v in tax.nodes.items() if k not in gone})
    return Corpus(papers, taxonomies, corpus.results, corpus.path)


def batch(corpus: Corpus, rows: np.ndarray, abstracts: list[str]) -> NewPapers:
    papers = corpus.papers.iloc[rows].reset_index(drop=True).copy()
    for tax in corpus.taxonomies.values():
        papers[tax.label_column] = ""  # new papers come without labels
    return NewPapers(papers, [abstracts[i] for i in rows], ["benchmark"])


def best_f1(report, truth_ids: set[str]) -> float:
    best = 0.0
    ids = report.papers["id"].tolist()
    for s in report.suggestions:
        members = {ids[i] for i in s.members}
        tp = len(members & truth_ids)
        best = max(best, 2 * tp / (len(members) + len(truth_ids)) if truth_ids else 0.0)
    return best


def leave_one_node_out(corpus: Corpus, texts: list[str], abstracts, background: float, seed: int) -> pd.DataFrame:
    from sklearn.metrics import roc_auc_score

    labels = list(corpus.labels(SURVEY))
    leaves = {n.id for n in corpus.taxonomy(SURVEY).leaves()}
    sizes = Counter(n for ls in labels for n in dict.fromkeys(ls))
    nodes = sorted(n for n, c in sizes.items() if c >= MIN_NODE and n in leaves)
    rng = np.random.default_rng(seed)
    rows = []
    for node in nodes:
        inside = np.array([node in ls for ls in labels])
        others = np.flatnonzero(~inside)
        sample = np.sort(rng.choice(others, size=int(round(background * len(others))), replace=False))
        new = np.concatenate([np.flatnonzero(inside), sample])
        keep = np.setdiff1d(np.arange(len(corpus)), new)
        report = compute_whats_new(subset(corpus, keep, [node]), batch(corpus, new, texts), abstracts)
        ids = corpus.papers["id"].to_numpy()
        # exact duplicates (a version left in the corpus) drop out of the batch
        node_ids = set(ids[inside]) & set(report.papers["id"])
        truth = report.papers["id"].isin(node_ids).to_numpy()
        auc = roc_auc_score(truth, report.papers["novelty"]) if 0 < truth.sum() < len(truth) else float("nan")
        flagged = report.papers["novel"].to_numpy()
        rows.append(dict(node=node, papers=int(truth.sum()), background=int((~truth).sum()), seed=seed,
                         auc=round(float(auc), 3), flagged_node=round(float(flagged[truth].mean()), 3),
                         flagged_background=round(float(flagged[~truth].mean()), 3),
                         suggestions=len(report.suggestions), best_f1=round(best_f1(report, node_ids), 3),
                         names="; ".join(s.name for s in report.suggestions[:3])))
    return pd.DataFrame(rows)


def null_batches(corpus: Corpus, texts: list[str], abstracts, size: int, seeds: int) -> pd.DataFrame:
    rows = []
    for seed in range(seeds):
        rng = np.random.default_rng(100 + seed)
        new = np.sort(rng.choice(len(corpus), size=size, replace=False))
        keep = np.setdiff1d(np.arange(len(corpus)), new)
        report = compute_whats_new(subset(corpus, keep), batch(corpus, new, texts), abstracts)
        rows.append(dict(seed=seed, papers=len(report.papers), flagged=round(float(report.papers["novel"].mean()), 3),
                         suggestions=len(report.suggestions)))
    return pd.DataFrame(rows)


def time_split(corpus: Corpus, texts: list[str], abstracts, last_year: int = 2022) -> tuple[pd.DataFrame, pd.DataFrame]:
    years = corpus.papers["year"]
    new = np.flatnonzero((years > last_year).fillna(False).to_numpy())
    keep = np.setdiff1d(np.arange(len(corpus)), new)
    old = subset(corpus, keep)
    report = compute_whats_new(old, batch(corpus, new, texts), abstracts)
    truth_rows = corpus.papers.iloc[new].set_index("id")
    accuracy, grown = [], []
    for name, tax in corpus.taxonomies.items():
        for level, level_name in enumerate(tax.levels):
            cand = report.placements[(report.placements.taxonomy == name) & (report.placements.level == level_name)]
            known = {tax.at_level(n, level) for ls in old.labels(name) for n in ls}
            hits1 = hits3 = total = reachable = 0
            for pid, group in cand.groupby("id", sort=True):
                true = {tax.at_level(n, level) for n in truth_rows.loc[pid, tax.label_column].split(";") if n}
                if not true:
                    continue
                total += 1
                reachable += bool(true & known)
                ranked = group.sort_values("rank")["node"].tolist()
                hits1 += ranked[0] in true
                hits3 += bool(set(ranked[:3]) & true)
            accuracy.append(dict(taxonomy=name, level=level_name, papers=total, top1=round(hits1 / total, 3),
                                 top3=round(hits3 / total, 3), node_known_before=round(reachable / total, 3)))
        leaf = tax.levels[-1]
        best = report.placements[(report.placements.taxonomy == name) & (report.placements.level == leaf)
                                 & (report.placements["rank"] == 1)]
        predicted = best["node"].value_counts()
        true_counts = Counter(n for ls in truth_rows[tax.label_column] for n in dict.fromkeys(ls.split(";")) if n)
        for node, count in true_counts.most_common(5):
            grown.append(dict(taxonomy=name, node=node, true_new=count, predicted_new=int(predicted.get(node, 0)),
                              corpus_before=sum(node in ls for ls in old.labels(name))))
    return pd.DataFrame(accuracy), pd.DataFrame(grown)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--background", type=float, nargs="+", default=[0.1, 0.25])
    args = parser.parse_args()
    corpus = load_corpus()
    results: dict = {"targets": {"mean_f1": 0.5, "mean_auc": 0.75}, "conditions": {}}
    conditions = [("titles only", None)] + ([("title + dev abstract", ABSTRACTS)] if ABSTRACTS.exists() else [])
    for condition, abstracts in conditions:
        start = time.perf_counter()
        texts = paper_texts(corpus.papers, abstracts, store_rows(corpus)).abstracts
        out: dict = {}
        for background in args.background:
            frame = pd.concat([leave_one_node_out(corpus, texts, abstracts, background, s) for s in range(args.seeds)])
            per_node = frame.groupby("node", sort=True).agg(
                papers=("papers", "first"), auc=("auc", "mean"), flagged_node=("flagged_node", "mean"),
                flagged_background=("flagged_background", "mean"), suggestions=("suggestions", "mean"),
                best_f1=("best_f1", "mean"), names=("names", "first")).round(3).reset_index()
            mean_f1, mean_auc = float(per_node["best_f1"].mean()), float(per_node["auc"].mean())
            print(f"\n[{condition}] leave one node out, background {background:.0%} of the other papers, "
                  f"{args.seeds} seeds (mean per node):")
            print(per_node.to_string(index=False, max_colwidth=60))
            print(f"mean best-match F1 {mean_f1:.3f} (target 0.5: {'met' if mean_f1 >= 0.5 else 'NOT met'}); "
                  f"mean AUC {mean_auc:.3f} (target 0.75: {'met' if mean_auc >= 0.75 else 'NOT met'})")
            out[f"leave_one_node_out_background_{background}"] = dict(
                per_node=per_node.to_dict("records"), mean_f1=round(mean_f1, 3), mean_auc=round(mean_auc, 3))
        null = null_batches(corpus, texts, abstracts, size=40, seeds=5)
        print(f"\n[{condition}] null batches (40 random corpus papers; nothing is new):")
        print(null.to_string(index=False))
        accuracy, grown = time_split(corpus, texts, abstracts)
        print(f"\n[{condition}] time split: corpus up to 2022 as the survey, later papers as new")
        print(accuracy.to_string(index=False))
        print(grown.to_string(index=False))
        out.update(null_batches=null.to_dict("records"), time_split_accuracy=accuracy.to_dict("records"),
                   time_split_growth=grown.to_dict("records"), seconds=round(time.perf_counter() - start, 1))
        results["conditions"][condition] = out
    path = save("update", results)
    print(f"\nsaved {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
