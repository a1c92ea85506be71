"""Build data/papers.csv and data/results.csv from the two survey lists in ../shared/sources.

Run from the repository root:  python data/scripts/build_corpus.py [--shared ../shared]

The script is the single place where upstream errors are fixed or flagged (see data/SOURCES.md).
Ids already present in data/papers.csv are kept, so regenerating never renames a paper.
Only facts (titles, authors, years, venues, ids, urls, labels, reported numbers) are carried over.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import unicodedata
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"
sys.path.insert(0, str(ROOT))

from reference_impls import METHODS  # noqa: E402  (the registry only; no torch)
from taxonomy.corpus.folder import norm_title  # noqa: E402  (one definition of "the same title")

sys.path.insert(0, str(Path(__file__).resolve().parent))
# what each figure means, and one result once
from meaning import COLUMNS as RESULT_TABLE_COLUMNS  # noqa: E402
from meaning import annotate, merge_duplicates  # noqa: E402

A_COMMIT = "70db16f"
B_COMMIT = "0051fe2"

# --- upstream errors (../shared/SURVEYS.md) ---------------------------------------------------------------
TITLE_FIXES = {
    "SImage Understanding Makes for A Good Tokenizer for Image Generation":
        "Image Understanding Makes for A Good Tokenizer for Image Generation",
    "PonderV2: Pave the Way for 3D Foundataion Model with A Universal Pre-training Paradigm":
        "PonderV2: Pave the Way for 3D Foundation Model with A Universal Pre-training Paradigm",
}
# Wrong <summary> short names in survey A's list: title prefix -> (wrong, corrected or "" when none is known[,
# why, when it is not that the name belongs to another paper]).
SHORT_NAME_FIXES = {
    "DeepMIM: Deep Supervision": ("RobustMAE", "DeepMIM"),
    "Diffusion Models as Masked Autoencoders": ("TCTS", "DiffMAE"),
    "MergeVQ: A Unified Framework": ("MAGE", "MergeVQ"),
    "Object Recognition as Next Token Prediction": ("imTED", ""),
    "MeSa: Masked, Geometric": ("UniPAD", "MeSa"),
    "Pseudo Labelling for Enhanced Masked Autoencoders": ("SdAE", ""),
    # MFM is "Masked Frequency Modeling" (2206.07706); this paper's method is MFF (mmpretrain configs/mff)
    "Improving Pixel-based MIM by Reducing Wasted Modeling": ("MFM", "MFF"),
    # WSP is the paper's weakly supervised pretraining stage; its method (MAE pre-pretraining then WSP) is MAWS
    # (github:facebookresearch/maws, the paper's abstract)
    "The effectiveness of MAE pre-pretraining": ("WSP", "MAWS", "names the paper's weakly supervised stage, "
                                                 "not its method"),
}
# The same paper under two titles across the lists (merged into one row with both lists' labels).
SAME_PAPER_TITLES = [
    ("Masked prediction tasks: a parameter identifiability view",
     "Masked prediction: A parameter identifiability view"),
]
# Two list entries that share one arXiv id because one is a later version: kept apart, linked by version_of.
VERSIONS = {  # later version title -> earlier version title
    "MDTv2: Masked Diffusion Transformer is a Strong Image Synthesizer":
        "Masked Diffusion Transformer is a Strong Image Synthesizer",
}

COLUMNS = [
    "id", "title", "short_name", "authors", "year", "venue", "arxiv_id", "paper_url", "code_url",
    "project_url", "awesome_mim", "mim_survey", "target", "masking", "backbone", "reference_impl",
    "version_of", "other_titles", "source", "corrections",
]
RESULT_COLUMNS = RESULT_TABLE_COLUMNS  # meaning columns after the first eleven; import_model_zoo.py adds rows after


def slugify(text: str, max_words: int = 6) -> str:
    words = re.sub(r"[^a-z0-9]+", " ", unicodedata.normalize("NFKD", text).encode("ascii", "ignore")
                   .decode().lower()).split()
    return "-".join(words[:max_words])


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def node_index(path: Path) -> dict[str, str]:
    """Map every display name and upstream name of a taxonomy to its node id."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    out: dict[str, str] = {}

    def walk(nodes: list[dict], parent: str = "") -> None:
        for node in nodes:
            for key in ("name", "upstream_name"):
                if node.get(key):
                    full = f"{parent} > {node[key]}" if parent else node[key]
                    out[full] = node["id"]
                    out[node[key]] = node["id"]
            walk(node.get("children", []), node.get("upstream_name", node["name"]))
    walk(doc["nodes"])
    return out


