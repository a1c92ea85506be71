"""Nothing lost: `corpus import --force` replaces only an earlier import's files; the abstract store and the
embedding cache lose nothing when two processes write at once; a cache that cannot be written only warns."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from taxonomy.clustering import embeddings
from taxonomy.corpus.store import AbstractStore
from tests.conftest import DATA, ROOT, run_cli

BIB = """@article{a1, title = {Masked Patches for Everyone}, author = {Doe, Jane}, year = {2023},
  abstract = {We hide patches and predict them.}}
@article{a2, title = {Another Masked Modeling Paper}, author = {Roe, Rick}, year = {2024}}
"""
OTHER_BIB = """@article{b1, title = {A Third Masked Paper}, author = {Poe, Pat}, year = {2022}}
"""


def tree_snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def write_bib(tmp_path: Path, name: str = "refs.bib", text: str = BIB) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- corpus import --force ------------------------------------------------------------------------------

def test_force_refuses_a_folder_that_no_import_wrote(tmp_path):
    """The reported data loss: `--out data --force` deleted SOURCES.md, results.csv, taxonomies/, scripts/."""
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    before = tree_snapshot(data)
    result = run_cli("corpus", "import", str(write_bib(tmp_path)), "--out", str(data), "--force")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "not written by `mimtax corpus import`" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert tree_snapshot(data) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "refs.bib"]  # no staging folder left


def test_force_refuses_an_unrelated_folder(tmp_path):
    home = tmp_path / "home" / "folder"
    home.mkdir(parents=True)
    (home / "thesis.tex").write_text("my thesis", encoding="utf-8")
    result = run_cli("corpus", "import", str(write_bib(tmp_path)), "--out", str(home), "--force")
    assert result.returncode == 1 and (home / "thesis.tex").read_text(encoding="utf-8") == "my thesis"
    assert [p.name for p in home.iterdir()] == ["thesis.tex"]


def test_force_replaces_only_the_import_files(tmp_path):
    out = tmp_path / "corpus"
    first = run_cli("corpus", "import", str(write_bib(tmp_path)), "--out", str(out))
    assert first.returncode == 0, first.stderr
    marker = json.loads((out / "import.json").read_text(encoding="utf-8"))
    assert marker["written_by"] == "mimtax corpus import" and "papers.csv" in marker["outputs"]
    # the user adds their own files next to the import, and enrich adds to the store
    (out / "notes.md").write_text("mine", encoding="utf-8")
    (out / "taxonomies").mkdir()
    shutil.copy(DATA / "taxonomies" / "awesome_mim.yaml", out / "taxonomies" / "awesome_mim.yaml")
    with AbstractStore.load(out / "store" / "abstracts.sqlite") as store:
        store.record("another-masked-modeling-paper", "Another Masked Modeling Paper", "openalex",
                      "Fetched by enrich.")
    second = run_cli("corpus", "import", str(write_bib(tmp_path, "other.bib", OTHER_BIB)), "--out", str(out),
                     "--force")
    assert second.returncode == 0, second.stderr
    assert (out / "notes.md").read_text(encoding="utf-8") == "mine"
    assert (out / "taxonomies" / "awesome_mim.yaml").exists()
    papers = (out / "papers.csv").read_text(encoding="utf-8")
    assert "A Third Masked Paper" in papers and "Masked Patches for Everyone" not in papers
    with AbstractStore.load(out / "store" / "abstracts.sqlite") as store:
        assert store.abstract("another-masked-modeling-paper") == "Fetched by enrich."  # enrich's work survives
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging or set-aside folder left


def test_force_removes_the_taxonomy_an_earlier_import_made(tmp_path):
    md = tmp_path / "list.md"
    md.write_text("# Awesome\n## Video\n* **Masked Video Things**<br>\n", encoding="utf-8")
    out = tmp_path / "corpus"
    made = run_cli("corpus", "import", str(md), "--out", str(out), "--taxonomy-from-headings")
    assert made.returncode == 0, made.stderr
    assert (out / "taxonomies" / "headings.yaml").exists()
    again = run_cli("corpus", "import", str(write_bib(tmp_path)), "--out", str(out), "--force")
    assert again.returncode == 0, again.stderr
    assert not (out / "taxonomies").exists()  # the import's own file and the folder it made are gone


@pytest.mark.parametrize("target", ["file", "dot-nonempty"])
def test_import_out_that_is_a_file_or_the_current_folder(tmp_path, target):
    bib = write_bib(tmp_path)
    if target == "file":
        result = run_cli("corpus", "import", str(bib), "--out", str(bib))
        assert "is a file" in result.stderr
    else:
        result = run_cli("corpus", "import", str(bib), "--out", ".", cwd=tmp_path)
        assert "not empty" in result.stderr
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert bib.read_text(encoding="utf-8") == BIB


def test_import_into_the_current_empty_folder(tmp_path):
    bib = write_bib(tmp_path)
    here = tmp_path / "here"
    here.mkdir()
    result = run_cli("corpus", "import", str(bib), "--out", ".", cwd=here)
    assert result.returncode == 0, result.stderr
    assert (here / "papers.csv").exists() and (here / "import.json").exists()


def test_imported_folder_follows_the_umask(tmp_path):
    out = tmp_path / "corpus"
    result = run_cli("corpus", "import", str(write_bib(tmp_path)), "--out", str(out))
    assert result.returncode == 0
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~mask


# --- the abstract store ---------------------------------------------------------------------------------

WRITER = textwrap.dedent("""
    import sys
    from taxonomy.corpus.store import AbstractStore
    path, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = AbstractStore.load(path)
    for start in range(0, n, 5):
        with store.batch():
            for i in range(start, min(n, start + 5)):
                store.record(f"{tag}-{i}", f"title {i}", tag, f"abstract {tag} {i}")
                store.record(f"shared-{i}", f"title {i}", tag)
    store.close()
