"""Load, validate and save a corpus: papers.csv, taxonomies/*.yaml and (optionally) results.csv.

A corpus is a folder. `papers.csv` has one row per paper; each taxonomy in `taxonomies/` adds a label column
named after it (awesome-mim -> awesome_mim) holding `;`-separated node ids. Validation reports every problem
as `file:line: column: message` so a user can fix them all in one pass.
"""

from __future__ import annotations

import csv
import io
import os
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from taxonomy.corpus.results import check_meaning_row, extra_data_column
from taxonomy.corpus.tree import Taxonomy, load_taxonomy
from taxonomy.errors import CorpusError, Problem

PAPER_COLUMNS = [
    "id", "title", "short_name", "authors", "year", "venue", "arxiv_id", "paper_url", "code_url",
    "project_url", "awesome_mim", "mim_survey", "target", "masking", "backbone", "reference_impl",
    "version_of", "other_titles", "source", "corrections",
]
# written by `mimtax corpus import`; the shipped corpus has neither. cite_key: the source's citation key (BibTeX
# key, CSL-JSON citation-key, RIS ID), which the LaTeX export cites
OPTIONAL_COLUMNS = ["doi", "cite_key"]
REQUIRED_COLUMNS = ["id", "title", "year", "arxiv_id"]
RESULT_COLUMNS = ["paper_id", "method", "backbone", "pretrain_epochs", "pretrain_data", "dataset", "metric", "value",
                  "source", "source_url", "where"]
LABEL_SEP = ";"

ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
ARXIV_RE = re.compile(r"^(\d{4}\.\d{4,5}|[a-z-]+(\.[A-Z]{2})?/\d{7})(v\d+)?$")
URL_COLUMNS = ("paper_url", "code_url", "project_url")


SHIPPED_DATA = Path(__file__).resolve().parents[2] / "data"


def default_data_dir() -> Path:
    """The shipped corpus, or the folder named by $MIMTAX_DATA."""
    env = os.environ.get("MIMTAX_DATA")
    return Path(env) if env else SHIPPED_DATA


def norm_title(title: str) -> str:
    """Lower-case, accent-free, punctuation-free title used to match papers across sources."""
    text = unicodedata.normalize("NFKD", str(title)).encode("ascii", "ignore").decode()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def title_similarity(a: str, b: str) -> float:
    """How alike two titles are once normalised (difflib ratio, 0..1)."""
    import difflib

    return difflib.SequenceMatcher(None, norm_title(a), norm_title(b)).ratio()


def split_labels(value: str) -> list[str]:
    return [x.strip() for x in str(value).split(LABEL_SEP) if x.strip()]


@dataclass
class Corpus:
    """Papers, the taxonomies their labels refer to, and reported results."""

    papers: pd.DataFrame
    taxonomies: dict[str, Taxonomy] = field(default_factory=dict)
    results: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=RESULT_COLUMNS))
    path: Path | None = None
    corrections: list[str] = field(default_factory=list)  # what corrections.yaml changed, one line each

    def __len__(self) -> int:
        return len(self.papers)

    def taxonomy(self, name: str) -> Taxonomy:
        """A taxonomy by id ('awesome-mim') or label column ('awesome_mim')."""
        key = name.replace("_", "-").lower()
        if key not in self.taxonomies:
            from taxonomy.errors import UserError
            raise UserError(f"unknown taxonomy '{name}'; this corpus has: {', '.join(self.taxonomies) or 'none'}")
        return self.taxonomies[key]

    def labels(self, name: str) -> pd.Series:
        """Each paper's node ids in one taxonomy, as tuples (empty when the paper has no label there)."""
        column = self.taxonomy(name).label_column
        return self.papers[column].map(lambda v: tuple(split_labels(v)))


# --- reading --------------------------------------------------------------------------------------------

def decode_utf8(path: Path, raw: bytes) -> tuple[str | None, list[Problem]]:
    try:
        return raw.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [Problem(str(path), line, "-", f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
                                                      f"{exc.start}); save the file as UTF-8")]


