"""The shipped corpus, the validator's messages, and save/load round trips."""

from __future__ import annotations

import re
import string
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taxonomy import load_corpus, save_papers, validate
from taxonomy.corpus.folder import PAPER_COLUMNS
from taxonomy.errors import CorpusError
from tests.conftest import DATA, ROOT, SHARED, write_papers

HEADER = "id,title,year,arxiv_id,awesome_mim,mim_survey"


# --- the shipped corpus ----------------------------------------------------------------------------------

def test_shipped_corpus_is_valid_and_complete():
    assert validate(DATA) == []
    corpus = load_corpus()
    papers = corpus.papers
    assert len(papers) >= 385
    assert ((papers["awesome_mim"] != "") | (papers["mim_survey"] != "")).all()
    assert (papers["arxiv_id"] != "").sum() >= 280
    assert papers["id"].is_unique
    assert list(papers.columns[: len(PAPER_COLUMNS)]) == PAPER_COLUMNS
    assert str(papers["year"].dtype) == "Int64"


def test_taxonomy_node_counts_match_surveys():
    corpus = load_corpus()
    a, b = corpus.taxonomy("awesome-mim"), corpus.taxonomy("mim-survey")
    # survey A: 9 sections, 22 subsections; 28 leaves (6 sections have no subsections)
    assert len(a.roots()) == 9 and len(a.nodes) == 31 and len(a.leaves()) == 28
    # survey B: 3 contribution levels holding 6 + 10 + 4 categories
    assert [len(b.children(r.id)) for r in b.roots()] == [6, 10, 4]
    assert a.level_sizes() == [9, 28]


def test_per_node_counts_match_survey_a_list():
    from taxonomy.corpus.stats import compute_node_counts

    counts = compute_node_counts(load_corpus(), "awesome-mim").set_index("node")["papers"]
    assert counts["fundamental/transformers"] == 65
    assert counts["downstream/video"] == 32
    assert counts["ai-for-science/protein"] == 11
    counts_b = compute_node_counts(load_corpus(), "mim-survey").set_index("node")["papers"]
    assert counts_b["masking"] == 31 and counts_b["single"] == 83 and counts_b["multi-level"] == 19


def test_upstream_errors_are_fixed_or_flagged():
    papers = load_corpus().papers.set_index("id")
    by_title = papers.reset_index().set_index("title")
    av = by_title.loc["Audiovisual Masked Autoencoders"]
    assert av["arxiv_id"] == "2212.05922" and "2210.07839" in av["corrections"]
    assert "2410.12490" not in set(papers["arxiv_id"]) or (papers["arxiv_id"] == "2410.12490").sum() == 1
    assert by_title.loc["HumanMAC: Masked Motion Completion for Human Motion Prediction"]["arxiv_id"] == "2302.03665"
    assert papers.loc["deepmim", "short_name"] == "DeepMIM"
    assert papers.loc["diffmae", "short_name"] == "DiffMAE"
    maws = papers.loc["wsp"]  # the id is kept; the list's name was the paper's weakly supervised stage
    assert maws["short_name"] == "MAWS" and "weakly supervised stage" in maws["corrections"]
    mgm = papers[papers["title"].str.startswith("MGM: A meshfree")].iloc[0]
    assert mgm["arxiv_id"] == "" and "suspect" in mgm["corrections"]
    assert papers.loc["mdtv2", "version_of"] == "mdt"
    assert "Foundataion" not in " ".join(papers["title"])
    convmae = papers[papers["arxiv_id"] == "2205.03892"]
    assert len(convmae) == 1 and convmae.iloc[0]["mim_survey"] and convmae.iloc[0]["awesome_mim"]
    a2mim = papers[papers["short_name"] == "A2MIM"].iloc[0]
    assert len(a2mim["awesome_mim"].split(";")) == 3


ZOO = "mmpretrain model zoo"


def test_results_link_to_papers():
    corpus = load_corpus()
    results = corpus.results
    vit_b_ft = results[(results["backbone"] == "ViT-B/16") & (results["dataset"] == "ImageNet-1K")
                       & (results["metric"] == "finetune_top1")]
    assert len(vit_b_ft) >= 17 and vit_b_ft["value"].between(80, 90).all()
    assert set(results["paper_id"]) <= set(corpus.papers["id"])
    checked = pd.read_csv(DATA / "results-checked.csv", dtype=str, keep_default_na=False)
    as_text = results.astype(str).replace({"nan": ""})
    columns = [c for c in checked.columns if c != "other_sources"]  # results.csv adds the sources merged into a row
    rows = set(map(tuple, as_text[columns].to_numpy()))
    merged = {(r.paper_id, u) for r in as_text.itertuples(index=False) for u in r.other_sources.split(" | ") if u}
    for row in checked[columns].itertuples(index=False):  # every checked row is in results.csv, at a pinned place,
        assert tuple(row) in rows or (row.paper_id, row.source_url) in merged, row  # or listed as another source
        assert row.where and re.search(r"/blob/[0-9a-f]{40}/|arxiv\.org/abs/", row.source_url), row
    assert results["source_url"].str.startswith("https://").all()
    pinned = results["source_url"].str.contains(r"/blob/[0-9a-f]{40}/") | results["source_url"].str.startswith(
        "https://arxiv.org/abs/")  # every result: a repository file at a commit, or an arXiv abstract
    assert pinned.all(), results.loc[~pinned, "source_url"].tolist()
    zoo = results[results["source"].str.startswith(ZOO)]
    assert len(zoo) >= 30 and zoo["where"].str.contains("metafile.yml: model ").all()
    assert zoo["source_url"].str.contains("github.com/open-mmlab/mmpretrain/blob/").all()


