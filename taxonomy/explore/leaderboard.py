"""Reported results ranked within each taxonomy node, compared only where the comparison means something: the
same benchmark and the same backbone. `compute_leaderboard` returns a DataFrame; `plot_leaderboard` draws it
(matplotlib is imported only there)."""

from __future__ import annotations

import re

import pandas as pd

from taxonomy.corpus.folder import LOWER_IS_BETTER, Corpus, split_labels, uses_extra_data
from taxonomy.errors import UserError

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
COLUMNS = ["node", "node_name", "backbone", "rank", "method", "paper_id", "year", "pretrain_epochs", "pretrain_data",
           "extra_data", "value", "benchmark", "source", "source_url"]


def benchmarks(corpus: Corpus) -> dict[str, tuple[str, str]]:
    """The named benchmarks plus every (dataset, metric) pair the corpus's results hold, as 'dataset:metric'."""
    out = dict(BENCHMARKS)
    for dataset, metric in corpus.results[["dataset", "metric"]].drop_duplicates().itertuples(index=False):
        if (dataset, metric) not in out.values():
            out[f"{dataset}:{metric}".lower()] = (dataset, metric)
    return out


def _backbone_matches(wanted: str, value: str) -> bool:
    """'ViT-B' matches 'ViT-B/16'; 'vit-b/16' matches 'ViT-B/16'; 'ViT' does not match 'ViT-B/16' silently."""
    w, v = wanted.lower(), str(value).lower()
    return v == w or v.startswith(w + "/") or v.startswith(w + " ")


def compute_leaderboard(corpus: Corpus, taxonomy: str | None = None, category: str | None = None,
                        benchmark: str = "in1k-ft", backbone: str | None = None,
                        level: int | None = None) -> pd.DataFrame:
    """One row per (node, result): ranked by value within (node, backbone); a paper under several nodes appears
    under each. `level` is the taxonomy depth (default: its finest)."""
    known = benchmarks(corpus)
    if benchmark.lower() not in known:
        raise UserError(f"--benchmark '{benchmark}': unknown; the corpus's results hold: {', '.join(known)}")
    dataset, metric = known[benchmark.lower()]
    name = taxonomy or ("awesome-mim" if "awesome-mim" in corpus.taxonomies else next(iter(corpus.taxonomies), None))
    if name is None:
        raise UserError(f"{corpus.path}: this corpus has no taxonomy to group the leaderboard by")
    tax = corpus.taxonomy(name)
    depth = len(tax.levels) - 1 if level is None else level
    if not 0 <= depth < len(tax.levels):
        raise UserError(f"--level {level}: '{tax.id}' has levels 0..{len(tax.levels) - 1} ({', '.join(tax.levels)})")
    results = corpus.results
    rows = results[(results["dataset"] == dataset) & (results["metric"] == metric)].copy()
    if backbone:
        rows = rows[rows["backbone"].map(lambda v: _backbone_matches(backbone, v))]
        if rows.empty:
            have = sorted(set(results.loc[(results["dataset"] == dataset) & (results["metric"] == metric), "backbone"]))
            raise UserError(f"--backbone '{backbone}': no {benchmark} result for it; backbones: {', '.join(have)}")
    papers = corpus.papers.set_index("id")
    wanted = None
    if category:
        from taxonomy.explore.query import category_nodes

        wanted = set(category_nodes(corpus, category, tax.id).get(tax.id, []))
    out = []
    for row in rows.itertuples(index=False):
        labels = split_labels(papers.at[row.paper_id, tax.label_column]) if row.paper_id in papers.index else []
        nodes = dict.fromkeys(tax.at_level(label, depth) for label in labels)
        for node in nodes:
            if wanted is not None and not (set(tax.ancestors(node)) | set(tax.descendants(node))) & wanted:
                continue
            year = papers.at[row.paper_id, "year"]
            out.append(dict(node=node, node_name=tax.nodes[node].name, backbone=row.backbone, method=row.method,
                            paper_id=row.paper_id, year=None if pd.isna(year) else int(year),
                            pretrain_epochs=_epochs(row.pretrain_epochs),
                            pretrain_data="" if pd.isna(row.pretrain_data) else str(row.pretrain_data),
                            value=float(row.value), benchmark=benchmark, extra_data=uses_extra_data(row.pretrain_data, dataset),
                            source=row.source, source_url=row.source_url))
    frame = pd.DataFrame(out, columns=[c for c in COLUMNS if c != "rank"])
    if frame.empty:
        return pd.DataFrame(columns=COLUMNS)
    lower_first = metric in LOWER_IS_BETTER  # FID: the smallest distance ranks first
    frame = frame.sort_values(["node", "backbone", "value", "method"], ascending=[True, True, lower_first, True],
                              kind="stable")
    frame["rank"] = frame.groupby(["node", "backbone"]).cumcount() + 1
    frame = frame.astype({"year": "Int64", "pretrain_epochs": "Int64"})
    return frame[COLUMNS].reset_index(drop=True)


