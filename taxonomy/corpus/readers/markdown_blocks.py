"""Awesome lists in the layouts people use besides Awesome-MIM's, read as blocks of lines.

A block starts at a bullet (`- `, `* `, `+ `, `1. `) or at a line that opens with a bold title (`**Title** \\`);
it takes in the lines that continue it (indented lines, sub-bullets without a paper link of their own, lines after
a trailing `\\` or `<br>`). From each block the fields are taken wherever the layout puts them:

- bullet title, links and authors on indented lines: `-   Title.` / `    [[pdf]](url)` / `    -   Authors. *Venue*`;
- bold title with backslash breaks: `**Title** \\` / `*Authors* \\` / `arXiv 2022. [[Paper](url)] \\` / `5 Jun 2022`;
- bullets with a bold short name or none: `- **[Name]** Title [[paper](url)]`, `- Title [[paper](url)]`,
  `* **Name**: "Title", Venue, Year (*Lab*). [[Paper](url)]`, `- [Title](url), Authors, Venue`.

Headings that are years set the year of the entries below them and are not taxonomy nodes; sections that hold no
papers (blogs, talks, resources, acknowledgements, tables of contents, …) are not nodes, and entries found in them
are reported as skipped. Every block that looks like an entry becomes a record or a `Skipped` with its reason.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from taxonomy.corpus.readers.records import Record, Skipped, clean_arxiv, clean_doi, clean_year, squash

HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
BULLET = re.compile(r"^(\s*)(?:[-*+]|\d{1,3}[.)])\s+(.*)$")
BOLD_START = re.compile(r"^\s{0,3}\*\*(?!\s)")
# [[text]](url), [[text](url)] and [text](url); the url may hold balanced parentheses one level deep
LINK = re.compile(r"\[\[([^\]]*)\]\]\(((?:[^()\s]|\([^()\s]*\))+)\)|\[\[([^\]]*)\]\(((?:[^()\s]|\([^()\s]*\))+)\)\]"
                  r"|\[([^\[\]]*)\]\(((?:[^()\s]|\([^()\s]*\))+)\)")
IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)|<img[^>]*>")
TAG = re.compile(r"<[^>]+>")
YEAR_HEADING = re.compile(r"^(?:[A-Z]?\d+(?:\.\d+)*\.?\s+)?\(?((?:19|20)\d\d)\)?(?:\s*papers?)?[:.]?$", re.IGNORECASE)
NOT_PAPERS = re.compile(  # words that name a section of media or housekeeping, not a research topic ('Video
    # Generation' and 'Tool Learning' are topics: only the plural 'videos' / 'tools' name such a section)
    r"(?<![-\w])(blogs?|posts|talks?|videos|lectures?|tutorials?|courses?|slides|podcasts?|resources?|"
    r"acknowledg\w*|contents|toc|contribut\w*|citation|cite|citing|licen[cs]e|star history|stargazers|contact|news|"
    r"updates?|to ?do|references|related (?:awesome |)(?:lists?|repos?\w*|projects?)|other (?:awesome |)lists?|"
    r"awesome lists?|tools|toolkits?|librar(?:y|ies)|codebases?|sponsors?|community|workshops?|competitions?|"
    r"people|researchers|books?|overview|introduction|about|how to|usage|implementations?|frameworks|leaderboards?|"
    r"projects|demos?)(?![-\w])", re.IGNORECASE)
PAPER_SECTION = re.compile(r"\b(papers?|surveys?|reviews?|articles?|publications?)\b", re.IGNORECASE)
PAPER_TEXT = ("paper", "pdf", "arxiv", "doi", "openreview", "acl", "ieee", "acm", "springer", "cvf", "pmlr",
              "proceedings", "abs", "html", "published", "journal", "conference", "nips", "neurips", "iclr", "icml")
CODE_TEXT = ("code", "github", "gitlab", "repo", "pytorch", "tensorflow", "jax", "official", "mindspore", "paddle",
             "keras", "implementation", "caffe", "torch", "mxnet", "huggingface", "model")
PROJECT_TEXT = ("project", "website", "page", "homepage", "home", "demo", "blog")
PAPER_HOST = re.compile(r"arxiv\.org|doi\.org|openreview\.net|aclanthology|thecvf\.com|proceedings\.|ieeexplore|"
                        r"dl\.acm\.org|springer|sciencedirect|neurips\.cc|nips\.cc|mlr\.press|aaai\.org|ijcai\.org|"
                        r"semanticscholar|biorxiv|medrxiv|nature\.com|science\.org|wiley|\.pdf\b", re.IGNORECASE)
QUOTED = re.compile(r"[\"“]([^\"”]{3,}?)[\"”]")
VENUE_YEAR = [
    re.compile(r"[\"”]\s*,\s*([^,\"]{2,60}?)\s*,\s*((?:19|20)\d\d)\b"),            # "Title", Venue, 2021
    # *ICML 2019*
    re.compile(r"(?<![\w*])\*{1,2}([A-Za-z0-9][^*\n]{0,60}?)[\s',]+((?:19|20)\d\d)\b[^*\n]{0,40}\*{1,2}"),
    re.compile(r"\b([A-Z][A-Za-z&-]{1,20}(?: [A-Z][A-Za-z&-]{1,20}){0,3})\s*'\s*((?:19|20)?\d\d)\b"),  # ICLR'17
    re.compile(r"\(([A-Za-z][A-Za-z &-]{1,40}?)[\s,]+((?:19|20)\d\d)\)"),            # (CVPR 2021)
    re.compile(r"^\s*([A-Za-z][A-Za-z &-]{1,40}?)\s+((?:19|20)\d\d)\.?\s*(?:\[|$)"),  # arXiv 2022. [[Paper](…)]
    re.compile(r",\s*([A-Z][A-Za-z &-]{1,40}?)[\s,]+((?:19|20)\d\d)\b"),             # , NeurIPS 2020
]
DATE_LINE = re.compile(r"^\s*\d{1,2}\s+[A-Z][a-z]{2,8}\.?,?\s+((?:19|20)\d\d)\s*$")
MAX_TITLE_WORDS = 60


@dataclass
class Block:
    """The lines of one candidate entry and where it starts."""

    line: int
    indent: int
    lines: list[str] = field(default_factory=list)
    labels: tuple[str, ...] = ()
    year: str = ""
    section: str = ""  # the heading that makes this section hold no papers, if any
    columns: tuple[str, ...] = ()  # a table row: its table's header cells, lower case


def heading_text(raw: str) -> str:
    """A heading's words: links reduced to their text, images, tags, emphasis and emoji dropped."""
    text = IMAGE.sub("", raw)
    text = LINK.sub(lambda m: m.group(1) or m.group(3) or m.group(5) or "", text)
    text = TAG.sub("", text).replace("**", "").replace("__", "").replace("`", "")
    text = "".join(ch for ch in text if ch.isalnum() or ch.isspace() or ch in "-–—&/+:,.()'’?!")
    return squash(text).strip(" :-")


