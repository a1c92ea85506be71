"""The spot check and the reviewer's table of reported results in data/SOURCES.md: each listed row must be the
row of results.csv at its line (same paper, backbone and value), quoted or read in its source."""

from __future__ import annotations

import csv
import random
import re

from tests.conftest import DATA

REVIEW_SEED, REVIEW_COUNT = 35, 30


def table_rows(heading: str) -> dict[str, list[str]]:
    text = (DATA / "SOURCES.md").read_text(encoding="utf-8")
    section = text.split(heading, 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        if not line.startswith("| ") or line.startswith("| results.csv"):
            continue
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        rows[cells[0]] = cells
    return rows


def numbers(text: str) -> set[float]:
    return {float(m) for m in re.findall(r"\d+(?:\.\d+)?", text)}


def results() -> list[dict]:
    with (DATA / "results.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_twenty_spot_checked_rows_are_quoted_from_their_sources():
    rows = results()
    table = table_rows("### Spot check")
    assert len(table) == 20
    for line, (_, paper, backbone, _, _, value, where, quote) in table.items():
        row = rows[int(line) - 2]
        assert (paper, backbone, value) == (row["paper_id"], row["backbone"], row["value"]), line
        assert f"]({row['source_url']})" in where, f"line {line}: the link is not the row's source_url"
        assert float(row["value"]) in numbers(quote), f"line {line}: the quote does not show {row['value']}"
        assert row["source_url"].startswith("https://") and row["where"], f"line {line}: no pinned place"


def test_the_reviewers_sample_is_the_seeded_draw_and_says_what_was_read():
    rows = results()
    table = table_rows("### Reviewer's table")
    chosen = sorted(random.Random(REVIEW_SEED).sample(range(len(rows)), REVIEW_COUNT))
    assert sorted(int(k) for k in table) == [i + 2 for i in chosen]
    for line, (_, paper, backbone, value, read, verdict) in table.items():
        row = rows[int(line) - 2]
        assert (paper, backbone, value) == (row["paper_id"], row["backbone"], row["value"]), line
        assert verdict.startswith(("right", "WRONG", "not checked")), line
        if verdict.startswith("right"):
            assert float(value) in numbers(read), f"line {line}: what was read does not show {value}"