def short_name_from_title(title: str) -> str:
    """'MCVD: Masked Conditional ...' -> 'MCVD' when the part before the colon looks like a name."""
    head, sep, _ = title.partition(":")
    if sep and len(head) <= 24 and len(head.split()) <= 3:
        return head.strip()
    return ""


class UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def build(shared: Path) -> tuple[list[dict], list[dict]]:
    src = shared / "sources"
    a_rows = read_csv(src / "awesome-mim" / "papers.csv")
    b_rows = read_csv(src / "mim-survey" / "papers.csv")
    ids_by_title = {norm_title(r["title"]): r for r in read_csv(src / "arxiv-ids.csv")}
    crosswalk = read_csv(src / "crosswalk.csv")
    a_nodes = node_index(DATA / "taxonomies" / "awesome_mim.yaml")
    b_nodes = node_index(DATA / "taxonomies" / "mim_survey.yaml")

    entries = []  # one per list row
    for survey, rows in (("awesome-mim", a_rows), ("mim-survey", b_rows)):
        for row in rows:
            flags = []
            title = row["title"].strip()
            if title in TITLE_FIXES:
                flags.append(f"title typo fixed (list: '{title}')")
                title = TITLE_FIXES[title]
            checked = ids_by_title.get(norm_title(row["title"]))
            list_id = row["arxiv_id"].strip()
            arxiv_id = checked["arxiv_id"].strip() if checked else list_id
            if list_id and arxiv_id != list_id:
                why = checked["how"] if checked else ""
                flags.append(f"arXiv id {list_id} in {survey} list is wrong ({why}); "
                             + (f"corrected to {arxiv_id}" if arxiv_id else "removed"))
            labels = {"awesome-mim": a_nodes, "mim-survey": b_nodes}[survey]
            node = labels.get(row["section_path"])
            if node is None:
                sys.exit(f"{survey} line {row['line']}: section '{row['section_path']}' is in no taxonomy node")
            short = row.get("short_name", "").strip()
            for prefix, (wrong, right, *why) in SHORT_NAME_FIXES.items():
                if title.startswith(prefix) and short == wrong:
                    flags.append(f"short name '{wrong}' in awesome-mim list "
                                 + (why[0] if why else "belongs to another paper")
                                 + (f"; corrected to '{right}'" if right else "; dropped"))
                    short = right
            paper_url = row["paper_url"].strip()
            if list_id and list_id != arxiv_id and list_id in paper_url:
                paper_url = f"https://arxiv.org/abs/{arxiv_id}" if arxiv_id else ""
            entries.append(dict(
                survey=survey, commit=A_COMMIT if survey == "awesome-mim" else B_COMMIT,
                line=row["line"], title=title, raw_title=row["title"].strip(), short=short,
                authors=row.get("authors", "").strip(), year=row["year"].strip(), venue=row["venue"].strip(),
                arxiv_id=arxiv_id, paper_url=paper_url, code_url=row["code_url"].strip(),
                project_url=row.get("project_url", "").strip(), node=node, flags=flags,
            ))

    # --- merge list rows into papers: same arXiv id or same normalised title ------------------------------
    uf = UnionFind()
    by_key: dict[str, int] = {}
    version_titles = {norm_title(t) for t in VERSIONS} | {norm_title(t) for t in VERSIONS.values()}
    same = {norm_title(x): norm_title(y) for x, y in SAME_PAPER_TITLES}
    for i, e in enumerate(entries):
        nt = norm_title(e["title"])
        keys = [f"t:{same.get(nt, nt)}"]
        if e["arxiv_id"] and nt not in version_titles:
            keys.append(f"a:{e['arxiv_id']}")
        uf.find(i)
        for key in keys:
            if key in by_key:
                uf.union(by_key[key], i)
            else:
                by_key[key] = i
    groups: dict[int, list[dict]] = defaultdict(list)
    for i, e in enumerate(entries):
        groups[uf.find(i)].append(e)

    cross_by_arxiv = {r["arxiv_id"]: r for r in crosswalk if r["arxiv_id"]}
    cross_by_title = {norm_title(r["title"]): r for r in crosswalk}
    old_ids = {}
    if (DATA / "papers.csv").exists():
        for r in read_csv(DATA / "papers.csv"):
            for t in [r["title"], *filter(None, r.get("other_titles", "").split(" | "))]:
                old_ids[f"t:{norm_title(t)}"] = r["id"]

    papers = []
    for members in (groups[k] for k in sorted(groups)):
        a = [m for m in members if m["survey"] == "awesome-mim"]
        b = [m for m in members if m["survey"] == "mim-survey"]
        first = (a or b)[0]
        flags = [f for m in members for f in m["flags"]]
        titles = list(dict.fromkeys(m["title"] for m in members))
        if len({norm_title(t) for t in titles}) > 1:
            flags.append("same paper under two titles across the lists; merged")
        arxiv_ids = sorted({m["arxiv_id"] for m in members if m["arxiv_id"]})
        years = list(dict.fromkeys(m["year"] for m in members if m["year"]))
        year = years[0] if years else ""
        if len(years) > 1:
            flags.append(f"lists disagree on year ({', '.join(years)}); kept {year}")
        if not year and arxiv_ids:
            year = "20" + arxiv_ids[0][:2]
            flags.append("year missing in the lists; taken from the arXiv id")
        venues = [m["venue"] for m in members if m["venue"]]
        published = [v for v in venues if v.lower() not in ("arxiv", "openreview", "biorxiv")]
        venue = (published or venues or [""])[0]
        short = next((m["short"] for m in a if m["short"]), "")
        cross = cross_by_arxiv.get(arxiv_ids[0]) if arxiv_ids else None
        cross = cross or cross_by_title.get(norm_title(first["title"]))
        if not short and not any("short name" in f for f in flags):
            short = (cross["method"] if cross else "") or short_name_from_title(first["title"])
        if first["title"].startswith("MGM: A meshfree"):
            flags.append("suspect entry: the list resolves this ICCV 2023 3D entry to an unrelated numerical-methods "
                         "paper; its real identity is unknown")
        pick = lambda key: next((m[key] for m in members if m[key]), "")  # noqa: E731
        paper = dict(
            title=first["title"], short_name=short,
            authors=pick("authors"), year=year, venue=venue, arxiv_id=arxiv_ids[0] if arxiv_ids else "",
            paper_url=pick("paper_url") or (f"https://arxiv.org/abs/{arxiv_ids[0]}" if arxiv_ids else ""),
            code_url=pick("code_url"), project_url=pick("project_url"),
            awesome_mim=";".join(dict.fromkeys(m["node"] for m in a)),
            mim_survey=";".join(dict.fromkeys(m["node"] for m in b)),
            target=cross["recovery_target_type"] if cross else "",
            masking=cross["masking_strategy"] if cross else "",
            backbone=cross["backbone_family"] if cross else "",
            reference_impl="", version_of="",
            other_titles=" | ".join(t for t in titles[1:]),
            source="; ".join(f"{m['survey']}@{m['commit']}:L{m['line']}" for m in members),
            corrections="; ".join(dict.fromkeys(flags)),
        )
        if len(arxiv_ids) > 1:
            paper["corrections"] += "; several arXiv ids: " + ", ".join(arxiv_ids)
        papers.append(paper)

    assign_ids(papers, old_ids)
    by_title = {norm_title(p["title"]): p for p in papers}
    for later, earlier in VERSIONS.items():
        by_title[norm_title(later)]["version_of"] = by_title[norm_title(earlier)]["id"]
    papers.sort(key=lambda p: p["id"])
    return papers, build_results(crosswalk, papers)