def is_year(name: str) -> str:
    m = YEAR_HEADING.match(name.strip())
    return m.group(1) if m else ""


def non_paper_section(path: tuple[str, ...]) -> str:
    """The heading that says this section holds no papers ('' when it may hold papers); the innermost heading
    that names papers wins ('Resources > Introductory Papers' holds papers, 'Resources > Posts' does not)."""
    for name in reversed(path):
        if PAPER_SECTION.search(name):
            return ""
        if NOT_PAPERS.search(name):
            return name
    return ""


def links(text: str) -> list[tuple[str, str]]:
    return [(squash(m.group(1) or m.group(3) or m.group(5) or ""), m.group(2) or m.group(4) or m.group(6))
            for m in LINK.finditer(text)]


def external(url: str) -> bool:
    return url.startswith(("http://", "https://", "www."))


def looks_like_entry(block: Block) -> bool:
    """A block a reader would call a paper entry: it links somewhere outside the page, starts with a bold title,
    quotes a title, or has a line naming a venue and year in italics (an entry without links). Tables of contents
    (links to anchors only) and plain prose bullets are not entries."""
    text = "\n".join(block.lines)
    first = _strip_marker(block.lines[0])
    return (any(external(u) for _, u in links(text)) or bool(BOLD_START.match(first))
            or bool(QUOTED.match(first.lstrip("*: "))) or any(VENUE_YEAR[1].search(line) for line in block.lines[1:])
            ) and not _only_anchor_links(text)


def _only_anchor_links(text: str) -> bool:
    found = links(text)
    return bool(found) and all(u.startswith("#") or ".md#" in u for _, u in found)


def _strip_marker(line: str) -> str:
    m = BULLET.match(line)
    return m.group(2) if m else line.strip()


def _clean(text: str) -> str:
    """Plain text: images, tags and affiliation marks dropped; an accent written as a combining mark composed."""
    text = re.sub(r"<sup>.*?</sup>", "", IMAGE.sub("", text))  # affiliation marks after author names
    text = TAG.sub(" ", text)
    text = re.sub(r"(\w)\s+([\u0300-\u036f])", r"\1\2", text)  # 'He ́naff' (copied from a PDF): 'Hénaff'
    return unicodedata.normalize("NFC", squash(text.replace("\\", " "))).strip()


