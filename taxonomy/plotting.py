"""Pictures of a Dendrogram. Imports matplotlib only when drawing (Agg backend, no display needed)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the drawing process gets a light copy of the result and never imports the pipeline
    from taxonomy.dendrogram import Dendrogram


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "mimtax"  # stable SVG ids between runs
    plt.rcParams["svg.fonttype"] = "none"  # text stays text: smaller, faster, searchable
    return plt


def warm_up() -> None:
    """Load matplotlib and its fonts ahead of time (the painter process does this while the tree is built)."""
    plt = _pyplot()
    fig = plt.figure(figsize=(2, 1))
    fig.text(0.1, 0.5, "warm-up Agg 0123", fontsize=6.5)
    fig.canvas.draw()
    plt.close(fig)
    _leaf_font()


@functools.lru_cache(maxsize=1)
def _leaf_font():
    from matplotlib import font_manager
    from PIL import ImageFont

    return ImageFont.truetype(font_manager.findfont(font_manager.FontProperties()), LEAF_PT * DPI / 72)


def _top_level(result: Dendrogram) -> list[str]:
    if result.taxonomy is None:
        return [""] * result.n
    column = result.taxonomy.replace("-", "_")
    return [str(v).split(";")[0].split("/")[0] if v else "" for v in result.papers[column]]


PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
           "#bcbd22", "#393b79", "#637939", "#843c39", "#7b4173", "#3182bd", "#e6550d"]
UNLABELLED = "#999999"
DPI = 90
LEAF_PT = 6.5


@dataclass
class Layout:
    """What a dendrogram picture shows, in data coordinates (x = merge height, y = 10 per leaf)."""

    n: int
    top: float
    segments: list[list[tuple[float, float]]]
    leaves: list[tuple[float, str, str]]  # (y, name, colour) in drawing order
    branches: list[tuple[float, float, str]]  # (x, y, "term, term") for the highest merges
    legend: list[tuple[str, str]]  # (colour, name)
    legend_title: str
    title: str
    fig_h: float


def dendrogram_layout(result: Dendrogram, branch_labels: int = 14) -> Layout:
    """The geometry and labels shared by the PNG (matplotlib) and the SVG (written directly)."""
    from scipy.cluster import hierarchy

    n = result.n
    info = hierarchy.dendrogram(result.linkage, orientation="left", no_plot=True)
    segments = [list(zip(xs, ys)) for ys, xs in zip(info["icoord"], info["dcoord"])]
    tops = _top_level(result)
    groups = sorted({t for t in tops if t})
    colour = {g: PALETTE[i % len(PALETTE)] for i, g in enumerate(groups)}
    leaves = [(5.0 + 10 * pos, result.leaf_names[leaf], colour.get(tops[leaf], UNLABELLED))
              for pos, leaf in enumerate(info["leaves"])]
    # each merge's position by its node id (a merge sits midway between its two children, as scipy draws it):
    # looking nodes up by merge height put names on the wrong branch wherever two merges tie
    centre = {leaf: 5.0 + 10 * pos for pos, leaf in enumerate(info["leaves"])}
    for row, (a, b) in enumerate(result.linkage[:, :2].astype(int)):
        centre[n + row] = (centre[a] + centre[b]) / 2
    branches = []
    for row in sorted(range(len(result.linkage)), key=lambda r: (-result.linkage[r, 2], -r))[:branch_labels]:
        terms = result.node_terms.get(n + row, [])
        if terms:
            branches.append((float(result.linkage[row, 2]), centre[n + row], ", ".join(terms[:2])))
    legend = [(colour[g], result.node_names.get(g, g)) for g in groups]
    legend.append((UNLABELLED, "no label in this taxonomy" if result.taxonomy else "no taxonomy"))
    return Layout(n, float(result.linkage[:, 2].max()) if len(result.linkage) else 1.0, segments, leaves, branches,
                  legend, f"leaf colour: {result.taxonomy} top level",
                  f"MIM papers: {n} papers, {result.config['embedding']} / {result.config['linkage']}",
                  max(6.0, 0.125 * n + 1.5))


def plot_dendrogram(result: Dendrogram, png: str | Path | None = None, svg: str | Path | None = None,
                    branch_labels: int = 14):
    """Leaves readable at ~400 papers (one line each), coloured by the taxonomy's top level; the top
    branches carry their key terms. Returns the figure.

    Drawn as one LineCollection plus one text per leaf (no tick machinery), which keeps a 400-leaf picture
    fast enough to regenerate on every run."""
    from matplotlib.collections import LineCollection

    plt = _pyplot()
    lay = dendrogram_layout(result, branch_labels)
    fig, ax = plt.subplots(figsize=(13, lay.fig_h), dpi=DPI)
    stamp_leaves = png is not None and svg is None  # PNG only: leaf names stamped with Pillow (10x faster)
    ax.add_collection(LineCollection(lay.segments, colors="#555555", linewidths=0.8))
    ax.set_xlim(lay.top * 1.02, 0)  # root on the left, leaves on the right
    ax.set_ylim(0, 10 * lay.n)
    ax.set_yticks([])
    to_axes_x = ax.get_yaxis_transform()  # x in axes fraction, y in data
    for y, name, colour in [] if stamp_leaves else lay.leaves:
        ax.text(1.005, y, name, transform=to_axes_x, fontsize=LEAF_PT, va="center", ha="left", color=colour)
    for x, y, terms in lay.branches:
        ax.annotate(terms, (x, y), fontsize=7, xytext=(3, 2), textcoords="offset points", color="#1f3b73",
                    bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.8))
    handles = [plt.Line2D([], [], color=c, marker="s", linestyle="", label=name) for c, name in lay.legend]
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=3, fontsize=7,
              title=lay.legend_title, title_fontsize=7, frameon=False)
    ax.set_xlabel("merge height")
    fig.suptitle(lay.title, x=0.03, ha="left", y=1 - 0.1 / lay.fig_h, fontsize=11)
    fig.subplots_adjust(left=0.03, right=0.78, top=1 - 1.3 / lay.fig_h, bottom=0.5 / lay.fig_h)
    if stamp_leaves:
        _save_with_leaves(fig, ax, lay, png)
    for path in (png, svg):
        if path and not (stamp_leaves and path == png):
            fig.savefig(path, dpi=DPI, metadata={"Date": None} if str(path).endswith(".svg") else
                        {"Software": None})
    plt.close(fig)
    return fig


def _save_with_leaves(fig, ax, lay: Layout, png: str | Path) -> None:
    """Render the figure, then write the leaf names onto the pixels with Pillow at the positions matplotlib
    would use (left-aligned just right of the axes, vertically centred on the leaf). Four hundred matplotlib
    text artists cost about 0.7 s; Pillow stamps them in a few milliseconds."""
    from PIL import Image, ImageDraw

    fig.canvas.draw()
    image = Image.fromarray(np.asarray(fig.canvas.buffer_rgba())).convert("RGB")
    font = _leaf_font()
    draw = ImageDraw.Draw(image)
    height = image.height
    bbox = ax.get_window_extent()
    x = bbox.x1 + 0.005 * bbox.width
    for y, name, colour in lay.leaves:
        _, y_px = ax.transData.transform((0.0, y))
        draw.text((x, height - y_px), name, fill=colour, font=font, anchor="lm")
    image.save(png, format="PNG", compress_level=3)  # zlib level 3: a tenth of the encoding time, +15% size


def dendrogram_svg(result: Dendrogram, branch_labels: int = 14) -> str:
    """The same picture as `plot_dendrogram`, written as SVG text directly (no matplotlib: milliseconds,
    selectable text, byte-identical between runs)."""
    from xml.sax.saxutils import escape

    lay = dendrogram_layout(result, branch_labels)
    dpi = DPI
    width, height = 13 * dpi, lay.fig_h * dpi
    left, right = 0.03 * width, 0.78 * width
    top_px, bottom_px = 1.3 * dpi, height - 0.5 * dpi
    xmax = lay.top * 1.02

    def px_x(x: float) -> float:  # merge height -> pixels (root on the left)
        return left + (1 - x / xmax) * (right - left)

    def px_y(y: float) -> float:  # leaf coordinate (10 per leaf, upwards) -> pixels (downwards)
        return bottom_px - y / (10 * lay.n) * (bottom_px - top_px)

    def text(x: float, y: float, body: str, size: float, colour: str, extra: str = "") -> str:
        return (f'<text x="{x:.2f}" y="{y:.2f}" font-size="{size * dpi / 72:.2f}" fill="{colour}"{extra}>'
                f"{escape(body)}</text>")

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
           f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="DejaVu Sans, Arial, sans-serif">',
           '<rect width="100%" height="100%" fill="white"/>',
           text(left, 0.1 * dpi + 11 * dpi / 72, lay.title, 11, "black"),
           text(left, 0.62 * dpi, lay.legend_title, 7, "black")]
    for i, (colour, name) in enumerate(lay.legend):
        x, y = left + (i % 3) * 0.3 * width, 0.62 * dpi + 12 + (i // 3) * 11
        out.append(f'<rect x="{x:.2f}" y="{y - 7:.2f}" width="7" height="7" fill="{colour}"/>')
        out.append(text(x + 10, y, name, 7, "black"))
    path = " ".join("M" + " L".join(f"{px_x(x):.2f},{px_y(y):.2f}" for x, y in seg) for seg in lay.segments)
    out.append(f'<path d="{path}" fill="none" stroke="#555555" stroke-width="0.8"/>')
    for y, name, colour in lay.leaves:
        out.append(text(right + 0.005 * (right - left), px_y(y) + 3, name, LEAF_PT, colour))
    for x, y, terms in lay.branches:
        out.append(text(px_x(x) + 3, px_y(y) - 2, terms, 7, "#1f3b73",
                        ' stroke="white" stroke-width="3" paint-order="stroke"'))
    axis_y = bottom_px
    out.append(f'<path d="M{left:.2f},{axis_y:.2f} L{right:.2f},{axis_y:.2f}" stroke="black" stroke-width="0.8"/>')
    for tick in np.linspace(0, lay.top, 5):
        x0 = px_x(tick)
        out.append(f'<path d="M{x0:.2f},{axis_y:.2f} L{x0:.2f},{axis_y + 4:.2f}" stroke="black" stroke-width="0.8"/>')
        out.append(text(x0 - 8, axis_y + 14, f"{tick:.2f}", 7, "black"))
    out.append(text((left + right) / 2 - 30, axis_y + 30, "merge height", 8, "black"))
    out.append("</svg>")
    return "\n".join(out) + "\n"


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
    if taxa:  # what B_k means, on the figure itself
        fig.text(0.01, 0.01, "B_k: the tree cut into k clusters against each paper's own node in the taxonomy, by the "
                 "Fowlkes-Mallows index (the geometric mean of the shares of paper pairs grouped together by one "
                 "that the other also groups; 1 = the same partition). Dashed: its expected value under random "
                 "relabelling. Papers without a label are left out.", fontsize=7, color="#333333", wrap=True)
    fig.tight_layout(rect=(0, 0.06 if taxa else 0, 1, 1))
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
