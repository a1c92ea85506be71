"""`mimtax export latex`: golden files for a tiny corpus, the structure of the shipped corpus's output, and a
real compile (pdflatex + bibtex) where a LaTeX engine with forest is installed (CI installs one)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from taxonomy.corpus.folder import load_corpus
from taxonomy.render.latex import escape, forest_tree, write_latex
from tests.conftest import run_cli

GOLDEN = Path(__file__).resolve().parent / "golden" / "latex"
UPDATE = os.environ.get("MIMTAX_UPDATE_GOLDEN") == "1"


def _tiny_tree():
    from taxonomy.clustering.dendrogram import Dendrogram

    corpus = load_corpus(GOLDEN / "corpus")
    Z = np.array([[0, 1, 0.1, 2], [2, 3, 0.2, 2], [4, 5, 0.5, 4]], dtype=float)
    return corpus, Dendrogram(papers=corpus.papers, linkage=Z, node_terms={4: ["pixel", "random"], 5: ["token"],
                                                                          6: ["masked", "image"]},
                              leaf_names=list(corpus.papers["short_name"]), agreement={}, baseline_agreement={},
                              guided_linkage=None, guided_agreement=None, config={}, n_with_abstract=0,
                              taxonomy="tiny")


def _check(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file (MIMTAX_UPDATE_GOLDEN=1)"


def test_golden_taxonomy_tables_and_bibliography(tmp_path):
    corpus = load_corpus(GOLDEN / "corpus")
    written = write_latex(corpus, tmp_path, "tiny")
    assert [p.name for p in written] == ["taxonomy.tex", "tables.tex", "references.bib"]
    for path in written:
        _check(path.name, path.read_text(encoding="utf-8"))


def test_golden_learned_tree():
    corpus, result = _tiny_tree()
    _check("tree-k2.tex", forest_tree(result, 2))
    text = forest_tree(result, 2)
    assert "{\\cite{he2022mae, simmim}}" in text and "{\\cite{bao2022beit, odd}}" in text  # the two clusters


def test_escaping():
    assert escape("100% & $x_1$ #1 {a} [b] ~^\\") == (
        "100\\% \\& \\$x\\_1\\$ \\#1 \\{a\\} {[}b{]} \\textasciitilde{}\\textasciicircum{}\\textbackslash{}")


def _structure(text: str) -> None:
    """Braces and brackets balance (escaped ones aside), every environment closes, no raw special character."""
    bare = re.sub(r"\\[{}%&$#_]|\{\[\}|\{\]\}", "", text)
    bare = "\n".join(line for line in bare.splitlines() if not line.lstrip().startswith("%"))
    depth = 0
    for ch in bare:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0
    assert depth == 0
    assert bare.count("[") == bare.count("]")
    begins, ends = re.findall(r"\\begin\{(\w+)\}", text), re.findall(r"\\end\{(\w+)\}", text)
    assert sorted(begins) == sorted(ends)
    assert not re.search(r"(?<!\\)[&%#$]", re.sub(r"\\href\{[^}]*\}", "", bare).replace(" & ", "").replace("&", ""))


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    out = tmp_path_factory.mktemp("latex")
    corpus = load_corpus()
    for name in corpus.taxonomies:
        write_latex(corpus, out / name, name)
    return corpus, out


def test_shipped_corpus_structure(shipped):
    corpus, out = shipped
    for name in corpus.taxonomies:
        figure = (out / name / "taxonomy.tex").read_text(encoding="utf-8")
        tables = (out / name / "tables.tex").read_text(encoding="utf-8")
        bib = (out / name / "references.bib").read_text(encoding="utf-8")
        _structure(figure)
        _structure(tables)
        cited = {k.strip() for group in re.findall(r"\\cite\{([^}]*)\}", figure + tables) for k in group.split(",")}
        keys = set(re.findall(r"^@article\{([^,]+),", bib, flags=re.M))
        assert cited == keys and len(keys) == sum(bool(ls) for ls in corpus.labels(name))
        assert tables.count("\\toprule") == tables.count("\\bottomrule") == len(
            {n for ls in corpus.labels(name) for n in ls})


LATEX_REQUIRED = os.environ.get("MIMTAX_REQUIRE_LATEX") == "1"


def _latex_ready() -> bool:
    if not (shutil.which("pdflatex") and shutil.which("bibtex") and shutil.which("kpsewhich")):
        return False
    found = subprocess.run(["kpsewhich", "forest.sty", "booktabs.sty", "hyperref.sty"], capture_output=True, text=True)
    return len(found.stdout.split()) == 3


@pytest.mark.skipif(not LATEX_REQUIRED and not _latex_ready(), reason="no pdflatex with forest, booktabs, hyperref")
def test_the_output_compiles(shipped):
    assert _latex_ready(), "MIMTAX_REQUIRE_LATEX=1 but pdflatex with forest, booktabs and hyperref is missing"
    _, out = shipped
    folder = out / "awesome-mim"
    (folder / "main.tex").write_text(
        "\\documentclass{article}\n\\usepackage[margin=1cm]{geometry}\n\\usepackage{forest}\n\\usepackage{booktabs}\n"
        "\\usepackage{hyperref}\n\\begin{document}\n\\input{taxonomy.tex}\n\\input{tables.tex}\n"
        "\\bibliographystyle{plain}\n\\bibliography{references}\n\\end{document}\n", encoding="utf-8")
    latex = ["pdflatex", "-halt-on-error", "-interaction=nonstopmode", "main.tex"]
    for command in (latex, ["bibtex", "main"], latex, latex):
        done = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-3000:]
    log = (folder / "main.log").read_text(encoding="utf-8", errors="replace")
    assert (folder / "main.pdf").stat().st_size > 10_000
    assert not re.search(r"Citation `[^']*' on page \d+ undefined", log)


def test_cli_export_latex(tmp_path):
    done = run_cli("export", "latex", "--taxonomy", "mim-survey", "--out", str(tmp_path / "tex"))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "tex").iterdir()) == [".mimtax-manifest.json", "references.bib", "tables.tex",
                                                                 "taxonomy.tex"]
    bad = run_cli("export", "latex", "--k", "5", "--out", str(tmp_path / "x"))
    assert bad.returncode == 2 and "--tree" in bad.stderr and not (tmp_path / "x").exists()  # the --k rule


def test_imported_bibtex_keys_are_cited(tmp_path):
    bib = tmp_path / "list.bib"
    bib.write_text("@article{smith2023masked, title={Masked Point Modeling for Point Clouds}, year={2022}}\n"
                   "@article{lee2024video, title={Masked Video Autoencoders}, year={2024}}\n"
                   "@article{kim2023audio, title={Masked Spectrogram Modeling for Audio}, year={2023}}\n",
                   encoding="utf-8")
    assert run_cli("corpus", "import", str(bib), "--out", str(tmp_path / "c")).returncode == 0
    papers = pd.read_csv(tmp_path / "c" / "papers.csv", dtype=str, keep_default_na=False)
    assert sorted(papers["cite_key"]) == ["kim2023audio", "lee2024video", "smith2023masked"]
    done = run_cli("export", "latex", "--tree", "--k", "2", "--corpus", str(tmp_path / "c"), "--out",
                   str(tmp_path / "tex"))
    assert done.returncode == 0, done.stderr
    figure = (tmp_path / "tex" / "tree-k2.tex").read_text(encoding="utf-8")
    cited = {k.strip() for g in re.findall(r"\\cite\{([^}]*)\}", figure) for k in g.split(",")}
    assert cited == set(papers["cite_key"])
    no_tax = run_cli("export", "latex", "--corpus", str(tmp_path / "c"), "--out", str(tmp_path / "t2"))
    assert no_tax.returncode == 1 and "no taxonomy" in no_tax.stderr
