"""Pictures of a Dendrogram. Imports matplotlib only when drawing (Agg backend, no display needed)."""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the drawing process gets a light copy of the result and never imports the pipeline
    from taxonomy.clustering.dendrogram import Dendrogram


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


def _font_file() -> str:
    """DejaVu Sans as matplotlib ships it: the font both pictures use, measured here without importing
    matplotlib (the SVG is written by the main process, which never loads it)."""
    import importlib.util
    import os

    return os.path.join(os.path.dirname(importlib.util.find_spec("matplotlib").origin),
                        "mpl-data", "fonts", "ttf", "DejaVuSans.ttf")


@functools.lru_cache(maxsize=4)
def _font(points: float):
    from PIL import ImageFont

    return ImageFont.truetype(_font_file(), points * DPI / 72)


def _leaf_font():
    return _font(LEAF_PT)


def text_width(text: str, points: float) -> float:
    """Width in pixels of `text` at `points` in the pictures' font and resolution."""
    return float(_font(points).getlength(text))


def _top_level(result: Dendrogram) -> list[str]:
    if result.taxonomy is None:
        return [""] * result.n
    column = result.taxonomy.replace("-", "_")
    return [str(v).split(";")[0].split("/")[0] if v else "" for v in result.papers[column]]


# Chosen by a farthest-point search over sRGB colours whose contrast on white is at least 4.5:1 (WCAG AA for
# small text), maximising the smallest CIELAB distance between any two of them (and the grey) with normal vision
# and simulated protanopia, deuteranopia and tritanopia (Machado et al. 2009); the first nine and the grey stay
# at least 15 apart in every one (tests/test_pictures.py). Neon colours were left out of the search.
PALETTE = ["#BB5511", "#447799", "#770088", "#113311", "#3300BB", "#996644", "#442244", "#664411", "#7733BB",
           "#883344", "#9955BB", "#554477"]
UNLABELLED = "#6E6E6E"
GUIDE_COLOUR = "#4D4D4D"
TREE_COLOUR = "#555555"
BRANCH_COLOUR = "#1F3B73"
DPI = 90
LEAF_PT = 6.5
BRANCH_PT = 7.0
FIG_W = 13.0  # inches
TOP_IN = 1.5  # inches above the plotting area: title, legend and the top axis's numbers
BRANCH_LABELS = 28  # names on the highest merges: they fill the left part, where a log-k axis gives few merges room
LEAF_MAX_PX = 300.0  # longer leaf names are shortened with an ellipsis so the tree keeps most of the width


