"""Append reported results to data/results-checked.csv, refusing any figure that is not where its row says.

    python data/scripts/add_checked_results.py candidates.csv --mirrors /work/.mirror [--shared ../shared]

`candidates.csv` has the columns of results-checked.csv (its meaning columns too: resolution, teacher, ...)
except `source` and `source_url`, plus `repo`
(owner/name), `file` and `line` for a figure read in a repository, or `arxiv` for one read in a paper's abstract.
A repository row is checked against the local snapshot `<mirrors>/<owner>+<name>/repo` (a git directory, as the
`fetch` tool leaves it): the value must stand on that line at the snapshot's commit, and the row gets the URL
`https://github.com/<repo>/blob/<commit>/<file>#L<line>`. An abstract row is checked against the dev abstracts
when the paper is among them, and otherwise reported as read by hand. Rows already present are skipped; a row
that fails its check is listed and nothing is written, so the file is never half-updated.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECKED = ROOT / "data" / "results-checked.csv"
COLUMNS = ["paper_id", "method", "backbone", "pretrain_epochs", "pretrain_data", "dataset", "metric", "value",
           "source", "source_url", "where"]


def value_on(text: str, value: str) -> bool:
    """Whether one of the numbers in `text` is the figure (84.1 matches '84.10' and '**84.1**', never '184.1')."""
    return float(value) in {float(x) for x in re.findall(r"\d+(?:\.\d+)?", text)}


def git(repo_dir: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo_dir), *args], check=True, capture_output=True,
                          text=True).stdout


def from_repository(row: dict, mirrors: Path) -> tuple[dict | None, str]:
    if row["repo"].count("/") != 1 or not row.get("file") or not str(row.get("line", "")).isdigit():
        return None, f"expected repo as owner/name, a file and a line number, got {row['repo']!r}"
    owner, name = row["repo"].split("/")
    repo_dir = mirrors / f"{owner}+{name}" / "repo"
    if not repo_dir.exists():
        return None, f"no snapshot at {repo_dir}"
    commit = git(repo_dir, "rev-parse", "HEAD").strip()
    try:
        lines = git(repo_dir, "show", f"{commit}:{row['file']}").splitlines()
    except subprocess.CalledProcessError:
        return None, f"{row['repo']} has no file {row['file']} at {commit[:7]}"
    number = int(row["line"])
    if not 1 <= number <= len(lines) or not value_on(lines[number - 1], row["value"]):
        return None, f"{row['value']} is not on {row['repo']} {row['file']} line {number}"
    out = dict(row, source=f"github:{row['repo']} {row['file']}",
               source_url=f"https://github.com/{row['repo']}/blob/{commit}/{row['file']}#L{number}")
    return out, "checked"


def from_abstract(row: dict, abstracts: dict[str, str]) -> tuple[dict | None, str]:
    arxiv = row["arxiv"]
    out = dict(row, source=f"the paper's abstract (arXiv {arxiv})", source_url=f"https://arxiv.org/abs/{arxiv}")
    if arxiv not in abstracts:
        return out, "read by hand (abstract not among the dev abstracts)"
    if not value_on(abstracts[arxiv], row["value"]):
        return None, f"{row['value']} is not in the abstract of arXiv {arxiv}"
    return out, "checked against the dev abstract"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("candidates", type=Path)
    parser.add_argument("--mirrors", type=Path, required=True)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--checked", type=Path, default=CHECKED, help="the file to append to")
    args = parser.parse_args()
    checked = args.checked
    abstracts = {}
    dev = args.shared / "corpus" / "abstracts-dev.jsonl"
    if dev.exists():
        for line in dev.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            abstracts[record.get("arxiv_id") or ""] = record.get("abstract") or ""
    with checked.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        existing, columns = list(reader), list(reader.fieldnames or COLUMNS)  # the meaning columns come along
    seen = {tuple(r[c] for c in COLUMNS[:8]) for r in existing}
    with args.candidates.open(encoding="utf-8", newline="") as fh:
        candidates = list(csv.DictReader(fh))
    added, failures = [], []
    for number, row in enumerate(candidates, start=2):
        row["value"] = row["value"].strip()
        made, note = from_repository(row, args.mirrors) if row.get("repo") else from_abstract(row, abstracts)
        if made is None:
            failures.append(f"{args.candidates}:{number}: {note}")
            continue
        made["value"] = str(float(made["value"]))  # one spelling of a number, as in the rest of the file
        key = tuple(made[c] for c in COLUMNS[:8])
        if key in seen:
            continue
        seen.add(key)
        added.append({c: made.get(c, "") for c in columns})
        print(f"{made['paper_id']:<40} {made['dataset']:<36} {made['value']:>8}  {note}")
    if failures:
        print("\n".join(failures), file=sys.stderr)
        return 1
    tmp = checked.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(existing + added)
    tmp.replace(checked)
    print(f"{len(added)} rows added to {checked}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