""")


def run_together(script: str, *arg_lists: list[str]) -> None:
    """Start every writer before waiting for any, so that they overlap."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [subprocess.Popen([sys.executable, "-c", script, *args], env=env, stderr=subprocess.PIPE, text=True)
             for args in arg_lists]
    for proc in procs:
        _, err = proc.communicate(timeout=None)
        assert proc.returncode == 0, err


def test_two_enrich_writers_lose_nothing(tmp_path):
    path = tmp_path / "store" / "abstracts.sqlite"
    run_together(WRITER, [str(path), "openalex", "60"], [str(path), "arxiv", "60"])
    with AbstractStore.load(path) as store:
        rows = store.rows
        assert len(rows) == 180
        assert all(rows[f"{tag}-{i}"]["abstract"] == f"abstract {tag} {i}" for tag in ("openalex", "arxiv")
                   for i in range(60))
        assert all(rows[f"shared-{i}"]["tried"] == ["arxiv", "openalex"] for i in range(60))  # both merged


def test_store_batch_is_all_or_nothing_and_never_overwrites_a_find(tmp_path):
    store = AbstractStore.load(tmp_path / "abstracts.sqlite")
    store.record("p1", "T", "arxiv", "first find")
    with pytest.raises(RuntimeError):
        with store.batch():
            store.record("p2", "T2", "arxiv", "lost with the batch")
            raise RuntimeError("interrupted")
    store.record("p1", "T", "openalex", "second find", arxiv_id="2101.00001")
    assert store.get("p2") is None
    assert store.rows["p1"] == {"id": "p1", "title": "T", "abstract": "first find", "arxiv_id": "2101.00001",
                                "doi": "", "source": "arxiv", "tried": ["arxiv", "openalex"]}
    store.close()