def contrast_ratio(colour: str, background: str = "#FFFFFF") -> float:
    """WCAG 2 contrast ratio between two sRGB colours (1 to 21)."""
    def luminance(hex_colour: str) -> float:
        channels = [int(hex_colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    hi, lo = sorted((luminance(colour), luminance(background)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def axis_position(k, n: int):
    """Where a cut into k clusters sits on the picture's axis: 1 - log(k) / log(n) (root 1, leaves 0)."""
    return 1.0 - np.log(k) / np.log(max(n, 2))


def display_heights(Z: np.ndarray) -> np.ndarray:
    """Each merge's place on the picture's axis: `axis_position` of the number of clusters left once it is made.

    Merge heights crowd the few top merges, the structure a survey author wants, into a sliver by the root;
    on this axis a cut into k clusters is a vertical line at log k, so each level gets room in proportion to
    how many groups it separates."""
    n = len(Z) + 1
    return axis_position(n - 1 - np.arange(len(Z)), n)


def _shorten(name: str, points: float, limit: float) -> str:
    if text_width(name, points) <= limit:
        return name
    while name and text_width(name.rstrip() + "…", points) > limit:
        name = name[:-1]
    return name.rstrip() + "…"


@dataclass
class Layout:
    """What a dendrogram picture shows. Data coordinates: x = display height (root 1, leaves 0), y = 10 per leaf;
    `px_x`/`px_y` give the pixel position on the picture (origin top-left), the same for the PNG and the SVG."""

    n: int
    top: float
    segments: list[list[tuple[float, float]]]
    leaves: list[tuple[float, str, str]]  # (y, name, colour) in drawing order
    branches: list[tuple[float, float, str]]  # (x, y, "term, term"): merges that carry a name
    legend: list[tuple[str, str]]  # (colour, name)
    legend_title: str
    title: str
    fig_h: float
    right_frac: float = 0.78  # the plotting area's right edge as a share of the width; leaf names fit beyond it
    ticks: list[tuple[float, str]] = field(default_factory=list)  # (x, "k") along the cluster-count axis
    guides: list[tuple[float, str]] = field(default_factory=list)  # (x, text): where the taxonomy's levels cut
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)  # guide then branch names, px

    @property
    def width_px(self) -> float:
        return FIG_W * DPI

    @property
    def height_px(self) -> float:
        return self.fig_h * DPI

    @property
    def axes_px(self) -> tuple[float, float, float, float]:
        """(left, top, right, bottom) of the plotting area in pixels."""
        return 0.03 * self.width_px, TOP_IN * DPI, self.right_frac * self.width_px, self.height_px - 0.5 * DPI

    @property
    def guide_y(self) -> float:
        """Guide names sit just inside the top of the plotting area (their baseline 16 px below it)."""
        _, top, _, bottom = self.axes_px
        return 10 * self.n * (bottom - top - 18) / (bottom - top)

    def px_x(self, x: float) -> float:
        left, _, right, _ = self.axes_px
        return left + (1 - x / (self.top * 1.02)) * (right - left)

    def px_y(self, y: float) -> float:
        _, top, _, bottom = self.axes_px
        return bottom - y / (10 * self.n) * (bottom - top)

    def label_box(self, x: float, y: float, text: str) -> tuple[float, float, float, float]:
        """Pixel box (x0, y0, x1, y1) of a branch or guide name: it starts 3 px right of its point, its
        baseline 2 px above it (with a margin for the white backing)."""
        x0, base = self.px_x(x) + 3, self.px_y(y) - 2
        return x0 - 2, base - BRANCH_PT * DPI / 72 - 2, x0 + text_width(text, BRANCH_PT) + 2, base + 3


def _overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def dendrogram_layout(result: Dendrogram, branch_labels: int = BRANCH_LABELS) -> Layout:
    """The geometry and labels shared by the PNG (matplotlib) and the SVG (written directly).

    Branch names go to the highest merges first, each by its node id; a name is left out where it would repeat
    a word already shown, overlap another name or leave the plotting area, and the next merge down is tried."""
    from scipy.cluster import hierarchy

    from taxonomy.clustering.labels import fresh_terms

    n = result.n
    shown = np.array(result.linkage, dtype=np.float64).copy()
    if len(shown):
        shown[:, 2] = display_heights(shown)
    info = hierarchy.dendrogram(shown, orientation="left", no_plot=True)
    segments = [list(zip(xs, ys)) for ys, xs in zip(info["icoord"], info["dcoord"])]
    tops = _top_level(result)
    groups = sorted({t for t in tops if t})
    # the largest groups get the first colours, which the search made the most distinct from each other
    by_size = sorted(groups, key=lambda g: (-tops.count(g), g))
    colour = {g: PALETTE[i % len(PALETTE)] for i, g in enumerate(by_size)}
    leaves = [(5.0 + 10 * pos, _shorten(result.leaf_names[leaf], LEAF_PT, LEAF_MAX_PX),
               colour.get(tops[leaf], UNLABELLED)) for pos, leaf in enumerate(info["leaves"])]
    widest = max((text_width(name, LEAF_PT) for _, name, _ in leaves), default=0.0)
    legend = [(colour[g], result.node_names.get(g, g)) for g in groups]
    legend.append((UNLABELLED, "no label in this taxonomy" if result.taxonomy else "no taxonomy"))
    lay = Layout(n, 1.0, segments, leaves, [], legend, f"leaf colour: {result.taxonomy} top level",
                 f"MIM papers: {n} papers, {result.config['embedding']} / {result.config['linkage']}",
                 max(6.0, 0.125 * n + TOP_IN + 0.2), right_frac=1 - (widest + 16) / (FIG_W * DPI))
    lay.ticks = [(float(axis_position(k, n)), str(k))
                 for k in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000) if k <= n]
    left, top_px, right, bottom = lay.axes_px

    def place(x: float, y: float, text: str) -> bool:
        box = lay.label_box(x, y, text)
        inside = box[0] >= left and box[2] <= right - 2 and box[1] >= top_px and box[3] <= bottom
        if not inside or any(_overlaps(box, other) for other in lay.boxes):
            return False
        lay.boxes.append(box)
        return True

    for name, k in result.levels:  # where the colouring taxonomy's levels cut the tree
        if 1 < k < n and place(float(axis_position(k, n)), lay.guide_y, f"{k} = {name}"):
            lay.guides.append((float(axis_position(k, n)), f"{k} = {name}"))
    # each merge's position by its node id (a merge sits midway between its two children, as scipy draws it):
    # looking nodes up by merge height put names on the wrong branch wherever two merges tie
    centre = {leaf: 5.0 + 10 * pos for pos, leaf in enumerate(info["leaves"])}
    for row, (a, b) in enumerate(shown[:, :2].astype(int)):
        centre[n + row] = (centre[a] + centre[b]) / 2
    used: set[str] = set()
    for row in range(len(shown) - 1, -1, -1):  # the root first: rows are in merge order
        if len(lay.branches) >= branch_labels:
            break
        terms = fresh_terms(result.node_terms.get(n + row, []), used)
        text = ", ".join(terms)
        if terms and place(float(shown[row, 2]), centre[n + row], text):
            lay.branches.append((float(shown[row, 2]), centre[n + row], text))
            used.update(word for term in terms for word in term.split())
    return lay


def _named_points(lay: Layout) -> list[tuple[float, float, str, str]]:
    """(x, y, text, colour) of every guide and branch name, in the order of `lay.boxes`."""
    return ([(x, lay.guide_y, text, GUIDE_COLOUR) for x, text in lay.guides]
            + [(x, y, text, BRANCH_COLOUR) for x, y, text in lay.branches])


def plot_dendrogram(result: Dendrogram, png: str | Path | None = None, svg: str | Path | None = None,
                    branch_labels: int = BRANCH_LABELS):
    """Leaves readable at ~400 papers (one line each), coloured by the taxonomy's top level; the top
    branches carry their key terms. Returns the figure.

    Drawn as one LineCollection plus one text per leaf (no tick machinery), which keeps a 400-leaf picture
    fast enough to regenerate on every run. Names and guides are placed in pixels by `dendrogram_layout`."""
    from matplotlib.collections import LineCollection

    plt = _pyplot()
    lay = dendrogram_layout(result, branch_labels)
    fig, ax = plt.subplots(figsize=(FIG_W, lay.fig_h), dpi=DPI)
    stamp_leaves = png is not None and svg is None  # PNG only: leaf names stamped with Pillow (10x faster)
    for x, _ in lay.guides:
        ax.axvline(x, color="#9A9A9A", linewidth=0.8, linestyle=(0, (4, 3)), zorder=0)
    ax.add_collection(LineCollection(lay.segments, colors=TREE_COLOUR, linewidths=0.8))
    ax.set_xlim(lay.top * 1.02, 0)  # root on the left, leaves on the right
    ax.set_ylim(0, 10 * lay.n)
    ax.set_yticks([])
    ax.set_xticks([x for x, _ in lay.ticks], [label for _, label in lay.ticks], fontsize=7)
    ax.tick_params(axis="x", top=True, labeltop=True)  # a tall tree's axis is read at the top as well
    to_axes_x = ax.get_yaxis_transform()  # x in axes fraction, y in data
    for y, name, colour in [] if stamp_leaves else lay.leaves:
        ax.text(1.005, y, name, transform=to_axes_x, fontsize=LEAF_PT, va="center", ha="left", color=colour)
    for x, y, text, colour in _named_points(lay):
        fig.text((lay.px_x(x) + 3) / lay.width_px, 1 - (lay.px_y(y) - 2) / lay.height_px, text,
                 fontsize=BRANCH_PT, color=colour, va="baseline", ha="left",
                 bbox=dict(boxstyle="square,pad=0.1", fc="white", ec="none", alpha=0.85))
    handles = [plt.Line2D([], [], color=c, marker="s", linestyle="", label=name) for c, name in lay.legend]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.03, 1 - 0.3 / lay.fig_h),
              bbox_transform=fig.transFigure, ncol=3, fontsize=7, title=lay.legend_title, title_fontsize=7,
              frameon=False, borderaxespad=0, borderpad=0)
    ax.set_xlabel(AXIS_LABEL, fontsize=8)
    fig.suptitle(lay.title, x=0.03, ha="left", y=1 - 0.1 / lay.fig_h, fontsize=11)
    fig.subplots_adjust(left=0.03, right=lay.right_frac, top=1 - TOP_IN / lay.fig_h, bottom=0.5 / lay.fig_h)
    if stamp_leaves:
        _save_with_leaves(fig, ax, lay, png)
    for path in (png, svg):
        if path and not (stamp_leaves and path == png):
            fig.savefig(path, dpi=DPI, metadata={"Date": None} if str(path).endswith(".svg") else
                        {"Software": None})
    plt.close(fig)
    return fig


