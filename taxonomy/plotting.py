"""Pictures of a Dendrogram. Imports matplotlib only when drawing (Agg backend, no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from taxonomy.dendrogram import Dendrogram


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "mimtax"  # stable SVG ids between runs
    plt.rcParams["svg.fonttype"] = "none"  # text stays text: smaller, faster, searchable
    return plt


def _top_level(result: Dendrogram) -> list[str]:
    if result.taxonomy is None:
        return [""] * result.n
    column = result.taxonomy.replace("-", "_")
    return [str(v).split(";")[0].split("/")[0] if v else "" for v in result.papers[column]]


def plot_dendrogram(result: Dendrogram, png: str | Path | None = None, svg: str | Path | None = None,
                    branch_labels: int = 14):
    """Leaves readable at ~400 papers (one line each), coloured by the taxonomy's top level; the top
    branches carry their key terms. Returns the figure.

    Drawn as one LineCollection plus one text per leaf (no tick machinery), which keeps a 400-leaf picture
    fast enough to regenerate on every run."""
    from matplotlib.collections import LineCollection
    from scipy.cluster import hierarchy

    plt = _pyplot()
    n = result.n
    fig_h = max(6.0, 0.125 * n + 1.5)
    fig, ax = plt.subplots(figsize=(13, fig_h))
    info = hierarchy.dendrogram(result.linkage, orientation="left", no_plot=True)
    segments = [list(zip(xs, ys)) for ys, xs in zip(info["icoord"], info["dcoord"])]
    ax.add_collection(LineCollection(segments, colors="#555555", linewidths=0.8))
    top = float(result.linkage[:, 2].max()) if len(result.linkage) else 1.0
    ax.set_xlim(top * 1.02, 0)  # root on the left, leaves on the right
    ax.set_ylim(0, 10 * n)
    ax.set_yticks([])
    tops = _top_level(result)
    groups = sorted({t for t in tops if t})
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
               "#bcbd22", "#393b79", "#637939", "#843c39", "#7b4173", "#3182bd", "#e6550d"]
    colour = {g: palette[i % len(palette)] for i, g in enumerate(groups)}
    to_axes_x = ax.get_yaxis_transform()  # x in axes fraction, y in data
    for position, leaf in enumerate(info["leaves"]):
        ax.text(1.005, 5 + 10 * position, result.leaf_names[leaf], transform=to_axes_x, fontsize=6.5,
                va="center", ha="left", color=colour.get(tops[leaf], "#999999"))
    heights = {round(float(h), 9): n + r for r, h in enumerate(result.linkage[:, 2])}
    links = sorted(zip(info["icoord"], info["dcoord"]), key=lambda l: -max(l[1]))[:branch_labels]
    for ys, xs in links:
        node = heights.get(round(float(max(xs)), 9))
        terms = result.node_terms.get(node, []) if node is not None else []
        if terms:
            ax.annotate(", ".join(terms[:2]), (max(xs), float(np.mean(ys[1:3]))), fontsize=7,
                        xytext=(3, 2), textcoords="offset points", color="#1f3b73",
                        bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.8))
    tax_names = result.node_names
    handles = [plt.Line2D([], [], color=colour[g], marker="s", linestyle="", label=tax_names.get(g, g))
               for g in groups]
    handles.append(plt.Line2D([], [], color="#999999", marker="s", linestyle="",
                              label="no label in this taxonomy" if result.taxonomy else "no taxonomy"))
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=3, fontsize=7,
              title=f"leaf colour: {result.taxonomy} top level", title_fontsize=7, frameon=False)
    ax.set_xlabel("merge height")
    fig.suptitle(f"MIM papers: {n} papers, {result.config['embedding']} / {result.config['linkage']}", x=0.03,
                 ha="left", y=1 - 0.1 / fig_h, fontsize=11)
    fig.subplots_adjust(left=0.03, right=0.78, top=1 - 1.3 / fig_h, bottom=0.5 / fig_h)
    for path in (png, svg):
        if path:
            fig.savefig(path, dpi=90, metadata={"Date": None} if str(path).endswith(".svg") else
                        {"Software": None})
    plt.close(fig)
    return fig


def plot_bk_curve(result: Dendrogram, png: str | Path | None = None):
    """Fowlkes-Mallows B_k against each taxonomy, beside survey B's recipe and chance."""
    plt = _pyplot()
    taxa = list(result.agreement["bk"])
    fig, axes = plt.subplots(1, max(len(taxa), 1), figsize=(5.5 * max(len(taxa), 1), 4), squeeze=False)
    if not taxa:
        axes[0][0].text(0.5, 0.5, "this corpus has no taxonomy to compare the tree with", ha="center")
        axes[0][0].set_axis_off()
    for ax, tax in zip(axes[0], taxa):
        ours, base = result.agreement["bk"][tax], result.baseline_agreement["bk"][tax]
        ax.plot(ours["k"], ours["bk"], label="dendrogram")
        ax.plot(base["k"], base["bk"], label="survey B recipe (TF-IDF + Ward)")
        ax.plot(ours["k"], ours["permutation_mean"], linestyle="--", color="grey", label="chance")
        ax.set_title(tax)
        ax.set_xlabel("k (clusters)")
        ax.set_ylabel("B_k (Fowlkes-Mallows)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    if png:
        fig.savefig(png, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return fig


def plot_reported_results(results, ax=None):
    """Reported ImageNet-1K fine-tune top-1 by year, coloured by recovery target (from compute_reported_results)."""
    plt = _pyplot()
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4.5))
    else:
        fig = ax.figure
    targets = sorted(results["target"].unique())
    cmap = plt.get_cmap("tab10")
    for i, target in enumerate(targets):
        part = results[results["target"] == target]
        jitter = (np.arange(len(part)) % 3 - 1) * 0.08
        ax.scatter(part["year"].astype(float) + jitter, part["value"], label=target, color=cmap(i % 10), s=40)
        for x, y, name in zip(part["year"].astype(float) + jitter, part["value"], part["method"]):
            ax.annotate(name, (x, y), fontsize=7, xytext=(3, 2), textcoords="offset points")
    ax.set_xlabel("year")
    ax.set_ylabel("ImageNet-1K fine-tune top-1 (%), ViT-B")
    ax.set_title("Reported results (recipes and epochs differ)", loc="left", fontsize=10)
    ax.legend(fontsize=7, title="recovery target", title_fontsize=7)
    return fig
