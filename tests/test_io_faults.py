"""Nothing of the user's is replaced, and no I/O fault ends in a traceback (issue #36 points 1 and 2).

Every writer is run in this process through `taxonomy.cli.main` (a fresh run per fault would cost seconds of
imports each); faults are injected by monkeypatching, because the tests run as root, where a read-only chmod does
not bite: a full disk or a read-only folder makes every file opened for writing, and every temporary file, under
the output folder fail; a failed rename fails one rename into the output folder (the first, or a later one, which
is where a multi-file output could be left half-replaced). Each fault must end with exit code 1, one line on
standard error and the previous outputs exactly as they were.
"""

from __future__ import annotations

import builtins
import contextvars
import errno
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT

EXAMPLE = ROOT / "examples" / "recent-mim.bib"


# --- running the CLI in this process ------------------------------------------------------------------------

def cli(capsys, *args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `mimtax ARGS`, in a copy of the context so --force does not leak."""
    from taxonomy.cli import main

    capsys.readouterr()
    old = sys.argv
    sys.argv = ["mimtax", *map(str, args)]
    try:
        with pytest.raises(SystemExit) as stop:
            contextvars.copy_context().run(main)
    finally:
        sys.argv = old
    out, err = capsys.readouterr()
    return stop.value.code or 0, out, err


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def one_line_error(code: int, err: str, expected_code: int = 1) -> str:
    assert code == expected_code, err
    assert "Traceback" not in err, err
    lines = [line for line in err.strip().splitlines() if not line.startswith(("warning:", "note:"))]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


class FakeEncoder:
    """Stands in for the sentence-transformers model of `mimtax embed` (no model download, no seconds of loading)."""

    def __init__(self, model: str = "minilm", device: str = "cpu"):
        pass

    def __call__(self, texts: list[str]) -> np.ndarray:
        rng = np.random.default_rng(len(texts))
        return rng.normal(size=(len(texts), 8)).astype(np.float32)


@pytest.fixture
def records(tmp_path) -> Path:
    """Records whose id field is `key`, as in the project's own abstracts-dev.jsonl."""
    path = tmp_path / "records.jsonl"
    path.write_text("".join(json.dumps({"key": f"p{i}", "title": f"Masked paper {i}"}) + "\n" for i in range(5)),
                    encoding="utf-8")
    return path


# Each writer: the command (OUT is the output folder), and two of the files it writes.
WRITERS = {
    "dendrogram": (["dendrogram", "--embedding", "tfidf", "--no-pictures", "--out", "OUT"], ["report.md", "tree.json"]),
    "export latex": (["export", "latex", "--out", "OUT"], ["references.bib", "taxonomy.tex"]),
    "update": (["update", str(EXAMPLE), "--no-pictures", "--out", "OUT"], ["whats-new.md", "whats-new.json"]),
    "leaderboard --plot": (["leaderboard", "--backbone", "ViT-B/16", "--format", "csv", "--plot", "OUT/scores.png"],
                           ["scores.png"]),
    "embed": (["embed", "RECORDS", "--out", "OUT"], ["plan.json"]),
}
# Writers whose check comes before their (minutes of) training: only the refusal is tested here.
REFUSE_ONLY = {
    "run": (["run", "mae", "--steps", "1", "--seeds", "1", "--out", "OUT"], ["report.md", "outcomes.npz"]),
    "verify": (["verify", "--device", "cpu", "--methods", "mae", "--out", "OUT"], ["summary.md", "summary.json"]),
}


def command(name: str, out: Path, records: Path, table=WRITERS) -> list[str]:
    args, _ = table[name]
    return [a.replace("OUT", str(out)).replace("RECORDS", str(records)) for a in args]


_REPORTS: dict = {}


class OnesEncoder:
    """Stands in for the dendrogram's sentence encoder in the embedding-cache tests."""

    def __init__(self, name: str = "fake", device: str = "cpu"):
        pass

    def encode(self, texts: list[str], progress: bool = True) -> np.ndarray:
        return np.ones((len(texts), 3), np.float32)


@pytest.fixture
def fake_encoder(monkeypatch):
    """No model for `embed`, and `update`'s report computed once per session: these tests are about writing."""
    from taxonomy import update
    from taxonomy.scale import embed

    monkeypatch.setattr(embed, "LocalEncoder", FakeEncoder)
    compute = update.compute_whats_new

    def computed_once(*args, **kwargs):
        if "report" not in _REPORTS:
            _REPORTS["report"] = compute(*args, **kwargs)
        return _REPORTS["report"]

    monkeypatch.setattr(update, "compute_whats_new", computed_once)


# --- 1. nothing of the user's is replaced ---------------------------------------------------------------------

@pytest.mark.parametrize("name", [*WRITERS, *REFUSE_ONLY])
def test_a_users_file_with_an_outputs_name_is_refused(name, tmp_path, records, capsys, fake_encoder):
    table = WRITERS if name in WRITERS else REFUSE_ONLY
    out = tmp_path / "out"
    out.mkdir()
    mine = out / table[name][1][0]
    mine.write_text("the user's own file", encoding="utf-8")
    line = one_line_error(*cli(capsys, *command(name, out, records, table))[::2])
    assert str(mine) in line and "not written by mimtax" in line and "--force" in line
    assert sorted(p.name for p in out.iterdir()) == [mine.name]  # nothing written, nothing replaced
    assert mine.read_text(encoding="utf-8") == "the user's own file"


@pytest.mark.parametrize("kind", ["symlink", "folder", "device"])
@pytest.mark.parametrize("name", [*WRITERS, *REFUSE_ONLY])
def test_an_output_path_that_is_not_a_regular_file_is_never_replaced(name, kind, tmp_path, records, capsys,
                                                                     fake_encoder):
    table = WRITERS if name in WRITERS else REFUSE_ONLY
    out = tmp_path / "out"
    out.mkdir()
    target = out / table[name][1][0]
    if kind == "symlink":
        (tmp_path / "elsewhere.txt").write_text("kept", encoding="utf-8")
        target.symlink_to(tmp_path / "elsewhere.txt")
    elif kind == "folder":
        target.mkdir()
    else:
        os.mknod(target, 0o600 | __import__("stat").S_IFCHR, os.makedev(1, 3))  # like /dev/null (tests run as root)
    line = one_line_error(*cli(capsys, *command(name, out, records, table), "--force")[::2])
    assert str(target) in line and "not a regular file" in line
    assert target.is_symlink() if kind == "symlink" else (target.is_dir() if kind == "folder" else target.is_char_device())
    if kind == "symlink":
        assert (tmp_path / "elsewhere.txt").read_text(encoding="utf-8") == "kept"


@pytest.mark.parametrize("name", WRITERS)
def test_force_replaces_exactly_the_users_file_and_reruns_replace_their_own(name, tmp_path, records, capsys,
                                                                           fake_encoder):
    out = tmp_path / "out"
    out.mkdir()
    mine, other = out / WRITERS[name][1][0], out / "notes.txt"
    mine.write_text("the user's own file", encoding="utf-8")
    other.write_text("untouched", encoding="utf-8")
    code, _, err = cli(capsys, *command(name, out, records), "--force")
    assert code == 0, err
    assert mine.read_bytes() != b"the user's own file" and other.read_text(encoding="utf-8") == "untouched"
    manifest = json.loads((out / ".mimtax-manifest.json").read_text(encoding="utf-8"))
    assert mine.name in manifest["files"] and "notes.txt" not in manifest["files"]
    code, _, err = cli(capsys, *command(name, out, records))  # its own files: replaced without --force
    assert code == 0, err


# --- 2. no traceback on an I/O fault, previous outputs intact ------------------------------------------------

def inject(monkeypatch, fault: str, root: Path) -> None:
    """Make writing under `root` fail: 'full-disk' (ENOSPC) and 'read-only' (EROFS) on every file opened for
    writing and every temporary file; 'rename-first' / 'rename-later' on the first / third rename into it."""
    root_s = os.path.realpath(root)

    def inside(path) -> bool:
        try:
            path = os.path.realpath(os.fspath(path))
        except TypeError:
            return False
        return path == root_s or path.startswith(root_s + os.sep)

    code = errno.EROFS if fault == "read-only" else errno.ENOSPC

    def fail(path):
        raise OSError(code, os.strerror(code), os.fspath(path))

    if fault in ("full-disk", "read-only"):
        real_open, real_mkstemp = io.open, tempfile.mkstemp

        def fake_open(file, mode="r", *args, **kwargs):
            if isinstance(file, (str, os.PathLike)) and set(mode) & set("wax+") and inside(file):
                fail(file)
            return real_open(file, mode, *args, **kwargs)

        def fake_mkstemp(*args, dir=None, **kwargs):
            if dir is not None and inside(dir):
                fail(dir)
            return real_mkstemp(*args, dir=dir, **kwargs)

        monkeypatch.setattr(io, "open", fake_open)
        monkeypatch.setattr(builtins, "open", fake_open)
        monkeypatch.setattr(tempfile, "mkstemp", fake_mkstemp)
    else:
        real_replace, calls = os.replace, []
        fail_at = 1 if fault == "rename-first" else 3

        def fake_replace(src, dst, *args, **kwargs):
            dst_s = os.path.realpath(os.fspath(dst))  # an output itself (not a scratch file, not the manifest)
            if os.path.dirname(dst_s) == root_s and not os.path.basename(dst_s).startswith("."):
                calls.append(dst)
                if len(calls) == fail_at:
                    fail(dst)
            return real_replace(src, dst, *args, **kwargs)

        monkeypatch.setattr(os, "replace", fake_replace)


FAULTS = ["full-disk", "read-only", "rename-first", "rename-later"]


@pytest.mark.parametrize("name", WRITERS)
def test_each_fault_in_each_writer_is_one_line_and_leaves_the_previous_outputs(name, tmp_path, records, capsys,
                                                                              monkeypatch, fake_encoder):
    out = tmp_path / "out"
    out.mkdir()
    code, _, err = cli(capsys, *command(name, out, records))
    assert code == 0, err
    before = snapshot(out)
    for fault in FAULTS:
        if fault == "rename-later" and len([n for n in before if "/" not in n and not n.startswith(".")]) < 3:
            continue  # a single-file output has no later rename
        with monkeypatch.context() as patch:
            inject(patch, fault, out)
            code, _, err = cli(capsys, *command(name, out, records))
            line = one_line_error(code, f"{fault}: {err}" if code != 1 else err)
        reason = "Read-only file system" if fault == "read-only" else "No space left on device"
        assert reason in line and str(out) in line, (fault, line)
        assert snapshot(out) == before, f"{name}, {fault}: the previous outputs changed"


def test_each_fault_in_verify_is_one_line_and_leaves_the_previous_summary(tmp_path, capsys, monkeypatch):
    """`verify` writes its summary with the same atomic writes whether it judges at the end of a run or afterwards
    (`--judge-only`, which needs no training, so every fault can be injected here). `run` publishes its files with
    `fsutil.publish`, whose rollback is tested below."""
    import shutil

    out = tmp_path / "cpu"
    shutil.copytree(ROOT / "reports" / "verification" / "cpu", out)
    code, _, err = cli(capsys, "verify", "--judge-only", "--out", out)
    assert code == 0, err
    before = snapshot(out)
    for fault in FAULTS:
        with monkeypatch.context() as patch:
            inject(patch, fault, out)
            code, _, err = cli(capsys, "verify", "--judge-only", "--out", out)
        if fault == "rename-later" and code == 0:
            continue  # summary.json and summary.md: fewer than three renames into the folder
        line = one_line_error(code, err)
        reason = "Read-only file system" if fault == "read-only" else "No space left on device"
        assert reason in line and str(out) in line, (fault, line)
        assert snapshot(out) == before, f"verify, {fault}: the previous summary changed"


def test_a_failed_rename_puts_back_the_files_already_replaced(tmp_path, monkeypatch):
    """The mechanism under every multi-file writer: the second rename fails after the first has replaced a file."""
    from taxonomy import fsutil

    fsutil.write_outputs_together(tmp_path, {"a.txt": lambda fh: fh.write(b"old a"),
                                             "b.txt": lambda fh: fh.write(b"old b")})
    before = snapshot(tmp_path)
    with monkeypatch.context() as patch:
        calls = []
        real = os.replace

        def second_fails(src, dst, *a, **k):
            if not os.path.basename(dst).startswith("."):
                calls.append(dst)
                if len(calls) == 2:
                    raise OSError(errno.ENOSPC, "No space left on device", dst)
            return real(src, dst, *a, **k)

        patch.setattr(os, "replace", second_fails)
        with pytest.raises(OSError):
            fsutil.write_outputs_together(tmp_path, {"a.txt": lambda fh: fh.write(b"new a"),
                                                     "b.txt": lambda fh: fh.write(b"new b")})
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("args", [["query", "--limit", "3"], ["categories"], ["query", "--format", "json"],
                                  ["leaderboard", "--format", "csv"]])
def test_a_full_standard_output_is_one_line(args):
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "taxonomy", *args], stdout=full, stderr=subprocess.PIPE,
                              text=True, cwd=ROOT, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    line = one_line_error(done.returncode, done.stderr)
    assert "cannot write standard output: No space left on device" in line


