"""Build a corpus folder from a user's paper lists: read, de-duplicate, name, and write atomically.

`import_corpus` returns plain data (papers, taxonomy, merge report, abstracts); `write_corpus` writes
`papers.csv`, `taxonomies/<id>.yaml` (from the lists' headings, when asked), `store/abstracts.sqlite` (the
abstracts the sources carried), `import-report.csv` (which entries were merged) and `import-skipped.csv` (every
entry-like line that did not become a paper, with its line and reason) into a staging folder, validates it as a
corpus, and only then moves it into place.
"""

from __future__ import annotations

import gc
import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from taxonomy.corpus.folder import (OPTIONAL_COLUMNS, PAPER_COLUMNS, norm_title, title_similarity, validate,
                                    write_csv_atomic)
from taxonomy.corpus.readers import Record, Source, read_source
from taxonomy.corpus.store import STORE_FILE, AbstractStore
from taxonomy.errors import CorpusError, Problem, UserError
from taxonomy.fsutil import current_umask

LEVEL_NAMES = ["section", "subsection", "subsubsection", "level 4", "level 5"]
REPORT_COLUMNS = ["kept_id", "kept_from", "merged_from", "matched_on", "title_similarity", "merged_title"]
SKIPPED_COLUMNS = ["file", "line", "reason", "text"]
SAFE_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when built in: 3-4x faster, the same text
SKIPPED_FILE = "import-skipped.csv"
PROGRESS_FROM = 20_000  # papers; below this the import takes a few seconds and shows no bar
SAME_TITLE = 0.6  # below this title similarity, a shared DOI/arXiv id is reported as a conflict, not merged


def slug(text: str) -> str:
    return norm_title(text).replace(" ", "-")[:60].strip("-")


@dataclass
class Imported:
    """A corpus before it is written: papers, an optional heading taxonomy, the merge report, abstracts."""

    papers: pd.DataFrame
    taxonomy: dict | None
    report: pd.DataFrame
    abstracts: list[dict]
    sources: list[Source]
    skipped: pd.DataFrame | None = None  # entry-like lines that did not become papers (file, line, reason, text)

    @property
    def entries_read(self) -> int:
        return sum(len(s.records) for s in self.sources)


class _Groups:
    """Union-find over record indices, remembering why two records were joined."""

    def __init__(self, n: int):
        self.parent = list(range(n))
        self.why: dict[int, str] = {}

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, keep: int, other: int, why: str) -> None:
        a, b = self.find(keep), self.find(other)
        if a != b:
            a, b = min(a, b), max(a, b)  # the earliest record survives
            self.parent[b] = a
            self.why.setdefault(other, why)


def deduplicate(records: list[Record]) -> tuple[list[list[int]], dict[int, str], dict[int, str]]:
    """Groups of record indices that are one paper (on DOI, arXiv id or normalised title), why each was
    merged, and conflicts: records sharing an id with a different title (kept apart, id left to the first)."""
    groups = _Groups(len(records))
    first: dict[tuple[str, str], int] = {}
    conflicts: dict[int, str] = {}
    for i, r in enumerate(records):
        for kind, value in (("doi", r.doi), ("arxiv", r.arxiv_id), ("title", norm_title(r.title))):
            if not value:
                continue
            j = first.setdefault((kind, value), i)
            if j == i:
                continue
            if kind != "title" and title_similarity(r.title, records[j].title) < SAME_TITLE:
                conflicts[i] = (f"{kind} {value} is also given for '{records[j].title}' ({records[j].where}); "
                                "removed here, check it")
                continue
            groups.join(j, i, f"{kind} {value}")
    members: dict[int, list[int]] = {}
    for i in range(len(records)):
        members.setdefault(groups.find(i), []).append(i)
    return list(members.values()), groups.why, conflicts


def _paper_id(record: Record, taken: set[str], next_suffix: dict[str, int] | None = None) -> str:
    """A readable unique id; `next_suffix` remembers where each base's '-2', '-3', … search stopped, so that
    thousands of papers sharing a base cost linear time, not quadratic (the ids are the same either way)."""
    base = slug(record.short_name) or slug(record.key)
    if not base:
        last = slug(record.authors[0].split()[-1]) if record.authors and record.authors[0].split() else "paper"
        word = next((w for w in norm_title(record.title).split() if len(w) > 3), "")
        base = "-".join(x for x in (last + record.year, word) if x)
    base = base if re.match(r"^[a-z0-9]", base) else f"p-{base}"
    next_suffix = {} if next_suffix is None else next_suffix
    pid, n = base, next_suffix.get(base, 2)
    if pid in taken:
        while f"{base}-{n}" in taken:
            n += 1
        pid = f"{base}-{n}"
        next_suffix[base] = n + 1
    taken.add(pid)
    return pid


