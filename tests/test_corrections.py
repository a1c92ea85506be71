"""corrections.yaml: the user's own fixes survive rebuilds, and every command sees them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from taxonomy.corpus.folder import load_corpus, validate
from taxonomy.errors import CorpusError
from tests.conftest import run_cli

CORRECTIONS = """\
add:
  - {taxonomy: awesome-mim, id: fundamental/world-models, name: Image world models, parent: fundamental,
     description: predict how an image changes under a transformation in latent space}
rename:
  - {taxonomy: awesome-mim, node: analysis, name: Analysis and understanding}
move:
  - {paper: i-jepa, taxonomy: awesome-mim, to: fundamental/world-models}
  - {paper: mae, taxonomy: mim-survey, to: [masking, architecture]}
"""


@pytest.fixture
def corrected(corpus_dir: Path) -> Path:
    (corpus_dir / "corrections.yaml").write_text(CORRECTIONS, encoding="utf-8")
    return corpus_dir


def test_corrections_apply_when_the_corpus_loads(corrected):
    c = load_corpus(corrected)
    tax = c.taxonomy("awesome-mim")
    assert tax.nodes["fundamental/world-models"].parent == "fundamental"
    assert tax.nodes["analysis"].name == "Analysis and understanding"
    assert tax.resolve("Analysis") == tax.resolve("analysis")  # the old name still finds it
    row = c.papers.set_index("id")
    assert row.loc["i-jepa", "awesome_mim"] == "fundamental/world-models"
    assert row.loc["mae", "mim_survey"] == "masking;architecture"
    assert len(c.corrections) == 4
    assert "i-jepa" not in set(load_corpus().papers.query("awesome_mim == 'fundamental/world-models'")["id"])


def test_query_place_audit_and_dendrogram_honour_them(corrected, tmp_path):
    query = run_cli("query", "--category", "Image world models", "--format", "csv", "--corpus", str(corrected))
    assert query.returncode == 0, query.stderr
    assert pd.read_csv(pd.io.common.StringIO(query.stdout))["id"].tolist() == ["i-jepa"]
    from taxonomy.explore.place import Placer, audit

    c = load_corpus(corrected)
    placer = Placer().fit(c, progress=False)
    assert "fundamental/world-models" in placer.levels_[("awesome-mim", 1)][1]
    flagged = audit(c, "awesome-mim", placer=placer, threshold=0.0)
    assert "fundamental/world-models" in set(flagged.loc[flagged["id"] == "i-jepa", "survey_label"]) or \
        "i-jepa" not in set(flagged["id"])
    out = tmp_path / "out"
    for _ in range(2):  # a rebuild keeps them: the corpus folder is never written
        done = run_cli("dendrogram", "--no-pictures", "--corpus", str(corrected), "--out", str(out))
        assert done.returncode == 0, done.stderr
        clusters = pd.read_csv(out / "clusters.csv", dtype=str).set_index("id")
        assert clusters.loc["i-jepa", "awesome_mim"] == "fundamental/world-models"
    assert (corrected / "corrections.yaml").read_text(encoding="utf-8") == CORRECTIONS
    import json

    assert len(json.loads((out / "report.json").read_text())["config"]["corrections"]) == 4


def test_a_reimport_keeps_the_corrections_file(tmp_path):
    bib = tmp_path / "list.bib"
    bib.write_text("@article{a, title={Masked Point Modeling}, year={2022}}\n"
                   "@article{b, title={Masked Video Modeling}, year={2023}}\n", encoding="utf-8")
    out = tmp_path / "corpus"
    assert run_cli("corpus", "import", str(bib), "--out", str(out)).returncode == 0
    (out / "corrections.yaml").write_text("rename: []\n", encoding="utf-8")
    done = run_cli("corpus", "import", str(bib), "--out", str(out), "--force")
    assert done.returncode == 0, done.stderr
    assert (out / "corrections.yaml").read_text(encoding="utf-8") == "rename: []\n"


@pytest.mark.parametrize("text, expected", [
    ("move:\n  - {paper: nope, taxonomy: awesome-mim, to: analysis}\n",
     "corrections.yaml:2: paper: unknown paper id 'nope'"),
    ("move:\n  - {paper: mae, taxonomy: awesome-mim, to: fundamental/transformer}\n",
     "corrections.yaml:2: to: 'fundamental/transformer' names no node of 'awesome-mim' (did you mean"),
    ("rename:\n  - {taxonomy: survey-c, node: x, name: y}\n",
     "corrections.yaml:2: taxonomy: unknown taxonomy 'survey-c'"),
    ("add:\n  - {taxonomy: awesome-mim, id: analysis, name: Again}\n",
     "corrections.yaml:2: id: node 'analysis' already"),
    ("add:\n  - {taxonomy: awesome-mim, id: x, name: X, parent: nowhere}\n",
     "corrections.yaml:2: parent: parent 'nowhere'"),
    ("move:\n  - {paper: mae}\n", "corrections.yaml:2: taxonomy: 'move' entry needs paper, taxonomy, to"),
    ("moves: []\n", "corrections.yaml:1: moves: unknown section 'moves'"),
    ("move: [\n", "corrections.yaml:2: -: invalid YAML"),
])
def test_mistakes_name_file_line_and_field(corpus_dir, text, expected):
    (corpus_dir / "corrections.yaml").write_text(text, encoding="utf-8")
    problems = [str(p) for p in validate(corpus_dir)]
    assert any(expected in p for p in problems), problems
    with pytest.raises(CorpusError):
        load_corpus(corpus_dir)
    done = run_cli("query", "--category", "analysis", "--corpus", str(corpus_dir))
    assert done.returncode == 1 and "corrections.yaml:" in done.stderr and "Traceback" not in done.stderr