AXIS_LABEL = "clusters (log scale): a vertical line at k cuts the tree into k groups"


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


def dendrogram_svg(result: Dendrogram, branch_labels: int = BRANCH_LABELS) -> str:
    """The same picture as `plot_dendrogram`, written as SVG text directly (no matplotlib: milliseconds,
    selectable text, byte-identical between runs)."""
    from xml.sax.saxutils import escape

    lay = dendrogram_layout(result, branch_labels)
    dpi = DPI
    width, height = lay.width_px, lay.height_px
    left, top_px, right, bottom_px = lay.axes_px

    def text(x: float, y: float, body: str, size: float, colour: str, extra: str = "") -> str:
        return (f'<text x="{x:.2f}" y="{y:.2f}" font-size="{size * dpi / 72:.2f}" fill="{colour}"{extra}>'
                f"{escape(body)}</text>")

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
           f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="DejaVu Sans, Arial, sans-serif">',
           '<rect width="100%" height="100%" fill="white"/>',
           text(left, 0.1 * dpi + 11 * dpi / 72, lay.title, 11, "black"),
           text(left, 0.3 * dpi + 9, lay.legend_title, 7, "black")]
    for i, (colour, name) in enumerate(lay.legend):
        x, y = left + (i % 3) * 0.3 * width, 0.3 * dpi + 22 + (i // 3) * 11
        out.append(f'<rect x="{x:.2f}" y="{y - 7:.2f}" width="7" height="7" fill="{colour}"/>')
        out.append(text(x + 10, y, name, 7, "black"))
    for x, _ in lay.guides:
        out.append(f'<path d="M{lay.px_x(x):.2f},{top_px:.2f} L{lay.px_x(x):.2f},{bottom_px:.2f}" '
                   'stroke="#9A9A9A" stroke-width="0.8" stroke-dasharray="4 3"/>')
    path = " ".join("M" + " L".join(f"{lay.px_x(x):.2f},{lay.px_y(y):.2f}" for x, y in seg) for seg in lay.segments)
    out.append(f'<path d="{path}" fill="none" stroke="{TREE_COLOUR}" stroke-width="0.8"/>')
    for y, name, colour in lay.leaves:
        out.append(text(right + 0.005 * (right - left), lay.px_y(y) + 3, name, LEAF_PT, colour))
    for x, y, body, colour in _named_points(lay):
        out.append(text(lay.px_x(x) + 3, lay.px_y(y) - 2, body, BRANCH_PT, colour,
                        ' stroke="white" stroke-width="3" paint-order="stroke"'))
    for edge, out_dir in ((bottom_px, 1), (top_px, -1)):  # the axis at the bottom and at the top
        out.append(f'<path d="M{left:.2f},{edge:.2f} L{right:.2f},{edge:.2f}" stroke="black" stroke-width="0.8"/>')
        for tick, label in lay.ticks:
            x0 = lay.px_x(tick)
            out.append(f'<path d="M{x0:.2f},{edge:.2f} L{x0:.2f},{edge + 4 * out_dir:.2f}" stroke="black" '
                       'stroke-width="0.8"/>')
            out.append(text(x0 - text_width(label, 7) / 2, edge + (14 if out_dir > 0 else -7), label, 7, "black"))
    out.append(text(left, bottom_px + 30, AXIS_LABEL, 8, "black"))
    out.append("</svg>")
    return "\n".join(out) + "\n"


BK_CAPTION = ("B_k: the tree cut into k clusters against each paper's own node in the taxonomy, by the Fowlkes-Mallows "
              "index (the geometric mean of the shares of paper pairs grouped together by one that the other also "
              "groups; 1 = the same partition). Dashed: its expected value under random relabelling. Papers without "
              "a label are left out.")


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
    if taxa:  # what B_k means, on the figure itself; wrapped here (matplotlib's wrap=True lays text out twice)
        import textwrap

        caption = textwrap.fill(BK_CAPTION, int(5.5 * len(taxa) * 17.5), break_on_hyphens=False)
        fig.text(0.01, 0.015, caption, fontsize=7, color="#333333", va="bottom")
    # fixed margins in inches (tight_layout measured every text: a third of the drawing time)
    width = 5.5 * max(len(taxa), 1)
    fig.subplots_adjust(left=0.75 / width, right=1 - 0.2 / width, bottom=0.95 / 4, top=1 - 0.35 / 4,
                        wspace=0.9 / 5.5)
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


# Okabe & Ito (2008), the colour-blind safe set most journals recommend; yellow last (faint on white).
SECTION_COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]
FIGURE_W = 7.0  # inches: a page's text width with margins
FIGURE_MAX_H = 9.0
FIGURE_PT = 8.0  # the smallest text in the figure, at print size
FIGURE_DPI = 200
FIGURE_MAX_K = 55  # more leaves than this do not fit FIGURE_MAX_H at FIGURE_PT


