"""dendrogram.html without a browser: one self-contained, deterministic file whose data cannot break out of its
script element."""

from __future__ import annotations

import json
import re

import pytest

from taxonomy.render.web import interactive_payload, render_html


@pytest.fixture(scope="module")
def result():
    from taxonomy.clustering.dendrogram import build_dendrogram

    return build_dendrogram(progress=False, permutations=2)


def _data(page: str) -> dict:
    raw = re.search(r'<script type="application/json" id="data">(.*?)</script>', page, flags=re.S).group(1)
    return json.loads(raw)


def test_payload_holds_the_tree_papers_and_both_taxonomies(result):
    payload = interactive_payload(result, versions={})
    assert len(payload["papers"]) == result.n and len(payload["merges"]) == result.n - 1
    assert {t["id"] for t in payload["taxonomies"]} == {"awesome-mim", "mim-survey"}
    assert payload["meta"]["cut"] == 28 and payload["meta"]["taxonomy"] == "awesome-mim"
    mae = next(p for p in payload["papers"] if p["id"] == "mae")
    assert mae["impl"] == "mae" and mae["ax"] == "2111.06377" and mae["r"].startswith("8")
    heights = [m[2] for m in payload["merges"]]
    assert heights == sorted(heights) and heights[-1] == 1.0  # root at 1, on the picture's log-k axis


def test_page_is_deterministic_and_offline(result):
    first, second = render_html(interactive_payload(result, versions={})), render_html(
        interactive_payload(result, versions={}))
    assert first == second
    head = first.split("<script")[0]
    assert "default-src 'none'" in head and "<link" not in head and "@import" not in first.split("</style>")[0]
    assert _data(first)["meta"]["n"] == result.n


def test_a_hostile_title_stays_data(result):
    from dataclasses import replace

    papers = result.papers.copy()
    papers.loc[0, "title"] = "</script><script>window.pwned = 1</script> & <b>"
    page = render_html(interactive_payload(replace(result, papers=papers), versions={}))
    assert "</script><script>window.pwned" not in page
    assert _data(page)["papers"][0]["t"] == papers.loc[0, "title"]


def test_audit_flags_reach_the_paper_panel(result):
    from dataclasses import replace

    flagged = replace(result, audit_flags={"mae": "awesome-mim: the text places it elsewhere"})
    papers = {p["id"]: p for p in interactive_payload(flagged, versions={})["papers"]}
    assert papers["mae"]["flag"] == "awesome-mim: the text places it elsewhere"
    assert papers["beit"]["flag"] == ""


def test_cli_collapse_above_reaches_the_page(tmp_path):
    from tests.conftest import run_cli

    done = run_cli("dendrogram", "--no-pictures", "--collapse-above", "12", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert _data((tmp_path / "dendrogram.html").read_text(encoding="utf-8"))["meta"]["collapse_above"] == 12


def test_names_are_key_phrases_and_survey_matches_reach_the_page_and_clusters_csv(result):
    from scipy.cluster import hierarchy

    from taxonomy.clustering.labels import MIXED_PREFIX, TITLE_WORDS

    payload = interactive_payload(result, versions={})
    assert "A: Audio and Speech" in payload["matches"].values()
    n = result.n
    parent = {int(c): n + r for r, row in enumerate(result.linkage) for c in row[:2]}
    fallback = 0
    assert result.node_terms[2 * n - 2] == []  # the root: every paper, nothing to name
    for node in range(n, 2 * n - 2):  # every branch named, by one to three words, none a title's praise
        name = result.node_terms[node][0]
        if " & " in name:  # no phrase fits: named after two of its papers
            fallback += 1
            continue
        if name.startswith(MIXED_PREFIX):  # a grab-bag: its two best phrases, each one to three words
            phrases = name.removeprefix(MIXED_PREFIX).split(" + ")
        else:
            phrases = [name]
        for phrase in phrases:
            words = phrase.lower().split()
            assert 1 <= len(words) <= 3 and not set(words) & TITLE_WORDS, name
        if node in parent and result.node_terms[parent[node]]:
            assert name.lower() != result.node_terms[parent[node]][0].lower()
    assert fallback <= 0.1 * n
    assert hierarchy.is_valid_linkage(result.linkage)
    cuts = result.cuts
    assert {"name_k28", "survey_k28"} <= set(cuts.columns)
    audio = cuts[cuts["survey_k28"] == "≈ A: Audio and Speech"]
    assert len(audio) >= 5 and audio["name_k28"].nunique() == 1
    assert (cuts["name_k28"] != "").all()