def _title_and_short_name(first: str) -> tuple[str, str, str]:
    """(title, short name, link url if the title is itself a link) from the entry's first line."""
    first = re.sub(r"^[^\w\"“*\[(]+", "", IMAGE.sub("", first)).strip()  # leading emoji / stars
    m = re.match(r"^\*\*(.+?)\*\*\s*:?\s*(.*)$", first)
    if m:
        bold, rest = m.group(1).strip(), m.group(2)
        bold_link = LINK.fullmatch(bold.strip())
        if bold_link and (bold_link.group(5) is not None):  # **[Title](url)**
            return _clean(bold_link.group(5)), "", bold_link.group(6)
        quoted = QUOTED.match(rest.lstrip(": "))
        name = bold.strip("[]: ").strip()
        if quoted:
            return _clean(quoted.group(1)), name, ""
        rest_title = _plain_title(rest)
        short = bold.startswith("[") or bold.endswith(":") or len(bold.split()) <= 3
        if short and len(rest_title.split()) >= 2:
            return rest_title, name, ""
        return _clean(bold).rstrip(".").strip(), "", ""
    quoted = QUOTED.match(first)
    if quoted:
        return _clean(quoted.group(1)), "", ""
    m = LINK.match(first)
    if m and m.group(5) is not None and len(m.group(5).split()) >= 2:  # [Title](url), ...
        return _clean(m.group(5)).rstrip("."), "", m.group(6)
    return _plain_title(first), "", ""


def _plain_title(text: str) -> str:
    """Text before the first link, parenthesis with a venue, or trailing backslash; one sentence-final dot dropped."""
    cut = re.split(r"\s*\[\[|\s*\[[^\]]*\]\(|\s+\\\s*$|<br\s*/?>|\s+\((?=[^)]*(?:19|20)\d\d)", text, maxsplit=1)[0]
    title = _clean(cut).strip(" ,;:-–|")
    return title[:-1].rstrip() if title.endswith(".") and not title.endswith("..") else title


def _authors(text: str) -> list[str]:
    text = _clean(text).replace(" & ", " and ").strip(" .,;")
    if not text:
        return []
    parts = re.split(r",\s*and\s+|\s+and\s+|;\s*", text)
    if len(parts) > 1 and all(p.count(",") == 1 for p in parts):  # Doersch, Carl and Gupta, Abhinav
        return [squash(" ".join(reversed(p.split(",")))).rstrip("*†‡") for p in parts]
    names = [re.sub(r"\s+et al\.?$", "", squash(n)).rstrip("*†‡") for p in parts for n in p.split(",")]
    return [n for n in names if n and n.lower() not in ("et al", "et al.", "etc")]


def _authors_from(lines: list[str]) -> list[str]:
    """Authors from an italic line (`*A, B* \\`), or from a sub-bullet `Authors. *Venue*`."""
    for line in lines[1:]:
        text = _clean(line).rstrip("\\ ").strip()
        m = re.match(r"^(?:[-*+]\s+)?\*([^*].*?)\*\s*(?:\\)?$", text)
        if m and not VENUE_YEAR[1].fullmatch(text) and not re.search(r"(19|20)\d\d", m.group(1)):
            return _authors(m.group(1))
        sub = BULLET.match(line)
        if sub and not links(sub.group(2)):
            body = sub.group(2)
            body = re.split(r"\s*\*{1,2}[A-Za-z0-9]|\s*\*{1,2}$", body, maxsplit=1)[0]
            if body.strip():
                return _authors(body)
    return []


def _venue_year(text: str) -> tuple[str, str]:
    plain = LINK.sub(lambda m: "[" + (m.group(1) or m.group(3) or m.group(5) or "") + "]", text)
    for lineno, line in enumerate(plain.splitlines()):
        for i, pattern in enumerate(VENUE_YEAR):
            if i == 4 and lineno == 0:
                continue  # a first line like 'Transformers 2020' is a title
            m = pattern.search(line)
            if m:
                venue, year = squash(m.group(1)).strip(" ,.*'"), m.group(2)
                year = year if len(year) == 4 else f"20{year}"
                if venue and not re.fullmatch(r"(?i)(and|the|in|of|et al\.?)", venue):
                    return ("arXiv" if venue.lower() == "arxiv" else venue), year
    return "", ""


def _classify(name: str, url: str) -> str:
    low = name.lower()
    if any(w in low for w in CODE_TEXT) or re.search(r"github\.com|gitlab\.com|huggingface\.co", url):
        return "paper" if PAPER_HOST.search(url) and not re.search(r"github|gitlab", url) else "code"
    if any(w in low for w in PROJECT_TEXT) and not PAPER_HOST.search(url):
        return "project"
    if any(w in low for w in PAPER_TEXT) or PAPER_HOST.search(url):
        return "paper"
    return "other"


