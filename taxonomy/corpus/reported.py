"""Reported results as plain data for what draws the tree: each paper's best ImageNet-1K figure (the `top1`
column and the interactive page) and every result for the page's branch panel. Corpus-stage data, so the
clustering stage can attach it to a tree without importing the explore stage (imports flow corpus -> clustering
-> render / explore); `taxonomy.explore.query` and `taxonomy.explore.leaderboard` use the same functions."""

from __future__ import annotations

import re

import pandas as pd

from taxonomy.corpus.folder import LOWER_IS_BETTER, Corpus, uses_extra_data
from taxonomy.corpus.results import comparability_key, extra_data_column

BENCHMARKS = {  # short name -> (dataset, metric) as results.csv spells them
    "in1k-ft": ("ImageNet-1K", "finetune_top1"),
    "in1k-linear": ("ImageNet-1K", "linear_top1"),
    "in1k-knn": ("ImageNet-1K", "knn_top1"),
    "ade20k": ("ADE20K", "miou"),
    "coco-box": ("COCO", "ap_box"),
    "coco-mask": ("COCO", "ap_mask"),
    "k400": ("Kinetics-400", "top1"),
    "ssv2": ("SSv2", "top1"),
    "scanobjectnn": ("ScanObjectNN (PB_T50_RS)", "top1"),  # the hardest split, the one papers lead with
    "in256-fid": ("ImageNet-256 (class-conditional generation)", "fid"),
    "in256-uncond-fid": ("ImageNet-256 (unconditional generation)", "fid"),
}

REFERENCE_BACKBONE = "ViT-B/16"  # the backbone most MIM papers report, so the figures compare


def best_results(corpus: Corpus) -> tuple[pd.Series, pd.Series]:
    """Best reported ImageNet-1K fine-tune top-1 per paper, on ViT-B/16 where the paper has such a figure (so the
    column compares like with like), pre-trained on ImageNet-1K alone where it has such a figure (extra data such
    as an ImageNet-21K stage is not like for like), else on its other backbone, named: as text '83.6 (1600 ep)'
    or '89.6 (ViT-g/14)', and as a number."""
    res = corpus.results
    if res.empty:
        return pd.Series(dtype=object), pd.Series(dtype=float)
    ft = res[(res["metric"] == "finetune_top1") & (res["dataset"] == "ImageNet-1K")].copy()
    ft["_other"] = ft["backbone"] != REFERENCE_BACKBONE
    if "extra_data" in ft:  # the loaded corpus's derived flag (teachers and intermediate fine-tuning count too):
        # the figure with the fewest kinds of extra data first
        ft["_extra"] = ft["extra_data"].map(lambda text: len([p for p in str(text).split("; ") if p.strip()]))
    else:
        ft["_extra"] = ft["pretrain_data"].map(uses_extra_data) if "pretrain_data" in ft else False
    ft = ft.sort_values(["paper_id", "_other", "_extra", "value"], ascending=[True, True, True, False], kind="stable")
    ft = ft.drop_duplicates("paper_id")
    text = [f"{v:.1f}" + (f" ({b})" if other else (f" ({e} ep)" if str(e) else ""))
            for v, e, b, other in zip(ft["value"], ft["pretrain_epochs"], ft["backbone"], ft["_other"])]
    index = ft["paper_id"].to_numpy()
    return pd.Series(text, index=index), pd.Series(ft["value"].to_numpy(), index=index)


def page_results(corpus: Corpus) -> list[dict]:
    """Every reported result as plain data for the interactive page, whose branch panel ranks them the way
    `compute_leaderboard` does: within one benchmark and like-for-like group `g` (computed here, so the page and
    the CLI cannot disagree), smallest first for a distance."""
    short = {pair: name for name, pair in BENCHMARKS.items()}
    results = corpus.results.copy()
    results["extra_data"] = extra_data_column(results) if len(results) else pd.Series(dtype=str)
    rows = []
    for r in results.itertuples(index=False):
        epochs = _epochs(r.pretrain_epochs)
        extra = _cell(r, "extra_data")
        rows.append({"id": str(r.paper_id), "b": short.get((r.dataset, r.metric), f"{r.dataset}: {r.metric}"),
                     "bb": str(r.backbone), "v": float(r.value), "e": epochs if epochs is not None else "",
                     "x": bool(extra), "xw": extra, "u": str(r.source_url), "low": r.metric in LOWER_IS_BETTER,
                     "g": comparability_key(r.backbone, _cell(r, "resolution"), extra, _cell(r, "eval_protocol"))})
    return rows


def _cell(row, column: str) -> str:
    value = getattr(row, column, "")
    return "" if pd.isna(value) else str(value)


def _epochs(value) -> int | None:
    text = str(value).strip()
    return int(float(text)) if re.fullmatch(r"\d+(\.0+)?", text) else None
