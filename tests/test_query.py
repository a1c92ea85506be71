"""Queries by category, facet and text; placement, calibration and audit."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest

from taxonomy import load_corpus
from taxonomy.errors import UserError
from taxonomy.explore.query import parse_years, query
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


def ids(frame) -> set[str]:
    return set(frame["id"])


def test_category_masking_strategy_in_survey_b(corpus):
    found = query(corpus, taxonomy="mim-survey", category="masking strategy")
    assert {"mae", "simmim"} <= ids(found)
    # every combined category with the masking aspect is included, and nothing else
    assert all("masking" in v.split("+") for v in found["mim_survey"])
    assert len(found) == 31 + 13 + 11 + 10 + 9 + 7 + 6 + 5


def test_category_by_id_name_and_descendants(corpus):
    section = query(corpus, category="MIM for CV Downstream Tasks")
    assert len(section) == 90 and all("downstream/" in v for v in section["awesome_mim"])
    assert ids(query(corpus, category="downstream/video")) == ids(query(corpus, category="video representation"))
    assert len(query(corpus, category="video", taxonomy="awesome-mim")) == 32


def test_unknown_category_suggests(corpus):
    with pytest.raises(UserError, match="did you mean 'Video Representation'"):
        query(corpus, category="vidoe")


@pytest.mark.parametrize("text,expected", [("2023", (2023, 2023)), ("2022..2024", (2022, 2024)),
                                           ("2022..", (2022, None)), ("..2021", (None, 2021))])
def test_year_ranges(text, expected):
    assert parse_years(text) == expected


@pytest.mark.parametrize("bad", ["22", "2024..2022", "x", ".."])
def test_bad_year_ranges(bad):
    with pytest.raises(UserError):
        parse_years(bad)


def test_each_filter(corpus):
    papers = corpus.papers
    assert len(query(corpus, year="2023")) == int((papers["year"] == 2023).sum())
    assert set(query(corpus, venue="cvpr")["venue"]) == {"CVPR"}
    assert (query(corpus, has_code=True)["code_url"] != "").all()
    assert (query(corpus, has_code=False)["code_url"] == "").all()
    from reference_impls import METHODS

    assert ids(query(corpus, has_impl=True)) == {p for m in METHODS.values() for p in m.papers}
    assert all("pixel" in t for t in query(corpus, target="pixel")["target"])
    assert set(query(corpus, masking="block-wise")["masking"]) == {"block-wise"}
    assert "ViT" in set(query(corpus, backbone="vit")["backbone"])


def test_combined_filters_and_sorting(corpus):
    found = query(corpus, taxonomy="awesome-mim", category="video", year="2022..2023", has_code=True, sort="year")
    assert len(found) > 0
    assert found["year"].between(2022, 2023).all() and (found["code_url"] != "").all()
    assert list(found["year"]) == sorted(found["year"])
    top = query(corpus, sort="-top1", limit=3)
    from taxonomy.explore.query import best_results

    text, value = best_results(corpus)
    assert top.iloc[0]["id"] == value.idxmax() and top.iloc[0]["in1k_ft_top1"] == text[value.idxmax()]
    assert list(top["in1k_ft_top1"].str.split().str[0].astype(float)) == sorted(value.nlargest(3), reverse=True)
    assert len(query(corpus, limit=7)) == 7


def test_empty_result_is_a_frame(corpus):
    assert query(corpus, year="1999").empty


def test_rows_carry_results_and_impl(corpus):
    mae = query(corpus, category="masking", taxonomy="mim-survey").set_index("id").loc["mae"]
    res = corpus.results
    vit_b = res[(res["paper_id"] == "mae") & (res["backbone"] == "ViT-B/16") & (res["metric"] == "finetune_top1")
                & (res["dataset"] == "ImageNet-1K")].sort_values("value", ascending=False, kind="stable").iloc[0]
    assert mae["in1k_ft_top1"] == f"{vit_b['value']:.1f} ({vit_b['pretrain_epochs']} ep)"  # its best ViT-B/16 figure
    assert mae["reference_impl"] == "mae"
    assert mae["awesome_mim"] == "fundamental/transformers"


# --- CLI ---------------------------------------------------------------------------------------------

def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "taxonomy", *args], capture_output=True, text=True, cwd=ROOT)


def test_cli_json_and_csv_parse_back():
    out = cli("query", "--taxonomy", "awesome-mim", "--category", "video", "--year", "2022..2023", "--format", "json")
    assert out.returncode == 0
    rows = json.loads(out.stdout)
    assert rows and all(2022 <= r["year"] <= 2023 for r in rows)
    out = cli("query", "--category", "masking strategy", "--taxonomy", "mim-survey", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert {"mae", "simmim"} <= {r["id"] for r in rows}
    md = cli("query", "--has-impl", "--format", "markdown")
    linked = (load_corpus().papers["reference_impl"] != "").sum()
    assert md.stdout.startswith("| id | method |") and md.stdout.count("\n") == 2 + linked


def test_cli_empty_and_unknown():
    empty = cli("query", "--year", "1999")
    assert empty.returncode == 0 and "no paper matches" in empty.stderr
    assert cli("query", "--year", "1999", "--format", "json").stdout.strip() == "[]"
    unknown = cli("query", "--category", "vidoe")
    assert unknown.returncode == 1 and "did you mean" in unknown.stderr and "Traceback" not in unknown.stderr


def test_cli_query_does_not_import_torch():
    code = ("import sys; from taxonomy.cli import main; sys.argv=['mimtax','query','--category','video'];\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "assert 'torch' not in sys.modules and 'sentence_transformers' not in sys.modules, 'heavy import'\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr


def test_cli_categories_tree():
    out = cli("categories", "--taxonomy", "mim-survey")
    assert out.returncode == 0 and "Masking Strategy (masking)  31" in out.stdout and "aspects:" in out.stdout


# --- placement ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def placer(corpus, tmp_path_factory):
    from taxonomy.explore.place import Placer

    return Placer().fit(corpus, cache_dir=tmp_path_factory.mktemp("cache"), progress=False)


def test_place_new_paper(placer):
    out = placer.place(["Masked autoencoders for point cloud self-supervised learning"], top=3)
    sub = out[(out.taxonomy == "awesome-mim") & (out.level == "subsection")]
    assert list(sub["rank"]) == [1, 2, 3] and sub.iloc[0]["node"] == "downstream/3d"
    assert sub["score"].is_monotonic_decreasing and 0 < sub["score"].sum() <= 1.0001
    near = placer.neighbours(placer.last_similarity_[0])
    assert len(near) == 5 and near["similarity"].is_monotonic_decreasing


def test_placement_beats_majority_on_survey_a(corpus, placer):
    from taxonomy.explore.place import evaluate_placement

    table = evaluate_placement(corpus, placer=placer).set_index(["taxonomy", "level", "method"])
    default = table.loc[("awesome-mim", "subsection", "default: k-nn x node descriptions")]
    nested = table.loc[("awesome-mim", "subsection", "default, parameters fitted without the paper")]
    vote = table.loc[("awesome-mim", "subsection", "k-nn vote only (minilm + tf-idf)")]
    majority = table.loc[("awesome-mim", "subsection", "majority class")]
    assert default["top1"] > majority["top1"] + 0.2 and default["top3"] >= default["top1"]
    assert default["top1"] > vote["top1"] and nested["top1"] > vote["top1"]


def test_levels_agree_and_descriptions_find_a_one_paper_node(corpus, placer):
    """Face recognition has a single paper: the vote alone can hardly find it, its name can."""
    from taxonomy.explore.place import Placer

    title = ["Masked autoencoders for face recognition"]
    out = placer.place(title, top=100)
    a = out[out.taxonomy == "awesome-mim"].set_index(["level", "node"])["score"]
    best = out[(out.taxonomy == "awesome-mim") & (out.level == "subsection")].sort_values("rank").iloc[0]
    assert best["node"] == "downstream/face-recognition" and best["neighbour_vote"] < best["score"]
    assert out.groupby(["taxonomy", "level"])["neighbour_vote"].sum().max() <= 1.01  # each rounded to 3 places
    children = a.loc["subsection"][a.loc["subsection"].index.str.startswith("downstream/")]
    assert a.loc[("section", "downstream")] == pytest.approx(children.sum(), abs=0.01)
    vote_only = Placer(use_descriptions=False).fit(corpus, representation=placer.rep_).place(title, top=100)
    sub = vote_only[(vote_only.level == "subsection") & (vote_only.taxonomy == "awesome-mim")].set_index("node")
    assert sub.loc["downstream/face-recognition", "score"] < a.loc[("subsection", "downstream/face-recognition")]


def test_description_affinity_is_standardised_per_node(placer):
    z_minilm, z_tfidf = placer.affinity_["awesome-mim"](placer.rep_.dense, placer.rep_.sparse)
    for z in (z_minilm, z_tfidf):
        assert z.shape == (len(placer.corpus_.papers), 28)
        assert np.allclose(z.mean(0), 0, atol=1e-9)
        std = z.std(0)
        assert np.all(np.isclose(std, 1) | (std == 0)) and np.isclose(std, 1).sum() > 20  # 0: no word in vocabulary


def test_combine_hand_computed():
    """log p = log vote + b * z, renormalised: a vote of 1/2 each and z = (ln 2, 0) at b = 1 give 2/3 : 1/3."""
    from taxonomy.explore.place import Placer, VoteParams

    vote = np.array([[0.5, 0.5]])
    z = np.array([[np.log(2), 0.0]])
    params = VoteParams(temperature=0.05, prior_weight=0.0, description_minilm=1.0, description_tfidf=0.5)
    probs = Placer._combine(vote, z, 2 * z, params)  # weights 1 and 0.5 on z and 2z: factor 4 in all
    assert probs == pytest.approx(np.array([[0.8, 0.2]]))
    assert Placer._combine(vote, z, z, VoteParams(0.05, 0.0)) == pytest.approx(vote)


def test_nested_estimate_refits_without_each_paper(placer):
    """Brute force for three papers: the parameters minimising the other papers' loss, applied to this one."""
    grid, losses = placer._grid_losses["awesome-mim"]
    rows, nested, _ = placer.nested_loo_probabilities("awesome-mim", 1)
    for i in (0, 57, len(rows) - 1):
        others = [float(np.delete(losses[g], i).sum()) for g in range(len(grid))]
        best = grid[int(np.argmin(others))]
        assert nested[i] == pytest.approx(placer._loo_leaf_probs("awesome-mim", best, np.array([i]))[0], abs=1e-6)


def test_calibration_is_monotone_for_survey_a(placer):
    from taxonomy.explore.place import calibration

    table = calibration(placer, "awesome-mim")
    assert table["papers"].sum() == 290
    assert (np.abs(table["mean_score"] - table["accuracy"]) < 0.25).all()


def test_audit_lists_confident_disagreements(corpus, placer):
    from taxonomy.explore.place import audit

    found = audit(corpus, "awesome-mim", threshold=0.7, placer=placer)
    assert (found["score"] >= 0.7).all()
    for row in found.itertuples():
        assert row.suggested not in row.survey_label.split(";")
        assert row.evidence


def test_place_cli_requires_input():
    out = cli("place")
    assert out.returncode == 1 and "either --title" in out.stderr