def read_table(path: Path, required: list[str], delimiter: str = ",") -> tuple[list[str], list[tuple[int, dict]], list[Problem]]:
    """Rows of a CSV (or TSV) with the line each starts on; structural problems instead of exceptions."""
    if not path.exists():
        return [], [], [Problem(str(path), 0, "-", "file not found")]
    text, problems = decode_utf8(path, path.read_bytes())
    if text is None:
        return [], [], problems
    if not text.strip():
        return [], [], [Problem(str(path), 1, "-", "file is empty; expected a header line with columns "
                                                   + ", ".join(required))]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except csv.Error as exc:
        return [], [], [Problem(str(path), 1, "-", f"unreadable CSV header: {exc}")]
    for col in required:
        if col not in header:
            problems.append(Problem(str(path), 1, col, f"missing required column '{col}'"))
    seen = set()
    for col in header:
        if col in seen:
            problems.append(Problem(str(path), 1, col, f"column '{col}' appears twice in the header"))
        seen.add(col)
    rows: list[tuple[int, dict]] = []
    while True:
        start = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(Problem(str(path), start, "-", f"malformed CSV: {exc}"))
            break
        if not values or all(not v.strip() for v in values):
            continue
        if len(values) != len(header):
            problems.append(Problem(str(path), start, "-", f"expected {len(header)} fields, found {len(values)}"))
            continue
        rows.append((start, dict(zip(header, values))))
    return header, rows, problems


def load_taxonomies(folder: Path) -> tuple[dict[str, Taxonomy], list[Problem]]:
    taxonomies: dict[str, Taxonomy] = {}
    problems: list[Problem] = []
    if not folder.is_dir():
        return taxonomies, problems
    for path in sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")):
        tax, found = load_taxonomy(path)
        problems += found
        if tax is not None:
            if tax.id in taxonomies:
                problems.append(Problem(str(path), 1, "id", f"taxonomy id '{tax.id}' is used by another file"))
            taxonomies[tax.id] = tax
    return taxonomies, problems


def _papers_path(path: Path) -> tuple[Path, Path]:
    """(papers.csv, corpus folder) from either of them."""
    if path.is_dir():
        return path / "papers.csv", path
    return path, path.parent


def validate(path: str | Path | None = None) -> list[Problem]:
    """Every problem in a corpus folder (or papers.csv file); an empty list means it is valid."""
    return _read(Path(path) if path else default_data_dir())[1]


def load_corpus(path: str | Path | None = None) -> Corpus:
    """Load and validate a corpus; raises CorpusError listing the problems if it is not valid."""
    corpus, problems = _read(Path(path) if path else default_data_dir())
    if problems:
        raise CorpusError(problems)
    return corpus


def _read(path: Path) -> tuple[Corpus, list[Problem]]:
    from taxonomy.corpus.corrections import correct_labels, correct_taxonomies, read_corrections

    papers_csv, folder = _papers_path(path)
    taxonomies, problems = load_taxonomies(folder / "taxonomies")
    entries, found = read_corrections(folder)
    problems += found
    taxonomies, applied, found = correct_taxonomies(taxonomies, entries, folder)
    problems += found
    label_columns = {t.label_column: t for t in taxonomies.values()}
    header, rows, found = read_table(papers_csv, REQUIRED_COLUMNS + sorted(label_columns))
    problems += found
    problems += _check_rows(papers_csv, rows, label_columns)
    columns = header + [c for c in PAPER_COLUMNS + OPTIONAL_COLUMNS if c not in header]
    frame = pd.DataFrame([r for _, r in rows], columns=header, dtype=object).reindex(columns=columns, fill_value="")
    frame = frame.fillna("")
    frame, moved, found = correct_labels(frame, taxonomies, entries, folder)
    problems += found
    frame = _typed(frame)
    results = pd.DataFrame(columns=RESULT_COLUMNS)
    results_csv = folder / "results.csv"
    if results_csv.exists():
        rheader, rrows, found = read_table(results_csv, ["paper_id", "metric", "value"])
        problems += found
        problems += _check_results(results_csv, rrows, set(frame["id"]))
        results = pd.DataFrame([r for _, r in rrows], columns=rheader or RESULT_COLUMNS, dtype=object).fillna("")
        if "value" in results:
            results["value"] = pd.to_numeric(results["value"], errors="coerce")
        if len(results):  # older corpora have no meaning columns: the flag is derived from what they have
            results["extra_data"] = extra_data_column(results)
    return Corpus(frame, taxonomies, results, folder, applied + moved), sorted(problems)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.astype(str)
    frame["year"] = pd.to_numeric(frame["year"].where(frame["year"].str.strip() != ""), errors="coerce").astype("Int64")
    return frame


