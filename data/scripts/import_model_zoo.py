"""Add reported results from mmpretrain's model zoo (its configs/*/metafile.yml files) to data/results.csv.

Run from the repository root after build_corpus.py:
    python data/scripts/import_model_zoo.py --mirror PATH_TO_A_CLONE_OF_open-mmlab/mmpretrain

Each pre-trained model of a masked-image-modeling collection lists its downstream models (fine-tuning, linear
probing); each of those carries its own result. A row records the paper (by the collection's arXiv link), the
backbone, the pre-training epochs and data (from the pre-trained model), the benchmark, the metric and the value,
with the metafile's URL at the clone's commit and the model's name as the place in the source. These are
OpenMMLab's reproductions, so `source` says so. Rows from an earlier run of this script are replaced; every
other row of results.csv is kept. Facts only.
"""

from __future__ import annotations

import argparse
import csv
import re
import subprocess
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from meaning import MEANING_COLUMNS, annotate, merge_duplicates, write_rows  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"
SOURCE = "mmpretrain model zoo (OpenMMLab reproduction)"
COLLECTIONS = ("beit", "beitv2", "cae", "eva", "itpn", "mae", "maskfeat", "mff", "milan", "mixmim", "simmim",
               "spark", "hivit", "convnext_v2", "pixmim")
SIZES = {"small": "S", "base": "B", "large": "L", "huge": "H", "giant": "g", "tiny": "T"}
DATASETS = {"imagenet-1k": "ImageNet-1K", "ade20k": "ADE20K", "coco": "COCO"}


BACKBONES = [  # (pattern on the model name, family): the first match names the backbone
    (r"(?:vit|beit)-(small|base|large|huge|giant|s|b|l|h|g)-p(\d+)", "ViT-{size}/{patch}"),
    (r"mixmim-(base|large|huge)", "MixMIM-{size}"),
    (r"swin-?(tiny|small|base|large)", "Swin-{size}"),
    (r"hivit-(tiny|small|base|large)", "HiViT-{size}"),
    (r"convnext-?v2-(atto|femto|pico|nano|tiny|base|large|huge)", "ConvNeXt-V2-{size}"),
    (r"resnet(\d+)", "ResNet-{size}"),
]


def backbone(name: str) -> str:
    """'vit-base-p16_...' -> 'ViT-B/16'; 'swin-base-w6' -> 'Swin-B'; 'convnext-v2-base' -> 'ConvNeXt-V2-B'."""
    for pattern, family in BACKBONES:
        m = re.search(pattern, name.lower())
        if m:
            size = m.group(1)
            size = SIZES.get(size, size if size == "g" or size.isdigit() else size.upper())
            return family.format(size=size, patch=m.group(2) if m.lastindex and m.lastindex > 1 else "")
    return ""


def epochs(name: str, meta: dict) -> str:
    """Pre-training epochs: the count in the model's name ('..._simmim-800e-pre_...') where it has one, else the
    metafile's Metadata. The two disagree for at least one model (SimMIM Swin-L: named 800e, Metadata 100), and
    the name matches the checkpoint's own file name."""
    m = re.search(r"[-_](\d+)e(?:[-_]|$)", name)
    return m.group(1) if m else str(meta.get("Epochs", ""))


def _data(value) -> str:
    """'ImageNet-1k' or a list of datasets, as one string: 'ImageNet-21k+ImageNet-1K'."""
    items = value if isinstance(value, list) else [value]
    return "+".join(str(v).replace("ImageNet-1k", "ImageNet-1K") for v in items if v)


