"""What a number means (taxonomy.corpus.results, data/scripts/meaning.py): extra data derived from its parts, the
free-text pre-training data of earlier rounds split, one result reported twice kept once."""

from __future__ import annotations

import sys
from pathlib import Path

from taxonomy.corpus.results import comparability_key, derive_extra_data

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data" / "scripts"))

import meaning  # noqa: E402


def test_extra_data_is_derived_from_data_teacher_and_intermediate_stage():
    assert derive_extra_data("ImageNet-1K", "ImageNet-1K") == ""
    assert derive_extra_data("ShapeNet", "ScanObjectNN (PB_T50_RS)") == ""  # the point-cloud branch's usual data
    assert derive_extra_data("ImageNet-1K", "ImageNet-1K", "CLIP", "image-text pairs") == \
        "teacher/target: CLIP (image-text pairs)"
    assert derive_extra_data("ImageNet-1K", "ImageNet-1K", "MoCo v3", "ImageNet-1K") == ""  # same data: not extra
    assert "training data not stated" in derive_extra_data("ImageNet-1K", "ADE20K", "a teacher")
    assert derive_extra_data("ImageNet-1K", "ImageNet-1K", intermediate_ft="ImageNet-22K") == \
        "intermediate fine-tuning: ImageNet-22K"
    assert comparability_key("ViT-B/16", "512", "x", "") == "ViT-B/16 · 512px · extra data"


def test_old_pretrain_text_is_split_and_resolution_read_from_the_place():
    row = meaning.annotate(dict(paper_id="x", backbone="ViT-B/16", dataset="ImageNet-1K", metric="finetune_top1",
                                value="85.0", source_url="https://arxiv.org/abs/1", source="the paper's abstract",
                                pretrain_data="ImageNet-1K (+ ImageNet-21K intermediate fine-tuning)",
                                where="row vit_b (384x384), top-1"))
    assert (row["pretrain_data"], row["intermediate_ft"], row["resolution"]) == ("ImageNet-1K", "ImageNet-22K", "384")
    assert row["extra_data"] == "intermediate fine-tuning: ImageNet-22K"
    assert row["meaning_check"].startswith("unverifiable: an abstract")
    beit = meaning.annotate(dict(paper_id="beit", backbone="ViT-B/16", dataset="ImageNet-1K", value="83.2",
                                 pretrain_data="", where="", source_url="https://arxiv.org/abs/2106.08254"))
    assert beit["teacher"] == "DALL-E tokenizer" and beit["extra_data"]
    fid = meaning.annotate(dict(paper_id="r", backbone="ViT-B/16", dataset="ImageNet-256 (class-conditional "
                                "generation)", value="3.5", where="Class-conditional Generation (w/o CFG)"))
    assert fid["eval_protocol"] == "no guidance"


def test_one_result_from_two_sources_is_one_row_with_both_listed():
    common = dict(paper_id="s", backbone="ViT-B/16", dataset="ImageNet-1K", metric="finetune_top1", resolution="224")
    readme = dict(common, pretrain_epochs="800", pretrain_data="ImageNet-1K", value="83.8", source_url="u1")
    abstract = dict(common, pretrain_epochs="", pretrain_data="", value="83.80", source_url="u2")
    other = dict(common, pretrain_epochs="300", pretrain_data="ImageNet-1K", value="83.0", source_url="u3")
    rows = meaning.merge_duplicates([dict(abstract), dict(readme), dict(other)])
    assert [r["source_url"] for r in rows] == ["u1", "u3"] and rows[0]["other_sources"] == "u2"
    # with two rows it could be (800 and 300 epochs, same value), an epoch-less row stays apart
    assert len(meaning.merge_duplicates([dict(other, value="83.8"), dict(readme), dict(abstract)])) == 3