# --- caches: rebuilt with one warning ------------------------------------------------------------------------

@pytest.fixture
def fresh_warnings(monkeypatch):
    from taxonomy import fsutil

    monkeypatch.setattr(fsutil, "_WARNED", set(), raising=False)


def test_a_truncated_corpus_cache_entry_is_rebuilt_with_one_warning(tmp_path, capsys, fresh_warnings):
    cache = tmp_path / "cache"
    out = tmp_path / "out"
    args = ["dendrogram", "--embedding", "tfidf", "--no-pictures", "--cache", str(cache), "--out", str(out)]
    code, _, err = cli(capsys, *args)
    assert code == 0, err
    entries = sorted((cache / "corpus").glob("*.npz"))
    assert entries
    for entry in entries:
        entry.write_bytes(entry.read_bytes()[:40])  # truncated: not a zip any more
    clusters = (out / "clusters.csv").read_bytes()
    code, _, err = cli(capsys, *args)
    assert code == 0 and "Traceback" not in err, err
    assert err.count("unreadable cache entry") == 1, err
    assert (out / "clusters.csv").read_bytes() == clusters  # the same tree from the recomputed features
    with np.load(entries[0], allow_pickle=False) as data:  # rewritten whole
        assert data.files
    from taxonomy import fsutil

    fsutil._WARNED.clear()
    code, _, err = cli(capsys, *args)
    assert code == 0 and "warning" not in err, err  # the next run reads the rebuilt cache quietly