def test_store_jsonl_export_import_and_legacy_migration(tmp_path):
    store = AbstractStore.load(tmp_path / "a" / "abstracts.sqlite")
    store.record("p1", "T1", "arxiv", "one", doi="10.1/x")
    store.record("p1", "T1", "openalex")
    store.record("p2", "T2", "semanticscholar")
    assert store.export_jsonl(tmp_path / "export.jsonl") == 2
    legacy = tmp_path / "b" / "abstracts.jsonl"  # a store written before SQLite
    legacy.parent.mkdir()
    shutil.copy(tmp_path / "export.jsonl", legacy)
    migrated = AbstractStore.load(tmp_path / "b" / "abstracts.sqlite")
    assert migrated.rows == store.rows
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "p9"}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(Exception, match=r"bad.jsonl:2: id"):
        migrated.import_jsonl(bad)
    assert migrated.get("p9") is None  # nothing of the bad file was kept
    store.close()
    migrated.close()


# --- the embedding cache --------------------------------------------------------------------------------

CACHE_WRITER = textwrap.dedent("""
    import sys
    import numpy as np
    from taxonomy.clustering.embeddings import EmbeddingCache
    root, tag, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    for r in range(rounds):
        cache = EmbeddingCache(root, "fake")
        keys = [f"{tag}-{r}-{i}" for i in range(3)]
        cache.add(keys, np.full((3, 4), r, np.float32))
""")


def test_two_cache_writers_lose_no_keys_and_raise_nothing(tmp_path):
    run_together(CACHE_WRITER, [str(tmp_path), "a", "25"], [str(tmp_path), "b", "25"])
    cache = embeddings.EmbeddingCache(tmp_path, "fake")
    assert sorted(cache.keys) == sorted(f"{t}-{r}-{i}" for t in "ab" for r in range(25) for i in range(3))
    vectors, missing = cache.lookup(["a-7-1", "b-24-2"])
    assert not missing and vectors[:, 0].tolist() == [7.0, 24.0]
    assert not [p for p in (tmp_path / "fake").iterdir() if p.name.endswith(".tmp")]


def test_unwritable_cache_warns_and_still_embeds(tmp_path, monkeypatch, capsys):
    class Encoder:
        def __init__(self, name="fake", device="cpu"):
            pass

        def encode(self, texts, progress=True):
            return np.ones((len(texts), 3), np.float32)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(embeddings, "SentenceEncoder", Encoder)
    from taxonomy import fsutil

    monkeypatch.setattr(fsutil.tempfile, "mkstemp", refuse)  # root ignores chmod, so refuse like a read-only disk
    out = embeddings.embed(["alpha", "beta"], "fake", tmp_path, progress=False)
    assert out.shape == (2, 3)
    assert "not writable" in capsys.readouterr().err


def test_atomic_writes_follow_the_umask(tmp_path):
    """mkstemp makes 0600 files; what mimtax writes gets the mode a plain open() would give it."""
    from taxonomy.fsutil import write_text_atomic

    write_text_atomic(tmp_path / "report.md", "x")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "report.md").stat().st_mode & 0o777 == 0o666 & ~mask
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_the_suite_never_touches_the_users_cache(private_cache):
    """Embeddings made by tests go to the session's temporary cache (tests/conftest.py)."""
    assert embeddings.default_cache_dir() == private_cache
    assert Path.home() not in private_cache.parents


# --- one-line errors instead of tracebacks --------------------------------------------------------------

def one_line_error(result, code: int = 1) -> str:
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) >= 1
    return result.stderr


@pytest.mark.parametrize("content", [b'{"title": "Caf\xe9", "abstract": "x"}\n', b"\x00\x01\xff\xfe binary"])
def test_abstracts_in_latin1_or_binary_name_file_and_line(tmp_path, content):
    bad = tmp_path / "abstracts.jsonl"
    bad.write_bytes(content)
    for args in (["query", "--search", "masked", "--abstracts", str(bad)],
                 ["place", "--file", str(bad)],
                 ["dendrogram", "--abstracts", str(bad), "--no-pictures", "--out", str(tmp_path / "out")]):
        err = one_line_error(run_cli(*args))
        assert f"{bad}:1: -: not UTF-8" in err
    assert bad.read_bytes() == content


