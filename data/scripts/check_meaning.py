"""The meaning check of results.csv: does the row say what its source says, not only where the figure stands?

    python data/scripts/check_meaning.py --mirrors /work/.mirror [--write] [--report out.csv]

For every row whose URL pins a GitHub file at a commit, the file is read at that commit from the local snapshot
`<mirrors>/<owner>+<name>/repo` (as the `fetch` tool leaves it) and the figure's context is gathered: the cited
line (the table row), the table's header, and the nearest heading above. From that context the check reads the
model size and patch, the pre-training epochs, the input resolution and the column the figure sits in, and
compares them with the row's backbone, pretrain_epochs, resolution and metric. A row agrees when every field the
context states agrees with it; what the context does not state is listed as unstated (never assumed). Model-zoo
metafile rows are read by model name instead of a line.

`--write` sets `meaning_check` in data/results-checked.csv and data/results.csv for rows that agree on everything
the check requires (size, and the column or heading saying which protocol; epochs and resolution where the row
gives them), keeping any check already curated by hand ('verified: ...' or 'unverifiable: ...'). Disagreements
are printed, never written: a person reads the source and fixes the row (SOURCES.md lists each fix).
"""

from __future__ import annotations

import argparse
import csv
import html
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from meaning import read_rows, write_rows  # noqa: E402

URL_RE = re.compile(r"https://github\.com/([^/]+)/([^/]+)/blob/([0-9a-f]{40})/([^#]+)(?:#L(\d+))?")
SIZE_WORDS = {"tiny": "t", "small": "s", "base": "b", "large": "l", "huge": "h", "giant": "g"}
MODEL_SIZE_RE = re.compile(r"(?i)(?<![a-z])(?:vit|deit|swin|hivit|convnext[ -]?v2|hiera|convmae|mixmim|point-?vit|"
                           r"videoconvmae|beit|mae)[-_ ]?(t|ti|s|b\+|b|l|h|g|tiny|small|base|large|huge|giant)"
                           r"(?![a-z0-9])")
WORD_SIZE_RE = re.compile(r"(?i)(?<![a-z])(tiny|small|base|large|huge|giant)(?![a-z])")
PATCH_RE = re.compile(r"(?i)(?:/|[-_]p|patch)(8|14|16|32)(?![0-9])")
RES_RE = re.compile(r"(?<![\d.])(\d{3,4})\s*(?:x|×|\*)\s*(\d{3,4})(?![\d.])|(?<![\d.])(\d{3,4})\s*px\b")
PROTOCOL_WORDS = [("knn_top1", re.compile(r"(?i)k-?nn")), ("linear_top1", re.compile(r"(?i)\blin(ear|\.)?\b|probe")),
                  ("finetune_top1", re.compile(r"(?i)fine-?tun|\bft\b|\bfin\.?\b"))]


@dataclass
class Verdict:
    agree: list[str] = field(default_factory=list)
    disagree: list[str] = field(default_factory=list)
    unstated: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return not self.disagree and not any(u.startswith(("size", "protocol")) for u in self.unstated)


def row_size(backbone: str) -> tuple[str, str]:
    """('b', '16') from 'ViT-B/16'; ('b+', '') from 'Hiera-B+'; ('', '') where the name carries no size letter."""
    m = re.match(r"(?i)(?:vit|swin|hivit|convnext-v2|convnext|hiera|convmae|mixmim|point-vit|revcolv2|mviTv2)-"
                 r"([a-z]\+?|xl)(?:/(\d+))?$", backbone)
    return (m.group(1).lower(), m.group(2) or "") if m else ("", "")


def sizes_in(text: str) -> set[str]:
    found = {m.group(1).lower() for m in MODEL_SIZE_RE.finditer(text)}
    found |= {SIZE_WORDS[m.group(1).lower()] for m in WORD_SIZE_RE.finditer(text)}
    return {SIZE_WORDS.get(s, "t" if s == "ti" else s) for s in found}


def resolutions_in(text: str) -> set[str]:
    out = set()
    for a, b, px in RES_RE.findall(text):
        if px:
            out.add(px)
        elif a == b:
            out.add(a)
    return out


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", fragment))