@pytest.mark.parametrize("damage", ["vectors.npy", "keys.json"])
def test_a_damaged_embedding_cache_warns_once_and_is_rebuilt(damage, tmp_path, monkeypatch, capsys, fresh_warnings):
    from taxonomy.clustering import embeddings

    monkeypatch.setattr(embeddings, "SentenceEncoder", OnesEncoder)
    embeddings.embed(["alpha", "beta"], "fake", tmp_path, progress=False)
    folder = tmp_path / "fake"
    (folder / damage).write_bytes((folder / damage).read_bytes()[:10])
    capsys.readouterr()
    for _ in range(3):  # three look-ups in one run (the dendrogram embeds three views)
        embeddings.embed(["alpha", "beta", "gamma"], "fake", tmp_path, progress=False)
    err = capsys.readouterr().err
    assert err.count("embedding cache unreadable") == 1, err
    keys = json.loads((folder / "keys.json").read_text(encoding="utf-8"))
    assert len(keys) == 3 and np.load(folder / "vectors.npy").shape == (3, 3)


def test_a_read_only_embedding_cache_warns_once(tmp_path, monkeypatch, capsys, fresh_warnings):
    from taxonomy.clustering import embeddings

    monkeypatch.setattr(embeddings, "SentenceEncoder", OnesEncoder)
    inject(monkeypatch, "read-only", tmp_path)
    for texts in (["a"], ["b"], ["c"]):
        assert embeddings.embed(texts, "fake", tmp_path, progress=False).shape == (1, 3)
    err = capsys.readouterr().err
    assert err.count("not writable") == 1, err