def assign_ids(papers: list[dict], old_ids: dict[str, str]) -> None:
    """Readable, unique slugs; a paper that already had an id keeps it."""
    taken: set[str] = set()
    for p in papers:
        old = old_ids.get(f"t:{norm_title(p['title'])}")
        if old:
            p["id"] = old
            taken.add(old)
    for p in papers:
        if p.get("id"):
            continue
        base = slugify(p["short_name"], 4) if p["short_name"] else slugify(p["title"], 5)
        base = base or "paper"
        candidates = [base, f"{base}-{p['year']}" if p["year"] else base]
        candidates += [f"{candidates[-1]}-{i}" for i in range(2, 100)]
        p["id"] = next(c for c in candidates if c not in taken)
        taken.add(p["id"])


def build_results(crosswalk: list[dict], papers: list[dict]) -> list[dict]:
    """ImageNet-1K figures reported for ViT-B in the crosswalk, one row per (method, metric)."""
    by_arxiv = {p["arxiv_id"]: p["id"] for p in papers if p["arxiv_id"]}
    by_title = {norm_title(p["title"]): p["id"] for p in papers}
    rows = []
    for r in crosswalk:
        pid = by_arxiv.get(r["arxiv_id"]) or by_title.get(norm_title(r["title"]), "")
        for column, metric in (("vit_b_in1k_ft_top1", "finetune_top1"), ("vit_b_linear_top1", "linear_top1")):
            if not r[column]:
                continue
            url = source_url(r["result_source"], r["arxiv_id"])
            rows.append(dict(paper_id=pid, method=r["method"], backbone="ViT-B/16",
                             pretrain_epochs=r["vit_b_pt_epochs"], dataset="ImageNet-1K", metric=metric,
                             value=r[column], source=r["result_source"], source_url=url))
    return with_checked(rows)