def test_place_errors(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    assert "holds no papers" in one_line_error(run_cli("place", "--file", str(empty)))
    assert "choose table or json" in one_line_error(run_cli("place", "--title", "x", "--format", "xml"))
    for top in ("0", "-3"):
        assert "Invalid value" in one_line_error(run_cli("place", "--title", "x", "--top", top), code=2)
    corpus = tmp_path / "corpus"
    assert run_cli("corpus", "import", str(write_bib(tmp_path)), "--out", str(corpus)).returncode == 0
    assert "no taxonomy" in one_line_error(run_cli("place", "--corpus", str(corpus), "--title", "x"))


def test_negative_counts_are_usage_errors(tmp_path):
    for args in (["query", "--limit", "-1"], ["corpus", "info", "--top", "-1"], ["run", "mae", "--seeds", "0"],
                 ["run", "mae", "--epochs", "-1"], ["run", "mae", "--steps", "0"], ["verify", "--seeds", "0"]):
        assert "Invalid value" in one_line_error(run_cli(*args), code=2)


def test_version_is_the_installed_package_version():
    from importlib.metadata import version

    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout == f"mimtax {version('mimtax')}\n" and not result.stderr


def test_cache_that_is_a_file_is_one_line(tmp_path):
    cache = tmp_path / "cache"
    cache.write_text("not a folder", encoding="utf-8")
    err = one_line_error(run_cli("dendrogram", "--cache", str(cache), "--out", str(tmp_path / "out")))
    assert "is a file" in err and cache.read_text(encoding="utf-8") == "not a folder"


def test_broken_pipe_is_not_an_error():
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    result = subprocess.run(f"{sys.executable} -m taxonomy categories | head -1", shell=True, capture_output=True,
                            text=True, cwd=ROOT, env=env, executable="/bin/bash")
    assert result.stdout.count("\n") == 1 and "Traceback" not in result.stderr and "Error" not in result.stderr
    status = subprocess.run(f"set -o pipefail; {sys.executable} -m taxonomy categories | head -1 >/dev/null",
                            shell=True, cwd=ROOT, env=env, executable="/bin/bash")
    assert status.returncode == 0


@pytest.mark.parametrize("delay", [0.0, 0.5])  # 0: while modules import and the painter forks
def test_interrupted_dendrogram_prints_no_traceback_and_leaves_nothing(tmp_path, delay):
    import signal
    import time

    out = tmp_path / "out"
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    # an empty embedding cache: the run has all 385 papers to embed, so it is still busy when Ctrl-C comes
    command = [sys.executable, "-m", "taxonomy", "dendrogram", "--out", str(out), "--cache", str(tmp_path / "cache")]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while not any(out.glob(".painter-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(delay)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
    _, err = proc.communicate()
    assert "Traceback" not in err, err
    assert proc.returncode in (130, 0), err  # 0 only where a stalled machine let the run end first
    assert proc.returncode != 130 or err.strip().endswith("interrupted")
    # nothing half-written is left; a run that ended first (a stalled machine) keeps its own manifest
    allowed = {".mimtax-manifest.json"} if proc.returncode == 0 else set()
    assert not out.exists() or not [p for p in out.iterdir() if p.name.startswith(".") and p.name not in allowed]


def test_facet_value_with_a_typo_gets_a_did_you_mean():
    err = one_line_error(run_cli("query", "--target", "pixels"))
    assert "did you mean 'pixel'" in err and "papers carry a target facet" in err
    ok = run_cli("query", "--target", "pixel", "--format", "json")
    assert ok.returncode == 0 and json.loads(ok.stdout)


def test_corpus_info_says_how_many_papers_carry_facets():
    result = run_cli("corpus", "info")
    assert result.returncode == 0 and "papers carrying each facet" in result.stdout


def test_empty_import_names_the_file(tmp_path):
    empty = tmp_path / "empty.bib"
    empty.write_text("", encoding="utf-8")
    err = one_line_error(run_cli("corpus", "import", str(empty), "--out", str(tmp_path / "c")))
    assert str(empty) in err and not (tmp_path / "c").exists()


# --- output folders: stale files, leftovers, empty folders ---------------------------------------------------

def test_no_pictures_removes_the_earlier_runs_pictures_but_nothing_else(tmp_path):
    from taxonomy.clustering.dendrogram import build_dendrogram
    from taxonomy.render.export import write_outputs

    result = build_dendrogram(embedding="tfidf", progress=False)
    write_outputs(result, tmp_path)
    assert (tmp_path / "dendrogram.png").exists() and (tmp_path / "dendrogram.svg").exists()
    (tmp_path / "my-notes.md").write_text("mine", encoding="utf-8")
    (tmp_path / "bk_curve.pdf").write_text("mine too", encoding="utf-8")  # a name the tool never writes
    write_outputs(result, tmp_path, pictures=False)
    names = {p.name for p in tmp_path.iterdir()}
    assert not {"dendrogram.png", "dendrogram.svg", "bk_curve.png"} & names  # stale pictures gone
    assert {"my-notes.md", "bk_curve.pdf", "report.json", "manifest.json"} <= names
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert "dendrogram.png" not in manifest["files"] and "report.json" in manifest["files"]


def test_a_foreign_manifest_removes_nothing(tmp_path):
    from taxonomy.clustering.dendrogram import build_dendrogram
    from taxonomy.render.export import write_outputs

    from taxonomy.errors import UserError

    foreign = json.dumps({"written_by": "someone else", "files": ["precious.txt"]})
    (tmp_path / "manifest.json").write_text(foreign)
    (tmp_path / "precious.txt").write_text("keep")
    with pytest.raises(UserError, match="manifest.json: exists and was not written by mimtax"):
        write_outputs(build_dendrogram(embedding="tfidf", progress=False), tmp_path, pictures=False)
    assert (tmp_path / "precious.txt").read_text() == "keep" and (tmp_path / "manifest.json").read_text() == foreign
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json", "precious.txt"]


def test_scratch_left_by_a_killed_run_is_removed_by_the_next(tmp_path):
    """SIGKILL gives no chance to clean up: the next run removes scratch folders whose process is gone,
    and leaves alone those of a live process and any folder that is not its own."""
    import subprocess

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    stale = [tmp_path / f".staging-{dead_pid}-abc", tmp_path / f".painter-{dead_pid}-def"]
    for folder in stale:
        folder.mkdir()
        (folder / "dendrogram.png").write_bytes(b"partial")
    live = tmp_path / f".staging-{os.getpid()}-xyz"
    live.mkdir()
    mine = tmp_path / ".staging-notes"
    mine.mkdir()
    from taxonomy.clustering.dendrogram import build_dendrogram
    from taxonomy.render.export import write_outputs

    write_outputs(build_dendrogram(embedding="tfidf", progress=False), tmp_path, pictures=False)
    assert not any(f.exists() for f in stale) and live.exists() and mine.exists()


def test_sigterm_mid_run_leaves_no_scratch(tmp_path):
    import signal
    import time

    out = tmp_path / "out"
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    proc = subprocess.Popen([sys.executable, "-m", "taxonomy", "dendrogram", "--out", str(out)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any(out.glob(".painter-*")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.5)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate()
    assert "Traceback" not in err, err
    assert not out.exists()  # it held only scratch: the folder this run created is gone with it


def test_a_failed_run_leaves_no_empty_output_folder(tmp_path):
    out = tmp_path / "new-out"
    err = one_line_error(run_cli("dendrogram", "--linkage", "nonsense", "--out", str(out)))
    assert "unknown linkage" in err and not out.exists()
    err = one_line_error(run_cli("run", "mae", "--device", "tpu", "--out", str(out)))
    assert "--device 'tpu'" in err and not out.exists()
    existing = tmp_path / "existing"
    existing.mkdir()
    one_line_error(run_cli("dendrogram", "--linkage", "nonsense", "--out", str(existing)))
    assert existing.is_dir()  # not ours to remove


def test_verify_preset_on_a_cpu_warns_how_long_it_would_take():
    from reference_impls import build_method
    from reference_impls.data import shapes
    from reference_impls.runner import PRESETS, slow_run_warning

    spec = PRESETS["verify"]
    splits = shapes(0, pool=600, test_per_class=2)
    model = build_method("mae", splits.image_size, spec["patch"], splits.channels, spec["size"])
    warning = slow_run_warning(model, splits, spec["train"], spec["seeds"])
    assert warning.startswith("warning: about") and "mimtax verify --device cpu" in warning
    assert slow_run_warning(model, splits, replace_steps(spec["train"], 1), 1, limit_s=3600) == ""


def replace_steps(cfg, steps):
    from dataclasses import replace

    return replace(cfg, steps=steps)


def test_checkpoints_and_reports_follow_the_umask(tmp_path):
    from reference_impls import build_method
    from reference_impls.train import save_checkpoint

    old = os.umask(0o022)
    try:
        save_checkpoint(build_method("mae", 16, 4, 3, "micro"), tmp_path / "checkpoint.safetensors")
    finally:
        os.umask(old)
    assert (tmp_path / "checkpoint.safetensors").stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.safetensors"]


# --- import errors in the user's terms ---------------------------------------------------------------------------

def test_zotero_item_uris_do_not_become_paper_ids(tmp_path):
    items = [{"id": "http://zotero.org/users/123/items/ABCD1234", "type": "article-journal",
              "title": "Masked Autoencoders Are Scalable Vision Learners",
              "author": [{"family": "He", "given": "Kaiming"}], "issued": {"date-parts": [[2022]]}},
             {"id": "http://zotero.org/users/123/items/EFGH5678", "type": "article-journal",
              "title": "BEiT: BERT Pre-Training of Image Transformers", "citation-key": "bao2022beit",
              "author": [{"family": "Bao", "given": "Hangbo"}], "issued": {"date-parts": [[2022]]}},
             {"id": "http://zotero.org/users/123/items/IJKL9012", "type": "article-journal",
              "title": "SimMIM: a Simple Framework for Masked Image Modeling", "note": "Citation Key: xie2022simmim",
              "author": [{"family": "Xie", "given": "Zhenda"}], "issued": {"date-parts": [[2022]]}}]
    path = tmp_path / "zotero.json"
    path.write_text(json.dumps(items), encoding="utf-8")
    result = run_cli("corpus", "import", str(path), "--out", str(tmp_path / "c"))
    assert result.returncode == 0, result.stderr
    import pandas as pd

    ids = set(pd.read_csv(tmp_path / "c" / "papers.csv")["id"])
    assert not any("zotero" in i for i in ids), ids
    assert {"bao2022beit", "xie2022simmim"} <= ids


def test_import_errors_name_the_input_not_a_staging_folder(tmp_path):
    path = tmp_path / "bigtitle.jsonl"
    path.write_text(json.dumps({"title": "Masked thing", "year": 2023}) + "\n"
                    + json.dumps({"title": "B" * 200_000, "year": 2023}) + "\n", encoding="utf-8")
    err = one_line_error(run_cli("corpus", "import", str(path), "--out", str(tmp_path / "c")))
    assert err.startswith(f"error: {path}:2: title:") and ".import-" not in err and "corpus validate" not in err


def test_staged_corpus_problems_are_mapped_back_to_the_input_entry(tmp_path):
    from taxonomy.corpus.importer import _in_user_terms, import_corpus
    from taxonomy.errors import Problem

    bib = write_bib(tmp_path)
    imported = import_corpus([bib])
    stage = tmp_path / ".c.import-xyz"
    row = list(imported.papers["title"]).index("Another Masked Modeling Paper")
    mapped = _in_user_terms(Problem(str(stage / "papers.csv"), row + 2, "year", "bad year"), stage,
                            tmp_path / "c", imported)
    assert (mapped.file, mapped.line, mapped.column) == (str(bib), 3, "year")
    other = _in_user_terms(Problem(str(stage / "taxonomies" / "h.yaml"), 4, "id", "x"), stage, tmp_path / "c",
                           imported)
    assert other.file == str(tmp_path / "c" / "taxonomies" / "h.yaml")


def test_several_problems_in_an_input_file_are_listed_not_sent_to_corpus_validate(tmp_path):
    path = tmp_path / "refs.ris"
    path.write_text("TY  - JOUR\nAU  - Doe, J\nER  - \nTY  - JOUR\nAU  - Roe, R\nER  - \n", encoding="utf-8")
    err = one_line_error(run_cli("corpus", "import", str(path), "--out", str(tmp_path / "c")))
    assert "corpus validate" not in err and err.count("entry has no title") == 2


def test_ctrl_c_while_the_painter_starts_leaves_no_scratch_folder(tmp_path, monkeypatch):
    """The interrupt can land after the painter made its folder but before anyone holds the painter to close."""
    import multiprocessing.context

    from taxonomy.render.painter import Painter

    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(multiprocessing.context.ForkProcess, "start", interrupted)
    with pytest.raises(KeyboardInterrupt):
        Painter(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_painter_takes_a_large_picture_job_while_it_is_still_drawing(tmp_path, monkeypatch):
    """The scores picture's data is larger than a pipe's buffer: sending it must not wait for the tree picture
    to be drawn (it did, 0.4 s of every regenerate). The forked painter's tree drawing here waits for a file
    that the test writes only once the large send has returned."""
    import threading

    from taxonomy.render import plotting
    from taxonomy.render.painter import Painter

    release = tmp_path / "release"

    def slow_tree(result, png):
        while not release.exists():
            time.sleep(0.01)
        Path(png).write_bytes(b"tree")

    monkeypatch.setattr(plotting, "plot_dendrogram", slow_tree)
    monkeypatch.setattr(plotting, "warm_up", lambda: None)
    (tmp_path / "out").mkdir()
    painter = Painter(tmp_path / "out")
    try:
        painter._conn.send(("tree", None))
        sent = threading.Event()
        big = {"payload": "x" * 4_000_000}
        threading.Thread(target=lambda: (painter._conn.send(("noop", big)), sent.set()), daemon=True).start()
        returned = sent.wait(timeout=60)
    finally:
        release.touch()
        painter.close()
    assert returned, "the send waited for the drawing to finish"


# --- imports flow one way: corpus -> clustering -> render / explore ------------------------------------------

STAGES = {"corpus": 0, "clustering": 1, "render": 2, "explore": 2}


def test_no_stage_imports_a_later_stage():
    """Anywhere in a module (lazy imports in functions too): corpus imports neither clustering, render nor explore;
    clustering imports neither render nor explore. A circle across stages (clustering -> explore -> render ->
    clustering) is how the package grew one."""
    import ast

    backwards = []
    for path in sorted((ROOT / "taxonomy").rglob("*.py")):
        stage = path.relative_to(ROOT / "taxonomy").parts[0]
        if stage not in STAGES:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                parts = name.split(".")
                if parts[0] == "taxonomy" and len(parts) > 1 and STAGES.get(parts[1], -1) > STAGES[stage]:
                    backwards.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
                    break
    assert not backwards, "\n".join(backwards)