def table_cells(line: str) -> list[str]:
    """The cells of a Markdown table row ('| a | b |'); a '|' inside a link's text or address does not split."""
    cells, depth, cell = [], 0, ""
    for ch in line.strip().strip("|"):
        depth += (ch in "[(") - (ch in "])")
        if ch == "|" and depth <= 0:
            cells.append(cell.strip())
            cell = ""
        else:
            cell += ch
    return cells + [cell.strip()]


TABLE_FIELDS = {"title": ("paper", "title", "name", "papers"), "year": ("year", "date", "time", "published"),
                "venue": ("venue", "publication", "conference", "journal", "pub"), "authors": ("authors", "author"),
                "code": ("code", "github", "repo", "implementation"),
                "short_name": ("keywords", "method", "model", "abbr", "abbreviation", "short name")}


def _table_row(block: Block) -> tuple[str, str, str, str]:
    """A table row rewritten as one entry line ('[Title](url) [[code](url)]'), its 'venue<TAB>year', authors and
    short name."""
    cells = dict(zip(block.columns, table_cells(block.lines[0])))

    def cell(fld: str) -> str:
        return next((cells[c] for c in block.columns if c in TABLE_FIELDS[fld] and cells.get(c)), "")

    title_cell = cell("title") or next((v for v in cells.values() if LINK.search(v)), "")
    m = LINK.search(title_cell)
    line = f"[{m.group(5)}]({m.group(6)})" if m and m.group(5) else title_cell
    extra = " ".join(f"[[code]({u})]" for _, u in links(cell("code")))
    return (f"{line} {extra}".strip(), _clean(cell("venue")) + "\t" + clean_year(cell("year")), cell("authors"),
            _clean(cell("short_name")))


def read_block(block: Block, file: str) -> Record | Skipped:
    """The record a block holds, or why it could not be read."""
    table_authors = table_name = table_venue = ""
    if block.columns:
        first_line, venue_year, table_authors, table_name = _table_row(block)
        block = Block(block.line, 0, [first_line], block.labels, venue_year.split("\t")[1] or block.year,
                      block.section)
        table_venue = venue_year.split("\t")[0]
    text = "\n".join(block.lines)
    first = _strip_marker(block.lines[0])
    preview = _clean(first)[:120]
    if block.section:
        return Skipped(file, block.line, f"in section '{block.section}', which holds no papers", preview)
    title, short_name, title_url = _title_and_short_name(first)
    short_name = short_name or table_name
    if not title:
        only = LINK.match(re.sub(r"^[^\w\[]+", "", first))
        if only and only.group(5) is not None and only.group(5).strip():  # '[LLaMA](github url) - a model'
            return Skipped(file, block.line, f"only a name is linked ('{_clean(only.group(5))}'), not a paper "
                           "title", preview)
        return Skipped(file, block.line, "no title found before the links", preview)
    if len(title.split()) > MAX_TITLE_WORDS:
        return Skipped(file, block.line, f"{len(title.split())} words before the first link: a description, not "
                       "a title", preview)
    short_name = short_name if re.search(r"\w", short_name) else ""  # '?' stands for 'no short name'
    record = Record(title=title, file=file, line=block.line, short_name=short_name,
                    labels=[block.labels] if block.labels else [])
    found = ([("paper", title_url)] if title_url else []) + [(_classify(n, u), u) for n, u in links(text)
                                                             if external(u)]
    for kind, url in found:
        if kind == "paper" and not record.url:
            record.url = url
        elif kind == "code" and not record.code_url:
            record.code_url = url
        elif kind == "project" and not record.project_url:
            record.project_url = url
    if not record.url:
        record.url = next((u for k, u in found if k == "other"), "")
    urls = [u for _, u in found]
    record.arxiv_id = clean_arxiv(*urls)
    record.doi = next((clean_doi(u) for u in urls if "doi.org" in u or "/doi/" in u), "")
    record.authors = _authors(table_authors) if table_authors else _authors_from(block.lines)
    if not record.authors:
        m = LINK.match(first)
        if m and m.group(5) is not None:  # [Title](url), A. Author, B. Author, Venue 2020
            tail = _clean(first[m.end():].split("|")[0])
            tail = re.sub(r"\([^)]*\)", "", tail)  # '(*: equal contribution)'
            record.authors = _authors(", ".join(x for x in tail.split(",") if not re.search(r"\d|\[", x)))
    rest = text if not short_name else text.replace(first, first.split(title, 1)[-1], 1)
    record.venue, record.year = (table_venue, "") if block.lines == [first] and table_venue else _venue_year(rest)
    if not record.year:
        record.year = next((m.group(1) for line in block.lines if (m := DATE_LINE.match(line))), "")
    if not record.year:
        record.year = block.year
    if not record.year and re.match(r"\d{4}\.", record.arxiv_id):
        record.year = f"20{record.arxiv_id[:2]}"
    record.year = clean_year(record.year)
    return record