def context(lines: list[str], number: int, value: str) -> tuple[str, str, str, str]:
    """(row, header, heading, column header of the figure) around 1-based line `number`."""
    i = number - 1
    line = lines[i]
    heading = ""
    for j in range(i, -1, -1):
        if re.match(r"\s*(#{1,6} |\*\*[^*]+\*\*\s*$)", lines[j]):
            heading = lines[j].strip("#* \n")
            break
    if line.lstrip().startswith("|"):  # a Markdown table: walk up to its header
        j = i
        while j > 0 and lines[j - 1].lstrip().startswith("|"):
            j -= 1
        header = lines[j]
        column = ""
        cells, head = _cells(line), _cells(header)
        target = float(value)
        hits = [k for k, c in enumerate(cells) if target in {float(x) for x in re.findall(r"\d+(?:\.\d+)?", _text(c))}]
        if len(hits) == 1 and len(head) == len(cells):
            column = head[hits[0]]
        # a second header line (under a spanning one) when the separator is not right below the first
        return _text(line), _text(header), heading, _text(column)
    if re.search(r"<t[dh]", line):  # an HTML table: the row from its <tr>, the header from the table's <th>s
        start = i
        while start > 0 and "<tr" not in lines[start]:
            start -= 1
        table = start
        while table > 0 and "<table" not in lines[table]:
            table -= 1
        ths = " ".join(_text(x) for x in lines[table:start] if "<th" in x)
        above = " ".join(lines[max(0, table - 3):table])
        return _text(" ".join(lines[start:i + 1])), ths + " " + _text(above), heading, ""
    return _text(line), "", heading, ""


# link targets and URLs (a '/14' in a file id is no patch size), and a CLIP teacher's name ('CLIP-L/14')
NOISE_RE = re.compile(r"\]\([^)]*\)|https?://\S+|(?i:\b(?:clip|eva-clip|openclip)[-\w]*/\d+)")


def judge(row: dict, row_text: str, header: str, heading: str, column: str) -> Verdict:
    """What the context says against what the row says (link targets and a CLIP teacher's patch ignored)."""
    row_text, header, heading, column = (NOISE_RE.sub(" ", t) for t in (row_text, header, heading, column))
    v = Verdict()
    size, patch = row_size(row["backbone"])
    near = sizes_in(row_text)
    wide = near or sizes_in(heading) or sizes_in(header) or sizes_in(column)
    if not size:  # a generator, tokenizer, point or protein model: its distinctive name part must be there
        token = re.split(r"[-/]", row["backbone"])[-1] if "-" in row["backbone"] else row["backbone"]
        if re.search(rf"(?i)(?<![a-z0-9]){re.escape(token)}(?![a-z0-9])", f"{row_text} {heading} {column}"):
            v.agree.append(f"model {token}")
        else:
            v.unstated.append(f"size (model name part '{token}' not in the context)")
    elif not wide:
        v.unstated.append("size")
    elif size in wide and (len(wide) == 1 or size in near):
        v.agree.append(f"size {size.upper()}")
    elif size not in wide:
        v.disagree.append(f"size: the context names {', '.join(sorted(s.upper() for s in wide))}, "
                          f"the row {size.upper()}")
    else:
        v.unstated.append("size (several sizes in the header, none on the row)")
    patches = set(PATCH_RE.findall(row_text)) or set(PATCH_RE.findall(heading + " " + column))
    if patch and patches:
        if patch in patches:
            v.agree.append(f"patch {patch}")
        else:
            v.disagree.append(f"patch: the context says {'/'.join(sorted(patches))}, the row {patch}")
    epochs = row.get("pretrain_epochs", "")
    if epochs:
        pattern = re.compile(rf"(?<![\d.]){epochs}(?![\d.])")
        if pattern.search(row_text) or pattern.search(heading) or pattern.search(column):
            v.agree.append(f"epochs {epochs}")
        else:
            v.unstated.append("epochs")
    stated = resolutions_in(row_text + " " + column) or resolutions_in(heading)
    res = row.get("resolution", "")
    if stated:
        if res in stated:
            v.agree.append(f"resolution {res}")
        elif res:
            v.disagree.append(f"resolution: the context says {'/'.join(sorted(stated))}, the row {res}")
    elif res:
        v.unstated.append("resolution")
    metric = row["metric"]
    said = [m for m, pattern in PROTOCOL_WORDS if pattern.search(column)] if column else []
    if metric in {"finetune_top1", "linear_top1", "knn_top1"}:
        if said and metric in said:
            v.agree.append(f"column '{column.strip()}'")
        elif said:
            v.disagree.append(f"protocol: the figure's column is '{column.strip()}', the row says {metric}")
        else:
            around = [m for m, pattern in PROTOCOL_WORDS if pattern.search(row_text + " " + heading)]
            if metric in around:
                v.agree.append("protocol named on the row or heading")
            else:
                v.unstated.append("protocol")
    elif column:
        v.agree.append(f"column '{column.strip()}'")
    else:
        v.unstated.append("protocol (column not resolved)")
    return v