@pytest.mark.skipif(not (SHARED / "sources").exists(), reason="../shared/sources is absent")
def test_build_script_reproduces_shipped_files(tmp_path):
    """build_corpus.py rebuilds papers.csv and the crosswalk's results exactly (import_model_zoo.py adds the
    model-zoo rows after it)."""
    import pandas as pd

    subprocess.run([sys.executable, str(ROOT / "data/scripts/build_corpus.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True)
    assert (tmp_path / "papers.csv").read_bytes() == (DATA / "papers.csv").read_bytes()
    built = pd.read_csv(tmp_path / "results.csv", dtype=str, keep_default_na=False)
    shipped = pd.read_csv(DATA / "results.csv", dtype=str, keep_default_na=False)
    shipped = shipped[~shipped["source"].str.startswith(ZOO)].reset_index(drop=True)
    zoo_url = "https://github.com/open-mmlab/mmpretrain/blob/"  # a model-zoo copy of a result adds its URL later
    shipped["other_sources"] = shipped["other_sources"].map(
        lambda text: " | ".join(u for u in text.split(" | ") if u and not (u.startswith(zoo_url) and "metafile" in u)))
    pd.testing.assert_frame_equal(built, shipped)


# --- the validator on broken corpora -----------------------------------------------------------------------

def messages(folder: Path) -> list[str]:
    return [str(p) for p in validate(folder)]


def test_duplicates_are_reported_with_their_lines(tmp_path):
    folder = write_papers(tmp_path, HEADER,
                          "mae,Masked Autoencoders,2022,2111.06377,fundamental/transformers,",
                          "mae,Another Paper,2022,2111.09886,fundamental/transformers,",
                          "mae-2,Masked  autoencoders!,2022,2111.06377,,masking")
    found = messages(folder)
    papers = str(folder / "papers.csv")
    assert f"{papers}:3: id: duplicate id 'mae' (first on line 2)" in found
    assert f"{papers}:4: title: duplicate title (first on line 2)" in found
    assert any(m.startswith(f"{papers}:4: arxiv_id: duplicate arXiv id 2111.06377") for m in found)


def test_version_of_allows_a_shared_arxiv_id(tmp_path):
    header = HEADER + ",version_of"
    folder = write_papers(tmp_path, header, "mdt,MDT,2023,2303.14389,fundamental/image-generation,,",
                          "mdtv2,MDTv2,2024,2303.14389,fundamental/image-generation,,mdt")
    assert messages(folder) == []


def test_unknown_label_suggests_the_closest_node(tmp_path):
    folder = write_papers(tmp_path, HEADER, "x,A Paper,2022,,fundamental/transformer,maskingg")
    found = messages(folder)
    assert any("awesome_mim: label 'fundamental/transformer' names no node of taxonomy 'awesome-mim' "
               "(did you mean 'fundamental/transformers'?)" in m for m in found)
    assert any(":2: mim_survey: label 'maskingg'" in m for m in found)


def test_field_level_checks(tmp_path):
    folder = write_papers(tmp_path, HEADER,
                          "ok,Good Paper,2022,2111.06377,analysis,",
                          "Bad Id,Bad Id Paper,2022,,analysis,",
                          "no-title,,2022,,analysis,",
                          "bad-year,Year Paper,20x2,,analysis,",
                          "old-year,Old Paper,1066,,analysis,",
                          "bad-arxiv,Arxiv Paper,2022,arXiv:2111,analysis,",
                          "no-label,Unlabelled Paper,2022,,,",
                          "short,Short Row,2022")
    found = messages(folder)
    f = str(folder / "papers.csv")
    assert f"{f}:3: id: id 'Bad Id' must be lower-case letters, digits and '-'" in found
    assert f"{f}:4: title: empty title" in found
    assert any(m.startswith(f"{f}:5: year: bad year '20x2'") for m in found)
    assert any(m.startswith(f"{f}:6: year: bad year '1066'") for m in found)
    assert any(m.startswith(f"{f}:7: arxiv_id: malformed arXiv id 'arXiv:2111'") for m in found)
    assert f"{f}:8: awesome_mim/mim_survey: paper carries no taxonomy label" in found
    assert f"{f}:9: -: expected 6 fields, found 3" in found
    assert len(found) == 7


def test_missing_columns(tmp_path):
    folder = write_papers(tmp_path, "id,title", "a,A Paper")
    found = messages(folder)
    f = str(folder / "papers.csv")
    for col in ("year", "arxiv_id", "awesome_mim", "mim_survey"):
        assert f"{f}:1: {col}: missing required column '{col}'" in found


def test_bad_encoding_names_the_line(tmp_path):
    folder = write_papers(tmp_path, HEADER, "a,A Paper,2022,,analysis,")
    with (folder / "papers.csv").open("ab") as fh:
        fh.write("b,N\u00fcwa,2022,,analysis,\n".encode("latin-1"))
    found = messages(folder)
    assert len(found) == 1 and ":3: -: not UTF-8 text" in found[0]


def test_empty_file(tmp_path):
    folder = write_papers(tmp_path, "")
    (folder / "papers.csv").write_text("", encoding="utf-8")
    found = messages(folder)
    assert found == [f"{folder / 'papers.csv'}:1: -: file is empty; expected a header line with columns "
                     "id, title, year, arxiv_id, awesome_mim, mim_survey"]


def test_multiline_fields_keep_line_numbers(tmp_path):
    folder = write_papers(tmp_path, HEADER, 'a,"A Paper\nwith two lines",2022,,analysis,', "b,,2022,,analysis,")
    assert messages(folder) == [f"{folder / 'papers.csv'}:4: title: empty title"]


def test_bad_taxonomy_yaml(tmp_path):
    folder = write_papers(tmp_path, HEADER, "a,A Paper,2022,,analysis,")
    (folder / "taxonomies" / "broken.yaml").write_text("id: x\nnodes: [\n", encoding="utf-8")
    found = messages(folder)
    assert any("broken.yaml:" in m and "invalid YAML" in m for m in found)


def test_load_corpus_raises_with_every_problem(tmp_path):
    folder = write_papers(tmp_path, HEADER, "Bad,,2022,,,")
    with pytest.raises(CorpusError) as info:
        load_corpus(folder)
    assert len(info.value.problems) >= 2


# --- CLI ---------------------------------------------------------------------------------------------------

def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "taxonomy", *args], capture_output=True, text=True, cwd=ROOT)


def test_cli_validate_ok_and_failing(tmp_path):
    ok = run_cli("corpus", "validate")
    assert ok.returncode == 0 and "0 problems" in ok.stdout
    folder = write_papers(tmp_path, HEADER, "a,,2022,,analysis,")
    bad = run_cli("corpus", "validate", str(folder))
    assert bad.returncode == 1
    assert f"{folder / 'papers.csv'}:2: title: empty title" in bad.stdout
    assert "Traceback" not in bad.stderr


def test_cli_info_counts():
    out = run_cli("corpus", "info")
    assert out.returncode == 0
    assert "385 papers" in out.stdout and "Video Representation" in out.stdout and "CVPR" in out.stdout


def test_cli_bad_corpus_is_one_line_error(tmp_path):
    out = run_cli("corpus", "info", "--corpus", str(tmp_path))
    assert out.returncode == 1
    assert out.stderr.startswith("error: ") and "Traceback" not in out.stderr


# --- round trip --------------------------------------------------------------------------------------------

text = st.text(alphabet=string.ascii_letters + string.digits + " ,;\"'\n:é漢-", min_size=1, max_size=30)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(text, st.one_of(st.none(), st.integers(1990, 2025)), st.booleans(),
                          st.sampled_from(["analysis", "downstream/video", "fundamental/transformers;analysis"])),
                min_size=1, max_size=12, unique_by=lambda r: r[0].strip().lower()))
def test_save_load_round_trip(tmp_path_factory, rows):
    folder = tmp_path_factory.mktemp("rt")
    write_papers(folder, HEADER)
    frame = pd.DataFrame({
        "id": [f"p-{i}" for i in range(len(rows))],
        "title": [f"T{i} {r[0]}" for i, r in enumerate(rows)],
        "year": pd.array([r[1] for r in rows], dtype="Int64"),
        "arxiv_id": [f"2101.{i:05d}" if r[2] else "" for i, r in enumerate(rows)],
        "awesome_mim": [r[3] for r in rows],
        "mim_survey": ["masking" for _ in rows],
    })
    save_papers(frame, folder / "papers.csv")
    loaded = load_corpus(folder).papers[frame.columns]
    pd.testing.assert_frame_equal(loaded, frame, check_dtype=False)
    save_papers(loaded, folder / "again.csv")
    assert (folder / "again.csv").read_bytes() == (folder / "papers.csv").read_bytes()
