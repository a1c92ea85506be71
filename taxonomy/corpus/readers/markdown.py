"""Awesome-list Markdown: headings become taxonomy nodes, entries papers, whatever the list's layout.

Awesome-MIM's layout (a bullet with a bold title and `<br>`, then `*authors*<br>`, a `Venue'Year [[Paper](url)]
[[Code](url)]` line and an optional `<summary>Name Framework</summary>`) is read by `read_mim_layout`, which
reproduces that list exactly; every other layout is read block by block (`markdown_blocks`). Which one applies is
decided from the text: the Awesome-MIM reader when at least half of the entry-like blocks are in its layout.
Either way every entry-like block is a record or a `Skipped` with its line and reason. Fenced code blocks
(templates in "how to contribute" sections) are skipped; headings without papers are not nodes.
"""

from __future__ import annotations

import re
from pathlib import Path

from taxonomy.corpus.readers.markdown_blocks import (Block, heading_text, is_year, looks_like_entry,
                                                     non_paper_section, read_block, table_cells)
from taxonomy.corpus.readers.records import (Record, Skipped, Source, clean_arxiv, clean_doi, fail, read_utf8,
                                             squash)
from taxonomy.errors import Problem

HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
ENTRY = re.compile(r"^\s{0,3}[*-]\s+\*\*(.+?)\*\*")
MIM_ENTRY = re.compile(r"^\s{0,3}[*-]\s+\*\*(.+?)\*\*\s*<br\s*/?>")
BULLET = re.compile(r"^(\s*)(?:[-*+]|\d{1,3}[.)])\s+(.*)$")
BOLD_START = re.compile(r"^\s{0,3}\*\*(?!\s)")
OWN_LINK = re.compile(r"\]\((?:https?://|www\.)")
DETAILS = re.compile(r"^<details\b", re.IGNORECASE)  # at column 0: a collapsible section (indented: inside an entry)
SUMMARY_NAME = re.compile(r"<summary>\s*(.*?)\s*</summary>", re.IGNORECASE)
AUTHORS = re.compile(r"^\s*\*([^*].*?)\*\s*(<br>)?\s*$")
VENUE = re.compile(r"^\s*([^\[<*][^\[]*?)'\s*(\d{4})")
LINK = re.compile(r"\[\[([^\]]+)\]\((\S+?)\)\]")
SUMMARY = re.compile(r"<summary>(.*?)</summary>")


def _finish(record: Record, lines: list[str]) -> None:
    for line in lines:
        if not record.authors and (m := AUTHORS.match(line)):
            record.authors = [squash(a) for a in m.group(1).split(",") if squash(a)]
            continue
        if not record.year and (m := VENUE.match(line)):
            venue = squash(m.group(1))
            record.venue, record.year = ("arXiv" if venue.lower() == "arxiv" else venue), m.group(2)
        for name, url in LINK.findall(line):
            kind = name.strip().lower()
            if kind == "paper" and not record.url:
                record.url = url
            elif kind == "code" and not record.code_url:
                record.code_url = url
            elif kind in ("project", "project page", "website", "homepage") and not record.project_url:
                record.project_url = url
        if not record.short_name and (m := SUMMARY.search(line)):
            record.short_name = squash(re.sub(r"(^|\s+)Framework$", "", m.group(1).strip()))
    record.arxiv_id = clean_arxiv(record.url)
    record.doi = clean_doi(record.url) if "doi.org" in record.url else ""


def read_mim_layout(path: Path, text: str) -> Source:
    """The Awesome-MIM layout, exactly as that list writes it."""
    records: list[Record] = []
    stack: list[tuple[int, str]] = []  # (heading level, title) from level 2 down; '#' is the list's own title
    current: Record | None = None
    body: list[str] = []
    fenced = False
    problems: list[Problem] = []

    def close() -> None:
        nonlocal current, body
        if current is not None:
            _finish(current, body)
            records.append(current)
        current, body = None, []

    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            close()
            continue
        if fenced:
            continue
        if m := HEADING.match(line):
            close()
            level = len(m.group(1))
            if level >= 2:
                stack = [s for s in stack if s[0] < level] + [(level, squash(m.group(2)))]
            continue
        if m := ENTRY.match(line):
            close()
            title = squash(re.sub(r"<[^>]+>", "", m.group(1)))
            if not title:
                problems.append(Problem(str(path), number, "title", "entry with an empty bold title"))
                continue
            path_ = tuple(t for _, t in stack)
            current = Record(title=title, file=str(path), line=number, labels=[path_] if path_ else [])
            body = [line[m.end():]]
            continue
        if current is not None:
            body.append(line)
    close()
    if fenced:
        problems.append(Problem(str(path), 0, "-", "a fenced code block is not closed"))
    if not records and not problems:
        problems.append(Problem(str(path), 0, "-", "no entries found; expected bullets like '* **Title**<br>'"))
    fail(path, problems)
    headings = list(dict.fromkeys(p for r in records for p in r.labels))
    return Source(path, "markdown", records, headings)