def zoo_context(text: str, model: str) -> tuple[str, str]:
    """A metafile's block for `model` (its name and results) and the whole file's Collections header."""
    m = re.search(rf"(?m)^\s*- Name: {re.escape(model)}\s*$", text)
    if not m:
        return "", ""
    end = re.search(r"(?m)^\s*- Name: ", text[m.end():])
    return model + " " + text[m.start(): m.end() + (end.start() if end else len(text))], ""


def check(row: dict, mirrors: Path) -> tuple[str, Verdict | None]:
    m = URL_RE.match(row.get("source_url", ""))
    if not m:
        return "no pinned GitHub file", None
    owner, name, commit, path, line = m.groups()
    repo = mirrors / f"{owner}+{name}" / "repo"
    if not repo.exists():
        return f"no snapshot of {owner}/{name}", None
    shown = subprocess.run(["git", "-C", str(repo), "show", f"{commit}:{path}"], capture_output=True, text=True)
    if shown.returncode != 0:
        return f"{path} not at {commit[:7]} in the snapshot", None
    text = shown.stdout
    where = row.get("where", "")
    model = re.search(r"metafile\.ya?ml: model (\S+)", where)
    if model:
        block, _ = zoo_context(text, model.group(1))
        if not block or float(row["value"]) not in {float(x) for x in re.findall(r"\d+(?:\.\d+)?", block)}:
            return f"model {model.group(1)} or its figure not in {path}", None
        return "read", judge(row, block.replace("-", " - ").replace("_", " "), "", "", "")
    if not line:
        found = re.search(r"line (\d+)", where)
        line = found.group(1) if found else None
    lines = text.splitlines()
    if not line:  # no line cited: the one line of the file that holds the figure, if there is exactly one
        target = float(row["value"])
        holding = [k for k, x in enumerate(lines, 1) if target in {float(n) for n in re.findall(r"\d+(?:\.\d+)?", x)}]
        line = str(holding[0]) if len(holding) == 1 else None
    if not line:
        return "no line cited, and the figure is on several lines (or none)", None
    if not 1 <= int(line) <= len(lines):
        return f"line {line} beyond the file", None
    return "read", judge(row, *context(lines, int(line), row["value"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mirrors", type=Path, required=True)
    parser.add_argument("--write", action="store_true", help="record agreeing rows' meaning_check")
    parser.add_argument("--report", type=Path, help="write every row's verdict to this CSV")
    args = parser.parse_args()
    rows = read_rows(DATA / "results.csv")
    verdicts = {}
    report = []
    for number, row in enumerate(rows, start=2):
        status, v = check(row, args.mirrors)
        key = (row["paper_id"], row["backbone"], row["dataset"], row["metric"], row["value"], row["source_url"])
        verdicts[key] = (status, v)
        outcome = status if v is None else ("disagree" if v.disagree else "agree" if v.verified else "partial")
        report.append(dict(line=number, paper_id=row["paper_id"], backbone=row["backbone"], metric=row["metric"],
                           value=row["value"], outcome=outcome, agree="; ".join(v.agree) if v else "",
                           disagree="; ".join(v.disagree) if v else "", unstated="; ".join(v.unstated) if v else ""))
        if v is not None and v.disagree:
            print(f"results.csv:{number}: {row['paper_id']} {row['backbone']} {row['metric']} {row['value']}: "
                  + "; ".join(v.disagree))
    counts: dict[str, int] = {}
    for r in report:
        counts[r["outcome"] if r["outcome"] in {"agree", "disagree", "partial"} else "not read"] = \
            counts.get(r["outcome"] if r["outcome"] in {"agree", "disagree", "partial"} else "not read", 0) + 1
    print(", ".join(f"{k}: {n}" for k, n in sorted(counts.items())))
    if args.report:
        with args.report.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, list(report[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(report)
    if args.write:
        for path in (DATA / "results-checked.csv", DATA / "results.csv"):
            table = read_rows(path)
            for row in table:
                key = (row["paper_id"], row["backbone"], row["dataset"], row["metric"], row["value"],
                       row["source_url"])
                status, v = verdicts.get(key, ("", None))
                curated = row.get("meaning_check", "").startswith(("verified: ", "unverifiable: "))
                if v is not None and v.verified and not curated:
                    commit = URL_RE.match(row["source_url"]).group(3)[:7]
                    row["meaning_check"] = (f"verified: check_meaning.py read the row, its table header and heading "
                                            f"at {commit}: " + ", ".join(v.agree)
                                            + (f"; not stated there: {', '.join(v.unstated)}" if v.unstated else ""))
            write_rows(path, table)


if __name__ == "__main__":
    main()
