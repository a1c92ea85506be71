"""What a reported number means: the columns of results.csv that say how a figure was obtained, the extra-data
flag derived from them (never typed by hand), and the key under which two figures are like for like.

A figure is comparable with another only when the backbone (with its patch size), the input resolution, the
evaluation protocol and the extra-data class agree. Extra data is anything beyond the benchmark's usual
pre-training set: a bigger pre-training corpus, a teacher / target / tokenizer trained on other data (CLIP,
DALL-E, a supervised ImageNet-22K model), or an intermediate fine-tuning stage.
"""

from __future__ import annotations

import re

import pandas as pd

# written after the original eleven columns of results.csv
MEANING_COLUMNS = ["resolution", "teacher", "teacher_data", "intermediate_ft", "eval_protocol", "other_sources",
                   "extra_data", "meaning_check"]
# the qualifiers a figure's evaluation may carry (`;`-separated in eval_protocol); each changes what it means
EVAL_QUALIFIERS = {"multi-scale", "single-scale", "rejection sampling", "classifier-free guidance", "no guidance",
                   "zero-shot", "frozen backbone", "test-time augmentation", "multi-view"}
# data a benchmark's papers usually pre-train on: not "extra" (besides the benchmark's own training set)
STANDARD_PRETRAIN = {"", "ImageNet-1K", "ShapeNet", "Kinetics-400", "SSv2", "AudioSet-2M", "UniRef50"}
CHECK_RE = re.compile(r"^(verified|unverifiable|line only): \S")


def _parts(text: object) -> list[str]:
    return [p.strip() for p in re.split(r"\s*\+\s*", "" if pd.isna(text) else str(text)) if p.strip()]


def derive_extra_data(pretrain_data: object, dataset: str, teacher: object = "", teacher_data: object = "",
                      intermediate_ft: object = "") -> str:
    """What the figure used beyond the benchmark's usual data, in words ('' when nothing). A teacher whose own
    training data is not given counts as extra: a reader cannot tell it is not."""
    own = str(dataset).split(" (")[0]
    out = []
    extra = [p for p in _parts(pretrain_data) if p not in STANDARD_PRETRAIN and p != own]
    if extra:
        out.append("pre-training data: " + " + ".join(extra))
    teacher, teacher_data = str(teacher or "").strip(), str(teacher_data or "").strip()
    if teacher:
        beyond = [p for p in _parts(teacher_data) if p not in STANDARD_PRETRAIN and p != own]
        if beyond or not teacher_data:
            out.append(f"teacher/target: {teacher} ({teacher_data or 'training data not stated'})")
    if str(intermediate_ft or "").strip():
        out.append(f"intermediate fine-tuning: {str(intermediate_ft).strip()}")
    return "; ".join(out)


def extra_data_column(results: pd.DataFrame) -> pd.Series:
    """`derive_extra_data` for every row of a results table (missing meaning columns read as blank)."""
    get = lambda r, c: r.get(c, "")  # noqa: E731
    return results.apply(lambda r: derive_extra_data(r.get("pretrain_data", ""), r.get("dataset", ""),
                                                     get(r, "teacher"), get(r, "teacher_data"),
                                                     get(r, "intermediate_ft")), axis=1).astype(str)


def comparability_key(backbone: object, resolution: object, extra_data: object, eval_protocol: object) -> str:
    """The group a figure ranks in: backbone (with patch size) @ resolution, protocol qualifiers, and whether it
    used extra data. One definition, shared by the CLI leaderboard and the interactive page."""
    res = str(resolution or "").strip()
    res = f"{res}px" if res else "resolution not stated"
    protocol = str(eval_protocol or "").strip()
    data = "extra data" if str(extra_data or "").strip() else "no extra data"
    return " · ".join([str(backbone), res] + ([protocol] if protocol else []) + [data])


def check_meaning_row(row: dict) -> list[tuple[str, str]]:
    """(column, message) for every meaning field a row gets wrong: a resolution that is not a pixel count, an
    unknown protocol qualifier, a typed extra_data that disagrees with the derived one, a bad meaning_check."""
    problems = []
    res = str(row.get("resolution", "")).strip()
    if res and not re.fullmatch(r"[1-9]\d{1,3}", res):
        problems.append(("resolution", f"'{res}' is not an input size in pixels such as 224 or 384"))
    for q in [q.strip() for q in str(row.get("eval_protocol", "")).split(";") if q.strip()]:
        if q not in EVAL_QUALIFIERS:
            problems.append(("eval_protocol", f"unknown qualifier '{q}'; expected any of "
                             f"{', '.join(sorted(EVAL_QUALIFIERS))} (';'-separated)"))
    if str(row.get("teacher_data", "")).strip() and not str(row.get("teacher", "")).strip():
        problems.append(("teacher_data", "names a teacher's data but no teacher"))
    if "extra_data" in row:
        derived = derive_extra_data(row.get("pretrain_data", ""), row.get("dataset", ""), row.get("teacher", ""),
                                    row.get("teacher_data", ""), row.get("intermediate_ft", ""))
        typed = str(row.get("extra_data", "")).strip()
        if typed != derived:
            problems.append(("extra_data", f"'{typed}' disagrees with what pretrain_data, teacher, teacher_data "
                             f"and intermediate_ft imply ('{derived}'); extra_data is derived, do not type it "
                             "(python data/scripts/meaning.py rewrites it)"))
    check = str(row.get("meaning_check", "")).strip()
    if "meaning_check" in row and not CHECK_RE.match(check):
        problems.append(("meaning_check", f"'{check[:40]}' must start 'verified: ', 'unverifiable: ' or "
                         "'line only: ' and say what was (or could not be) read"))
    return problems