def read_awesome_list(path: Path) -> Source:
    """Records from an awesome list in any of the layouts above, with every entry-like block accounted for."""
    text = read_utf8(path)
    lines = text.splitlines()
    blocks, unclosed = split_blocks(lines)
    entries = [b for b in blocks if looks_like_entry(b)]
    mim_lines = sum(1 for line in lines if MIM_ENTRY.match(line))
    if mim_lines and 2 * mim_lines >= len(entries):
        source = read_mim_layout(path, text)
        read = {r.line for r in source.records}
        source.skipped = [_skip_reason(b, str(path)) for b in entries if b.line not in read]
        return source
    if unclosed:
        fail(path, [Problem(str(path), 0, "-", "a fenced code block is not closed")])
    records: list[Record] = []
    skipped: list[Skipped] = []
    for block in entries:
        got = read_block(block, str(path))
        (records if isinstance(got, Record) else skipped).append(got)
    if not records and not skipped:
        fail(path, [Problem(str(path), 0, "-", "no entries found; expected bullets or bold titles with links, e.g. "
                            "'- Title [[paper](url)]', '**Title** \\' or '* **Title**<br>'")])
    if any(r.labels for r in records):  # a list with sections: bullets above the first one are its introduction
        skipped += [Skipped(r.file, r.line, "above the list's first section heading (its introduction)", r.title[:120])
                    for r in records if not r.labels]
        records = [r for r in records if r.labels]
        skipped.sort(key=lambda k: k.line)
    _drop_common_root(records)
    headings = list(dict.fromkeys(p for r in records for p in r.labels))
    return Source(path, "markdown", records, headings, skipped)


def _skip_reason(block: Block, file: str) -> Skipped:
    got = read_block(block, file)
    if isinstance(got, Skipped):
        return got
    return Skipped(file, block.line, "not in the list's entry layout ('* **Title**<br>' then '*Authors*<br>')",
                   squash(block.lines[0])[:120])


def _drop_common_root(records: list[Record]) -> None:
    """A heading that holds the whole list ('# Papers') says nothing about any paper: its children become the
    top level."""
    firsts = {p[0] for r in records for p in r.labels}
    if len(firsts) == 1 and all(r.labels for r in records) and all(len(p) > 1 for r in records for p in r.labels):
        for r in records:
            r.labels = [p[1:] for p in r.labels]


def split_blocks(lines: list[str]) -> tuple[list[Block], bool]:
    """Blocks of lines that may be entries, each with the heading path, year and non-paper section it sits in;
    and whether a fenced code block was left open."""
    h1_count = sum(1 for line in lines if re.match(r"^#\s", line))
    top = 1 if h1_count > 1 else 2  # one '#' heading is the list's title; several are its top sections
    blocks: list[Block] = []
    stack: list[tuple[float, str]] = []  # (heading level, or level + 0.5 for a <details> summary)
    years: list[tuple[int, str]] = []
    current: Block | None = None
    fenced = comment = blank = in_details = False
    header: list[str] | None = None  # the header cells of the table being read
    previous_cells: list[str] = []
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if DETAILS.match(line) or (in_details and SUMMARY_NAME.search(line)):
            # '<details open><summary>Faster Training</summary>' at column 0 names a section below the heading
            current, in_details = None, True
            if m := SUMMARY_NAME.search(line):
                name = heading_text(m.group(1))
                stack = [s for s in stack if s[0] == int(s[0])]
                if name:
                    stack.append(((stack[-1][0] if stack else top - 1) + 0.5, name))
                in_details = False
            continue
        if stripped.lower() == "</details>" and not line.startswith((" ", "\t")):
            stack, current = [s for s in stack if s[0] == int(s[0])], None
            continue
        if comment:
            comment = "-->" not in line
            continue
        if stripped.startswith("<!--") and "-->" not in stripped:
            comment, current = True, None
            continue
        if stripped.startswith(("```", "~~~")):
            fenced, current = not fenced, None
            continue
        if fenced:
            continue
        if m := HEADING.match(line):
            current = None
            level, name = len(m.group(1)), heading_text(m.group(2))
            years = [y for y in years if y[0] < level]
            stack = [s for s in stack if s[0] < level]
            if level < top:
                continue
            if year := is_year(name):
                years.append((level, year))
            elif name:
                stack.append((level, name))
            continue
        if not stripped:
            blank, header = True, None
            continue
        if stripped.startswith("|") and not BULLET.match(line):  # a table: the header row names the columns
            current = None
            if re.fullmatch(r"\|?[\s:|-]+\|?", stripped) and "-" in stripped:
                header = previous_cells
            elif header:
                path = tuple(name for _, name in stack)
                blocks.append(Block(number, 0, [line], path, years[-1][1] if years else "", non_paper_section(path),
                                    tuple(c.lower() for c in header)))
            previous_cells = [heading_text(c) for c in table_cells(stripped)]
            continue
        header = None
        bullet = BULLET.match(line)
        indent = len(line) - len(line.lstrip())
        if current is not None:
            if bullet:
                text = bullet.group(2)
                own = ((OWN_LINK.search(text) and not text.lstrip().startswith("[[")) or BOLD_START.match(text)
                       or text.lstrip().startswith(('"', "“")))
                joins = indent >= current.indent + 2 and not own and not blank  # a sub-bullet of this entry
            elif BOLD_START.match(line):
                joins = False
            else:
                joins = not blank or indent > current.indent
            if joins:
                current.lines.append(line)
                blank = False
                continue
            current = None
        blank = False
        if bullet or BOLD_START.match(line):
            path = tuple(name for _, name in stack)
            current = Block(number, indent, [line], path, years[-1][1] if years else "", non_paper_section(path))
            blocks.append(current)
    return blocks, fenced
