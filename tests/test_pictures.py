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
            assert len(lay.branches) == 14  # as many names as asked for still find room
        named = {t: boxes[t] for t in names}
        leaves = [boxes[t] for t in fig.axes[0].texts]
        for (a, box_a), (b, box_b) in itertools.combinations(named.items(), 2):
            assert not box_a.overlaps(box_b), (a.get_text(), b.get_text())
        for text, box in named.items():
            assert not any(box.overlaps(leaf) for leaf in leaves), text.get_text()
        words = [word for _, _, label in lay.branches for term in label.split(", ") for word in term.split()]
        assert len(words) == len(set(words))  # no word shown twice, so no name repeats or half-repeats another


def test_branch_names_go_root_first_and_never_repeat_a_word():
    from taxonomy.clustering.labels import branch_names, fresh_terms

    assert fresh_terms(["medical segmentation", "medical", "anomaly", "video"], {"segmentation"}) == [
        "medical", "anomaly"]
    Z = hierarchy.linkage(np.array([[0.0], [1.0], [10.0], [11.0], [30.0]]), "ward")  # root is node 8
    terms = {8: ["medical", "anomaly"], 7: ["medical segmentation", "video"], 6: ["anomaly"], 5: ["audio", "speech"]}
    assert branch_names(Z, terms, count=10) == {8: "medical, anomaly", 7: "video", 5: "audio, speech"}
    assert branch_names(Z, terms, count=2) == {8: "medical, anomaly", 7: "video"}


def test_taxonomy_levels_are_drawn_where_they_cut_the_tree(drawn):
    result, fig, lay = drawn[0]
    assert [text for _, text in lay.guides] == ["9 = section", "28 = subsection"]
    for x, text in lay.guides:
        k = int(text.split()[0])
        assert x == pytest.approx(1 - np.log(k) / np.log(result.n))