def figure_names(k: int) -> list[str]:
    return [f"dendrogram-k{k}.{ext}" for ext in ("png", "svg", "pdf")]


def default_figure_k(result) -> int | None:
    """The colouring taxonomy's finest level with at most FIGURE_MAX_K nodes (the survey's own size), else 20;
    None when the corpus is too small for a cut."""
    sizes = [k for _, k in getattr(result, "levels", []) if 2 <= k <= FIGURE_MAX_K]
    k = max(sizes) if sizes else 20
    return k if 2 <= k < result.n else (result.n - 1 if result.n > 2 else None)


@dataclass
class CutFigure:
    """A tree cut into k clusters, as the paper figure shows it: one leaf per cluster, the merges above."""

    k: int
    n: int
    segments: list[list[tuple[float, float]]]  # (x = display height, y = 10 per leaf)
    leaves: list[tuple[float, str, str, str]]  # (y, "name (size)", "≈ A: node" or "", colour), top to bottom
    legend: list[tuple[str, str]]  # (colour, section)
    left: float  # display height of the leaves (where the cut is)


def leaves_under(Z: np.ndarray, n: int, node: int) -> list[int]:
    """The leaves (papers) under `node` of a scipy linkage `Z` over `n` leaves."""
    stack, out = [node], []
    while stack:
        x = stack.pop()
        if x < n:
            out.append(x)
        else:
            stack += [int(Z[x - n, 0]), int(Z[x - n, 1])]
    return out


