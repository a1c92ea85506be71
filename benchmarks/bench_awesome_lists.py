"""How many of a real awesome list's entries `mimtax corpus import` reads, counted independently of the reader.

The yardstick is not the reader's own idea of an entry: every line outside code fences that carries a link to a
paper (an arXiv / OpenReview / DOI / proceedings address, a .pdf, or a link named paper / pdf / arxiv) is one
entry, and each is looked up in the reader's output: inside a block that became a paper (read), inside one the
import report lists with its reason (skipped), or neither (lost, silently). The lists are not part of the project:
fetch them yourself and pass their paths with the repository and commit they came from.

    python benchmarks/bench_awesome_lists.py LIST.md:owner/repo@commit [...]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import save  # noqa: E402
from taxonomy.corpus.readers import read_source  # noqa: E402

PAPER_LINK = re.compile(r"\[\[?\s*(?:paper|pdf|arxiv)[^\]]*\]\]?\((?!#)|\]\((?:https?://)?(?:[\w.-]*\.)?(?:arxiv\.org|"
                        r"openreview\.net|doi\.org|aclanthology\.org|openaccess\.thecvf\.com|proceedings\.[\w.]+|"
                        r"papers\.nips\.cc|ieeexplore\.ieee\.org|dl\.acm\.org)|\]\([^)\s]+\.pdf\)", re.IGNORECASE)


def paper_link_lines(text: str) -> list[int]:
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and PAPER_LINK.search(line):
            lines.append(number)
    return lines


def measure(path: Path, origin: str) -> dict:
    source = read_source(path, "markdown")
    starts = sorted([(r.line, "read", r.title) for r in source.records]
                    + [(k.line, "skipped:" + k.reason, k.text) for k in source.skipped])
    text = path.read_text(encoding="utf-8")
    counted = {"read": 0, "skipped": 0, "lost": 0}
    reasons: dict[str, int] = {}
    lost_examples = []
    heading_lines = {n for n, line in enumerate(text.splitlines(), 1) if line.startswith("#")}
    for number in paper_link_lines(text):
        owner = None
        for start, kind, _ in starts:  # the nearest block that starts at or above the line, with no heading between
            if start > number:
                break
            owner = (start, kind)
        if owner is None or any(owner[0] < h <= number for h in heading_lines) or number - owner[0] > 12:
            counted["lost"] += 1
            lost_examples.append(number)
            continue
        kind = owner[1]
        if kind == "read":
            counted["read"] += 1
        else:
            counted["skipped"] += 1
            reasons[kind.split(":", 1)[1]] = reasons.get(kind.split(":", 1)[1], 0) + 1
    entries = sum(counted.values())
    return {"list": origin, "file": path.name, "entries_with_paper_link": entries, **counted,
            "read_share": round(counted["read"] / entries, 4) if entries else None,
            "accounted_share": round((counted["read"] + counted["skipped"]) / entries, 4) if entries else None,
            "skip_reasons": reasons, "lost_lines": lost_examples[:20],
            "papers": len(source.records), "skipped_entries": len(source.skipped),
            "heading_paths": len(source.headings)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lists", nargs="+", help="PATH:owner/repo@commit")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    rows = []
    for item in args.lists:
        path, _, origin = item.partition(":")
        row = measure(Path(path), origin or path)
        rows.append(row)
        print(f"{row['list']}: {row['entries_with_paper_link']} entries with a paper link, {row['read']} read "
              f"({row['read_share']:.1%}), {row['skipped']} skipped with a reason, {row['lost']} lost")
    save("awesome-lists", {"lists": rows}, args.out)


if __name__ == "__main__":
    main()
