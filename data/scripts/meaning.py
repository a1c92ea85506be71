"""The meaning columns of results.csv: fill them where a row has none, derive `extra_data`, merge one result
reported by several sources into one row.

    python data/scripts/meaning.py            # rewrite data/results-checked.csv and data/results.csv in place

`build_corpus.py` and `import_model_zoo.py` call `annotate` and `merge_duplicates` on the rows they write, so a
rebuild reproduces the shipped files. A row that already carries a meaning column keeps it (those cells are
curated: read in the source, see SOURCES.md); only blank cells get the defaults below, and `extra_data` is
always recomputed (`taxonomy.corpus.results.derive_extra_data`), never typed.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"
sys.path.insert(0, str(ROOT))

from taxonomy.corpus.results import MEANING_COLUMNS, derive_extra_data  # noqa: E402

BASE_COLUMNS = ["paper_id", "method", "backbone", "pretrain_epochs", "pretrain_data", "dataset", "metric", "value",
                "source", "source_url", "where"]
COLUMNS = BASE_COLUMNS + MEANING_COLUMNS
CLIP = ("CLIP", "image-text pairs")
DALLE = ("DALL-E tokenizer", "image-text pairs")
# the free-text pretrain_data of earlier rounds, split into (pre-training data, teacher/target/tokenizer, the
# teacher's training data, intermediate fine-tuning); ImageNet-21K is spelt ImageNet-22K throughout (one dataset)
SPLIT = {
    "ImageNet-1K (+ CLIP teacher)": ("ImageNet-1K", *CLIP, ""),
    "ImageNet-22K": ("ImageNet-22K", "", "", ""),
    "ImageNet-21k": ("ImageNet-22K", "", "", ""),
    "ImageNet-21k+ImageNet-1K": ("ImageNet-22K + ImageNet-1K", "", "", ""),
    "merged-30M+ImageNet-21k": ("merged-30M + ImageNet-22K", "", "", ""),
    "Kinetics-400 (+ ViT-L teacher)": ("Kinetics-400", "ViT-L", "", ""),
    "Kinetics-400 (+ ViT-B teacher)": ("Kinetics-400", "ViT-B", "", ""),
    "Kinetics-400 (+ ViT-H teacher)": ("Kinetics-400", "ViT-H", "", ""),
    "ImageNet-1K (+ ImageNet-22K intermediate fine-tuning)": ("ImageNet-1K", "", "", "ImageNet-22K"),
    "ImageNet-1K (+ ImageNet-21K intermediate fine-tuning)": ("ImageNet-1K", "", "", "ImageNet-22K"),
    "ImageNet-1K (+ distilled from a larger MAE)": ("ImageNet-1K", "larger MAE", "ImageNet-1K", ""),
    "ImageNet-1K + SSv2": ("ImageNet-1K + SSv2", "", "", ""),
    "Instagram-3B (MAE, then weakly supervised)": ("Instagram-3B", "hashtag labels (weak supervision)",
                                                   "Instagram-3B", ""),
    "ImageNet-1K (+ DINOv2 tokenizer)": ("ImageNet-1K", "DINOv2 tokenizer", "LVD-142M", ""),
    "UnlabeledHybrid (+ LabeledHybrid post-pre-training)": ("UnlabeledHybrid", "", "", "LabeledHybrid"),
    "UnlabeledHybrid (+ K710 post-pre-training)": ("UnlabeledHybrid", "", "", "Kinetics-710"),
    "ImageNet-1K (+ pre-trained teachers)": ("ImageNet-1K", "pre-trained models", "", ""),
    "ImageNet-1K (+ pre-trained teacher)": ("ImageNet-1K", "pre-trained model", "", ""),
    "ShapeNet (+ 2D pre-trained models)": ("ShapeNet", "2D pre-trained models", "", ""),
    "ShapeNet (+ pre-trained 2D teacher)": ("ShapeNet", "pre-trained 2D model", "", ""),
    "ShapeNet (+ rendered 2D views)": ("ShapeNet", "rendered 2D views", "ShapeNet", ""),
    "ImageNet-21K (+ EVA-CLIP teacher)": ("ImageNet-22K", "EVA-CLIP", "image-text pairs", ""),
    "ImageNet-21K (+ EVA-CLIP teacher, IN-21K intermediate fine-tuning)": ("ImageNet-22K", "EVA-CLIP",
                                                                         "image-text pairs", "ImageNet-22K"),
    "AudioSet-2M (audio and video)": ("AudioSet-2M", "", "", ""),
    "Kinetics-710 (distilled from ViT-g)": ("Kinetics-710", "ViT-g", "", ""),
    "ImageNet-1K (+ pseudo-labelled depth and segmentation)": ("ImageNet-1K", "depth and segmentation models "
                                                               "(pseudo labels)", "", ""),
    "ImageNet-1K + Kinetics-400 (+ DALL-E tokenizer)": ("ImageNet-1K + Kinetics-400", *DALLE, ""),
    "ImageNet-1K + Kinetics-400 (+ PeCo tokenizer)": ("ImageNet-1K + Kinetics-400", "PeCo tokenizer",
                                                      "ImageNet-1K", ""),  # BEVT's README: PeCo saw only IN-1K
    "Kinetics-710 (+ CLIP teacher, K710 fine-tuning)": ("Kinetics-710", *CLIP, "Kinetics-710"),
    "Kinetics-710 (+ CLIP teacher)": ("Kinetics-710", *CLIP, ""),
    "ImageNet-21K + image-text pairs + text": ("ImageNet-22K + image-text pairs + text", "", "", ""),
    "ImageNet-1K (+ LiDAR-model teacher)": ("ImageNet-1K", "LiDAR detection model", "", ""),
    "ImageNet-1K (+ nuScenes)": ("ImageNet-1K + nuScenes", "", "", ""),
    "CLIP (WIT-400M)": ("", *CLIP, ""),
    "ImageNet-1K (+ EsViT teacher)": ("ImageNet-1K", "EsViT", "ImageNet-1K", ""),
    "ImageNet-1K (+ DINO teacher)": ("ImageNet-1K", "DINO", "ImageNet-1K", ""),
    "ImageNet-1K (+ DeiT teacher)": ("ImageNet-1K", "DeiT (supervised)", "ImageNet-1K", ""),
    "ImageNet-1K (+ MoCo v3 teacher)": ("ImageNet-1K", "MoCo v3", "ImageNet-1K", ""),
    "ImageNet-1K (with labels)": ("ImageNet-1K", "ImageNet-1K labels", "ImageNet-1K", ""),
}
# papers whose target or tokenizer comes from a model trained on other data, for every row that names none:
# BEiT and CAE predict DALL-E's dVAE tokens; BEiT v2's VQ-KD tokenizer is distilled from CLIP; MILAN,
# MaskDistill and MVP regress CLIP features
PAPER_TEACHERS = {"beit": DALLE, "cae": DALLE, "beit-v2": ("VQ-KD tokenizer distilled from CLIP", CLIP[1]),
                  "milan": CLIP, "maskdistill": CLIP, "mvp": CLIP, "eva": ("CLIP features", CLIP[1])}
# qualifiers the row's place states in words
PROTOCOL_WORDS = [(re.compile(r"single[- ]scale", re.I), "single-scale"),
                  (re.compile(r"multi[- ]scale", re.I), "multi-scale"),
                  (re.compile(r"rejection[- ]sampl", re.I), "rejection sampling"),
                  (re.compile(r"(?<!w/o )\bcfg\b|classifier-free guidance|with guidance", re.I),
                   "classifier-free guidance"),
                  (re.compile(r"w/o (guidance|cfg)|without guidance|no guidance", re.I), "no guidance")]
# the input size a benchmark's figures use unless the source says otherwise
DEFAULT_RESOLUTION = {"ImageNet-1K": "224", "ImageNet-1K (1% labels)": "224", "ADE20K": "512",
                      "ImageNet-256 (class-conditional generation)": "256",
                      "ImageNet-256 (unconditional generation)": "256", "ImageNet (reconstruction)": "256"}
SQUARE = re.compile(r"(?<![\d.])(\d{3,4})\s*[x×]\s*(\d{3,4})(?![\d.])")
PIXELS = re.compile(r"(?<![\d.])(\d{3,4})\s*px\b")
ZOO = "mmpretrain model zoo"


def resolution_from_text(where: str) -> str:
    """An input size the row's place names ('640x640', '(448x448)', '512px'); a pre-training size is skipped."""
    text = re.sub(r"pre-trained at \d+\s*[x×]\s*\d+", "", where)
    sizes = [a for a, b in SQUARE.findall(text) if a == b] + PIXELS.findall(text)
    return sizes[-1] if sizes else ""