def benchmark_metric(frame: pd.DataFrame) -> str:
    """The metric behind a leaderboard frame's benchmark column ('in1k-ft' or 'dataset:metric')."""
    name = str(frame["benchmark"].iloc[0]) if len(frame) else ""
    return BENCHMARKS[name][1] if name in BENCHMARKS else name.rsplit(":", 1)[-1]


def page_results(corpus: Corpus) -> list[dict]:
    """Every reported result as plain data for the interactive page, whose branch panel ranks them the way
    `compute_leaderboard` does: within one benchmark and backbone, smallest first for a distance."""
    short = {pair: name for name, pair in BENCHMARKS.items()}
    rows = []
    for r in corpus.results.itertuples(index=False):
        epochs = _epochs(r.pretrain_epochs)
        rows.append({"id": str(r.paper_id), "b": short.get((r.dataset, r.metric), f"{r.dataset}: {r.metric}"),
                     "bb": str(r.backbone), "v": float(r.value), "e": epochs if epochs is not None else "",
                     "x": bool(uses_extra_data(r.pretrain_data, r.dataset)), "u": str(r.source_url),
                     "low": r.metric in LOWER_IS_BETTER})
    return rows


def _epochs(value) -> int | None:
    text = str(value).strip()
    return int(float(text)) if re.fullmatch(r"\d+(\.0+)?", text) else None


def plot_leaderboard(frame: pd.DataFrame, x: str = "year", png=None, ax=None):
    """Score against year (each paper's best) or pre-training epochs (every row), one colour per node; one
    backbone and benchmark only."""
    from taxonomy.render.plotting import PALETTE, _pyplot

    if frame["backbone"].nunique() > 1 or frame["benchmark"].nunique() > 1:
        raise UserError("a plot compares one backbone on one benchmark: give --backbone (backbones here: "
                        + ", ".join(sorted(frame["backbone"].unique())) + ")")
    column = {"year": "year", "epochs": "pretrain_epochs"}.get(x)
    if column is None:
        raise UserError(f"--x '{x}': choose year or epochs")
    lower_first = benchmark_metric(frame) in LOWER_IS_BETTER  # FID: the smallest is the best
    if x == "year":  # one point per paper and node: its best figure without extra pre-training data where it has
        # one (every recipe shows against epochs)
        frame = frame.sort_values(["extra_data", "value"], ascending=[True, lower_first], kind="stable")
        frame = frame.drop_duplicates(["node", "paper_id"])
    frame = frame.dropna(subset=[column]).copy()
    frame["plot_x"] = frame[column].astype(float)
    frame["plot_label"] = True
    frame["plot_dy"] = 2
    if x == "year":  # spread a year's papers side by side (ordered by score) and name only its best three
        for _, group in frame.groupby(column):
            order = group["value"].rank(method="first", ascending=lower_first)
            spread = 0.0 if len(group) == 1 else (order - 1) / (len(group) - 1) - 0.5
            frame.loc[group.index, "plot_x"] = group[column].astype(float) + 0.7 * spread
            frame.loc[group.index, "plot_label"] = order <= 3
            frame.loc[group.index, "plot_dy"] = [2 if k % 2 else -9 for k in order]  # alternate: close scores
    plt = _pyplot()
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(10, 5), dpi=110)
    sizes = frame["node_name"].value_counts()  # the largest nodes get the first (most distinct) colours
    for i, node in enumerate(sorted(sizes.index, key=lambda n: (-sizes[n], n))):
        group = frame[frame["node_name"] == node]
        colour = PALETTE[i % len(PALETTE)]
        extra = group["extra_data"].astype(bool)
        ax.scatter(group.loc[~extra, "plot_x"], group.loc[~extra, "value"], color=colour, label=node, s=30)
        if extra.any():  # hollow: pre-trained on more than ImageNet-1K (or the benchmark's own data)
            ax.scatter(group.loc[extra, "plot_x"], group.loc[extra, "value"], facecolors="none", edgecolors=colour,
                       s=30, label=f"{node} (extra data)")
        for row in group[group["plot_label"]].itertuples(index=False):
            ax.annotate(row.method, (row.plot_x, row.value), fontsize=7, xytext=(4, row.plot_dy),
                        textcoords="offset points")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("year (each year's papers side by side; the best three named)" if x == "year"
                  else "pre-training epochs")
    ax.set_ylabel(f"{frame['benchmark'].iloc[0]} ({frame['backbone'].iloc[0]})"
                  + (", lower is better" if lower_first else ""))
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if own:
        fig.tight_layout()
        if png is not None:
            fig.savefig(png, metadata={"Software": None})
        plt.close(fig)
    return ax