# --- 3. the details -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["export", "latex", "--tree", "--k", "1", "--out", "OUT"],      # below 2
    ["export", "latex", "--tree", "--k", "100000", "--out", "OUT"],  # more clusters than papers
    ["export", "latex", "--k", "5", "--out", "OUT"],                # --k where it cuts nothing
    ["dendrogram", "--k", "5", "--out", "OUT"],                     # the same without --shards (was ignored)
])
def test_one_k_rule_out_of_range_or_unused_is_a_usage_error(args, tmp_path, capsys):
    out = tmp_path / "out"
    line = one_line_error(*cli(capsys, *[a.replace("OUT", str(out)) for a in args])[::2], expected_code=2)
    assert "--k" in line
    assert not out.exists()


def test_one_k_rule_with_shards_is_the_same(tmp_path, capsys, records, fake_encoder):
    code, _, err = cli(capsys, "embed", records, "--out", tmp_path / "s")
    assert code == 0, err
    line = one_line_error(*cli(capsys, "dendrogram", "--shards", tmp_path / "s", "--k", "12", "--out",
                                tmp_path / "f")[::2], expected_code=2)
    assert "--k 12: out of range for 5 records" in line and "choose 2 to 4" in line  # it was clamped silently
    code, _, err = cli(capsys, "dendrogram", "--shards", tmp_path / "s", "--k", "3", "--out", tmp_path / "f")
    assert code == 0, err