def default_check(row: dict) -> str:
    url, source = row.get("source_url", ""), row.get("source", "")
    if "arxiv.org/abs/" in url or "abstract" in source:
        return ("unverifiable: an abstract gives the figure without its table; model, resolution and protocol are "
                "as the abstract words them")
    if source.startswith(ZOO):
        return "line only: read by import_model_zoo.py from the model's metafile entry; meaning not re-read"
    if re.search(r"/blob/[0-9a-f]{40}/", url):
        return ("line only: the figure stands on the cited line (add_checked_results.py); model, resolution and "
                "protocol not re-read in the table's header")
    return "unverifiable: the source is not pinned to a commit"


def annotate(row: dict) -> dict:
    """The row with every meaning column present: blank cells filled by the rules above, extra_data derived."""
    out = {c: row.get(c, "") or "" for c in COLUMNS}
    if out["pretrain_data"] in SPLIT and not (out["teacher"] or out["intermediate_ft"]):
        out["pretrain_data"], out["teacher"], out["teacher_data"], out["intermediate_ft"] = SPLIT[out["pretrain_data"]]
    if not out["teacher"] and out["paper_id"] in PAPER_TEACHERS:
        out["teacher"], out["teacher_data"] = PAPER_TEACHERS[out["paper_id"]]
    if not out["resolution"]:
        out["resolution"] = resolution_from_text(out["where"]) or DEFAULT_RESOLUTION.get(out["dataset"], "")
    if not out["eval_protocol"]:
        out["eval_protocol"] = ";".join(q for pattern, q in PROTOCOL_WORDS if pattern.search(out["where"]))
    if not out["meaning_check"]:
        out["meaning_check"] = default_check(out)
    out["extra_data"] = derive_extra_data(out["pretrain_data"], out["dataset"], out["teacher"], out["teacher_data"],
                                          out["intermediate_ft"])
    return out