def rows_for(folder: Path, commit: str, arxiv_to_id: dict[str, str]) -> list[dict]:
    path = folder / "metafile.yml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    papers = {}
    for collection in doc.get("Collections", []) or []:
        url = str((collection.get("Paper") or {}).get("URL", ""))
        m = re.search(r"(\d{4}\.\d{4,5})", url)
        if m and m.group(1) in arxiv_to_id:
            papers[collection["Name"]] = (arxiv_to_id[m.group(1)], collection["Name"])
    models = {m["Name"]: m for m in doc.get("Models", []) or []}
    rel = path.relative_to(folder.parents[1]).as_posix()
    out = []
    for model in models.values():
        if model.get("In Collection") not in papers or not model.get("Downstream"):
            continue
        paper_id, method = papers[model["In Collection"]]
        meta = model.get("Metadata") or {}
        for name in model["Downstream"]:
            down = models.get(name)
            if not down or not down.get("Results"):
                continue
            for result in down["Results"]:
                dataset = DATASETS.get(str(result.get("Dataset", "")).lower())
                for metric_name, value in (result.get("Metrics") or {}).items():
                    if dataset == "ImageNet-1K" and metric_name == "Top 1 Accuracy":
                        metric = "linear_top1" if "linear" in name else "finetune_top1"
                    elif dataset == "ADE20K" and metric_name == "mIoU":
                        metric = "miou"
                    else:
                        continue
                    # the fine-tuned model's name first: a pre-trained model's name may give another patch size
                    # (MAE's huge model: 'mae_vit-huge-p16_...' pre-trained, 'vit-huge-p14_...' fine-tuned)
                    out.append(dict(paper_id=paper_id, method=method,
                                    backbone=backbone(name) or backbone(model["Name"]),
                                    pretrain_epochs=epochs(model["Name"], meta),
                                    pretrain_data=_data(meta.get("Training Data", "")),
                                    dataset=dataset, metric=metric, value=f"{float(value):g}", source=SOURCE,
                                    source_url=f"https://github.com/open-mmlab/mmpretrain/blob/{commit}/{rel}",
                                    where=f"{rel}: model {name}"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mirror", type=Path, required=True, help="a clone (or git dir) of open-mmlab/mmpretrain")
    args = parser.parse_args()
    git = ["git", f"--git-dir={args.mirror / '.git' if (args.mirror / '.git').exists() else args.mirror}"]
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    with (DATA / "papers.csv").open(encoding="utf-8", newline="") as fh:
        arxiv_to_id = {r["arxiv_id"].split("v")[0]: r["id"] for r in csv.DictReader(fh) if r["arxiv_id"]}
    staging = Path(sys.argv[0]).resolve().parent / ".zoo"
    rows = []
    for name in COLLECTIONS:
        text = subprocess.run([*git, "show", f"HEAD:configs/{name}/metafile.yml"], capture_output=True, text=True)
        if text.returncode != 0:
            continue
        folder = staging / "configs" / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "metafile.yml").write_text(text.stdout, encoding="utf-8")
        rows += rows_for(folder, commit, arxiv_to_id)
    with (DATA / "results.csv").open(encoding="utf-8", newline="") as fh:
        previous = list(csv.DictReader(fh))
    kept = [r for r in previous if r.get("source") != SOURCE]
    curated = {(r["paper_id"], r["where"], r["metric"]): r for r in previous if r.get("source") == SOURCE}
    for row in rows:  # a model read before keeps the meaning cells curated for it (SOURCES.md lists them)
        before = curated.get((row["paper_id"], row["where"], row["metric"]), {})
        row.update({c: before[c] for c in MEANING_COLUMNS if before.get(c) and c != "extra_data"})
        if before.get("meaning_check", "").startswith("verified: read by hand"):  # e.g. EVA's data, read in
            row["pretrain_data"] = before["pretrain_data"]  # its own repository, not the metafile's summary
    unique = merge_duplicates([annotate(r) for r in kept + rows])
    write_rows(DATA / "results.csv", unique)
    import shutil

    shutil.rmtree(staging, ignore_errors=True)
    print(f"{len(rows)} model-zoo rows for {len({r['paper_id'] for r in rows})} papers; results.csv now "
          f"{len(unique)} rows")


if __name__ == "__main__":
    main()
