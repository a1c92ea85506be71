"""dendrogram.html in a real browser (headless Chromium via selenium): it draws offline, fetches nothing, and
search, click -> panel, filters, collapse and the survey overlay each work."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import numpy as np
import pytest

from tests import browser

REQUIRED = os.environ.get("MIMTAX_REQUIRE_BROWSER") == "1"  # CI installs Chromium and sets this: never skip there
if not browser.available():
    if REQUIRED:
        raise RuntimeError("MIMTAX_REQUIRE_BROWSER=1 but Chromium, chromedriver or selenium is missing")
    pytest.skip("headless Chromium (Debian chromium + chromium-driver) and selenium are not installed",
                allow_module_level=True)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from taxonomy.clustering.dendrogram import build_dendrogram
    from taxonomy.render.export import write_outputs

    out = tmp_path_factory.mktemp("html")
    result = build_dendrogram(progress=False, permutations=2)
    write_outputs(result, out, pictures=False)
    return result, out / "dendrogram.html"


@pytest.fixture(scope="module")
def driver():
    d = browser.chrome()
    yield d
    d.quit()


def _open(driver, path: Path):
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get_log("browser"), browser.requested_urls(driver)  # forget earlier pages
    driver.get(path.as_uri())
    WebDriverWait(driver, 20).until(lambda d: d.execute_script("return document.body.dataset.ready") == "1")


def _count(driver, css: str) -> int:
    return driver.execute_script(f"return document.querySelectorAll({json.dumps(css)}).length")


def _click(driver, css: str, index: int = 0) -> None:
    """A real click event on an SVG element, wherever it sits (selenium's own click needs it inside the window)."""
    driver.execute_script("document.querySelectorAll(arguments[0])[arguments[1]].dispatchEvent(new MouseEvent("
                          "'click', {bubbles: true, cancelable: true, view: window}))", css, index)


def _severe(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]


def test_page_is_small_self_contained_and_fetches_nothing(built, driver):
    result, page = built
    text = page.read_text(encoding="utf-8")
    assert page.stat().st_size <= 1_500_000
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    assert "ISC" in text or "Permission to use, copy, modify" in text  # d3's licence travels with it
    assert "http://" not in text.split('id="data"')[0].split("</style>")[-1].replace("http://www.w3.org", "")
    _open(driver, page)
    assert _severe(driver) == []
    urls = browser.requested_urls(driver)
    assert urls and all(u.startswith(("file://", "data:")) for u in urls), urls
    assert _count(driver, "g.node.collapsed") == 28  # cut at survey A's subsection count first
    driver.find_element("id", "expand-all").click()
    assert _count(driver, "g.node.leaf") == result.n == 385
    assert _severe(driver) == []


def _branch_names(driver) -> list[dict]:
    """Every visible branch name with its box, and every paper or subtree label's box."""
    return driver.execute_script("""
        const box = t => { const r = t.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
        return {names: [...document.querySelectorAll('text.branch-name')].filter(t => t.style.display !== 'none')
                  .map(t => ({text: t.textContent, box: box(t)})),
                labels: [...document.querySelectorAll('g.leaf text, g.collapsed text')].map(box)};""")


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_branch_names_neither_repeat_nor_cover_other_text(built, driver):
    _, page = built
    _open(driver, page)
    for expanded in (False, True):
        if expanded:
            driver.find_element("id", "expand-all").click()
        drawn = _branch_names(driver)
        names = drawn["names"]
        assert len(names) >= 5, names
        from taxonomy.clustering.labels import term_words  # "mixed: A + B" marks a grab-bag: not topic words

        words = [w for name in names for term in name["text"].split(", ") for w in term_words(term)]
        assert len(words) == len(set(words)), names  # no name repeats a word of another
        for a, b in itertools.combinations(names, 2):
            assert not _overlap(a["box"], b["box"]), (a["text"], b["text"])
        for name in names:
            assert not any(_overlap(name["box"], label) for label in drawn["labels"]), name["text"]
    assert _severe(driver) == []


def test_a_name_that_would_cover_paper_labels_is_hidden(built, driver, tmp_path):
    from taxonomy.render.web.html import interactive_payload, render_html

    result, _ = built
    payload = interactive_payload(result)
    root = str(2 * result.n - 2)
    payload["names"][root] = " ".join(f"word{i}" for i in range(200))  # runs far past the leaves
    page = tmp_path / "crowded.html"
    page.write_text(render_html(payload), encoding="utf-8")
    _open(driver, page)
    driver.find_element("id", "expand-all").click()
    visible = [name["text"] for name in _branch_names(driver)["names"]]
    assert payload["names"][root] not in visible
    assert len(visible) == len(payload["names"]) - 1  # the others still fit


def test_search_highlights_matches_and_their_ancestors(built, driver):
    result, page = built
    _open(driver, page)
    driver.find_element("id", "expand-all").click()
    box = driver.find_element("id", "search")
    box.send_keys("autoencoder")
    papers = result.papers
    expected = sum(any("autoencoder" in str(v).lower() for v in (p.title, p.short_name, p.id, p.authors))
                   for p in papers.itertuples())
    assert expected > 10
    assert _count(driver, "g.leaf.match") == expected
    assert driver.find_element("id", "search-count").text == f"{expected} matches"
    assert _count(driver, "path.link.match-path") >= expected  # each match's own link, and its ancestors'
    box.clear()
    box.send_keys("kaiming")  # an author
    assert _count(driver, "g.leaf.match") >= 3


def test_clicking_a_leaf_opens_its_panel(built, driver):
    _, page = built
    _open(driver, page)
    driver.find_element("id", "expand-all").click()
    _click(driver, 'g.leaf[data-id="mae"] text')
    panel = driver.find_element("id", "panel").text
    assert "Masked Autoencoders Are Scalable Vision Learners" in panel
    assert "mimtax run mae" in panel and "arXiv 2111.06377" in panel and "Kaiming He" in panel
    assert "Fundamental MIM Methods" in panel  # survey A's label, by name


def test_clicking_a_branch_shows_its_scores_and_collapses_it(built, driver):
    _, page = built
    _open(driver, page)
    driver.find_element("id", "expand-all").click()
    leaves = _count(driver, "g.node.leaf")
    _click(driver, "g.node.internal circle", 6)  # a branch some way down the tree, not the root
    panel = driver.find_element("id", "panel").text
    assert "purity, Awesome-MIM" in panel and "key terms" in panel and "linked implementations" in panel
    size = int(panel.split(": ")[1].split(" papers")[0])
    driver.find_element("id", "toggle").click()
    assert 1 < size < leaves
    assert _count(driver, "g.node.collapsed") == 1
    assert _count(driver, "g.node.leaf") == leaves - size


def _board(driver) -> list[list[str]]:
    """[group, rank, method, year, epochs, value] per ranked row (each like-for-like group has a heading row)."""
    return driver.execute_script("return [...document.querySelectorAll('#board tr[data-group]')].map("
                                 "tr => [tr.dataset.group, ...[...tr.children].map(td => td.textContent)])")


def _ranked(rows: list[list[str]], smallest_first: bool) -> bool:
    """Within each group the ranks count 1, 2, … and the values (a trailing † aside) never get worse."""
    for group in {r[0] for r in rows}:
        mine = [r for r in rows if r[0] == group]
        values = [float(r[5].rstrip(" †")) for r in mine]
        if [int(r[1]) for r in mine] != list(range(1, len(mine) + 1)):
            return False
        if values != sorted(values, reverse=not smallest_first):
            return False
    return True


def test_a_branch_ranks_its_reported_results_like_the_leaderboard(built, driver):
    """The page's branch leaderboard groups exactly as `mimtax leaderboard` does (the key comes from Python):
    a 512 px or an extra-data figure never ranks beside the 224 px ImageNet-1K-only ones."""
    from selenium.webdriver.support.ui import Select

    from taxonomy.corpus.folder import load_corpus
    from taxonomy.explore.leaderboard import compute_leaderboard

    result, page = built
    _open(driver, page)
    driver.find_element("id", "expand-all").click()
    _click(driver, 'g.leaf[data-id="mae"] text')
    own = driver.execute_script("return [...document.querySelectorAll('#paper-results tr')].length") - 1
    assert own == int((load_corpus().results["paper_id"] == "mae").sum()) > 3
    root = 2 * result.n - 2
    _click(driver, f'g.node[data-id="n{root}"] circle')
    assert driver.find_element("id", "board-benchmark").get_attribute("value") == "in1k-ft"
    rows = _board(driver)
    results = load_corpus().results  # the root holds every paper, so every ImageNet-1K fine-tune row
    assert len(rows) == int(((results["dataset"] == "ImageNet-1K") & (results["metric"] == "finetune_top1")).sum())
    board = compute_leaderboard(load_corpus(), benchmark="in1k-ft")
    board = board.drop_duplicates(["group", "paper_id", "pretrain_epochs", "pretrain_data", "value"])
    assert {r[0] for r in rows} == set(board["group"])  # the same groups, by the same key
    first = rows[0][0]
    assert first == "ViT-B/16 · 224px · no extra data"  # the group most rows share comes first
    assert float(rows[0][5].rstrip(" †")) == board.loc[board["group"] == first, "value"].max()
    assert not any("†" in r[5] for r in rows if r[0] == first)
    assert _ranked(rows, smallest_first=False)
    Select(driver.find_element("id", "board-benchmark")).select_by_value("in256-fid")  # a distance
    rows = _board(driver)
    assert len(rows) >= 5 and _ranked(rows, smallest_first=True)
    assert _severe(driver) == []


def test_filters_dim_what_they_exclude(built, driver):
    result, page = built
    _open(driver, page)
    driver.find_element("id", "expand-all").click()
    driver.find_element("id", "year-from").send_keys("2023")
    years = result.papers["year"]
    assert _count(driver, "g.leaf.dim") == int((years.isna() | (years < 2023)).sum())
    driver.find_element("id", "year-from").clear()
    driver.find_element("id", "has-code").click()
    assert _count(driver, "g.leaf.dim") == int((result.papers["code_url"] == "").sum())


def test_a_survey_node_lights_up_with_how_scattered_it_is(built, driver):
    from selenium.webdriver.support.ui import Select

    result, page = built
    _open(driver, page)
    Select(driver.find_element("id", "survey-node")).select_by_value("awesome-mim|downstream/video")
    inside = result.papers["awesome_mim"].str.split(";").map(lambda ls: "downstream/video" in ls).to_numpy()
    driver.find_element("id", "expand-all").click()
    assert _count(driver, "g.leaf.survey") == inside.sum() == 32
    # the same counts computed here: maximal subtrees whose papers are all in the node
    Z, n = result.linkage, result.n
    count = np.r_[inside.astype(int), np.zeros(n - 1, dtype=int)]
    size = np.r_[np.ones(n, dtype=int), Z[:, 3].astype(int)]
    parent = np.full(2 * n - 1, -1)
    for r, (a, b, _, _) in enumerate(Z):
        count[n + r] = count[int(a)] + count[int(b)]
        parent[int(a)] = parent[int(b)] = n + r
    pure = count == size
    subtrees = int(sum(pure[v] and (parent[v] < 0 or not pure[parent[v]]) for v in range(2 * n - 1)))
    assert driver.execute_script("return document.body.dataset.surveySubtrees") == str(subtrees)
    assert "lowest common ancestor" in driver.find_element("id", "panel").text


def test_an_imported_corpus_without_taxonomy_and_a_big_tree_draw(tmp_path, driver):
    """Any corpus: an imported BibTeX list (no taxonomy) draws; 6,000 leaves open collapsed and stay responsive."""
    import pandas as pd
    from scipy.cluster import hierarchy

    from taxonomy.clustering.dendrogram import Dendrogram
    from taxonomy.render.web import write_html

    n = 6000
    rng = np.random.default_rng(0)
    Z = hierarchy.linkage(rng.standard_normal((n, 8)), "ward")
    papers = pd.DataFrame({"id": [f"p{i}" for i in range(n)], "title": [f"Paper {i}" for i in range(n)],
                           "short_name": "", "authors": "A. Author", "year": 2024, "venue": "", "arxiv_id": "",
                           "paper_url": "", "code_url": "", "reference_impl": "", "corrections": ""})
    result = Dendrogram(papers=papers, linkage=Z, node_terms={}, leaf_names=list(papers["title"]), agreement={},
                        baseline_agreement={}, guided_linkage=None, guided_agreement=None, config={},
                        n_with_abstract=0, taxonomy=None)
    page = write_html(result, tmp_path / "big.html")
    _open(driver, page)
    assert _severe(driver) == []
    collapsed = _count(driver, "g.node.collapsed")
    assert 2 <= collapsed <= 40 and _count(driver, "g.node.leaf") == 0
    _click(driver, "g.node.collapsed path")
    driver.find_element("id", "toggle").click()  # expand one: big children stay collapsed
    assert _count(driver, "g.node").__le__(400)
    driver.find_element("id", "search").send_keys("Paper 59")
    assert "match" in driver.find_element("id", "search-count").text
    assert _severe(driver) == []


def test_a_corpus_imported_from_bibtex_draws(tmp_path, driver):
    from tests.conftest import run_cli

    bib = tmp_path / "list.bib"
    titles = ["Masked Point Modeling for Point Clouds", "Masked Video Autoencoders", "Masked Spectrogram Modeling",
              "Masked Autoencoders for Medical Images", "Point Cloud Pretraining with Masks", "Video Masked Modeling"]
    bib.write_text("".join(f"@article{{k{i}, title={{{t}}}, year={{2023}}, author={{Doe, Jane}}}}\n"
                           for i, t in enumerate(titles)), encoding="utf-8")
    assert run_cli("corpus", "import", str(bib), "--out", str(tmp_path / "c")).returncode == 0
    done = run_cli("dendrogram", "--corpus", str(tmp_path / "c"), "--no-pictures", "--out", str(tmp_path / "o"))
    assert done.returncode == 0, done.stderr
    _open(driver, tmp_path / "o" / "dendrogram.html")
    assert _severe(driver) == []
    driver.find_element("id", "expand-all").click()
    assert _count(driver, "g.node.leaf") == len(titles)
    _click(driver, 'g.leaf[data-id="k0"] text')
    assert "Jane Doe" in driver.find_element("id", "panel").text or "Doe" in driver.find_element("id", "panel").text


# ---- layout: measured at a laptop's and a desktop's viewport, collapsed and expanded (bounding boxes) ----
VIEWPORTS = [(1280, 800), (1920, 1080)]
_LAYOUT = """
const r = e => { const b = e.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; };
const cut = document.getElementById('cut'), ctx = document.createElement('canvas').getContext('2d');
ctx.font = getComputedStyle(cut).font;
return {width: innerWidth, height: innerHeight, toolbar: r(document.getElementById('toolbar')),
        groups: [...document.querySelectorAll('#toolbar .tools')].map(g => [...g.children].map(r)),
        cut: r(cut), cutText: ctx.measureText(cut.options[cut.selectedIndex].text).width,
        svg: r(document.getElementById('tree')), tree: r(document.querySelector('#tree > g')),
        legend: r(document.getElementById('legend')), panel: r(document.getElementById('panel')),
        labels: [...document.querySelectorAll('g.leaf text, g.collapsed text')].map(r)};"""


def _at(driver, page: Path, width: int, height: int) -> None:
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
    _open(driver, page)


@pytest.fixture
def viewport_reset(driver):
    yield
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def _inside(inner, outer, slack: float = 1.0) -> bool:
    return (inner[0] >= outer[0] - slack and inner[1] >= outer[1] - slack and inner[2] <= outer[2] + slack
            and inner[3] <= outer[3] + slack)


@pytest.mark.parametrize("width,height", VIEWPORTS)
def test_nothing_is_clipped_or_covered_collapsed_and_expanded(built, driver, viewport_reset, width, height):
    _, page = built
    _at(driver, page, width, height)
    for expanded in (False, True):
        if expanded:
            driver.find_element("id", "expand-all").click()
        m = driver.execute_script(_LAYOUT)
        screen = [0, 0, m["width"], m["height"]]
        # the toolbar: each group of controls on one line, every control (the "Cut at" menu too) on screen
        middle = lambda box: (box[1] + box[3]) / 2  # noqa: E731
        for group in m["groups"]:
            assert max(map(middle, group)) - min(map(middle, group)) <= 4, group
            assert all(_inside(box, screen) for box in group), group
        if width >= 1920:  # room for both groups: one line
            middles = [middle(box) for group in m["groups"] for box in group]
            assert max(middles) - min(middles) <= 4
        assert m["toolbar"][3] - m["toolbar"][1] <= 80  # two lines at most
        assert _inside(m["cut"], screen) and m["cut"][2] - m["cut"][0] >= m["cutText"] + 16  # its text shows whole
        # the legend sits beside the drawing, never over it; the panel too
        assert not _overlap(m["legend"], m["svg"]) and _inside(m["legend"], screen)
        assert m["svg"][2] <= m["panel"][0] + 1 and _inside(m["svg"], screen)
        tree, svg = m["tree"], m["svg"]
        if expanded:  # the whole width of the tall tree in view, its top first, at a readable scale
            assert tree[0] >= svg[0] - 1 and tree[2] <= svg[2] + 1 and tree[1] >= svg[1] - 1
            assert tree[2] - tree[0] >= 0.6 * (svg[2] - svg[0])
        else:  # the tree fills the view: its full width or its full height, nothing outside
            assert _inside(tree, svg)
            assert tree[2] - tree[0] >= 0.9 * (svg[2] - svg[0]) or tree[3] - tree[1] >= 0.9 * (svg[3] - svg[1])
        labels = sorted(m["labels"], key=lambda box: box[1])
        for i, a in enumerate(labels):  # sorted by top: only the next few can reach it
            for b in labels[i + 1:i + 4]:
                assert not _overlap(a, b), (a, b)
    assert _severe(driver) == []


@pytest.mark.parametrize("width,height", VIEWPORTS)
def test_search_brings_its_match_into_view_and_marks_it(built, driver, viewport_reset, width, height):
    _, page = built
    _at(driver, page, width, height)
    assert _count(driver, 'g.leaf[data-id="voxel-mae"]') == 0  # inside a collapsed cluster at first
    driver.find_element("id", "search").send_keys("Voxel-MAE")
    assert driver.find_element("id", "search-count").text == "1 match"
    m = driver.execute_script(_LAYOUT)
    box = driver.execute_script("const b = document.querySelector('g.leaf[data-id=\"voxel-mae\"] text')"
                                ".getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom];")
    assert _inside(box, m["svg"])
    assert _count(driver, 'g.leaf.match.focus[data-id="voxel-mae"]') == 1
    assert _severe(driver) == []