def _check_rows(path: Path, rows: list[tuple[int, dict]], label_columns: dict[str, Taxonomy]) -> list[Problem]:
    problems: list[Problem] = []
    file = str(path)
    first: dict[tuple[str, str], int] = {}
    versions = {(r.get("id", ""), r.get("version_of", "")) for _, r in rows}
    arxiv_owner: dict[str, str] = {}
    this_year = date.today().year
    ids = {r.get("id", "").strip() for _, r in rows}

    def dup(column: str, key: str, line: int, what: str) -> None:
        if (column, key) in first:
            problems.append(Problem(file, line, column, f"duplicate {what} (first on line {first[(column, key)]})"))
        else:
            first[(column, key)] = line

    for line, row in rows:
        pid = row.get("id", "").strip()
        if not pid:
            problems.append(Problem(file, line, "id", "empty id"))
        elif not ID_RE.match(pid):
            problems.append(Problem(file, line, "id", f"id '{pid}' must be lower-case letters, digits and '-'"))
        else:
            dup("id", pid, line, f"id '{pid}'")
        title = row.get("title", "").strip()
        if not title:
            problems.append(Problem(file, line, "title", "empty title"))
        else:
            dup("title", norm_title(title), line, "title")
        arxiv = row.get("arxiv_id", "").strip()
        if arxiv:
            if not ARXIV_RE.match(arxiv):
                problems.append(Problem(file, line, "arxiv_id", f"malformed arXiv id '{arxiv}'; expected e.g. 2111.06377"))
            elif arxiv in arxiv_owner:
                other = arxiv_owner[arxiv]
                if (pid, other) not in versions and (other, pid) not in versions:
                    problems.append(Problem(file, line, "arxiv_id", f"duplicate arXiv id {arxiv} (also paper "
                                            f"'{other}'); if one is a version of the other, set version_of"))
            else:
                arxiv_owner[arxiv] = pid
        year = row.get("year", "").strip()
        if year and not (year.isdigit() and 1950 <= int(year) <= this_year + 1):
            problems.append(Problem(file, line, "year", f"bad year '{year}'; expected a number 1950..{this_year + 1}"))
        for column, tax in label_columns.items():
            for label in split_labels(row.get(column, "")):
                if label not in tax.nodes:
                    hint = tax.suggest(label, 1, ids=True)
                    problems.append(Problem(file, line, column, f"label '{label}' names no node of taxonomy "
                                            f"'{tax.id}'" + (f" (did you mean '{hint[0]}'?)" if hint else "")))
        required = [c for c, t in label_columns.items() if t.complete]
        if required and not any(split_labels(row.get(c, "")) for c in required):
            problems.append(Problem(file, line, "/".join(required), "paper carries no taxonomy label"))
        version_of = row.get("version_of", "").strip()
        if version_of and version_of not in ids:
            problems.append(Problem(file, line, "version_of", f"names unknown paper id '{version_of}'"))
        for column in URL_COLUMNS:
            url = row.get(column, "").strip()
            if url and not url.startswith(("http://", "https://")):
                problems.append(Problem(file, line, column, f"'{url[:40]}' is not an http(s) URL"))
    return problems


