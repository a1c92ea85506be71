"""Print the spot-check table of data/SOURCES.md: the 20 rows of results.csv that
tests/test_results_spot_check.py draws, each with the place in its source where the value appears.

    python data/scripts/spot_check_table.py --mirrors /work/.mirror > /tmp/table.md

A row already in SOURCES.md's table (same paper, backbone, value and URL) keeps its quote. Otherwise the quote is
read from a local snapshot of the source repository (`<mirrors>/<owner>+<name>/repo`, a git directory) at the
URL's commit: the anchored line (`#L<n>`), or for a model-zoo metafile the model's `Name:` line and the first
line after it that holds the value. For a paper's abstract only the number itself is quoted (abstracts are not
copied into the project). A row whose quote cannot be read is printed with `?`, and the test then fails.
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(Path(__file__).resolve().parent))

from add_checked_results import value_on  # noqa: E402  (one rule for "the figure stands on this line")
from tests.test_results_spot_check import COUNT, SEED, spot_check_table  # noqa: E402

BLOB = re.compile(r"https://github\.com/([^/]+)/([^/]+)/blob/([0-9a-f]{40})/([^#]+)(?:#L(\d+))?")


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def source_lines(mirrors: Path, url: str) -> tuple[list[str], int | None] | None:
    m = BLOB.match(url)
    if not m:
        return None
    owner, name, commit, path, line = m.groups()
    git = mirrors / f"{owner}+{name}" / "repo"
    shown = subprocess.run(["git", f"--git-dir={git}", "show", f"{commit}:{path}"], capture_output=True, text=True)
    if shown.returncode != 0:
        return None
    return shown.stdout.splitlines(), int(line) if line else None


def clip(text: str, value: str) -> str:
    """The line with its links shortened; a long line keeps its start and the stretch around the value."""
    text = re.sub(r"\]\([^)]*\)", "](…)", text.strip())
    if len(text) <= 160:
        return text
    hit = next((m for m in re.finditer(r"\d+(?:\.\d+)?", text) if float(m.group()) == float(value)), None)
    if hit is None or hit.end() <= 157:
        return text[:157] + "…"
    return text[:80] + " … " + text[max(80, hit.start() - 40):hit.end() + 40] + "…"


def quote(row: dict, mirrors: Path) -> str:
    url, value = row["source_url"], row["value"]
    if "arxiv.org/abs/" in url or "abstract" in row["where"].lower():
        return f"the abstract's figure: `{value}`"
    found = source_lines(mirrors, url)
    if found is None:
        return "?"
    lines, anchor = found
    if anchor:
        return f"line {anchor}: `{clip(lines[anchor - 1], value)}`" if value_on(lines[anchor - 1], value) else "?"
    model = re.search(r"model (\S+)", row["where"])
    if model:  # a metafile: the model's entry, then its value
        start = next((i for i, t in enumerate(lines) if t.strip() == f"- Name: {model.group(1)}"), None)
        if start is not None:
            hit = next((i for i in range(start + 1, len(lines)) if value_on(lines[i], value)), None)
            if hit is not None:
                return (f"line {start + 1}: `{clip(lines[start], value)}` … line {hit + 1}: `{clip(lines[hit], value)}`")
    hits = [i for i, t in enumerate(lines) if value_on(t, value)]
    if len(hits) > 1:  # several lines hold the number: keep those that name the row the `where` describes
        words = {w.lower() for w in re.findall(r"[\w.-]{4,}", row["where"])} - {"table", "under", "column", "readme.md"}
        score = {i: sum(w in lines[i].lower() for w in words) for i in hits}
        best = max(score.values())
        hits = [i for i in hits if score[i] == best]
    return f"line {hits[0] + 1}: `{clip(lines[hits[0]], value)}`" if len(hits) == 1 else "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mirrors", type=Path, required=True, help="folder of <owner>+<name>/repo git snapshots")
    args = parser.parse_args()
    with (ROOT / "data" / "results.csv").open(encoding="utf-8", newline="") as fh:
        results = list(csv.DictReader(fh))
    old = {(c[1], c[2], c[5], re.search(r"\]\(([^)]*)\)", c[6]).group(1)): c for c in spot_check_table().values()
           if re.search(r"\]\(([^)]*)\)", c[6])}
    print("| results.csv line | paper | backbone | epochs | benchmark / metric | value | where | quote |")
    print("|---|---|---|---|---|---|---|---|")
    for index in sorted(random.Random(SEED).sample(range(len(results)), COUNT)):
        row = results[index]
        kept = old.get((row["paper_id"], row["backbone"], row["value"], row["source_url"]))
        text = cell(kept[7]) if kept else cell(quote(row, args.mirrors))
        where = f"[{cell(row['where'])}]({row['source_url']})"
        print(f"| {index + 2} | {row['paper_id']} | {cell(row['backbone'])} | {row['pretrain_epochs'] or '–'} | "
              f"{row['dataset']} / {row['metric']} | {row['value']} | {where} | {text} |")


if __name__ == "__main__":
    main()