SAME_RESULT = ("paper_id", "backbone", "pretrain_epochs", "pretrain_data", "teacher", "intermediate_ft",
               "resolution", "eval_protocol", "dataset", "metric")


def merge_duplicates(rows: list[dict]) -> list[dict]:
    """One row per result: a row with the same model, recipe, benchmark and value as an earlier one only adds its
    URL to that row's other_sources (' | '-separated). A row that leaves epochs or pre-training data blank is the
    same result as the one row that gives them and agrees on everything else (an abstract's figure and the
    README's row for it); with two such rows it stays apart (it cannot be told which)."""
    def key(row: dict, loose: bool = False) -> tuple:
        cells = [row.get(c, "") for c in SAME_RESULT]
        if loose:
            cells[2:4] = ["", ""]
        return tuple(cells) + (float(row["value"]),)

    specific: dict[tuple, list[dict]] = {}
    for row in rows:
        if row.get("pretrain_epochs") and row.get("pretrain_data"):
            specific.setdefault(key(row, loose=True), []).append(row)
    first: dict[tuple, dict] = {}
    out = []
    for row in rows:
        kept = first.get(key(row))
        if kept is None and not (row.get("pretrain_epochs") and row.get("pretrain_data")):
            candidates = [r for r in specific.get(key(row, loose=True), [])
                          if all(row.get(c) in ("", r.get(c)) for c in ("pretrain_epochs", "pretrain_data"))]
            kept = candidates[0] if len(candidates) == 1 and candidates[0] is not row else None
        if kept is None:
            first[key(row)] = row
            out.append(row)
            continue
        urls = [u for u in kept.get("other_sources", "").split(" | ") if u]
        for url in [row["source_url"], *[u for u in row.get("other_sources", "").split(" | ") if u]]:
            if url != kept["source_url"] and url not in urls:
                urls.append(url)
        kept["other_sources"] = " | ".join(urls)
    return out


def read_rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def write_rows(path: Path, rows: list[dict], columns: list[str] = COLUMNS) -> None:
    """Through a temporary file and a rename: never half a file."""
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows({c: r.get(c, "") for c in columns} for r in rows)
    tmp.replace(path)


def main() -> None:
    checked = [annotate(r) for r in read_rows(DATA / "results-checked.csv")]  # merged only in results.csv: a
    write_rows(DATA / "results-checked.csv", checked)  # checked row also replaces the crosswalk's row for its key
    before = read_rows(DATA / "results.csv")
    after = merge_duplicates([annotate(r) for r in before])
    write_rows(DATA / "results.csv", after)
    print(f"results-checked.csv: {len(checked)} rows; results.csv: {len(before)} rows -> {len(after)}")


if __name__ == "__main__":
    main()
