"""Counts over a corpus, as DataFrames (litstudy style: compute here, draw or print elsewhere)."""

from __future__ import annotations

import pandas as pd

from taxonomy.corpus.folder import Corpus


def compute_node_counts(corpus: Corpus, taxonomy: str) -> pd.DataFrame:
    """Papers per node in tree order; a node counts its own papers and those of its descendants.

    A paper with several labels under one node is counted once for that node.
    """
    tax = corpus.taxonomy(taxonomy)
    labels = corpus.labels(taxonomy)
    rows = []

    def walk(parent: str | None) -> None:
        for node in tax.children(parent):
            under = set(tax.descendants(node.id))
            count = int(labels.map(lambda ls: bool(under.intersection(ls))).sum())
            rows.append(dict(node=node.id, name=node.name, depth=node.depth, papers=count))
            walk(node.id)

    walk(None)
    return pd.DataFrame(rows, columns=["node", "name", "depth", "papers"])


def compute_counts(corpus: Corpus, column: str) -> pd.DataFrame:
    """Papers per value of one column (empty values shown as 'unknown'), largest first, ties by value."""
    values = corpus.papers[column].astype("string").fillna("").replace("", "unknown")
    counts = values.value_counts().rename_axis(column).reset_index(name="papers")
    return counts.sort_values(["papers", column], ascending=[False, True], kind="stable").reset_index(drop=True)


def compute_summary(corpus: Corpus) -> dict[str, int]:
    """Headline counts used by `mimtax corpus info` and the validate summary line."""
    papers = corpus.papers
    out = {"papers": len(papers), "arxiv_ids": int((papers["arxiv_id"] != "").sum())}
    for tax in corpus.taxonomies.values():
        out[f"labelled_{tax.label_column}"] = int((papers[tax.label_column] != "").sum())
    out["results"] = len(corpus.results)
    for facet in ("target", "masking", "backbone"):
        if facet in papers.columns:
            out[f"facet_{facet}"] = int((papers[facet] != "").sum())
    return out


def compute_reported_results(corpus: Corpus, metric: str = "finetune_top1") -> pd.DataFrame:
    """Reported ImageNet-1K results joined with each paper's year and recovery-target facet."""
    res = corpus.results
    res = res[(res["metric"] == metric) & (res["dataset"] == "ImageNet-1K")]
    papers = corpus.papers[["id", "year", "target", "short_name"]].rename(columns={"id": "paper_id"})
    out = res.merge(papers, on="paper_id", how="left")
    out["target"] = out["target"].replace("", "unknown")
    return out[["paper_id", "method", "year", "target", "backbone", "pretrain_epochs", "value", "source_url"]]
