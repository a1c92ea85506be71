"""The spot check of reported results: 20 rows drawn with a fixed seed must be listed in data/SOURCES.md with
the same value and URL and a quote of the source in which the value appears."""

from __future__ import annotations

import csv
import random
import re

from tests.conftest import DATA

SEED, COUNT = 22, 20


def spot_check_table() -> dict[str, list[str]]:
    text = (DATA / "SOURCES.md").read_text(encoding="utf-8")
    section = text.split("### Spot check", 1)[1]
    rows = {}
    for line in section.splitlines():
        if not line.startswith("| ") or line.startswith("| results.csv"):
            continue
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        rows[cells[0]] = cells
    return rows


def numbers(text: str) -> set[float]:
    return {float(m) for m in re.findall(r"\d+(?:\.\d+)?", text)}


def test_twenty_random_rows_are_quoted_from_their_sources():
    with (DATA / "results.csv").open(encoding="utf-8", newline="") as fh:
        results = list(csv.DictReader(fh))
    table = spot_check_table()
    chosen = sorted(random.Random(SEED).sample(range(len(results)), COUNT))
    for index in chosen:
        row, line = results[index], str(index + 2)
        assert line in table, f"results.csv line {line} ({row['paper_id']}) is not in the spot check"
        _, paper, backbone, _, _, value, where, quote = table[line]
        assert (paper, backbone, value) == (row["paper_id"], row["backbone"], row["value"]), line
        assert f"]({row['source_url']})" in where, f"line {line}: the link is not the row's source_url"
        assert float(row["value"]) in numbers(quote), f"line {line}: the quote does not show {row['value']}"
        assert row["source_url"].startswith("https://") and row["where"], f"line {line}: no pinned place"