def test_a_duplicate_node_id_is_reported_first_with_its_line(tmp_path, capsys):
    import shutil

    from tests.conftest import DATA

    corpus = tmp_path / "c"
    shutil.copytree(DATA / "taxonomies", corpus / "taxonomies")
    shutil.copy(DATA / "papers.csv", corpus / "papers.csv")
    path = corpus / "taxonomies" / "awesome_mim.yaml"
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    second = next(i for i, line in enumerate(lines) if line.strip().startswith("- id: ") and "/" in line)
    first = next(i for i, line in enumerate(lines) if i > second and line.strip().startswith("- id: ") and "/" in line)
    node = lines[second].split("id:")[1].strip()
    lines[first] = lines[first].split("id:")[0] + "id: " + node
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    line = one_line_error(*cli(capsys, "query", "--corpus", corpus, "--limit", "1")[::2])
    assert line.startswith(f"error: {path}:{first + 1}: id: duplicate node id '{node}' (first at line {second + 1})")
    code, out, _ = cli(capsys, "corpus", "validate", corpus)
    assert code == 1 and out.splitlines()[0].startswith(f"{path}:{first + 1}: id: duplicate node id")


def test_whats_new_titles_are_cut_at_a_word_with_balanced_bidi_controls():
    from taxonomy.update.report import short_title

    long = "Masked Image Modeling With Many Words That Will Certainly Need Cutting Somewhere Here Today"
    cut = short_title(long)
    assert len(cut) <= 70 and cut.endswith("…") and long.startswith(cut[:-1]) and long[len(cut) - 1] == " "
    rtl = "\u202b" + "نمذجة الصور المقنعة " * 6 + "\u202c"
    cut = short_title(rtl)
    assert cut.count("\u202b") == cut.count("\u202c") == 1 and cut.endswith("\u202c…")
    assert short_title("A \u2069stray closer") == "A stray closer" and short_title("Short") == "Short"


def test_update_interrupted_after_writing_everything_exits_0(tmp_path, capsys, monkeypatch, fake_encoder):
    from taxonomy.cli import _common

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(_common.console, "print", interrupt)
    out = tmp_path / "news"
    code, _, err = cli(capsys, "update", EXAMPLE, "--no-pictures", "--out", out)
    assert code == 0 and "interrupted after every output was written" in err and "Traceback" not in err
    assert (out / "whats-new.md").exists()


def test_abstracts_that_is_a_folder_says_so(tmp_path, capsys):
    line = one_line_error(*cli(capsys, "query", "--search", "masked", "--abstracts", tmp_path)[::2])
    assert "is a folder" in line and "not found" not in line


def test_embed_reads_records_whose_id_field_is_key(tmp_path, capsys, records, fake_encoder):
    code, _, err = cli(capsys, "embed", records, "--out", tmp_path / "s")
    assert code == 0 and "using `key` as the record id" in err, err
    from taxonomy.scale.shards import ShardedVectors

    assert list(ShardedVectors(tmp_path / "s").ids) == [f"p{i}" for i in range(5)]
    folder = one_line_error(*cli(capsys, "embed", tmp_path, "--out", tmp_path / "t")[::2])
    assert "is a folder" in folder


def test_piped_tables_have_no_trailing_spaces_and_one_line_rows(capsys):
    code, out, _ = cli(capsys, "query", "--category", "fundamental", "--limit", "5")
    assert code == 0
    lines = out.splitlines()
    assert lines and lines[0].strip() and all(line == line.rstrip() for line in lines)
    assert len(lines) == 3 + 5  # title, header, rule, one line a paper (long titles end in an ellipsis)


def test_tables_fit_120_columns_without_cutting_labels(monkeypatch):
    import pandas as pd
    from rich.console import Console

    from taxonomy.cli import _common

    monkeypatch.setattr(_common, "console", Console(width=120, record=True, file=io.StringIO()))
    frame = pd.DataFrame({"id": ["a-rather-long-paper-identifier-here"], "method": ["MAE"],
                          "title": ["Masked Autoencoders Are Scalable Vision Learners and a Lot More Words Here"],
                          "year": ["2022"], "venue": ["CVPR"], "awesome_mim": ["fundamental/transformers"],
                          "mim_survey": ["masking+target"], "in1k_ft_top1": ["83.6"]})
    _common.console.print(_common._table("t", frame, list(frame.columns)))
    lines = _common.console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 120 and len(lines) == 4
    assert "fundamental/transformers" in lines[3] and "Masked Autoencoder" in lines[3]  # the title gives way first
