"""Every example in README.md and docs/*.md runs, and the documentation site builds in strict mode (issue 36).

The convention for fenced blocks (also stated in docs/contributing.md):

- ```bash    executed: the fence's lines run as one bash script with `set -e -o pipefail` (so every command must exit
             0), offline (HF_HUB_OFFLINE=1), in a temporary folder per page where `../shared`, `examples/` and
             `notebooks/` resolve as they do from the repository root, with the test session's embedding cache
             shared by every page. A page's fences run in order in one folder: a later fence reads what an earlier
             one wrote.
- ```text    the next fence after a bash fence (prose may stand between): part of that fence's output; every line
             of it must appear in its standard output or error (spaces collapsed).
- ```python  executed, one fresh interpreter per fence, in the page's folder.
- ```console shown, never executed: long runs (GPU verification, smoke pretraining), the network (`enrich`), a
             cluster, or files the reader brings. Write commands there with a `$ ` prompt.
- anything else (yaml, latex, no language) is shown and not run; `sh`/`shell` fences are refused, since a reader
  would take them for executed examples.

Keep executed examples to seconds: `mimtax dendrogram` embeds the corpus once (about 25 s cold on two cores) for
every page, since all pages share the session's cache.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT, SHARED

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
EXECUTED = {"bash", "python"}
REFUSED = {"sh", "shell", "zsh"}
FENCE = re.compile(r"^(?P<indent>\s*)(?P<ticks>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)")
TIMEOUT_S = 600


@dataclass(frozen=True)
class Block:
    lang: str
    code: str
    line: int  # 1-based line of the opening fence

    def where(self, page: Path) -> str:
        return f"{page.relative_to(ROOT)}:{self.line}"


def fenced_blocks(text: str) -> list[Block]:
    """The fenced code blocks of a Markdown text, in order (a fence closes with at least as many of its marks)."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        ticks, indent, start = match["ticks"], len(match["indent"]), i
        body = []
        i += 1
        while i < len(lines) and not re.match(rf"^\s*{re.escape(ticks[0])}{{{len(ticks)},}}\s*$", lines[i]):
            body.append(lines[i][indent:] if lines[i][:indent].isspace() else lines[i].lstrip())
            i += 1
        blocks.append(Block(match["lang"].lower(), "\n".join(body), start + 1))
        i += 1
    return blocks


def expected_outputs(blocks: list[Block]) -> dict[int, Block]:
    """Index of a bash block → the text block that is the next fence after it (its shown output)."""
    return {i: b for i, (a, b) in enumerate(itertools.pairwise(blocks)) if a.lang == "bash" and b.lang == "text"}


def collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def missing_lines(shown: str, output: str) -> list[str]:
    """Lines of a shown output that the real output lacks (spaces collapsed on both sides)."""
    real = collapse(output)
    return [line for line in shown.splitlines() if line.strip() and collapse(line) not in real]


def page_folder(tmp_path: Path) -> Path:
    """A working folder whose `../shared`, `examples/` and `notebooks/` are the repository's."""
    work = tmp_path / "work"
    work.mkdir()
    if SHARED.exists():
        (tmp_path / "shared").symlink_to(SHARED, target_is_directory=True)
    for name in ("examples", "notebooks"):
        (work / name).symlink_to(ROOT / name, target_is_directory=True)
    return work


def example_env() -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", MPLBACKEND="Agg", COLUMNS="160",
               PYTHONPATH=str(ROOT))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def run_block(block: Block, cwd: Path) -> subprocess.CompletedProcess:
    if block.lang == "bash":
        cmd = ["bash", "-e", "-o", "pipefail", "-c", block.code]
    else:
        cmd = [sys.executable, "-c", block.code]
    return subprocess.run(cmd, cwd=cwd, env=example_env(), capture_output=True, text=True, timeout=TIMEOUT_S,
                          check=False)


def failure(page: Path, block: Block, result: subprocess.CompletedProcess, why: str) -> str:
    return (f"{block.where(page)}: {why} (exit {result.returncode})\n--- {block.lang} ---\n{block.code}\n"
            f"--- stdout (end) ---\n{result.stdout[-3000:]}\n--- stderr (end) ---\n{result.stderr[-3000:]}")


