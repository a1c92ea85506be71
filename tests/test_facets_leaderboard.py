"""Facets (curated, else inferred with a measured confidence), the results validator, and the leaderboard."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from taxonomy.corpus.facets import CURATED, FACETS, compute_facets, coverage, in_lists, infer
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
    ("masking", "A study of pretraining", "unknown", "none"),  # no cue: no default either
    ("backbone", "Masked autoencoders for point cloud transformers", "unknown", "none"),  # not a vision transformer
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


def test_curated_values_win_and_the_rest_is_inferred_or_unknown(corpus):
    facets = compute_facets(corpus)
    assert set(facets["facet"]) == set(FACETS)
    listed = set(corpus.papers["id"][in_lists(corpus)])
    assert len(listed) >= 250
    assert set(facets["provenance"]) == {"curated", "inferred", "unknown"}
    assert (facets.loc[facets["provenance"] == "unknown", "value"] == "unknown").all()
    assert (facets["value"] != "").all()
    mae = facets[(facets["id"] == "mae")].set_index("facet")
    assert mae.loc["target", "provenance"] == "curated" and mae.loc["target", "value"] == "pixel"
    cover = coverage(corpus, facets).set_index("facet")
    assert cover.loc["target", "curated"] == int((corpus.papers["target"] != "").sum())
    # an inferred value's confidence is its facet's cross-validated accuracy on the curated papers
    measured = {row["facet"]: row["accuracy"] for row in facets.attrs["evaluation"]}
    for facet in CURATED:
        inferred = facets[(facets["provenance"] == "inferred") & (facets["facet"] == facet)]
        assert (inferred["confidence"] == measured[facet]).all()


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


def test_query_uses_confident_inferred_facets_unless_curated_only(corpus):
    everything = query(corpus, masking="attention-guided")
    curated = query(corpus, masking="attention-guided", curated_only=True)
    assert len(curated) == int((corpus.papers["masking"] == "attention-guided").sum())
    assert set(curated["id"]) <= set(everything["id"])
    assert (everything.loc[~everything["id"].isin(curated["id"]), "inferred"].str.contains("masking")).all()
    video = query(corpus, modality="video")
    assert "videomae" in set(video["id"]) and len(video) >= 40


def test_results_validator_names_file_line_and_field(corpus_dir):
    with (corpus_dir / "results.csv").open("a", encoding="utf-8") as fh:
        fh.write("mae,MAE,ViT-B/16,1600,ImageNet-1K,ImageNet-1K,finetune_top1,183.6,x,,,224,,,,,,,line only: x\n")
        fh.write("mae,MAE,ViT-B/16,1600,,ImNet,finetune_top1,83.6,x,https://example.org,,224,,,,,,,line only: x\n")
    problems = [str(p) for p in validate(corpus_dir)]
    assert any("results.csv:" in p and "value: 183.6 is outside 0..100" in p for p in problems)
    assert any("source_url: every result needs a source" in p for p in problems)
    assert any("dataset: unknown benchmark 'ImNet'" in p for p in problems)


def test_leaderboard_ranks_within_node_and_like_for_like_group(corpus):
    board = compute_leaderboard(corpus, benchmark="in1k-ft")
    assert not board.empty and set(board["benchmark"]) == {"in1k-ft"}
    for _, group in board.groupby(["node", "group"]):
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
    for _, group in board.groupby(["node", "group"]):
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
    """BEiT v2 reports ViT-B/16 with and without an ImageNet-21K intermediate fine-tuning: the query column takes
    the figure without it; the leaderboard ranks the two in different groups and says what the extra data is."""
    from taxonomy.corpus.folder import load_corpus
    from taxonomy.explore.leaderboard import compute_leaderboard
    from taxonomy.explore.query import best_results

    corpus = load_corpus()
    res = corpus.results
    rows = res[(res["paper_id"] == "beit-v2") & (res["backbone"] == "ViT-B/16") & (res["metric"] == "finetune_top1")
               & (res["dataset"] == "ImageNet-1K")]
    staged = rows["intermediate_ft"] != ""
    assert staged.any() and (~staged).any() and rows.loc[~staged, "value"].max() < rows.loc[staged, "value"].max()
    _, value = best_results(corpus)
    assert value["beit-v2"] == rows.loc[~staged, "value"].max()  # the tokenizer is CLIP's either way (flagged)
    board = compute_leaderboard(corpus, backbone="ViT-B/16")
    mine = board[board["paper_id"] == "beit-v2"]
    assert mine["extra_data"].all() and mine["extra"].str.contains("CLIP").all()
    assert mine["extra"].str.contains("intermediate fine-tuning: ImageNet-22K").sum() == staged.sum()


def _board_corpus(tmp_path, *rows):
    """The shipped papers and taxonomies with only the given results rows (full meaning columns)."""
    import shutil

    from taxonomy.corpus.folder import load_corpus
    from tests.conftest import DATA

    folder = tmp_path / "c"
    shutil.copytree(DATA / "taxonomies", folder / "taxonomies")
    shutil.copy(DATA / "papers.csv", folder / "papers.csv")
    header = ("paper_id,method,backbone,pretrain_epochs,pretrain_data,dataset,metric,value,source,source_url,where,"
              "resolution,teacher,teacher_data,intermediate_ft,eval_protocol,other_sources,extra_data,meaning_check")
    (folder / "results.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return load_corpus(folder)


ROW = ("{pid},{m},ViT-B/16,{ep},{data},ImageNet-1K,finetune_top1,{v},s,https://example.org/{m},w,{res},,,,,{other},{x},"
       "line only: w")


def test_a_512px_or_in22k_figure_ranks_apart_unless_mixed(tmp_path):
    """MAWS's 512 px figure and an ImageNet-22K one never rank above 224 px ImageNet-1K-only figures; --mixed
    ranks them together and says so; a result listed by two sources shows once."""
    corpus = _board_corpus(
        tmp_path,
        ROW.format(pid="mae", m="MAE", ep=1600, data="ImageNet-1K", v=83.6, res=224, other="", x=""),
        ROW.format(pid="wsp", m="MAWS", ep="", data="Instagram-3B", v=86.8, res=512, other="",
                   x="pre-training data: Instagram-3B"),
        ROW.format(pid="ibot", m="iBOT", ep="", data="ImageNet-22K", v=84.4, res=224, other="",
                   x="pre-training data: ImageNet-22K"),
        ROW.format(pid="simmim", m="SimMIM", ep=800, data="ImageNet-1K", v=83.8, res=224,
                   other="https://example.org/abstract", x=""))
    board = compute_leaderboard(corpus, backbone="ViT-B/16")
    plain = board[board["group"] == "ViT-B/16 · 224px · no extra data"]
    assert set(plain["paper_id"]) == {"mae", "simmim"} and plain["rank"].max() == 2
    assert not plain["extra_data"].any()
    apart = board[board["paper_id"].isin(["wsp", "ibot"])]
    assert (apart["rank"] == 1).all() and apart["extra_data"].all()
    assert set(apart["group"]) == {"ViT-B/16 · 512px · extra data", "ViT-B/16 · 224px · extra data"}
    mixed = compute_leaderboard(corpus, backbone="ViT-B/16", mixed=True)
    top = mixed.drop_duplicates("paper_id").set_index("paper_id")["rank"]
    assert top["wsp"] == 1 and top["mae"] == 4
    assert (board["paper_id"] == "simmim").sum() == board[board["paper_id"] == "simmim"]["node"].nunique()


def test_cli_leaderboard_shows_the_flag_and_epochs_and_says_what_mixed_mixes():
    done = run_cli("leaderboard", "--backbone", "ViT-B/16", "--format", "markdown")
    assert done.returncode == 0, done.stderr
    header = done.stdout.splitlines()[0]
    assert "| extra |" in header and "| pretrain_epochs |" in header and "| resolution |" in header
    assert "teacher/target: CLIP" in done.stdout  # a CLIP-distilled row carries its flag in the default output
    table = run_cli("leaderboard", "--backbone", "ViT-B/16")
    assert table.returncode == 0 and "extra" in table.stdout and "resolution" in table.stdout
    mixed = run_cli("leaderboard", "--backbone", "ViT-B/16", "--mixed", "--format", "csv")
    assert mixed.returncode == 0 and "MIXED" in mixed.stderr and "resolutions" in mixed.stderr


def test_a_typed_extra_data_that_disagrees_with_the_derived_one_is_an_error(corpus_dir):
    """extra_data is derived from pretrain_data, teacher and intermediate fine-tuning, never typed by hand."""
    path = corpus_dir / "results.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("dbot,") and "CLIP" in line)
    lines[row] = re.sub(r"teacher/target: CLIP[^,]*\(image-text pairs\)", "", lines[row])  # the derived flag, typed away
    lines.append(ROW.format(pid="mae", m="MAE", ep=1600, data="ImageNet-1K", v=83.6, res="224 px", other="", x=""))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    problems = [str(p) for p in validate(corpus_dir)]
    assert any(p.startswith(f"{path}:{row + 1}: extra_data: '' disagrees") and "CLIP" in p for p in problems)
    assert any(p.startswith(f"{path}:{len(lines)}: resolution: '224 px'") for p in problems)
    done = run_cli("corpus", "validate", str(corpus_dir))
    assert done.returncode == 1 and "Traceback" not in done.stderr


def test_shipped_results_say_what_each_number_means():
    """Every row of the shipped results names its resolution where the benchmark has one, carries a meaning
    check, and no repository-root URL passes as pinned; the issue's examples are fixed."""
    from taxonomy.corpus.folder import load_corpus

    res = load_corpus().results
    assert res["meaning_check"].str.match(r"(verified|unverifiable|line only): ").all()
    images = res["dataset"].isin(["ImageNet-1K", "ADE20K"])
    assert (res.loc[images, "resolution"] != "").all()
    unpinned = ~res["source_url"].str.contains(r"/blob/[0-9a-f]{40}/|arxiv\.org/abs/", regex=True)
    assert res.loc[unpinned, "meaning_check"].str.startswith("unverifiable: ").all()
    mae_huge = res[(res["paper_id"] == "mae") & res["where"].str.contains("vit-huge-p14")]
    assert len(mae_huge) and (mae_huge["backbone"] == "ViT-H/14").all()
    maws = res[(res["paper_id"] == "wsp") & res["where"].str.contains("512px|518px")]
    assert len(maws) and maws["resolution"].isin(["512", "518"]).all() and (maws["extra_data"] != "").all()
    beit_ade = res[(res["paper_id"] == "beit") & (res["dataset"] == "ADE20K")]
    assert len(beit_ade) and beit_ade["extra_data"].str.contains("ImageNet-22K").all()
    vqgan = res[(res["paper_id"] == "vqgan") & (res["value"] == 5.2)]
    assert (vqgan["eval_protocol"] == "rejection sampling").all()
    simmim = res[(res["paper_id"] == "simmim") & (res["value"] == 83.8) & (res["backbone"] == "ViT-B/16")]
    assert len(simmim) == 1 and simmim["other_sources"].iloc[0]  # one result, its sources listed


def test_a_leaderboard_plot_draws_one_resolution_and_protocol_and_says_what_it_left_out():
    """MAWS reports ViT-B/16 at 512 px and others at 224 px: the plot keeps the commonest setting only."""
    from taxonomy.corpus.folder import load_corpus
    from taxonomy.explore.leaderboard import compute_leaderboard, like_for_like, plot_leaderboard

    board = compute_leaderboard(load_corpus(), backbone="ViT-B/16", benchmark="in1k-ft")
    assert board["resolution"].astype(str).nunique() > 1
    kept, setting, left_out = like_for_like(board)
    assert kept["resolution"].astype(str).nunique() == 1 and kept["eval_protocol"].astype(str).nunique() == 1
    assert left_out == len(board) - len(kept) > 0 and setting.startswith(str(kept["resolution"].iloc[0]))
    ax = plot_leaderboard(board)
    assert "not drawn" in ax.get_title(loc="left") and str(left_out) in ax.get_title(loc="left")
    import matplotlib.pyplot as plt

    plt.close("all")