def cut_figure_layout(result, k: int, matches: dict[int, tuple[str, float]] | None = None) -> CutFigure:
    """Geometry and labels of the compact figure: the last k - 1 merges above the cut at k, each cluster named
    by its first key phrase and size, its survey match beside it, coloured by the section most of its papers
    sit in (in the colouring taxonomy)."""
    from scipy.cluster import hierarchy

    n = result.n
    Z = np.asarray(result.linkage, dtype=np.float64)
    k = int(min(max(k, 2), n))
    rows = Z[n - k:]  # cuts are made in merge order: the last k - 1 merges are the ones above the cut
    heights = display_heights(Z)[n - k:]
    clusters = sorted({int(c) for c in rows[:, :2].ravel() if c < 2 * n - k})
    index = {node: i for i, node in enumerate(clusters)}
    index.update({n + (n - k) + j: k + j for j in range(k - 1)})
    reduced = np.array([[index[int(a)], index[int(b)], h, 0] for (a, b, _, _), h in zip(rows, heights)])
    for j, (a, b) in enumerate(reduced[:, :2].astype(int)):  # sizes in clusters, as SciPy checks them
        reduced[j, 3] = (1 if a < k else reduced[a - k, 3]) + (1 if b < k else reduced[b - k, 3])
    info = hierarchy.dendrogram(reduced, orientation="left", no_plot=True)
    left = float(axis_position(k, n))
    segments = [[(x if x > 0 else left, y) for x, y in zip(xs, ys)] for ys, xs in zip(info["icoord"], info["dcoord"])]
    members = {node: leaves_under(Z, n, node) for node in clusters}
    tops = _top_level(result)
    sections = sorted({t for t in tops if t}, key=lambda g: (-tops.count(g), g))
    colour = {g: SECTION_COLOURS[i] for i, g in enumerate(sections[:len(SECTION_COLOURS) - 1])}
    node_names = getattr(result, "node_names", {}) or {}
    matches = matches or {}
    leaves, used = [], set()
    for pos, leaf in enumerate(info["leaves"]):
        node = clusters[leaf]
        size = len(members[node])
        name = (result.node_terms.get(node) or [""])[0] if node >= n else result.leaf_names[node]
        votes = Counter(tops[i] for i in members[node] if tops[i])
        section = min(votes, key=lambda g: (-votes[g], g)) if votes else ""
        used.add(section)
        leaves.append((5.0 + 10 * pos, f"{name} ({size})", "≈ " + matches[node][0] if node in matches else "",
                       colour.get(section, UNLABELLED)))
    legend = [(colour[g], node_names.get(g, g)) for g in sections if g in used and g in colour]
    if any(g not in colour for g in used):
        legend.append((UNLABELLED, "other or no label"))
    return CutFigure(k, n, segments, leaves, legend, left)


