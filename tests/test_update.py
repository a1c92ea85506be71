"""`mimtax update`: duplicates, novelty calibrated on the corpus, suggested categories, growth and trends."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from taxonomy.corpus.folder import Corpus, load_corpus
from taxonomy.update import NewPapers, compute_whats_new, read_new_papers
from taxonomy.update.novelty import BatchNovelty, new_neighbour_counts
from taxonomy.update.report import whats_new_dict, write_whats_new
from taxonomy.update.suggest import contrast_terms, group_batch, novel_groups
from tests.conftest import ROOT, run_cli

EXAMPLE = ROOT / "examples" / "recent-mim.bib"


def _blobs(centres: np.ndarray, per: int, seed: int, spread: float = 0.15) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.concatenate([c + spread * rng.standard_normal((per, centres.shape[1])) for c in centres])
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_novelty_flags_a_new_blob_and_spares_a_batch_like_the_corpus():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((5, 16))
    corpus = _blobs(centres[:4], 40, 1)
    like = _blobs(centres[:4], 5, 2)  # 20 papers from the corpus's own groups
    novel = _blobs(centres[4:], 12, 3)  # a new group
    batch = np.concatenate([like, novel])
    scorer = BatchNovelty().fit(corpus @ corpus.T, len(batch), cut_similarity=0.5)
    assert scorer.threshold_ <= scorer.alpha and scorer.group_threshold_ <= scorer.alpha
    scores = scorer.score(batch @ batch.T, batch @ corpus.T)
    truth = np.r_[np.zeros(len(like), bool), np.ones(len(novel), bool)]
    assert scores["novelty"][truth].min() > scores["novelty"][~truth].max()
    assert scores["novel"][truth].mean() > 0.8 and scores["novel"][~truth].mean() <= 0.1
    groups = group_batch(batch @ batch.T, 0.5)
    found = novel_groups(groups, scores["new_neighbours"], scorer.k, len(corpus), scorer.group_threshold_)
    assert len(found) == 1 and set(found[0][0]) == set(np.flatnonzero(truth))
    # nothing new: a batch drawn like the corpus yields no suggestion
    quiet = scorer.fit(corpus @ corpus.T, 20, cut_similarity=0.5).score(like @ like.T, like @ corpus.T)
    assert novel_groups(group_batch(like @ like.T, 0.5), quiet["new_neighbours"], scorer.k, len(corpus),
                        scorer.group_threshold_) == []


def test_new_neighbour_counts_by_hand():
    inner = np.array([[1.0, 0.9, 0.1], [0.9, 1.0, 0.1], [0.1, 0.1, 1.0]])
    to_corpus = np.array([[0.5, 0.2], [0.3, 0.2], [0.8, 0.7]])
    # paper 0: neighbours 1 (new, 0.9), c0 (0.5) -> 1 new of 2; paper 2: c0, c1 -> 0 new
    assert new_neighbour_counts(inner, to_corpus, 2).tolist() == [1, 1, 0]


def test_a_single_paper_is_never_flagged_novel():
    x = _blobs(np.random.default_rng(0).standard_normal((3, 8)), 20, 0)
    scorer = BatchNovelty().fit(x @ x.T, 1)
    scores = scorer.score(np.ones((1, 1)), -np.ones((1, len(x))))
    assert not scores["novel"].any() and scores["atypical"][0] == 1.0


def test_contrast_terms_skip_overlapping_terms():
    vocabulary = np.array(["point", "point cloud", "masked", "video"])
    terms = contrast_terms(np.array([0.9, 0.8, 0.5, 0.0]), np.array([0.0, 0.0, 0.5, 0.3]), vocabulary)
    assert terms == ["point"]  # 'point cloud' contains 'point'; 'masked' is no more present than in the node
    assert contrast_terms(np.array([0.9, 0.8, 0.7, 0.0]), np.zeros(4), vocabulary, n=2) == ["point", "masked"]


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return load_corpus()


def _held_out(corpus: Corpus, node: str, background: int, seed: int = 0):
    """The corpus without `node` (in survey A) and its papers, and a batch of them plus background papers."""
    from dataclasses import replace

    labels = list(corpus.labels("awesome-mim"))
    inside = np.array([node in ls for ls in labels])
    rng = np.random.default_rng(seed)
    extra = np.sort(rng.choice(np.flatnonzero(~inside), size=background, replace=False))
    new = np.concatenate([np.flatnonzero(inside), extra])
    keep = np.setdiff1d(np.arange(len(corpus)), new)
    tax = corpus.taxonomy("awesome-mim")
    taxonomies = {**corpus.taxonomies, tax.id: replace(tax, nodes={k: v for k, v in tax.nodes.items() if k != node})}
    old = Corpus(corpus.papers.iloc[keep].reset_index(drop=True), taxonomies, corpus.results, corpus.path)
    papers = corpus.papers.iloc[new].reset_index(drop=True).assign(awesome_mim="", mim_survey="")
    return old, NewPapers(papers, [""] * len(new)), set(corpus.papers["id"].iloc[np.flatnonzero(inside)])


def test_a_removed_topical_node_comes_back_as_a_suggestion(corpus):
    from sklearn.metrics import roc_auc_score

    old, batch, truth = _held_out(corpus, "ai-for-science/protein", background=30)
    report = compute_whats_new(old, batch)
    is_node = report.papers["id"].isin(truth).to_numpy()
    assert roc_auc_score(is_node, report.papers["novelty"]) >= 0.9
    ids = report.papers["id"].to_numpy()
    f1 = max(2 * len(set(ids[s.members]) & truth) / (len(s.members) + len(truth)) for s in report.suggestions)
    assert f1 >= 0.7
    best = max(report.suggestions, key=lambda s: len(set(ids[s.members]) & truth))
    assert {"protein", "structure", "sequence", "molecular", "biological"} & set(" ".join(best.terms).split())
    assert best.nearest_nodes["awesome-mim"][0] != "ai-for-science/protein"  # it was removed
    assert best.nearest_impl  # every suggestion links to a reference implementation


def test_duplicates_placement_growth_and_trends(corpus, tmp_path):
    new = read_new_papers([EXAMPLE])
    report = compute_whats_new(corpus, new)
    assert set(report.duplicates["corpus_id"]) == {"mae", "i-jepa", "crossmae"}
    assert len(report.papers) == len(new.papers) - 3 and report.papers["id"].is_unique
    assert not set(report.papers["id"]) & set(corpus.papers["id"])
    for column in ("novelty", "novelty_p", "atypical"):
        assert report.papers[column].between(0, 1).all()
    assert set(report.placements["id"]) == set(report.papers["id"])
    assert report.placements.groupby(["id", "taxonomy", "level"])["score"].sum().le(1.003).all()  # rounded to 3 places
    leaf = report.growth[report.growth.taxonomy == "awesome-mim"]
    assert leaf["new_papers"].sum() == len(report.papers)
    top = report.trends[report.trends["depth"] == 0]
    assert (top["new"].sum(), top["corpus"].sum() > 0) == (len(report.papers), True)
    below = report.trends[report.trends["depth"] == 1].groupby("year")["new"].sum()
    assert (below <= top.groupby("year")["new"].sum().reindex(below.index)).all()  # a child never exceeds
    # every suggestion's members are new papers, each in one suggestion
    members = [m for s in report.suggestions for m in s.members]
    assert len(members) == len(set(members))
    written = write_whats_new(report, tmp_path)
    assert {p.name for p in written} == {"whats-new.md", "whats-new.json", "whats-new.html", "trends.png"}
    page = (tmp_path / "whats-new.html").read_text()
    assert "default-src 'none'" in page and "<h2>Suggested new categories</h2>" in page
    assert 'src="data:image/png;base64,' in page and "(trends.png)" not in page  # the picture is inlined
    doc = json.loads((tmp_path / "whats-new.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert doc["config"]["duplicates"] == 3 and len(doc["papers"]) == len(report.papers)
    md = (tmp_path / "whats-new.md").read_text()
    assert "## Suggested new categories" in md and "![papers per year](trends.png)" in md


def test_near_duplicates_are_listed_not_dropped(corpus):
    papers = pd.DataFrame([{"id": "mcmae-v2", "title": "MCMAE: Masked Convolution Meets Masked Autoencoder",
                            "arxiv_id": "", "doi": "", "other_titles": "", "source": "t", "year": "2023"},
                           {"id": "other", "title": "A study of protein language models", "arxiv_id": "",
                            "doi": "", "other_titles": "", "source": "t", "year": "2024"}])
    report = compute_whats_new(corpus, NewPapers(papers, ["", ""]))
    assert len(report.papers) == 2
    near = report.near_duplicates
    assert "convmae" in set(near.loc[near["new_id"] == "mcmae-v2", "other_id"])
    assert "other" not in set(near["new_id"])


def test_the_same_input_gives_the_same_report(corpus):
    first = whats_new_dict(compute_whats_new(corpus, read_new_papers([EXAMPLE])))
    second = whats_new_dict(compute_whats_new(corpus, read_new_papers([EXAMPLE])))
    assert json.dumps(first, default=str) == json.dumps(second, default=str)


def test_cli_update_writes_the_report(tmp_path):
    out = tmp_path / "news"
    done = run_cli("update", str(EXAMPLE), "--out", str(out), "--no-pictures")
    assert done.returncode == 0, done.stderr
    assert "3 already in the corpus; 7 new papers" in done.stdout
    assert sorted(p.name for p in out.iterdir()) == [".mimtax-manifest.json", "whats-new.html", "whats-new.json",
                                                   "whats-new.md"]


def test_cli_update_bad_input(tmp_path):
    missing = run_cli("update", str(tmp_path / "nope.bib"), "--out", str(tmp_path / "o"))
    assert missing.returncode == 1 and "nope.bib" in missing.stderr and "Traceback" not in missing.stderr
    assert not (tmp_path / "o").exists()  # a failed run leaves no empty folder
    bad = tmp_path / "bad.bib"
    bad.write_text("@article{x, author = {A}}\n", encoding="utf-8")
    done = run_cli("update", str(bad), "--out", str(tmp_path / "o"))
    assert done.returncode == 1 and "bad.bib" in done.stderr and "Traceback" not in done.stderr
    wrong = run_cli("update", str(EXAMPLE), "--taxonomy", "nope", "--out", str(tmp_path / "o"))
    assert wrong.returncode == 1 and "unknown taxonomy 'nope'" in wrong.stderr


def test_time_split_grows_the_nodes_that_really_grew(corpus):
    """Corpus up to 2022 as the survey, later papers as new: the leaf that gained most papers is among the
    three the placement says grew most."""
    years = corpus.papers["year"]
    new = np.flatnonzero((years > 2022).fillna(False).to_numpy())
    keep = np.setdiff1d(np.arange(len(corpus)), new)
    old = Corpus(corpus.papers.iloc[keep].reset_index(drop=True), corpus.taxonomies, corpus.results, corpus.path)
    papers = corpus.papers.iloc[new].reset_index(drop=True).assign(awesome_mim="", mim_survey="")
    report = compute_whats_new(old, NewPapers(papers, [""] * len(new)))
    truth = Counter(n for ls in corpus.papers["awesome_mim"].iloc[new] for n in dict.fromkeys(ls.split(";")) if n)
    predicted = report.growth[report.growth.taxonomy == "awesome-mim"].sort_values("new_papers", ascending=False)
    assert truth.most_common(1)[0][0] in predicted["node"].head(3).tolist()


def test_edge_cases_all_duplicates_one_paper_and_a_tiny_corpus(corpus, tmp_path):
    from taxonomy.corpus.folder import Corpus

    papers = corpus.papers.iloc[:2].reset_index(drop=True)
    report = compute_whats_new(corpus, NewPapers(papers.copy(), ["", ""]))  # the corpus's own papers
    assert len(report.duplicates) == 2 and report.papers.empty and report.suggestions == []
    write_whats_new(report, tmp_path / "dups")
    one = pd.DataFrame([{"id": "x", "title": "Masked diffusion models for protein folding", "arxiv_id": "",
                         "doi": "", "other_titles": "", "source": "t", "year": "2025"}])
    report = compute_whats_new(corpus, NewPapers(one, [""]))
    assert not report.papers["novel"].any() and report.papers["awesome_mim_best"].iloc[0] == "ai-for-science/protein"
    tiny = Corpus(corpus.papers.iloc[:12].reset_index(drop=True), corpus.taxonomies, corpus.results, corpus.path)
    report = compute_whats_new(tiny, NewPapers(one, [""]))
    assert report.config["novelty"].startswith("not scored") and report.papers["novelty"].isna().all()
    md = write_whats_new(report, tmp_path / "tiny", pictures=False)[1].read_text()
    assert "Novelty not scored" in md