def _node_id(path: tuple[str, ...]) -> str:
    return "/".join(slug(level) or "untitled" for level in path)


def heading_taxonomy(sources: list[Source], records: list[Record], taxonomy_id: str) -> dict | None:
    """A taxonomy document whose nodes are the heading paths that hold papers (and their ancestors)."""
    paths: dict[tuple[str, ...], None] = {}  # ordered and with constant-time membership (a list was quadratic)
    for path in [p for s in sources for p in s.headings] + [p for r in records for p in r.labels]:
        for depth in range(1, len(path) + 1):
            paths.setdefault(path[:depth])
    if not paths:
        return None
    nodes: dict[tuple[str, ...], dict] = {}
    roots: list[dict] = []
    for path in paths:
        node = {"id": _node_id(path), "name": path[-1]}
        nodes[path] = node
        (nodes[path[:-1]].setdefault("children", []) if len(path) > 1 else roots).append(node)
    depth = max(len(p) for p in paths)
    files = ", ".join(s.path.name for s in sources)
    return {"id": taxonomy_id, "name": f"Headings of {files}", "source": files,
            "levels": LEVEL_NAMES[:depth], "complete": all(r.labels for r in records), "nodes": roots}


@contextmanager
def _collector_paused():
    """Pause Python's cyclic garbage collector during bulk work: an import creates hundreds of thousands of
    records and rows that are all kept, and the collector's full passes over them grew the import's time faster
    than its size (80k rows took 1.6x as long with it on). Nothing here makes reference cycles to collect."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@_collector_paused()
def import_corpus(paths: list[str | Path], fmt: str | None = None, mapping: dict[str, str] | None = None,
                  taxonomy_from_headings: bool = False, taxonomy_id: str = "headings",
                  progress: bool = False) -> Imported:
    """Read every file, merge duplicates across them, and return the corpus to write."""
    if not paths:
        raise UserError("give at least one file to import")
    if not re.match(r"^[a-z0-9][a-z0-9-]*$", taxonomy_id):
        raise UserError(f"--taxonomy-id '{taxonomy_id}' must be lower-case letters, digits and '-'")
    from taxonomy.corpus.readers.tabular import FIELDS

    for fld, column in (mapping or {}).items():  # checked even when no file is a table, so a typo is never ignored
        if fld not in FIELDS:
            raise UserError(f"--map {fld}={column}: unknown field '{fld}'; fields are {', '.join(FIELDS)}")
    sources = [read_source(p, fmt, mapping) for p in paths]
    records = [r for s in sources for r in s.records]
    if not records:
        raise UserError(f"{', '.join(str(p) for p in paths)}: no paper found (an empty file, or entries without a "
                        "title?)")
    groups, why, conflicts = deduplicate(records)
    taxonomy = heading_taxonomy(sources, records, taxonomy_id) if taxonomy_from_headings else None
    label_column = taxonomy_id.replace("-", "_")
    taken: set[str] = set()
    next_suffix: dict[str, int] = {}
    rows, report, abstracts = [], [], []
    from rich.progress import Progress

    bar = Progress(transient=True, disable=not progress or len(groups) < PROGRESS_FROM)
    task = bar.add_task("naming papers", total=len(groups))
    with bar:
        for group in sorted(groups, key=min):
            bar.advance(task)
            _add_paper(group, records, conflicts, why, taxonomy, label_column, taken, next_suffix, rows, report,
                       abstracts)
    _link_implementations(rows)
    columns = PAPER_COLUMNS + OPTIONAL_COLUMNS + ([label_column] if taxonomy and label_column not in PAPER_COLUMNS else [])
    papers = pd.DataFrame(rows, columns=columns).sort_values("id", kind="stable").reset_index(drop=True)
    skipped = pd.DataFrame([(k.file, k.line, k.reason, k.text) for s in sources for k in s.skipped],
                           columns=SKIPPED_COLUMNS)
    return Imported(papers, taxonomy, pd.DataFrame(report, columns=REPORT_COLUMNS), abstracts, sources, skipped)


def _add_paper(group: list[int], records: list[Record], conflicts: dict[int, str], why: dict[int, str],
               taxonomy: dict | None, label_column: str, taken: set[str], next_suffix: dict[str, int],
               rows: list[dict], report: list[dict], abstracts: list[dict]) -> None:
    """One merged group of entries becomes one papers.csv row (plus its merge-report rows and abstract)."""
    head = records[group[0]]
    merged = [records[i] for i in group]

    def pick(attr: str) -> str:
        return next((getattr(r, attr) for r in merged if getattr(r, attr)), "")

    pid = _paper_id(next((r for r in merged if r.short_name), head), taken, next_suffix)
    arxiv = next((records[i].arxiv_id for i in group if records[i].arxiv_id and i not in conflicts), "")
    titles = list(dict.fromkeys(r.title for r in merged))
    labels = list(dict.fromkeys(_node_id(p) for r in merged for p in r.labels))
    row = {c: "" for c in PAPER_COLUMNS + OPTIONAL_COLUMNS}
    row.update(id=pid, title=head.title, short_name=pick("short_name"),
               authors=", ".join(next((r.authors for r in merged if r.authors), [])), year=pick("year"),
               venue=pick("venue"), arxiv_id=arxiv, doi=pick("doi"), code_url=pick("code_url"),
               paper_url=pick("url") if pick("url").startswith(("http://", "https://")) else "",
               project_url=pick("project_url"), other_titles=" | ".join(titles[1:]), cite_key=pick("key"),
               source="; ".join(f"{Path(r.file).name}:{r.line}" for r in merged),
               corrections="; ".join(conflicts[i] for i in group if i in conflicts))
    if taxonomy is not None:
        row[label_column] = ";".join(labels)
    rows.append(row)
    for i in group[1:]:
        report.append(dict(kept_id=pid, kept_from=head.where, merged_from=records[i].where,
                           matched_on=why.get(i, "title"),
                           title_similarity=round(title_similarity(head.title, records[i].title), 3),
                           merged_title=records[i].title))
    abstract = pick("abstract")
    if abstract:
        abstracts.append({"id": pid, "title": head.title, "abstract": abstract, "arxiv_id": arxiv,
                          "source": f"import:{Path(head.file).name}"})


def _link_implementations(rows: list[dict]) -> None:
    """Point imported papers at mimtax's reference implementations, matched to the shipped corpus on arXiv id
    or normalised title (so an imported MAE paper can be run with `mimtax run mae`)."""
    from taxonomy.corpus.folder import SHIPPED_DATA

    shipped = pd.read_csv(SHIPPED_DATA / "papers.csv", dtype=str, keep_default_na=False)
    shipped = shipped[shipped["reference_impl"] != ""]
    by_arxiv = dict(zip(shipped["arxiv_id"], shipped["reference_impl"]))
    by_title = {norm_title(t): m for t, m in zip(shipped["title"], shipped["reference_impl"])}
    by_arxiv.pop("", None)
    for row in rows:
        row["reference_impl"] = by_arxiv.get(row["arxiv_id"]) or by_title.get(norm_title(row["title"]), "")


MARKER = "import.json"  # written by every import; `--force` replaces only a folder that carries it
MARKER_TOOL = "mimtax corpus import"
TAXONOMY_HEADER = "# Made by `mimtax corpus import --taxonomy-from-headings`"


def _import_marker(folder: Path) -> dict | None:
    """The marker of a folder written by `mimtax corpus import`, or None when it has none."""
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict):
        return None
    if marker.get("written_by") == MARKER_TOOL:
        return marker
    if {"files", "papers", "merged", "with_abstract"} <= set(marker):  # an import from before the marker had its name
        made = [f"taxonomies/{p.name}" for p in sorted((folder / "taxonomies").glob("*.yaml"))
                if p.read_text(encoding="utf-8", errors="replace").startswith(TAXONOMY_HEADER)]
        return {"written_by": MARKER_TOOL, "outputs": ["import-report.csv", MARKER, "papers.csv", *made]}
    return None


def _check_target(out: Path, force: bool) -> dict | None:
    """Refuse a target that is a file, or a non-empty folder that an import did not write (or without --force).
    Returns the old marker when an earlier import is to be replaced."""
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: is a file, not a folder; give --out a folder to create or an earlier import")
    if not out.exists() or not any(out.iterdir()):
        return None
    marker = _import_marker(out)
    if marker is None:
        raise UserError(f"{out}: folder is not empty and was not written by `{MARKER_TOOL}` (no {MARKER} marker); "
                        "choose a new folder; --force only replaces an earlier import")
    if not force:
        raise UserError(f"{out}: holds an earlier import; pass --force to replace its files")
    return marker


def _written_files(stage: Path) -> list[str]:
    return sorted(p.relative_to(stage).as_posix() for p in stage.rglob("*") if p.is_file())


@_collector_paused()
def write_corpus(imported: Imported, out: str | Path, force: bool = False) -> list[Path]:
    """Write the corpus folder; validate it while staged; move it into place only when everything succeeded.

    `force` replaces an earlier import: only the files that import listed in its marker are replaced; any other
    file in the folder survives, and so does the abstract store (it also holds what `mimtax enrich` fetched:
    the imported abstracts are added to it)."""
    out = Path(os.path.abspath(out))
    old_marker = _check_target(out, force)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.import-", dir=out.parent))
    except OSError as exc:
        raise UserError(f"{out}: cannot write here ({exc.strerror or exc})") from None
    try:
        _follow_umask(stage)
        write_csv_atomic(imported.papers, stage / "papers.csv")
        if imported.taxonomy is not None:
            (stage / "taxonomies").mkdir()
            text = yaml.dump(imported.taxonomy, Dumper=SAFE_DUMPER, sort_keys=False, allow_unicode=True, width=120)
            (stage / "taxonomies" / f"{imported.taxonomy['id']}.yaml").write_text(
                TAXONOMY_HEADER + "; node descriptions are yours to add.\n" + text, encoding="utf-8")
        write_csv_atomic(imported.report, stage / "import-report.csv")
        if imported.skipped is not None:
            write_csv_atomic(imported.skipped, stage / SKIPPED_FILE)
        store_is_new = not (out / "store" / STORE_FILE).exists()
        if imported.abstracts and store_is_new:
            _store_abstracts(imported.abstracts, stage / "store" / STORE_FILE)
        problems = validate(stage)
        if problems:
            raise CorpusError([_in_user_terms(q, stage, out, imported) for q in problems],
                              hint="each names the input entry it came from")
        outputs = [f for f in _written_files(stage) if not f.startswith("store/")] + [MARKER]
        (stage / MARKER).write_text(json.dumps({
            "written_by": MARKER_TOOL, "outputs": outputs,
            "files": [{"path": str(s.path), "format": s.format, "entries": len(s.records)} for s in imported.sources],
            "papers": len(imported.papers), "merged": len(imported.report),
            "skipped": 0 if imported.skipped is None else len(imported.skipped),
            "with_abstract": len(imported.abstracts)}, indent=1) + "\n", encoding="utf-8")
        if old_marker is None:
            if out.exists():
                out.rmdir()  # empty
            os.replace(stage, out)
        else:
            _replace_import(stage, out, old_marker)
    except OSError as exc:
        raise UserError(f"{out}: cannot write here ({exc.strerror or exc})") from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    if imported.abstracts and not store_is_new:
        _store_abstracts(imported.abstracts, out / "store" / STORE_FILE)
    return sorted(p for p in out.rglob("*") if p.is_file())


def _in_user_terms(problem: Problem, stage: Path, out: Path, imported: Imported) -> Problem:
    """A problem found in the staged corpus, named by the input entry it came from (papers.csv row -> the
    file and line of the entry), never by the hidden staging folder the user never sees."""
    try:
        relative = Path(problem.file).resolve().relative_to(stage.resolve())
    except ValueError:
        return problem
    row = problem.line - 2  # line 1 is the header
    if relative.as_posix() == "papers.csv" and 0 <= row < len(imported.papers):
        name, _, line = str(imported.papers.iloc[row]["source"]).split(";")[0].strip().rpartition(":")
        path = next((str(s.path) for s in imported.sources if Path(s.path).name == name), name)
        if line.isdigit():
            return Problem(path, int(line), problem.column, problem.message)
    return Problem(str(out / relative), problem.line, problem.column, problem.message)


def _follow_umask(folder: Path) -> None:
    """mkdtemp makes 0700 folders; an imported corpus follows the user's umask like any folder they create."""
    folder.chmod(0o777 & ~current_umask())


