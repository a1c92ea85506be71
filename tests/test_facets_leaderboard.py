"""Facets (curated, else inferred with a measured confidence), the results validator, and the leaderboard."""

from __future__ import annotations

import pandas as pd
import pytest

from taxonomy.corpus.facets import FACETS, compute_facets, coverage, in_lists, infer
from taxonomy.corpus.folder import load_corpus, validate
from taxonomy.errors import UserError
from taxonomy.explore.leaderboard import compute_leaderboard, plot_leaderboard
from taxonomy.explore.query import query
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


@pytest.mark.parametrize("facet, text, expected, rule", [
    ("target", "BEiT: BERT pre-training with a visual tokenizer", "discrete-token", "cue"),
    ("target", "Masked feature prediction with a CLIP teacher", "teacher-feature", "cue"),
    ("target", "Revisiting HOG targets for masked modeling", "HOG-or-handcrafted", "cue"),
    ("target", "Masked autoencoders that reconstruct pixels and distill a teacher", "teacher-feature+pixel", "cue"),
    ("masking", "Attention-guided masking for MIM", "attention-guided", "cue"),
    ("masking", "Learning to mask with an adversarial mask generator", "learned-adversarial", "cue"),
    ("masking", "A study of pretraining", "random", "default"),
    ("backbone", "Masked image modeling for ConvNets", "CNN", "cue"),
    ("backbone", "Swin transformers pre-trained by masking", "ViT (hierarchical)", "cue"),
    ("modality", "Masked autoencoders for point clouds", "point-cloud", "cue"),
])
def test_rules(facet, text, expected, rule):
    got = infer(facet, text)
    assert (got.value, got.rule) == (expected, rule)


def test_a_survey_label_fixes_the_modality():
    assert infer("modality", "A paper about masking", ("downstream/video",)).value == "video"
    assert infer("modality", "A paper about masking", ("downstream/video",)).rule == "label"


def test_every_listed_paper_has_facets_and_curated_values_win(corpus):
    facets = compute_facets(corpus)
    assert set(facets["facet"]) == set(FACETS)
    listed = set(corpus.papers["id"][in_lists(corpus)])
    assert len(listed) >= 250
    inside = facets[facets["id"].isin(listed)]
    for facet in FACETS:
        share = (inside.loc[inside["facet"] == facet, "value"] != "").mean()
        assert share >= 0.9, (facet, share)
    mae = facets[(facets["id"] == "mae")].set_index("facet")
    assert mae.loc["target", "provenance"] == "curated" and mae.loc["target", "value"] == "pixel"
    cover = coverage(corpus, facets).set_index("facet")
    assert cover.loc["target", "curated"] == int((corpus.papers["target"] != "").sum())
    # an inferred value's confidence is its rule's measured accuracy on the curated papers
    inferred = facets[(facets["provenance"] == "inferred") & (facets["facet"] == "masking")]
    assert inferred["confidence"].dropna().between(0, 1).all() and inferred["confidence"].notna().any()


def test_reported_results_give_a_curated_backbone(corpus):
    """A paper the crosswalk leaves without a backbone takes its family from the backbones its results name."""
    from taxonomy.corpus.facets import backbone_from_results

    assert backbone_from_results(["ViT-B/16", "ResNet-50"]) == "ViT+CNN"
    assert backbone_from_results(["Swin-B", "ViT-B/16"]) == "ViT"
    assert backbone_from_results(["Hiera-B+"]) == "ViT (hierarchical)"
    assert backbone_from_results(["LlamaGen-B"]) == ""  # a generator names no encoder family
    facets = compute_facets(corpus).set_index(["id", "facet"])
    papers = corpus.papers.set_index("id")
    assert papers.at["fastmim", "backbone"] == "" and papers.at["point-m2ae", "backbone"] == ""
    assert tuple(facets.loc[("fastmim", "backbone"), ["value", "provenance", "rule"]]) == ("ViT", "curated", "results")
    assert facets.loc[("point-m2ae", "backbone"), "value"] == "other"  # as the crosswalk names point encoders
    assert facets.loc[("a2mim", "backbone"), "rule"] == "source"  # the crosswalk's value wins


def test_query_uses_inferred_facets_unless_curated_only(corpus):
    everything = query(corpus, masking="random")
    curated = query(corpus, masking="random", curated_only=True)
    assert len(curated) == int((corpus.papers["masking"] == "random").sum())
    assert len(everything) > 3 * len(curated)
    assert set(curated["id"]) <= set(everything["id"])
    assert (everything.loc[~everything["id"].isin(curated["id"]), "inferred"].str.contains("masking")).all()
    video = query(corpus, modality="video")
    assert "videomae" in set(video["id"]) and len(video) >= 40


