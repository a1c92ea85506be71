"""data/scripts/add_checked_results.py: a reported figure enters results-checked.csv only if it stands on the line
its row cites, at a commit the URL pins; a wrong row changes nothing."""

import csv
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "data" / "scripts" / "add_checked_results.py"
HEADER = ("paper_id,method,backbone,pretrain_epochs,pretrain_data,dataset,metric,value,source,source_url,where\n"
          "mae,MAE,ViT-B/16,1600,,ImageNet-1K,finetune_top1,83.6,x,https://example.org,x\n")
CANDIDATE_COLUMNS = "paper_id,method,backbone,pretrain_epochs,pretrain_data,dataset,metric,value,repo,file,line,arxiv,where\n"


def _mirror(tmp_path: Path) -> tuple[Path, str]:
    repo = tmp_path / "mirrors" / "someone+method" / "repo"
    repo.mkdir(parents=True)
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@t")
    (repo / "README.md").write_text("| model | top-1 |\n| ViT-B | 84.10 |\n| ViT-L | 85.9 |\n", encoding="utf-8")
    for args in (["init", "-q"], ["add", "README.md"], ["commit", "-q", "-m", "zoo"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True, env=env)
    commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True, capture_output=True,
                            text=True).stdout.strip()
    return tmp_path / "mirrors", commit


def _run(tmp_path: Path, mirrors: Path, checked: Path, rows: str):
    candidates = tmp_path / "candidates.csv"
    candidates.write_text(CANDIDATE_COLUMNS + rows, encoding="utf-8")
    return subprocess.run([sys.executable, str(SCRIPT), str(candidates), "--mirrors", str(mirrors), "--checked",
                           str(checked), "--shared", str(tmp_path / "no-shared")], capture_output=True, text=True)


def test_a_figure_on_its_line_is_pinned_to_the_commit(tmp_path):
    mirrors, commit = _mirror(tmp_path)
    checked = tmp_path / "checked.csv"
    checked.write_text(HEADER, encoding="utf-8")
    row = "mae,MAE,ViT-B/16,,,ImageNet-1K,finetune_top1,84.10,someone/method,README.md,2,,README.md line 2\n"
    done = _run(tmp_path, mirrors, checked, row)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(checked.open(encoding="utf-8")))
    assert len(rows) == 2
    assert rows[1]["value"] == "84.1"  # one spelling of a number
    assert rows[1]["source_url"] == f"https://github.com/someone/method/blob/{commit}/README.md#L2"
    again = _run(tmp_path, mirrors, checked, row)  # the same row twice is not added twice
    assert again.returncode == 0 and len(list(csv.DictReader(checked.open(encoding="utf-8")))) == 2


def test_a_figure_not_on_its_line_changes_nothing(tmp_path):
    mirrors, _ = _mirror(tmp_path)
    checked = tmp_path / "checked.csv"
    checked.write_text(HEADER, encoding="utf-8")
    good = "mae,MAE,ViT-L/16,,,ImageNet-1K,finetune_top1,85.9,someone/method,README.md,3,,line 3\n"
    wrong_line = "mae,MAE,ViT-B/16,,,ImageNet-1K,finetune_top1,84.1,someone/method,README.md,3,,line 3\n"
    part_of_a_number = "mae,MAE,ViT-H/14,,,ImageNet-1K,finetune_top1,4.1,someone/method,README.md,2,,line 2\n"
    for bad in (wrong_line, part_of_a_number):
        done = _run(tmp_path, mirrors, checked, good + bad)
        assert done.returncode == 1
        assert "is not on someone/method README.md line" in done.stderr
        assert checked.read_text(encoding="utf-8") == HEADER  # the good row is not written either


def test_the_meaning_columns_of_the_file_and_the_candidate_are_kept(tmp_path):
    """results-checked.csv carries resolution, teacher, ...: adding a row once failed on them (the writer knew only
    the first eleven columns)."""
    mirrors, _ = _mirror(tmp_path)
    checked = tmp_path / "checked.csv"
    checked.write_text(HEADER.replace("where\n", "where,resolution,teacher\n", 1).replace("org,x\n", "org,x,224,\n"),
                       encoding="utf-8")
    candidates = tmp_path / "candidates.csv"
    candidates.write_text(CANDIDATE_COLUMNS.replace("where\n", "where,resolution,teacher\n")
                          + "mae,MAE,ViT-L/16,,,ImageNet-1K,finetune_top1,85.9,someone/method,README.md,3,,line 3,"
                            "224,VQGAN tokenizer\n", encoding="utf-8")
    done = subprocess.run([sys.executable, str(SCRIPT), str(candidates), "--mirrors", str(mirrors), "--checked",
                           str(checked), "--shared", str(tmp_path / "no-shared")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(checked.open(encoding="utf-8")))
    assert [(r["resolution"], r["teacher"]) for r in rows] == [("224", ""), ("224", "VQGAN tokenizer")]
