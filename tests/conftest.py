from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
SHARED = ROOT.parent / "shared"
ABSTRACTS = SHARED / "corpus" / "abstracts-dev.jsonl"


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory) -> Path:
    """Every test, and every command a test starts, uses a temporary cache: never the user's ~/.cache/mimtax."""
    import os

    folder = tmp_path_factory.mktemp("mimtax-cache")
    old = os.environ.get("MIMTAX_CACHE")
    os.environ["MIMTAX_CACHE"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("MIMTAX_CACHE", None)
    else:
        os.environ["MIMTAX_CACHE"] = old


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    """A writable copy of the shipped corpus folder."""
    dest = tmp_path / "corpus"
    dest.mkdir()
    shutil.copytree(DATA / "taxonomies", dest / "taxonomies")
    shutil.copy(DATA / "papers.csv", dest / "papers.csv")
    shutil.copy(DATA / "results.csv", dest / "results.csv")
    return dest


def write_papers(folder: Path, header: str, *rows: str) -> Path:
    """Write a small papers.csv (plus the shipped taxonomies) and return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "taxonomies").exists():
        shutil.copytree(DATA / "taxonomies", folder / "taxonomies")
    (folder / "papers.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return folder


def run_cli(*args: str, cwd: Path = ROOT, **env: str):
    """`python -m taxonomy ARGS` offline, with extra environment variables; returns the CompletedProcess."""
    import os
    import subprocess
    import sys

    full_env = dict(os.environ, HF_HUB_OFFLINE="1", **env)
    return subprocess.run([sys.executable, "-m", "taxonomy", *args], capture_output=True, text=True, cwd=cwd,
                          env=full_env)