def test_there_are_pages_with_examples():
    assert (ROOT / "docs" / "index.md").exists() and (ROOT / "mkdocs.yml").exists()
    executed = [b for page in PAGES for b in fenced_blocks(page.read_text(encoding="utf-8")) if b.lang in EXECUTED]
    assert len(executed) >= 10


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_fence_looks_executed_without_being_so(page: Path):
    refused = [b.where(page) for b in fenced_blocks(page.read_text(encoding="utf-8")) if b.lang in REFUSED]
    assert not refused, f"use ```bash (executed by this test) or ```console (shown only), not sh/shell: {refused}"


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_examples_run(page: Path, tmp_path: Path):
    blocks = fenced_blocks(page.read_text(encoding="utf-8"))
    if not any(b.lang in EXECUTED for b in blocks):
        pytest.skip(f"{page.name} has no bash or python example")
    shown = expected_outputs(blocks)
    work = page_folder(tmp_path)
    skipped = []
    for i, block in enumerate(blocks):
        if block.lang not in EXECUTED:
            continue
        if "../shared" in block.code and not SHARED.exists():
            skipped.append(block.where(page))
            continue
        result = run_block(block, work)
        assert result.returncode == 0, failure(page, block, result, "example failed")
        if i in shown:
            missing = missing_lines(shown[i].code, result.stdout + result.stderr)
            assert not missing, failure(page, block, result, f"shown output not printed: {missing}")
    if skipped:
        pytest.skip(f"{SHARED} is missing, so these examples did not run: {', '.join(skipped)}")


def test_readme_links_and_pictures_resolve():
    """The README is read on GitHub, outside the site's strict build: its relative links must exist too."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [t for t in targets if "://" not in t and not t.startswith("mailto:")]
    assert len(local) >= 5
    assert [t for t in local if not (ROOT / t).exists()] == []


# the runner itself: what it accepts must be what the docs' convention promises


def test_fences_are_read_with_language_line_and_body():
    text = "intro\n\n```bash\necho one\necho two\n```\n\n```text\none\n```\n\n  ```console\n  $ slow\n  ```\n"
    blocks = fenced_blocks(text)
    assert [(b.lang, b.line) for b in blocks] == [("bash", 3), ("text", 8), ("console", 12)]
    assert blocks[0].code == "echo one\necho two" and blocks[2].code == "$ slow"
    assert expected_outputs(blocks) == {0: blocks[1]}


def test_a_failing_command_anywhere_in_a_fence_fails(tmp_path: Path):
    block = fenced_blocks("```bash\nfalse\necho still here\n```")[0]
    assert run_block(block, tmp_path).returncode != 0
    piped = fenced_blocks("```bash\nfalse | cat\n```")[0]
    assert run_block(piped, tmp_path).returncode != 0


def test_shown_output_must_be_printed():
    assert missing_lines("a  b\nc", "x a b y\nc\n") == []
    assert missing_lines("a b\nnot printed", "a b") == ["not printed"]


def test_examples_find_shared_and_the_repository_folders(tmp_path: Path):
    work = page_folder(tmp_path)
    block = Block("bash", "test -f examples/recent-mim.bib && test -d notebooks && command -v mimtax", 1)
    assert run_block(block, work).returncode == 0
    if SHARED.exists():
        assert (work / "../shared/corpus").resolve() == (SHARED / "corpus").resolve()


# the site: strict build (broken links fail)


def mkdocs_or_skip():
    if shutil.which("mkdocs", path=str(Path(sys.executable).parent)) is None:
        if os.environ.get("MIMTAX_REQUIRE_DOCS") == "1":
            pytest.fail("MIMTAX_REQUIRE_DOCS=1 but mkdocs is not installed: pip install -e '.[docs]'")
        pytest.skip("mkdocs is not installed (pip install -e '.[docs]'); set MIMTAX_REQUIRE_DOCS=1 to fail instead")
    return str(Path(sys.executable).parent / "mkdocs")


def build_site(mkdocs: str, config: Path, site: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    return subprocess.run([mkdocs, "build", "--strict", "--config-file", str(config), "--site-dir", str(site)],
                          capture_output=True, text=True, env=env, timeout=TIMEOUT_S, check=False)


@pytest.mark.slow
def test_site_builds_in_strict_mode(tmp_path: Path):
    mkdocs = mkdocs_or_skip()
    result = build_site(mkdocs, ROOT / "mkdocs.yml", tmp_path / "site")
    assert result.returncode == 0, result.stderr[-4000:]
    api = (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")
    assert "build_dendrogram" in api and "Build, name and score" in api  # docstrings rendered, not just names
    assert (tmp_path / "site" / "img" / "dendrogram-preview.png").exists()
    assert (tmp_path / "site" / "notebooks" / "01_regenerate_dendrogram.ipynb").exists()


@pytest.mark.slow
@pytest.mark.parametrize("link", ["no-such-page.md", "figures.md#no-such-section"])
def test_a_broken_link_fails_the_build(link: str, tmp_path: Path):
    mkdocs = mkdocs_or_skip()
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "docs", copy / "docs")
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    for name in ("examples", "notebooks", "benchmarks/results", "taxonomy", "reference_impls"):
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).symlink_to(ROOT / name)
    with (copy / "docs" / "errors.md").open("a", encoding="utf-8") as page:
        page.write(f"\nSee [this]({link}).\n")
    result = build_site(mkdocs, copy / "mkdocs.yml", tmp_path / "site")
    assert result.returncode != 0
    assert "WARNING" in result.stderr and link.split("#")[-1] in result.stderr