def _replace_import(stage: Path, out: Path, old_marker: dict) -> None:
    """Swap an earlier import's files for the new ones, file by file; nothing else in `out` is touched.
    The old files are set aside first and put back if a move fails."""
    old_files = [f for f in old_marker.get("outputs", []) if isinstance(f, str)]
    safe = [f for f in old_files if not Path(f).is_absolute() and ".." not in Path(f).parts
            and not f.startswith("store/")]
    aside = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    moved_aside: list[str] = []
    placed: list[str] = []
    try:
        for rel in safe:
            if (out / rel).is_file() and not (out / rel).is_symlink():
                (aside / rel).parent.mkdir(parents=True, exist_ok=True)
                os.replace(out / rel, aside / rel)
                moved_aside.append(rel)
        for rel in _written_files(stage):
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(stage / rel, out / rel)
            placed.append(rel)
    except OSError:
        for rel in placed:
            if rel not in moved_aside:
                (out / rel).unlink(missing_ok=True)
        for rel in moved_aside:
            os.replace(aside / rel, out / rel)
        raise
    finally:
        shutil.rmtree(aside, ignore_errors=True)
    for rel in moved_aside:  # folders an old import made and that are now empty (e.g. its taxonomies/)
        parent = (out / rel).parent
        if parent != out and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()


def _store_abstracts(abstracts: list[dict], path: Path) -> None:
    """Add the imported abstracts to the corpus's store (created if needed; an earlier store is kept)."""
    store = AbstractStore.load(path)
    with store.batch():
        for row in abstracts:
            store.record(row["id"], row["title"], row["source"], row["abstract"], row["arxiv_id"])
    store.close()