RESULT_DATASETS = {"ImageNet-1K", "ADE20K", "COCO", "Kinetics-400", "SSv2", "ModelNet40", "ScanObjectNN",
                   # point-cloud benchmarks are reported per variant: three ScanObjectNN splits, two input sizes
                   "ScanObjectNN (PB_T50_RS)", "ScanObjectNN (OBJ_BG)", "ScanObjectNN (OBJ_ONLY)",
                   "ModelNet40 (1k points)", "ModelNet40 (8k points)",
                   # the standard benchmarks of the audio, video and 3D-scene branches of the taxonomy
                   "AudioSet-2M", "AudioSet-20K", "VGGSound", "UCF101", "HMDB51", "ScanNet", "nuScenes",
                   # image generation at 256x256 (FID of 50k samples against ImageNet)
                   "ImageNet-256 (class-conditional generation)", "ImageNet-256 (unconditional generation)",
                   # tokenizers: reconstruction FID on ImageNet val; text-to-image: zero-shot FID on MS-COCO
                   "ImageNet (reconstruction)", "MS-COCO (text-to-image generation)",
                   # human-centric, skeleton, dense-prediction and tracking transfer of MIM pre-training
                   "COCO (pose estimation)", "COCO (pose estimation, test-dev)", "MPII", "MSMT17", "Market-1501",
                   "NTU-60 (X-sub)", "NTU-60 (X-view)", "NTU-120 (X-sub)", "NTU-120 (X-set)",
                   "NYUv2 (depth)", "KITTI (depth)", "LaSOT",
                   # masked language models of proteins: unsupervised contact prediction and downstream tasks
                   "UniRef50 large valid (contacts)", "CASP14 (contacts)", "CAMEO (contacts)",
                   "ProteinGym", "ClinVar", "HumanPPI", "DeepLoc (subcellular)",
                   # low-shot ImageNet, 3D detection and scene completion, motion forecasting, speech
                   "ImageNet-1K (1% labels)", "SUN RGB-D (3D detection)", "ScanNetV2 (3D detection)",
                   "SemanticKITTI (scene completion)", "SemanticKITTI val (scene completion)",
                   "Argoverse 2 (single-agent forecasting)", "Argoverse 2 val (single-agent forecasting)",
                   "LibriSpeech (test-clean)", "LibriSpeech (test-other)", "LRS3 (lip reading)",
                   "LRS3 (speech recognition)",
                   # remote sensing: UC Merced scene classification (8:2 split), ISPRS Potsdam segmentation
                   "UCM (scene classification)", "Potsdam (segmentation)"}
RESULT_METRICS = {"finetune_top1", "linear_top1", "knn_top1", "unsupervised_top1", "miou", "ap_box", "ap_mask",
                  "top1", "map", "nds", "fid", "ap", "ap25", "pckh", "rmse", "auc", "spearman", "accuracy", "precision_l",
                  "wer", "minfde6"}
# distances and error rates (to the real images, the true depth, the true trajectory, the transcript): the
# smaller, the better; every other metric ranks high first
LOWER_IS_BETTER = {"fid", "rmse", "minfde6", "wer"}


def uses_extra_data(pretrain_data: object, dataset: str = "ImageNet-1K") -> bool:
    """Pre-trained on more than ImageNet-1K or the benchmark's own data, judged on pretrain_data alone. A loaded
    corpus's results carry the full flag in their `extra_data` column (teachers and intermediate fine-tuning
    included; taxonomy.corpus.results.derive_extra_data): prefer it."""
    from taxonomy.corpus.results import derive_extra_data

    return bool(derive_extra_data(pretrain_data, dataset))


