"""The text of each paper: title, plus an abstract where one is known.

Abstracts never ship with the project; they come from the corpus's store (`mimtax enrich`, or abstracts
found by `mimtax corpus import`) and from a JSONL file (one object a line with `title` and
`abstract`, and optionally `id`, `key` or `arxiv_id`) and it is matched on id, arXiv id or normalised title.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from taxonomy.corpus import norm_title
from taxonomy.errors import UserError
from taxonomy.fsutil import jsonl_objects


@dataclass
class PaperTexts:
    titles: list[str]
    abstracts: list[str]  # "" where unknown

    @property
    def n_with_abstract(self) -> int:
        return sum(1 for a in self.abstracts if a)

    def combined(self) -> list[str]:
        """Title and abstract in one string; the title alone where no abstract is known."""
        return [f"{t}. {a}" if a else t for t, a in zip(self.titles, self.abstracts)]


def read_abstracts(path: str | Path) -> list[dict]:
    """Rows of an abstracts JSONL file; a malformed line is a one-line error naming file and line."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: abstracts file not found")
    rows = []
    for number, row in jsonl_objects(path):
        if not isinstance(row, dict) or not isinstance(row.get("abstract", ""), str):
            raise UserError(f"{path}:{number}: abstract: expected an object with a string 'abstract'")
        rows.append(row)
    return rows


def match_abstracts(papers: pd.DataFrame, rows: list[dict]) -> list[str]:
    """One abstract per paper ("" when none matches), by id, then arXiv id, then normalised title."""
    by_id, by_arxiv, by_title = {}, {}, {}
    for row in rows:
        abstract = (row.get("abstract") or "").strip()
        if not abstract:
            continue
        for key in ("id", "key"):
            if row.get(key):
                by_id.setdefault(str(row[key]), abstract)
        if row.get("arxiv_id"):
            by_arxiv.setdefault(str(row["arxiv_id"]).strip(), abstract)
        if row.get("title"):
            by_title.setdefault(norm_title(row["title"]), abstract)
    out = []
    for paper in papers.itertuples(index=False):
        found = by_id.get(paper.id) or (by_arxiv.get(paper.arxiv_id) if paper.arxiv_id else None)
        titles = [paper.title, *[t for t in str(getattr(paper, "other_titles", "")).split(" | ") if t]]
        for title in titles:
            found = found or by_title.get(norm_title(title))
        out.append(found or "")
    return out


def paper_texts(papers: pd.DataFrame, abstracts: str | Path | None = None,
                store: list[dict] | None = None) -> PaperTexts:
    """Titles and abstracts: from the `abstracts` JSONL first, then from the corpus's store of fetched ones."""
    titles = [str(t) for t in papers["title"]]
    matched = [""] * len(titles)
    if abstracts is not None:
        matched = match_abstracts(papers, read_abstracts(abstracts))
        if not any(matched):
            raise UserError(f"{abstracts}: no abstract matches any paper of the corpus (matched on id, arXiv id "
                            "and normalised title)")
    if store:
        stored = match_abstracts(papers, store)
        matched = [a or b for a, b in zip(matched, stored)]
    return PaperTexts(titles, matched)