def test_results_validator_names_file_line_and_field(corpus_dir):
    with (corpus_dir / "results.csv").open("a", encoding="utf-8") as fh:
        fh.write("mae,MAE,ViT-B/16,1600,ImageNet-1K,ImageNet-1K,finetune_top1,183.6,x,,\n")
        fh.write("mae,MAE,ViT-B/16,1600,,ImNet,finetune_top1,83.6,x,https://example.org,\n")
    problems = [str(p) for p in validate(corpus_dir)]
    assert any("results.csv:" in p and "value: 183.6 is outside 0..100" in p for p in problems)
    assert any("source_url: every result needs a source" in p for p in problems)
    assert any("dataset: unknown benchmark 'ImNet'" in p for p in problems)


def test_leaderboard_ranks_within_node_and_backbone(corpus):
    board = compute_leaderboard(corpus, benchmark="in1k-ft")
    assert not board.empty and set(board["benchmark"]) == {"in1k-ft"}
    for _, group in board.groupby(["node", "backbone"]):
        assert group["rank"].tolist() == list(range(1, len(group) + 1))
        assert group["value"].is_monotonic_decreasing
    vitb = compute_leaderboard(corpus, backbone="ViT-B")
    assert "ViT-B/16" in set(vitb["backbone"]) and all(b.startswith("ViT-B/") for b in vitb["backbone"])
    video = compute_leaderboard(corpus, category="fundamental/transformers")
    assert set(video["node"]) == {"fundamental/transformers"}
    with pytest.raises(UserError, match="backbone"):
        plot_leaderboard(board)  # several backbones: no plot compares them
    with pytest.raises(UserError, match="unknown"):
        compute_leaderboard(corpus, benchmark="imagenet")


def test_leaderboard_ranks_a_distance_smallest_first(corpus):
    """FID is a distance: rank 1 is the smallest value; accuracies rank the largest first."""
    name = "in256-fid"
    board = compute_leaderboard(corpus, benchmark=name)
    assert len(board) >= 5
    for _, group in board.groupby(["node", "backbone"]):
        assert group["value"].is_monotonic_increasing and group["rank"].iloc[0] == 1
    llama = board[board["backbone"].str.startswith("LlamaGen")]
    assert not llama.empty
    best = compute_leaderboard(corpus, benchmark=name, backbone="LlamaGen-3B")
    assert best["rank"].tolist() == [1] * len(best)
    ax = plot_leaderboard(compute_leaderboard(corpus, benchmark=name, backbone="MDT-XL/2"))
    ys = sorted(p[1] for c in ax.collections for p in c.get_offsets())
    assert ys == sorted(board.loc[board["backbone"] == "MDT-XL/2"].drop_duplicates(["node", "paper_id"])["value"])


def test_cli_leaderboard_and_plot(tmp_path):
    png = tmp_path / "board.png"
    done = run_cli("leaderboard", "--backbone", "ViT-B/16", "--plot", str(png), "--format", "csv")
    assert done.returncode == 0, done.stderr
    frame = pd.read_csv(pd.io.common.StringIO(done.stdout))
    assert (frame["backbone"] == "ViT-B/16").all() and png.stat().st_size > 5000
    bad = run_cli("leaderboard", "--plot", str(tmp_path / "no.png"))
    assert bad.returncode == 1 and "--backbone" in bad.stderr and not (tmp_path / "no.png").exists()


def test_like_for_like_prefers_figures_without_extra_pretraining_data():
    """BEiT v2 reports ViT-B/16 with and without an ImageNet-21K stage: the query column and the year plot take
    the ImageNet-1K-only figure; the leaderboard keeps both and flags the other."""
    from taxonomy.corpus.folder import load_corpus
    from taxonomy.explore.leaderboard import compute_leaderboard
    from taxonomy.explore.query import best_results

    corpus = load_corpus()
    res = corpus.results
    rows = res[(res["paper_id"] == "beit-v2") & (res["backbone"] == "ViT-B/16") & (res["metric"] == "finetune_top1")
               & (res["dataset"] == "ImageNet-1K")]
    standard = rows[rows["pretrain_data"].fillna("").isin(["", "ImageNet-1K"])]
    assert len(standard) and standard["value"].max() < rows["value"].max()  # the data has both kinds
    _, value = best_results(corpus)
    assert value["beit-v2"] == standard["value"].max()
    board = compute_leaderboard(corpus, backbone="ViT-B/16")
    mine = board[board["paper_id"] == "beit-v2"]
    assert mine["extra_data"].any() and not mine["extra_data"].all()
    assert set(mine.loc[mine["extra_data"], "value"]) == set(rows.loc[~rows.index.isin(standard.index), "value"])