def with_checked(rows: list[dict]) -> list[dict]:
    """Add the rows of data/results-checked.csv (figures read in their source, each with a pinned URL and the
    table and row); a checked row replaces the crosswalk's row for the same paper, backbone, epochs, benchmark
    and metric (the crosswalk's source note was vaguer, and its value may be rounded)."""
    path = DATA / "results-checked.csv"
    if not path.exists():
        return rows
    with path.open(encoding="utf-8", newline="") as fh:
        checked = list(csv.DictReader(fh))
    key = lambda r: (r["paper_id"], r["backbone"], r.get("pretrain_epochs", ""), r["dataset"], r["metric"])  # noqa: E731
    first = {}
    for r in checked:  # the first checked row of a key is the one that replaces (later ones are other variants)
        first.setdefault(key(r), r)
    out = [first.get(key(r), r) for r in rows]  # in place: a checked row keeps the crosswalk row's position
    placed = {id(r) for r in out}
    return out + [r for r in checked if id(r) not in placed]


def source_url(text: str, arxiv_id: str) -> str:
    """Turn the crosswalk's short source notes into a URL a reader can open."""
    m = re.search(r"github:([\w.-]+/[\w.-]+)", text)
    if m:
        return f"https://github.com/{m.group(1)}"
    m = re.search(r"pages: ([\w./-]+)", text) or re.search(r"docs: ([\w./-]+)", text)
    if m:
        return "https://" + m.group(1).rstrip(".,")
    return f"https://arxiv.org/abs/{arxiv_id}" if arxiv_id else ""


def write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in columns})
    tmp.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--out", type=Path, default=DATA, help="folder for papers.csv and results.csv")
    args = parser.parse_args()
    papers, results = build(args.shared)
    # link papers to the reference implementations that implement them (the registry is the one source)
    impl = {pid: m.name for m in METHODS.values() for pid in m.papers}
    for p in papers:
        p["reference_impl"] = impl.get(p["id"], "")
    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(args.out / "papers.csv", papers, COLUMNS)
    results = merge_duplicates([annotate(r) for r in results])
    write_csv(args.out / "results.csv", results, RESULT_COLUMNS)
    print(f"{len(papers)} papers, {len(results)} results")


if __name__ == "__main__":
    main()