BACKBONE_RE = re.compile(r"^(ViT-(T|S|B|L|H|g|G)/\d+|Swin-(T|S|B|L)|HiViT-(T|S|B|L)|MixMIM-(B|L|H)|"
                         r"ConvNeXt(-V2)?-(A|F|P|N|T|S|B|L|H|XL)|ResNet-\d+|"
                         r"MViTv2-(S|B|L)|Point-ViT-(T|S|B|L)|Point-M2AE|ConvMAE-(S|B|L|H)|RevColV2-(B|L)|SpUNet|"
                         r"Hiera-(T|S|B|B\+|L|H)|"
                         # generators, named as their papers name them (they compare on FID only among themselves)
                         r"MDT-XL/2|LlamaGen-(B|L|XL|XXL|3B)|MaskGIT|VIM-(B|L)|VQGAN\+Transformer|DiGIT-(219M|732M)|"
                         r"Parti-(350M|750M|3B|20B)|"
                         # image tokenizers (reconstruction FID), by downsampling factor
                         r"VQGAN-f(8|16)|VQGAN-LC-f(8|16)|DQ-VAE|"
                         r"SwinV2-(T|S|B|L|H|G)|Skeleton-Transformer|3DETR|Forecast-MAE|wav2vec2-(Base|Large)|AV-HuBERT-(Base|Large)|"
                         r"MAGVLT-(base|large)|"
                         # protein language models, by size
                         r"ESM-1b|ESM-1v|ESM-2-(8M|35M|150M|700M|3B|15B)|SaProt-(35M|650M|1\.3B))$")
# Point-ViT-S: a ViT-S-sized Transformer on points (Point-BERT, Point-MAE); Point-M2AE: its hierarchical encoder


def _check_results(path: Path, rows: list[tuple[int, dict]], ids: set[str]) -> list[Problem]:
    """Every row: a known paper, a number in its metric's range (0-100 for accuracies, mIoU and AP), a known
    benchmark and metric, a backbone name, a source a reader can open, meaning columns that parse (and an
    extra_data that agrees with the one derived from them), and no row twice."""
    problems = []
    first: dict[tuple, int] = {}
    for line, row in rows:
        if row.get("paper_id") and row["paper_id"] not in ids:
            problems.append(Problem(str(path), line, "paper_id", f"names unknown paper id '{row['paper_id']}'"))
        try:
            value = float(row.get("value", ""))
            if not 0.0 <= value <= 100.0:
                problems.append(Problem(str(path), line, "value", f"{value} is outside 0..100 for "
                                        f"{row.get('metric', '?')}"))
        except ValueError:
            problems.append(Problem(str(path), line, "value", f"'{row.get('value')}' is not a number"))
        if row.get("dataset", "") not in RESULT_DATASETS:
            problems.append(Problem(str(path), line, "dataset", f"unknown benchmark '{row.get('dataset', '')}'; "
                                    f"expected one of {', '.join(sorted(RESULT_DATASETS))}"))
        if row.get("metric", "") not in RESULT_METRICS:
            problems.append(Problem(str(path), line, "metric", f"unknown metric '{row.get('metric', '')}'; "
                                    f"expected one of {', '.join(sorted(RESULT_METRICS))}"))
        if not BACKBONE_RE.match(row.get("backbone", "")):
            problems.append(Problem(str(path), line, "backbone", f"'{row.get('backbone', '')}' is not a backbone "
                                    "name such as ViT-B/16, Swin-B or ResNet-50"))
        if not str(row.get("source_url", "")).startswith(("http://", "https://")):
            problems.append(Problem(str(path), line, "source_url", "every result needs a source a reader can open "
                                    "(an http(s) URL)"))
        for column, message in check_meaning_row(row):
            problems.append(Problem(str(path), line, column, message))
        key = tuple(row.get(c, "") for c in ("paper_id", "backbone", "pretrain_epochs", "pretrain_data", "dataset",
                                             "metric", "source", "resolution", "teacher", "intermediate_ft",
                                             "eval_protocol"))
        if key in first:
            problems.append(Problem(str(path), line, "-", f"duplicate result (first on line {first[key]})"))
        first.setdefault(key, line)
    return problems


# --- writing --------------------------------------------------------------------------------------------

def write_csv_atomic(frame: pd.DataFrame, path: Path) -> None:
    """Write a CSV through a temporary file and rename, so a failure never leaves half a file."""
    from taxonomy.fsutil import write_text_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    out = frame.copy()
    if "year" in out:
        out["year"] = out["year"].astype("string").fillna("")
    write_text_atomic(path, out.to_csv(index=False, lineterminator="\n"))


def save_papers(papers: pd.DataFrame, path: str | Path) -> None:
    """Write a papers table; `load_corpus` on its folder reads it back unchanged."""
    write_csv_atomic(papers, Path(path))
