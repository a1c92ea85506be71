"""data/scripts/check_meaning.py: a row agrees with its source only when the table's row, header and heading say
the same model size, patch, epochs, resolution and protocol; a figure from the wrong column or the wrong model
is a disagreement, and what the source does not state is never assumed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "data" / "scripts"))

import check_meaning  # noqa: E402

README = """# Zoo

## ImageNet-1K

| Arch. | epochs | resolution | Lin. | Fin. |
|---|---|---|---|---|
| ViT-B/16 | 800 | 224x224 | 68.0 | 83.6 |
| ViT-L/16 | 800 | 384x384 | 75.1 | 86.0 |
"""


def _mirror(tmp_path: Path) -> tuple[Path, str]:
    repo = tmp_path / "mirrors" / "someone+method" / "repo"
    repo.mkdir(parents=True)
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@t")
    (repo / "README.md").write_text(README, encoding="utf-8")
    for args in (["init", "-q"], ["add", "README.md"], ["commit", "-q", "-m", "zoo"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True, env=env)
    commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True, capture_output=True,
                            text=True).stdout.strip()
    return tmp_path / "mirrors", commit


def _row(commit: str, line: int, **cells) -> dict:
    row = dict(paper_id="m", backbone="ViT-B/16", pretrain_epochs="800", resolution="224", metric="finetune_top1",
               value="83.6", dataset="ImageNet-1K", where="README.md",
               source_url=f"https://github.com/someone/method/blob/{commit}/README.md#L{line}")
    row.update(cells)
    return row


def test_a_row_that_says_what_its_table_says_agrees(tmp_path):
    mirrors, commit = _mirror(tmp_path)
    status, verdict = check_meaning.check(_row(commit, 7), mirrors)
    assert status == "read" and verdict.verified and not verdict.disagree
    assert {"size B", "patch 16", "epochs 800", "resolution 224", "column 'Fin.'"} <= set(verdict.agree)


def test_the_wrong_column_model_or_resolution_is_a_disagreement(tmp_path):
    mirrors, commit = _mirror(tmp_path)
    wrong_column = check_meaning.check(_row(commit, 7, value="68.0"), mirrors)[1]  # 68.0 is the linear probe
    assert any(d.startswith("protocol: the figure's column is 'Lin.'") for d in wrong_column.disagree)
    wrong_model = check_meaning.check(_row(commit, 8, value="86.0", resolution="384"), mirrors)[1]  # a ViT-L row
    assert any(d.startswith("size: the context names L") for d in wrong_model.disagree)
    wrong_size = check_meaning.check(_row(commit, 8, backbone="ViT-L/14", value="86.0"), mirrors)[1]
    assert any(d.startswith("patch: the context says 16") for d in wrong_size.disagree)
    assert any(d.startswith("resolution: the context says 384, the row 224") for d in wrong_size.disagree)
    assert not wrong_size.verified


def test_what_the_source_does_not_state_is_not_assumed(tmp_path):
    mirrors, commit = _mirror(tmp_path)
    verdict = check_meaning.check(_row(commit, 7, pretrain_epochs="1600"), mirrors)[1]
    assert "epochs" in verdict.unstated and not verdict.disagree
    status, none = check_meaning.check(dict(_row(commit, 7), source_url="https://arxiv.org/abs/2111.06377"), mirrors)
    assert none is None and status == "no pinned GitHub file"