def plot_cut_dendrogram(result, k: int, paths: list[str | Path] = (), matches=None):
    """The figure for a paper: the tree cut into k clusters (see `cut_figure_layout`), FIGURE_W inches wide and
    at most FIGURE_MAX_H tall, every text at FIGURE_PT or more; written to each of `paths` (.png/.svg/.pdf)."""
    from matplotlib.collections import LineCollection

    plt = _pyplot()
    fig_data = cut_figure_layout(result, k, matches)
    k = fig_data.k
    taxonomy = getattr(result, "taxonomy", None)
    legend_rows = (len(fig_data.legend) + 1) // 2
    head, foot = 0.35, 0.6 + 0.22 * (legend_rows + 1)  # inches: title; axis, its label and the legend
    height = min(FIGURE_MAX_H, head + foot + 0.26 * k)
    fig = plt.figure(figsize=(FIGURE_W, height), dpi=FIGURE_DPI)
    tree_w = 0.36
    ax = fig.add_axes((0.02, foot / height, tree_w, 1 - (head + foot) / height))
    ax.add_collection(LineCollection(fig_data.segments, colors=TREE_COLOUR, linewidths=0.9))
    ax.set_xlim(1.02, fig_data.left)
    ax.set_ylim(0, 10 * k)
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ticks = [c for c in (1, 2, 3, 5, 10, 20, 50) if c <= k / 1.6] + [k]  # none crowding the cut's own tick
    ax.set_xticks([float(axis_position(c, result.n)) for c in ticks], [str(c) for c in ticks], fontsize=FIGURE_PT)
    ax.set_xlabel("clusters (log scale)", fontsize=FIGURE_PT)
    label_x = tree_w + 0.03  # figure fraction
    width_px = (1 - label_x - 0.01) * FIGURE_W * DPI  # `text_width` measures at DPI
    for y, name, match, colour in fig_data.leaves:
        y_fig = (foot + y / (10 * k) * (height - head - foot)) / height
        fig.patches.append(plt.Rectangle((tree_w + 0.0075, y_fig - 0.045 / height), 0.012, 0.09 / height,
                                         transform=fig.transFigure, color=colour, figure=fig))
        room = width_px - text_width(name + "  ", FIGURE_PT)
        fig.text(label_x, y_fig, name, fontsize=FIGURE_PT, va="center", ha="left")
        if match and room > text_width("≈ A: X…", FIGURE_PT):
            x = label_x + text_width(name + "  ", FIGURE_PT) / (FIGURE_W * DPI)
            fig.text(x, y_fig, _shorten(match, FIGURE_PT, room), fontsize=FIGURE_PT, va="center", ha="left",
                     color="#444444", style="italic")
    fig.text(0.02, 1 - 0.08 / height, f"{result.n} papers in {k} clusters: name (papers), ≈ the survey node it "
             "matches (F1 ≥ 0.5)", fontsize=FIGURE_PT + 1, va="top", ha="left")
    handles = [plt.Line2D([], [], color=c, marker="s", linestyle="", markersize=7, label=name)
               for c, name in fig_data.legend]
    if handles:
        fig.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.02, 0.0), ncol=2, fontsize=FIGURE_PT,
                   frameon=False, title=f"colour: the section most of a cluster's papers are in ({taxonomy})",
                   title_fontsize=FIGURE_PT, alignment="left", handletextpad=0.3, columnspacing=1.2)
    for path in paths:
        suffix = str(path).rsplit(".", 1)[-1]
        metadata = {"svg": {"Date": None}, "pdf": {"CreationDate": None, "ModDate": None}}.get(suffix,
                                                                                             {"Software": None})
        fig.savefig(path, dpi=FIGURE_DPI, metadata=metadata)
    plt.close(fig)
    return fig
