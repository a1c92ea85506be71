"""Reported results ranked within each taxonomy node, compared only where the comparison means something: the
same benchmark, backbone (with its patch size), input resolution, evaluation protocol and extra-data class
(`taxonomy.corpus.results.comparability_key`); `mixed=True` ranks a backbone's figures together whatever their
resolution, protocol and data. `compute_leaderboard` returns a DataFrame; `plot_leaderboard` draws it
(matplotlib is imported only there)."""

from __future__ import annotations

import re

import pandas as pd

from taxonomy.corpus.folder import LOWER_IS_BETTER, Corpus, split_labels
from taxonomy.corpus.reported import BENCHMARKS, page_results  # noqa: F401 - re-exported
from taxonomy.corpus.results import comparability_key, extra_data_column
from taxonomy.errors import UserError

COLUMNS = ["node", "node_name", "group", "backbone", "resolution", "rank", "method", "paper_id", "year",
           "pretrain_epochs", "pretrain_data", "extra_data", "extra", "eval_protocol", "value", "benchmark", "source",
           "source_url", "other_sources"]
# what a mixed board ranks together that a like-for-like one keeps apart
MIXED = "input resolutions, evaluation protocols, and figures with and without extra data"


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


def _cell(row, column: str) -> str:
    value = getattr(row, column, "")
    return "" if pd.isna(value) else str(value)


def compute_leaderboard(corpus: Corpus, taxonomy: str | None = None, category: str | None = None,
                        benchmark: str = "in1k-ft", backbone: str | None = None,
                        level: int | None = None, mixed: bool = False) -> pd.DataFrame:
    """One row per (node, result): ranked by value within (node, group), where `group` is the like-for-like key
    (backbone, resolution, protocol, extra data), or the backbone alone when `mixed`. A paper under several
    nodes appears under each; a result listed twice (same model, recipe and value) appears once. `extra_data` is
    True where the figure used data beyond the benchmark's usual set, `extra` says which. `level` is the
    taxonomy depth (default: its finest)."""
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
    rows["extra_data"] = extra_data_column(rows) if len(rows) else pd.Series(dtype=str)
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
        resolution, protocol, extra = _cell(row, "resolution"), _cell(row, "eval_protocol"), _cell(row, "extra_data")
        group = row.backbone if mixed else comparability_key(row.backbone, resolution, extra, protocol)
        for node in nodes:
            if wanted is not None and not (set(tax.ancestors(node)) | set(tax.descendants(node))) & wanted:
                continue
            year = papers.at[row.paper_id, "year"]
            out.append(dict(node=node, node_name=tax.nodes[node].name, group=group, backbone=row.backbone,
                            resolution=resolution, method=row.method, paper_id=row.paper_id,
                            year=None if pd.isna(year) else int(year), pretrain_epochs=_epochs(row.pretrain_epochs),
                            pretrain_data=_cell(row, "pretrain_data"), extra_data=bool(extra), extra=extra or "no",
                            eval_protocol=protocol, value=float(row.value), benchmark=benchmark, source=row.source,
                            source_url=row.source_url, other_sources=_cell(row, "other_sources")))
    frame = pd.DataFrame(out, columns=[c for c in COLUMNS if c != "rank"])
    if frame.empty:
        return pd.DataFrame(columns=COLUMNS)
    # the same result twice (two sources the data did not merge): shown once
    frame = frame.drop_duplicates(["node", "group", "paper_id", "pretrain_epochs", "pretrain_data", "value"])
    lower_first = metric in LOWER_IS_BETTER  # FID: the smallest distance ranks first
    frame = frame.sort_values(["node", "group", "value", "method"], ascending=[True, True, lower_first, True],
                              kind="stable")
    frame["rank"] = frame.groupby(["node", "group"]).cumcount() + 1
    frame = frame.astype({"year": "Int64", "pretrain_epochs": "Int64"})
    return frame[COLUMNS].reset_index(drop=True)


def benchmark_metric(frame: pd.DataFrame) -> str:
    """The metric behind a leaderboard frame's benchmark column ('in1k-ft' or 'dataset:metric')."""
    name = str(frame["benchmark"].iloc[0]) if len(frame) else ""
    return BENCHMARKS[name][1] if name in BENCHMARKS else name.rsplit(":", 1)[-1]


def _epochs(value) -> int | None:
    text = str(value).strip()
    return int(float(text)) if re.fullmatch(r"\d+(\.0+)?", text) else None


def like_for_like(frame: pd.DataFrame) -> tuple[pd.DataFrame, str, int]:
    """The rows at the most common (resolution, protocol) pair, what that pair is, and how many rows were left
    out: a plot puts every point on one axis, so unlike figures (512 px beside 224 px, linear beside fine-tune)
    are never drawn together. Extra data stays (drawn hollow)."""
    res, protocol = frame["resolution"].astype(str).str.strip(), frame["eval_protocol"].astype(str).str.strip()
    counts = pd.DataFrame({"res": res, "protocol": protocol}).value_counts()
    keep = sorted(counts.index, key=lambda k: (-counts[k], k))[0]
    label = (f"{keep[0]} px" if keep[0] else "resolution not stated") + (f", {keep[1]}" if keep[1] else "")
    return frame[(res == keep[0]) & (protocol == keep[1])], label, int(len(frame) - counts[keep])

def plot_leaderboard(frame: pd.DataFrame, x: str = "year", png=None, ax=None):
    """Score against year (each paper's best) or pre-training epochs (every row), one colour per node; one
    backbone and benchmark only, at one resolution and protocol (`like_for_like`, named in the title)."""
    from taxonomy.render.plotting import PALETTE, _pyplot

    if frame["backbone"].nunique() > 1 or frame["benchmark"].nunique() > 1:
        raise UserError("a plot compares one backbone on one benchmark: give --backbone (backbones here: "
                        + ", ".join(sorted(frame["backbone"].unique())) + ")")
    frame, setting, left_out = like_for_like(frame)
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
    ax.set_title(f"{setting}" + (f"; {left_out} results at other resolutions or protocols not drawn" if left_out
                                 else ""), fontsize=9, loc="left")
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if own:
        fig.tight_layout()
        if png is not None:
            fig.savefig(png, metadata={"Software": None})
        plt.close(fig)
    return ax
