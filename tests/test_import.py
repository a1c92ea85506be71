"""Bring-your-own corpus: every reader on small files written here, de-duplication, the awesome list, and
`mimtax corpus import` followed by `mimtax dendrogram --corpus` end to end."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from taxonomy.corpus.folder import load_corpus
from taxonomy.corpus.importer import import_corpus, write_corpus
from taxonomy.corpus.readers import read_source
from taxonomy.corpus.store import AbstractStore, store_path
from taxonomy.errors import CorpusError, UserError
from tests.conftest import SHARED, run_cli

MAE = "Masked Autoencoders Are Scalable Vision Learners"
UBER = "Über-Masking: Façade Tokens for Vision"
ABSTRACT = "Hide most patches, encode the rest, and rebuild the hidden ones."  # written for the tests

BIBTEX = r"""% a comment line
@inproceedings{he2022mae,
  title     = {Masked Autoencoders Are {Scalable} Vision Learners},
  author    = {He, Kaiming and Doll{\'a}r, Piotr},
  booktitle = {CVPR},
  year      = {2022},
  eprint    = {2111.06377},
  archivePrefix = {arXiv},
  doi       = {10.1109/CVPR52688.2022.01553},
  abstract  = {Hide most patches, encode the rest, and rebuild the hidden ones.}
}

@article{mueller-uber,
  title  = {{\"U}ber-Masking: Fa{\c{c}}ade Tokens for Vision},
  author = {M{\"u}ller, J{\"o}rg and Zo{\"e} {\AA}ngstr{\"o}m}
}

@misc{he2022mae-again,
  title = {Masked autoencoders are scalable vision learners},
  url   = {https://arxiv.org/abs/2111.06377v3}
}
"""

RIS = """TY  - CONF
TI  - Masked Autoencoders Are Scalable Vision Learners
AU  - He, Kaiming
AU  - Dollár, Piotr
PY  - 2022
T2  - CVPR
DO  - 10.1109/CVPR52688.2022.01553
UR  - https://arxiv.org/abs/2111.06377
AB  - Hide most patches, encode the rest,
  and rebuild the hidden ones.
ER  -

TY  - JOUR
TI  - Über-Masking: Façade Tokens for Vision
AU  - Müller, Jörg
AU  - Zoë Ångström
ER  -

TY  - GEN
TI  - Masked autoencoders are scalable vision learners
UR  - https://arxiv.org/abs/2111.06377v3
ER  -
"""

CSL = [
    {"id": "he2022mae", "type": "paper-conference", "title": MAE,
     "author": [{"family": "He", "given": "Kaiming"}, {"family": "Dollár", "given": "Piotr"}],
     "issued": {"date-parts": [[2022, 6]]}, "container-title": "CVPR", "DOI": "10.1109/CVPR52688.2022.01553",
     "URL": "https://arxiv.org/abs/2111.06377", "abstract": ABSTRACT},
    {"id": "mueller-uber", "type": "article-journal", "title": UBER,
     "author": [{"family": "Müller", "given": "Jörg"}, {"literal": "Zoë Ångström"}]},
    {"id": "dup", "type": "article", "title": MAE.lower(), "URL": "https://arxiv.org/abs/2111.06377v3"},
]

CSV_ROWS = [
    {"Title": MAE, "Author": "He, Kaiming; Dollár, Piotr", "Publication Year": "2022", "Publication Title": "CVPR",
     "DOI": "https://doi.org/10.1109/CVPR52688.2022.01553", "Url": "https://arxiv.org/abs/2111.06377",
     "Abstract Note": ABSTRACT},
    {"Title": UBER, "Author": "Jörg Müller; Zoë Ångström", "Publication Year": "", "Publication Title": "", "DOI": "",
     "Url": "", "Abstract Note": ""},
    {"Title": MAE.lower(), "Author": "", "Publication Year": "", "Publication Title": "", "DOI": "",
     "Url": "https://arxiv.org/abs/2111.06377v3", "Abstract Note": ""},
]

MARKDOWN = """# Awesome Test List

## Table of Contents
- [Methods](#methods)

## Methods

### Pixel Targets

* **Masked Autoencoders Are Scalable Vision Learners**<br>
*Kaiming He, Piotr Dollár*<br>
CVPR'2022 [[Paper](https://arxiv.org/abs/2111.06377)] [[Code](https://github.com/facebookresearch/mae)]
   <details close>
   <summary>MAE Framework</summary>
   </details>

## Other Fields

* **Über-Masking: Façade Tokens for Vision**<br>
*Jörg Müller, Zoë Ångström*<br>
ArXiv'2024 [[Paper](https://example.org/uber.pdf)]

* **Masked autoencoders are scalable vision learners**<br>
*Kaiming He*<br>
arXiv'2021 [[Paper](https://arxiv.org/abs/2111.06377v3)]

## Contribution

```markdown
* **TITLE**<br>
*AUTHOR*<br>
```
"""


def write_sample(folder: Path, fmt: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "bibtex":
        path = folder / "refs.bib"
        path.write_text(BIBTEX, encoding="utf-8")
    elif fmt == "ris":
        path = folder / "refs.ris"
        path.write_text(RIS, encoding="utf-8")
    elif fmt == "csl-json":
        path = folder / "zotero.json"
        path.write_text(json.dumps(CSL, ensure_ascii=False, indent=2), encoding="utf-8")
    elif fmt in ("csv", "tsv"):
        path = folder / f"refs.{fmt}"
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, list(CSV_ROWS[0]), delimiter="," if fmt == "csv" else "\t")
            writer.writeheader()
            writer.writerows(CSV_ROWS)
    elif fmt == "jsonl":
        path = folder / "refs.jsonl"
        rows = [{"title": MAE, "authors": ["Kaiming He", "Piotr Dollár"], "year": 2022, "venue": "CVPR",
                 "doi": "10.1109/CVPR52688.2022.01553", "arxiv_id": "2111.06377", "abstract": ABSTRACT},
                {"title": UBER, "authors": ["Jörg Müller", "Zoë Ångström"]},
                {"title": MAE.lower(), "arxiv_id": "2111.06377v3"}]
        path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    else:
        path = folder / "awesome.md"
        path.write_text(MARKDOWN, encoding="utf-8")
    return path


FORMATS = ["bibtex", "ris", "csl-json", "csv", "tsv", "jsonl", "markdown"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_reader_reads_fields_unicode_and_missing_values(tmp_path, fmt):
    source = read_source(write_sample(tmp_path, fmt))
    assert source.format == fmt
    mae, uber, dup = source.records
    assert mae.title == MAE and uber.title == UBER  # LaTeX escapes and braces decoded in BibTeX
    assert mae.authors[:2] == ["Kaiming He", "Piotr Dollár"]
    assert uber.authors == ["Jörg Müller", "Zoë Ångström"]
    assert mae.arxiv_id == "2111.06377" and dup.arxiv_id == "2111.06377"  # versions dropped
    assert mae.year in ("2022",) and mae.venue == "CVPR"
    if fmt != "markdown":
        assert mae.doi == "10.1109/cvpr52688.2022.01553"
        assert mae.abstract == ABSTRACT
        assert uber.year == "" and uber.venue == ""  # missing fields stay empty
    assert all(r.line > 0 for r in source.records)
    assert source.records[0].line < source.records[1].line < source.records[2].line


@pytest.mark.parametrize("fmt", FORMATS)
def test_import_round_trip_merges_duplicates(tmp_path, fmt):
    imported = import_corpus([write_sample(tmp_path, fmt)], taxonomy_from_headings=(fmt == "markdown"))
    write_corpus(imported, tmp_path / "corpus")
    corpus = load_corpus(tmp_path / "corpus")
    assert sorted(corpus.papers["title"]) == sorted([MAE, UBER])
    mae = corpus.papers[corpus.papers["title"] == MAE].iloc[0]
    assert mae["arxiv_id"] == "2111.06377" and mae["other_titles"].lower() == MAE.lower()
    assert mae["reference_impl"] == "mae"  # linked to mimtax's implementation through the shipped corpus
    report = list(csv.DictReader((tmp_path / "corpus" / "import-report.csv").open(encoding="utf-8")))
    assert len(report) == 1 and report[0]["matched_on"] in ("arxiv 2111.06377", "doi 10.1109/cvpr52688.2022.01553",
                                                            "title masked autoencoders are scalable vision learners")
    store = AbstractStore.load(store_path(tmp_path / "corpus"))
    assert (store.abstract(mae["id"]) == ABSTRACT) == (fmt != "markdown")


def test_dedup_across_files_and_conflicting_ids(tmp_path):
    bib = write_sample(tmp_path / "a", "bibtex")
    ris = write_sample(tmp_path / "b", "ris")
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"title": "A Completely Different Paper on Tabular Data", "arxiv_id": "2111.06377"})
                     + "\n", encoding="utf-8")
    imported = import_corpus([bib, ris, other])
    titles = list(imported.papers["title"])
    assert sorted(titles) == sorted([MAE, UBER, "A Completely Different Paper on Tabular Data"])
    assert len(imported.report) == 4  # 6 entries -> 2 papers; the conflicting one is kept apart
    conflict = imported.papers[imported.papers["title"].str.startswith("A Completely")].iloc[0]
    assert conflict["arxiv_id"] == "" and "2111.06377" in conflict["corrections"]
    write_corpus(imported, tmp_path / "corpus")
    assert load_corpus(tmp_path / "corpus").papers["id"].is_unique


def test_heading_taxonomy_from_markdown(tmp_path):
    imported = import_corpus([write_sample(tmp_path, "markdown")], taxonomy_from_headings=True, taxonomy_id="test-list")
    write_corpus(imported, tmp_path / "corpus")
    corpus = load_corpus(tmp_path / "corpus")
    tax = corpus.taxonomy("test-list")
    assert [n.name for n in tax.roots()] == ["Methods", "Other Fields"]  # no node for headings without papers
    assert [n.name for n in tax.children("methods")] == ["Pixel Targets"]
    labels = dict(zip(corpus.papers["title"], corpus.papers["test_list"]))
    assert labels[MAE] == "methods/pixel-targets;other-fields"  # the duplicate's section is kept too
    assert labels[UBER] == "other-fields"


@pytest.mark.skipif(not (SHARED / "sources/awesome-mim/README.md").exists(), reason="shared awesome list absent")
def test_awesome_list_reproduces_entries_and_section_tree():
    source = read_source(SHARED / "sources/awesome-mim/README.md")
    expected = list(csv.DictReader((SHARED / "sources/awesome-mim/papers.csv").open(encoding="utf-8")))
    assert len(source.records) == 298 == len(expected)
    got = [(r.title, " > ".join(r.labels[0]), r.arxiv_id, r.year, r.venue, ", ".join(r.authors)) for r in source.records]
    want = [(e["title"], e["section_path"], e["arxiv_id"], e["year"], e["venue"], e["authors"]) for e in expected]
    assert got == want
    nodes = {path[:d] for path in source.headings for d in range(1, len(path) + 1)}
    assert len([n for n in nodes if len(n) == 1]) == 9 and len([n for n in nodes if len(n) == 2]) == 22
    assert len(source.headings) == 28  # the leaves that hold papers


@pytest.mark.parametrize("fmt, text, line, words", [
    ("refs.bib", "@article{ok, title={Fine}}\n\n@article{bad,\n  title = {Unclosed {brace,\n  year = 2020\n}\n"
                 "@misc{next, title={Next}}\n", 3, "malformed BibTeX"),
    ("refs.bib", "@article{notitle, year={2020}}\n", 1, "no title"),
    ("refs.ris", "TY  - JOUR\nTI  - One\nER  -\nTY  - JOUR\nTI  - Two\n", 4, "not closed"),
    ("refs.ris", "TY  - JOUR\nTI  - One\nAU  - Someone\nthis is not a tag\nER  -\n", 4, "TAG  - value"),
    ("refs.json", '[\n {"title": "One"},\n {"title": "Two",}\n]\n', 3, "invalid JSON"),
    ("refs.json", '[\n {"title": "One"},\n {"author": []}\n]\n', 3, "no title"),
    ("refs.csv", "title,year\nOne,2020\nTwo,2021,extra\n", 3, "expected 2 fields"),
    ("refs.jsonl", '{"title": "One"}\n{"title": \n', 2, "invalid JSON"),
    ("refs.md", "# list\n## A\n* **Title**<br>\n```\nunclosed\n", 0, "not closed"),
])
def test_malformed_files_name_file_and_line_and_write_nothing(tmp_path, fmt, text, line, words):
    path = tmp_path / fmt
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CorpusError) as info:
        import_corpus([path])
    problem = info.value.problems[0]
    assert problem.file == str(path) and problem.line == line and words in problem.message
    result = run_cli("corpus", "import", str(path), "--out", str(tmp_path / "out"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{path}:{line}:" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_csv_mapping_and_format_errors(tmp_path):
    path = tmp_path / "list.txt"
    path.write_text("Name;Jahr\nMasked Things;2023\n", encoding="utf-8")
    with pytest.raises(UserError, match="cannot tell the format"):
        import_corpus([path])
    tsv = tmp_path / "list.tsv"
    tsv.write_text("Paper\tJahr\tGruppe\nMasked Things\t2023\tA > B\n", encoding="utf-8")
    with pytest.raises(UserError, match="no title column"):
        import_corpus([tsv])
    with pytest.raises(UserError, match="names no column"):
        import_corpus([tsv], mapping={"title": "Titel"})
    imported = import_corpus([tsv], mapping={"title": "Paper", "year": "Jahr", "labels": "Gruppe"},
                             taxonomy_from_headings=True)
    assert imported.papers.loc[0, "year"] == "2023" and imported.papers.loc[0, "headings"] == "a/b"


def test_import_refuses_to_overwrite_without_force(tmp_path):
    bib = write_sample(tmp_path, "bibtex")
    out = tmp_path / "corpus"
    assert run_cli("corpus", "import", str(bib), "--out", str(out)).returncode == 0
    before = (out / "papers.csv").read_bytes()
    again = run_cli("corpus", "import", str(bib), "--out", str(out))
    assert again.returncode == 1 and "--force" in again.stderr
    assert run_cli("corpus", "import", str(bib), "--out", str(out), "--force").returncode == 0
    assert (out / "papers.csv").read_bytes() == before  # deterministic


def test_import_then_dendrogram_end_to_end(tmp_path):
    """A BibTeX file becomes a corpus that `mimtax dendrogram --corpus` turns into every output."""
    source = load_corpus().papers.head(30)
    entries = []
    for i, row in enumerate(source.itertuples(index=False)):
        authors = " and ".join(a.strip() for a in row.authors.split(",") if a.strip())
        entries.append(f"@article{{k{i},\n  title = {{{row.title}}},\n  author = {{{authors}}},\n"
                       f"  year = {{{row.year if row.year is not None else ''}}},\n  eprint = {{{row.arxiv_id}}}\n}}\n")
    bib = tmp_path / "mine.bib"
    bib.write_text("\n".join(entries), encoding="utf-8")
    corpus = tmp_path / "corpus"
    imported = run_cli("corpus", "import", str(bib), "--out", str(corpus))
    assert imported.returncode == 0, imported.stderr
    out = tmp_path / "out"
    result = run_cli("dendrogram", "--corpus", str(corpus), "--out", str(out), MIMTAX_CACHE=str(tmp_path / "cache"))
    assert result.returncode == 0, result.stderr
    for name in ["dendrogram.png", "dendrogram.svg", "bk_curve.png", "clusters.csv", "tree.nwk", "tree.json",
                 "tree.graphml", "report.md", "report.json"]:
        assert (out / name).stat().st_size > 0, name
    clusters = list(csv.DictReader((out / "clusters.csv").open(encoding="utf-8")))
    assert len(clusters) == 30 and "cluster_k5" in clusters[0]
    assert "no taxonomy" in result.stdout


# --- awesome lists in other layouts (fixtures written for these tests: real papers' titles, authors, links) -------

AWESOME = Path(__file__).parent / "fixtures" / "awesome"


@pytest.mark.parametrize("name, papers, skipped, first", [
    ("indented.md", 6, 3, dict(line=15, title="A Theoretical Analysis of Contrastive Unsupervised Representation "
                                              "Learning", venue="ICML", year="2019", arxiv_id="1902.09229",
                               authors=["Sanjeev Arora", "Hrishikesh Khandeparkar", "Mikhail Khodak",
                                        "Orestis Plevrakis", "Nikunj Saunshi"], labels=[("Theory",)])),
    ("backslash.md", 5, 1, dict(line=18, title="Denoising Diffusion Probabilistic Models", venue="NeurIPS",
                                year="2020", arxiv_id="2006.11239",
                                authors=["Jonathan Ho", "Ajay Jain", "Pieter Abbeel"],
                                code_url="https://github.com/hojonathanho/diffusion", labels=[("Image Generation",)])),
    ("short-names.md", 7, 3, dict(line=7, title="Graph Contrastive Learning with Augmentations", short_name="GraphCL",
                                  year="2021", arxiv_id="2010.13902", code_url="https://github.com/Shen-Lab/GraphCL",
                                  url="https://arxiv.org/abs/2010.13902", labels=[("Contrastive Methods",)])),
])
def test_common_awesome_layouts_are_read_without_a_flag(name, papers, skipped, first):
    source = read_source(AWESOME / name)
    assert (len(source.records), len(source.skipped)) == (papers, skipped)
    record = source.records[0]
    for field, value in first.items():
        assert getattr(record, field) == value, field
    assert all(r.title and r.year and r.arxiv_id and r.url.startswith("https://") for r in source.records)


def test_layout_details_years_sections_and_author_orders():
    indented = read_source(AWESOME / "indented.md")
    moco = next(r for r in indented.records if r.title.startswith("Momentum Contrast"))
    assert moco.authors[:2] == ["Kaiming He", "Haoqi Fan"]  # 'He, Kaiming and Fan, Haoqi' turned round
    assert moco.year == "2020" and moco.venue == "CVPR"
    nichol = next(r for r in read_source(AWESOME / "backslash.md").records if r.title.startswith("Improved"))
    assert nichol.authors == ["Alex Nichol", "Prafulla Dhariwal"]  # affiliation marks dropped
    graph = read_source(AWESOME / "short-names.md")
    assert {r.title: r.year for r in graph.records}["Deep Graph Infomax"] == "2019"  # from the '### 2019' heading
    assert [r.short_name for r in graph.records].count("") == 2  # bullets without a bold name are read too
    # year headings are years, not nodes; blogs, resources, acknowledgements are not nodes
    for source in (indented, graph):
        names = {level for path in source.headings for level in path}
        assert not names & {"2019", "2020", "2021", "2022", "Blog", "Technical blog", "Other resource",
                            "Acknowledgement", "Table of Contents", "Contributing"}
    assert graph.headings == [("Contrastive Methods",), ("Predictive Methods",)]


def test_every_entry_is_read_or_reported_with_line_and_reason(tmp_path):
    files = [str(AWESOME / n) for n in ("indented.md", "backslash.md", "short-names.md")]
    out = tmp_path / "corpus"
    result = run_cli("corpus", "import", *files, "--out", str(out), "--taxonomy-from-headings")
    assert result.returncode == 0, result.stderr
    assert "6 entries read, 3 skipped" in result.stdout and "5 entries read, 1 skipped" in result.stdout
    assert "7 entry-like line(s) did not become papers" in result.stdout.replace("\n", " ")
    skipped = list(csv.DictReader((out / "import-skipped.csv").open(encoding="utf-8")))
    assert len(skipped) == 7
    where = {(Path(r["file"]).name, int(r["line"])): r["reason"] for r in skipped}
    assert where[("indented.md", 45)] == "no title found before the links"
    assert "'Technical blog'" in where[("short-names.md", 21)] and "'Other resource'" in where[("short-names.md", 24)]
    assert "introduction" in where[("short-names.md", 3)]
    corpus = load_corpus(out)
    assert len(corpus.papers) == 18
    tax = corpus.taxonomy("headings")
    names = {n.name for n in tax.nodes.values()}
    assert {"Theory", "Vision", "Image Generation", "Contrastive Methods"} <= names
    assert not names & {"2019", "2020", "2021", "Blog", "Technical blog", "Other resource", "Acknowledgement",
                        "Introductory Posts", "Resources", "Papers"}
    assert json.loads((out / "import.json").read_text())["skipped"] == 7


def test_level_with_one_node_or_few_labels_is_not_scored(tmp_path):
    import numpy as np
    from scipy.cluster import hierarchy

    from taxonomy.clustering.agreement import level_scores, why_not_scored

    assert "1 node" in why_not_scored(np.array(["a"] * 40))
    assert "fewer than 20" in why_not_scored(np.array(["a", "b"] * 9 + [""] * 2))
    assert "fewer than 30%" in why_not_scored(np.array(["a", "b"] * 15 + [""] * 100))
    assert why_not_scored(np.array(["a", "b"] * 15 + [""] * 10)) == ""
    imported = import_corpus([AWESOME / "short-names.md"], taxonomy_from_headings=True)
    write_corpus(imported, tmp_path / "corpus")
    corpus = load_corpus(tmp_path / "corpus")
    Z = hierarchy.linkage(np.random.default_rng(0).normal(size=(len(corpus.papers), 3)), "ward")
    levels = level_scores(Z, corpus, "headings")
    assert len(levels) and levels["value"].isna().all()  # never 1.000
    assert (levels["not_scored"] == "labels 7 papers: fewer than 20").all()
    from taxonomy.render.export import _agreement_json

    doc = _agreement_json({"levels": levels, "tree": {}, "bk": {}})
    assert doc["headings"]["levels"]["section"] == {"k": 2, "papers": 7, "scored": False,
                                                   "not_scored": "labels 7 papers: fewer than 20"}


def test_linked_titles_and_collapsible_sections(tmp_path):
    """`- [Title](url), Authors, Venue Year | [github](url)` under `<details><summary>Section</summary>` blocks, the
    way NeRF lists are written; an 'Implementations' section holds code, not papers."""
    path = tmp_path / "nerf.md"
    path.write_text("""# Neural fields
## Papers
- [NeRF: Representing Scenes as Neural Radiance Fields for View Synthesis](https://arxiv.org/abs/2003.08934), Mildenhall et al., ECCV 2020 | [github](https://github.com/bmild/nerf)

<details open>
<summary>Faster Inference</summary>

- [Plenoxels: Radiance Fields without Neural Networks](https://arxiv.org/abs/2112.05131), Sara Fridovich-Keil, Alex Yu, Matthew Tancik and Qinhong Chen, CVPR 2022
</details>

## Implementations
- [nerf-pytorch](https://github.com/yenchenlin/nerf-pytorch), Yen-Chen Lin, 2020
""", encoding="utf-8")
    source = read_source(path)
    nerf, plenoxels = source.records
    assert nerf.labels == [("Papers",)] and plenoxels.labels == [("Papers", "Faster Inference")]
    assert nerf.authors == ["Mildenhall"] and (nerf.venue, nerf.year) == ("ECCV", "2020")
    assert nerf.code_url == "https://github.com/bmild/nerf" and nerf.arxiv_id == "2003.08934"
    assert plenoxels.authors == ["Sara Fridovich-Keil", "Alex Yu", "Matthew Tancik", "Qinhong Chen"]
    assert [(k.line, "'Implementations'" in k.reason) for k in source.skipped] == [(12, True)]


def test_table_rows_are_entries(tmp_path):
    """A list kept as a Markdown table: each row with a link is an entry; the header row names the columns."""
    path = tmp_path / "table.md"
    path.write_text("""# Language models
## Milestone Papers
| Date | keywords | Institute | Paper |
|:---:|:---:|:---:|---|
| 2017-06 | Transformers | Google | [Attention Is All You Need](https://arxiv.org/abs/1706.03762) |
| 2019-10 | T5 | Google | [Exploring the Limits of Transfer Learning with a Unified Text-to-Text Transformer](https://arxiv.org/abs/1910.10683) |

## Open models
- [LLaMA](https://github.com/meta-llama/llama) - weights and code
""", encoding="utf-8")
    source = read_source(path)
    assert [(r.line, r.title, r.short_name, r.year, r.arxiv_id) for r in source.records] == [
        (5, "Attention Is All You Need", "Transformers", "2017", "1706.03762"),
        (6, "Exploring the Limits of Transfer Learning with a Unified Text-to-Text Transformer", "T5", "2019",
         "1910.10683")]
    (skip,) = source.skipped
    assert skip.line == 9 and "only a name is linked ('LLaMA')" in skip.reason


def test_paper_ids_with_a_shared_base_match_the_one_by_one_search():
    """Ids are found with a remembered next suffix per base (linear time); they must be exactly the ids the plain
    search ('base', 'base-2', 'base-3', … until one is free) gives, also when a suffixed id is itself some base."""
    from taxonomy.corpus.importer import _paper_id
    from taxonomy.corpus.readers import Record

    records = [Record(title="Masked things", authors=["Ann Lee"], year="2021") for _ in range(5)]
    records.insert(2, Record(title="Other", short_name="lee2021-masked-2"))  # takes the name the 2nd would want
    records += [Record(title="Masked things", authors=["Ann Lee"], year="2021"), Record(title="x", key="solo")]

    def plain(record, taken):
        pid = _paper_id(record, set())  # the base
        n, base = 2, pid
        while pid in taken:
            pid, n = f"{base}-{n}", n + 1
        taken.add(pid)
        return pid

    taken, remembered, expected = set(), {}, set()
    got = [_paper_id(r, taken, remembered) for r in records]
    assert got == [plain(r, expected) for r in records]
    assert got[:4] == ["lee2021-masked", "lee2021-masked-2", "lee2021-masked-2-2", "lee2021-masked-3"]


def test_unscoreable_levels_say_not_scored_in_the_table_report_and_json(tmp_path):
    files = [str(AWESOME / n) for n in ("indented.md", "backslash.md", "short-names.md")]
    assert run_cli("corpus", "import", *files, "--out", str(tmp_path / "c"), "--taxonomy-from-headings").returncode == 0
    result = run_cli("dendrogram", "--corpus", str(tmp_path / "c"), "--embedding", "tfidf", "--no-pictures", "--out",
                     str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert "not scored" in result.stdout and "labels 18 papers: fewer than 20" in result.stdout
    assert "1.000" not in result.stdout
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    for doc in (report["dendrogram"], report["survey_b_recipe"]):
        assert {lv["scored"] for lv in doc["headings"]["levels"].values()} == {False}
    report_md = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "| ami | not scored | not scored | not scored | labels 18 papers" in report_md
