"""The text of each paper: title, plus an abstract where one is known.

Abstracts never ship with the project; they come from the corpus's store (`mimtax enrich`, or abstracts
found by `mimtax corpus import`) and from a JSONL file (one object a line with `title` and
`abstract`, and optionally `id`, `key` or `arxiv_id`) and it is matched on id, then arXiv id, then normalised title.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from taxonomy.corpus.folder import norm_title
from taxonomy.errors import UserError
from taxonomy.fsutil import jsonl_objects


@dataclass
class PaperTexts:
    titles: list[str]
    abstracts: list[str]  # "" where unknown
    conflicts: list[str] = field(default_factory=list)  # ambiguous matches, one line each (see match_abstracts)

    @property
    def n_with_abstract(self) -> int:
        return sum(1 for a in self.abstracts if a)

    def combined(self) -> list[str]:
        """Title and abstract in one string; the title alone where no abstract is known."""
        return [f"{t}. {a}" if a else t for t, a in zip(self.titles, self.abstracts)]


def read_abstracts(path: str | Path) -> list[dict]:
    """Rows of an abstracts JSONL file; a malformed line is a one-line error naming file and line."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"--abstracts {path}: is a folder; give the JSONL file of abstracts (one JSON object a line)")
    if not path.is_file():
        raise UserError(f"{path}: abstracts file not found")
    rows = []
    for number, row in jsonl_objects(path):
        if not isinstance(row, dict) or not isinstance(row.get("abstract", ""), str):
            raise UserError(f"{path}:{number}: abstract: expected an object with a string 'abstract'")
        rows.append(row)
    return rows


def match_abstracts(papers: pd.DataFrame, rows: list[dict],
                    conflicts: list[str] | None = None) -> list[str]:
    """One abstract per paper ("" when none matches): by the paper's id, then its arXiv id, then its title.

    An arXiv id is trusted only when it points at one abstract and no other paper of the corpus carries it;
    otherwise (a paper and its v2, two names of one method) the paper's title decides.
    Every ambiguity is appended to `conflicts` as one readable line."""
    conflicts = conflicts if conflicts is not None else []
    by_id: dict[str, str] = {}
    by_arxiv: dict[str, list[str]] = {}
    by_title: dict[str, str] = {}
    for row in rows:
        abstract = (row.get("abstract") or "").strip()
        if not abstract:
            continue
        for key in ("id", "key"):
            if row.get(key):
                by_id.setdefault(str(row[key]), abstract)
        if row.get("arxiv_id"):
            by_arxiv.setdefault(str(row["arxiv_id"]).strip(), []).append(abstract)
        if row.get("title"):
            by_title.setdefault(norm_title(row["title"]), abstract)
    papers_per_arxiv = papers["arxiv_id"].fillna("").astype(str).str.strip().value_counts()
    out = []
    for paper in papers.itertuples(index=False):
        titles = [paper.title, *[t for t in str(getattr(paper, "other_titles", "") or "").split(" | ") if t]]
        by_own_title = next((by_title[t] for t in map(norm_title, titles) if t in by_title), None)
        found = by_id.get(paper.id)
        arxiv = str(paper.arxiv_id or "").strip()
        candidates = by_arxiv.get(arxiv, []) if arxiv else []
        if found is None and candidates:
            distinct = set(candidates)
            if len(distinct) == 1 and papers_per_arxiv.get(arxiv, 0) == 1:
                found = candidates[0]
            else:  # ambiguous: left to the title, the next step
                what = (f"{len(distinct)} different abstracts" if len(distinct) > 1
                        else f"{papers_per_arxiv.get(arxiv, 0)} papers of the corpus")
                conflicts.append(f"{paper.id}: arXiv {arxiv} is shared by {what}; "
                                 + ("matched on the title" if by_own_title else "no title matches, so none is used"))
        out.append(found or by_own_title or "")
    return out


def paper_texts(papers: pd.DataFrame, abstracts: str | Path | None = None,
                store: list[dict] | None = None) -> PaperTexts:
    """Titles and abstracts: from the `abstracts` JSONL first, then from the corpus's store of fetched ones."""
    titles = [str(t) for t in papers["title"]]
    matched = [""] * len(titles)
    conflicts: list[str] = []
    if abstracts is not None:
        found: list[str] = []
        matched = match_abstracts(papers, read_abstracts(abstracts), found)
        conflicts += [f"{abstracts}: {line}" for line in found]
        if not any(matched):
            raise UserError(f"{abstracts}: no abstract matches any paper of the corpus (matched on id, arXiv id "
                            "and normalised title)")
    if store:
        stored = match_abstracts(papers, store, conflicts)
        matched = [a or b for a, b in zip(matched, stored)]
    return PaperTexts(titles, matched, conflicts)
