"""The dendrogram picture tells the truth: names where they belong, none hidden or clipped, readable colours."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.cluster import hierarchy

from taxonomy.render.plotting import PALETTE, UNLABELLED, contrast_ratio, display_heights

# Colour-vision deficiency simulation (Machado, Oliveira & Fernandes 2009, severity 1), on linear sRGB
SIMULATIONS = {
    "normal": np.eye(3),
    "protanopia": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}


def _lab(hex_colour: str, simulation: np.ndarray) -> np.ndarray:
    srgb = np.array([int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ np.clip(
        simulation @ linear, 0, 1)
    t = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(t > 0.008856, np.cbrt(t), 7.787 * t + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def test_palette_is_readable_and_colour_blind_safe():
    """Survey A's nine sections and the grey for unlabelled papers: small text on white at 4.5:1 or more, and
    every two of them at least 15 CIELAB units apart, with normal vision and with each simulated dichromacy
    (the old palette's yellow-green and grey had 1.9:1 and 2.8:1)."""
    colours = PALETTE[:9] + [UNLABELLED]
    assert min(contrast_ratio(c) for c in PALETTE + [UNLABELLED]) >= 4.5
    assert contrast_ratio("#bcbd22") < 4.5 and contrast_ratio("#999999") < 4.5  # the check can fail
    for name, simulation in SIMULATIONS.items():
        labs = [_lab(c, simulation) for c in colours]
        closest = min(np.linalg.norm(a - b) for a, b in itertools.combinations(labs, 2))
        assert closest >= 15, (name, closest)


def test_display_heights_give_each_level_room_in_proportion_to_its_groups():
    rng = np.random.default_rng(0)
    Z = hierarchy.linkage(rng.normal(size=(200, 5)), "ward")
    shown = display_heights(Z)
    assert shown[-1] == 1.0 and np.all(np.diff(shown) > 0) and 0 < shown[0] < 0.01
    # a vertical line at 1 - log k / log n (just on its root side) crosses exactly k branches: the merges
    # beyond it, toward the root, are the k - 1 that turn k groups into one
    for k in (2, 9, 28, 100):
        x = 1 - np.log(k) / np.log(200) + 1e-9
        assert int((shown > x).sum()) == k - 1
    # whatever the merge heights, the top nine groups get log 9 / log n of the width (41 % at 200 papers)
    assert 1 - shown[-9] == pytest.approx(np.log(9) / np.log(200))
    flat_top = Z.copy()
    flat_top[:-8, 2] *= 0.01  # a tree whose top merges dwarf the rest, as consensus trees are
    assert np.array_equal(display_heights(flat_top), shown)


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    """The shipped corpus's picture, and a 14-paper corpus's, drawn with every text as a matplotlib artist."""
    from taxonomy.clustering.dendrogram import build_dendrogram
    from taxonomy.corpus.folder import Corpus, load_corpus
    from taxonomy.render.plotting import dendrogram_layout, plot_dendrogram

    corpus = load_corpus()
    small = Corpus(papers=corpus.papers.iloc[::28].reset_index(drop=True), taxonomies=corpus.taxonomies)
    out = []
    for name, c in (("shipped", corpus), ("small", small)):
        result = build_dendrogram(c, embedding="tfidf", progress=False, permutations=1)
        folder = tmp_path_factory.mktemp(name)
        fig = plot_dendrogram(result, png=folder / "d.png", svg=folder / "d.svg")
        out.append((result, fig, dendrogram_layout(result)))
    return out


def _extents(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()  # the figure was closed after saving: a fresh canvas
    ax = fig.axes[0]
    texts = list(fig.texts) + list(ax.texts) + ax.get_xticklabels() + [ax.xaxis.label]
    texts += list(ax.get_legend().get_texts()) + [ax.get_legend().get_title()]
    return renderer, {t: t.get_window_extent(renderer) for t in texts if t.get_visible() and t.get_text()}


def test_no_text_leaves_the_canvas(drawn):
    for result, fig, lay in drawn:
        _, boxes = _extents(fig)
        width, height = fig.canvas.get_width_height()
        assert (width, height) == (round(lay.width_px), round(lay.height_px))
        for text, box in boxes.items():
            assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= width and box.y1 <= height, text.get_text()
        # the PNG stamps leaf names with Pillow at the same place: the widest must fit too
        from taxonomy.render.plotting import LEAF_PT, text_width

        right = lay.axes_px[2] + 0.005 * (lay.axes_px[2] - lay.axes_px[0])
        assert max(right + text_width(name, LEAF_PT) for _, name, _ in lay.leaves) <= lay.width_px


def test_branch_names_neither_overlap_nor_repeat(drawn):
    for result, fig, lay in drawn:
        _, boxes = _extents(fig)
        names = [t for t in fig.texts if t.get_text() != fig._suptitle.get_text()]
        assert len(names) == len(lay.branches) + len(lay.guides) >= 1
        if result.n > 100:
            from taxonomy.render.plotting import BRANCH_LABELS

            assert len(lay.branches) == BRANCH_LABELS == 28  # as many names as asked for still find room
        named = {t: boxes[t] for t in names}
        leaves = [boxes[t] for t in fig.axes[0].texts]
        for (a, box_a), (b, box_b) in itertools.combinations(named.items(), 2):
            assert not box_a.overlaps(box_b), (a.get_text(), b.get_text())
        for text, box in named.items():
            assert not any(box.overlaps(leaf) for leaf in leaves), text.get_text()
        from taxonomy.clustering.labels import term_words  # "mixed: A + B" marks a grab-bag: not topic words

        words = [word for _, _, label in lay.branches for term in label.split(", ") for word in term_words(term)]
        assert len(words) == len(set(words))  # no word shown twice, so no name repeats or half-repeats another


def test_branch_names_go_root_first_and_never_repeat_a_word():
    from taxonomy.clustering.labels import branch_names, fresh_terms

    assert fresh_terms(["medical segmentation", "medical", "anomaly", "video"], {"segmentation"}) == ["medical"]
    assert fresh_terms(["medical segmentation", "medical", "anomaly"], {"segmentation"}, k=2) == ["medical", "anomaly"]
    Z = hierarchy.linkage(np.array([[0.0], [1.0], [10.0], [11.0], [30.0]]), "ward")  # root is node 8
    terms = {8: ["medical", "anomaly"], 7: ["medical segmentation", "video"], 6: ["anomaly"], 5: ["audio", "speech"]}
    # a branch is named by its first key phrase that shows no word a higher name shows
    assert branch_names(Z, terms, count=10) == {8: "medical", 7: "video", 6: "anomaly", 5: "audio"}
    assert branch_names(Z, terms, count=2) == {8: "medical", 7: "video"}


def test_taxonomy_levels_are_drawn_where_they_cut_the_tree(drawn):
    result, fig, lay = drawn[0]
    assert [text for _, text in lay.guides] == ["9 = section", "28 = subsection"]
    for x, text in lay.guides:
        k = int(text.split()[0])
        assert x == pytest.approx(1 - np.log(k) / np.log(result.n))


def test_full_tree_has_its_axis_at_the_top_and_the_bottom(drawn):
    result, fig, lay = drawn[0]
    ax = fig.axes[0]
    top = [t for t in ax.xaxis.get_major_ticks() if t.label2.get_visible() and t.label2.get_text()]
    assert len(top) == len(lay.ticks) >= 5
    from taxonomy.render.plotting import dendrogram_svg

    svg = dendrogram_svg(result)
    for _, label in lay.ticks:  # every tick number is written twice in the SVG: above and below the tree
        assert svg.count(f'fill="black">{label}</text>') == 2, label


@pytest.fixture(scope="module")
def figure(drawn, tmp_path_factory):
    """The paper figure of the shipped corpus cut at 28, as PNG, SVG and PDF."""
    from taxonomy.clustering.labels import survey_matches
    from taxonomy.render.plotting import figure_names, plot_cut_dendrogram

    result = drawn[0][0]
    folder = tmp_path_factory.mktemp("figure")
    paths = [folder / name for name in figure_names(28)]
    fig = plot_cut_dendrogram(result, 28, paths, survey_matches(result.papers, result.linkage, result.taxonomies))
    return result, fig, paths


def test_paper_figure_fits_a_page_at_a_readable_size(figure):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from taxonomy.render.plotting import FIGURE_PT, SECTION_COLOURS

    result, fig, paths = figure
    assert [p.suffix for p in paths] == [".png", ".svg", ".pdf"] and all(p.stat().st_size > 1000 for p in paths)
    width, height = fig.get_size_inches()
    assert width == pytest.approx(7.0) and height <= 9.0
    texts = [t for t in fig.findobj(lambda a: hasattr(a, "get_fontsize") and hasattr(a, "get_text"))
             if t.get_visible() and t.get_text().strip()]
    assert min(t.get_fontsize() for t in texts) >= FIGURE_PT  # 8 pt at print size: the figure is drawn at 7 in
    canvas = FigureCanvasAgg(fig)  # the figure was closed after saving: a fresh canvas, drawn so legends lay out
    canvas.draw()
    renderer = canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
    canvas = fig.bbox
    for text, box in boxes:
        assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= canvas.x1 + 0.5 and box.y1 <= canvas.y1 + 0.5, text
    for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
        assert not box_a.overlaps(box_b), (a, b)
    import re

    leaves = [t.get_text() for t in fig.texts if re.fullmatch(r".+ \(\d+\)", t.get_text())]
    assert len(leaves) == 28  # one leaf per cluster, with its size
    assert sum(int(name.rsplit("(", 1)[1][:-1]) for name in leaves) == result.n
    legend = fig.legends[0]
    colours = [h.get_color() for h in legend.legend_handles]
    assert len(set(colours)) == len(colours) and set(colours) <= set(SECTION_COLOURS) | {"#6E6E6E"}


def test_paper_figure_names_the_survey_nodes_its_clusters_match(figure):
    result, fig, _ = figure
    shown = [t.get_text() for t in fig.texts if t.get_text().startswith("≈ ")]
    assert shown and all(s.startswith(("≈ A: ", "≈ B: ")) for s in shown)
    from taxonomy.render.plotting import cut_figure_layout

    lay = cut_figure_layout(result, 28, {})
    assert all(match == "" for _, _, match, _ in lay.leaves)  # nothing claimed without a match


def test_paper_figure_files_are_the_same_bytes_each_time(figure, tmp_path):
    from taxonomy.clustering.labels import survey_matches
    from taxonomy.render.plotting import figure_names, plot_cut_dendrogram

    result, _, paths = figure
    again = [tmp_path / name for name in figure_names(28)]
    plot_cut_dendrogram(result, 28, again, survey_matches(result.papers, result.linkage, result.taxonomies))
    for first, second in zip(paths, again):
        assert first.read_bytes() == second.read_bytes(), first.name


def test_dendrogram_command_writes_the_paper_figure_at_the_chosen_cut(tmp_path):
    import json

    from tests.conftest import run_cli

    done = run_cli("dendrogram", "--embedding", "tfidf", "--figure-k", "9", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    files = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))["files"]
    assert {"dendrogram-k9.png", "dendrogram-k9.svg", "dendrogram-k9.pdf"} <= set(files)
    assert (tmp_path / "dendrogram-k9.pdf").read_bytes().startswith(b"%PDF")
    assert "≈ A: " in (tmp_path / "dendrogram-k9.svg").read_text(encoding="utf-8")  # text stays text
    bad = run_cli("dendrogram", "--embedding", "tfidf", "--figure-k", "99", "--out", str(tmp_path / "bad"))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
