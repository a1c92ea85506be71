"""Beyond one machine: shards (resumable, content-addressed), engines that agree, and the tree from shards."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from taxonomy.errors import UserError
from taxonomy.scale import ShardedVectors, embed_records
from taxonomy.scale.shards import Shard, write_plan
from tests.conftest import DATA, run_cli


def titles_file(folder: Path, n: int = 48, fmt: str = "jsonl") -> Path:
    papers = pd.read_csv(DATA / "papers.csv").head(n)
    rows = [{"id": r.id, "title": r.title} for r in papers.itertuples()]
    path = folder / f"records.{fmt}"
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    elif fmt == "csv":
        pd.DataFrame(rows).to_csv(path, index=False)
    else:
        pd.DataFrame(rows).to_parquet(path)
    return path


def shard_files(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in sorted((folder / "shards").glob("*"))}


KILL_AFTER_TWO = """
import os, signal, sys
from taxonomy.scale import embed_records
written = []
def kill(shard):
    written.append(shard.key)
    if len(written) == 2:
        print(" ".join(written), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # killed outright: no cleanup, no plan.json
embed_records(sys.argv[1], sys.argv[2], shard_size=8, on_shard=kill, progress=False)
"""


def test_killed_run_resumes_without_recomputing(tmp_path):
    import signal
    import subprocess
    import sys

    from tests.conftest import ROOT

    source = titles_file(tmp_path)
    out = tmp_path / "shards"
    killed = subprocess.run([sys.executable, "-c", KILL_AFTER_TWO, str(source), str(out)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    first = killed.stdout.split()
    before = shard_files(out)
    assert len(first) == 2 and len(before) == 4  # two shards, .npy + .json each; no plan yet
    assert not (out / "plan.json").exists()
    again = embed_records(source, out, shard_size=8, progress=False)
    assert again.shards == 6 and again.skipped == 2 and again.computed == 4
    assert not set(first) & set(again.computed_keys)  # nothing written before was computed again
    after = shard_files(out)
    assert {name: after[name] for name in before} == before  # and nothing written before was touched
    vectors = ShardedVectors(out)
    assert vectors.shape == (48, 384) and vectors.ids == list(pd.read_csv(DATA / "papers.csv").head(48)["id"])
    fresh = embed_records(source, tmp_path / "fresh", shard_size=8, progress=False)
    assert fresh.computed == 6
    np.testing.assert_array_equal(ShardedVectors(tmp_path / "fresh")[:], vectors[:])
    assert embed_records(source, out, shard_size=8, progress=False).computed == 0


def test_array_tasks_share_the_work_and_match_one_run(tmp_path):
    source = titles_file(tmp_path, 40, "csv")
    tasks = [embed_records(source, tmp_path / "array", shard_size=8, shard=(i, 3), progress=False) for i in range(3)]
    assert [t.computed for t in tasks] == [2, 2, 1] and all(t.shards == 5 for t in tasks)
    whole = embed_records(source, tmp_path / "one", shard_size=8, progress=False)
    assert sorted(k for t in tasks for k in t.computed_keys) == sorted(whole.computed_keys)
    np.testing.assert_array_equal(ShardedVectors(tmp_path / "array")[:], ShardedVectors(tmp_path / "one")[:])


def test_missing_shard_is_reported_not_read(tmp_path):
    source = titles_file(tmp_path, 24)
    embed_records(source, tmp_path / "s", shard_size=8, shard=(0, 2), progress=False)
    with pytest.raises(UserError, match="1 of 3 shards missing"):
        ShardedVectors(tmp_path / "s")


def test_parquet_and_jsonl_give_the_same_shards(tmp_path):
    a = embed_records(titles_file(tmp_path, 20, "parquet"), tmp_path / "p", shard_size=8, progress=False)
    b = embed_records(titles_file(tmp_path, 20, "jsonl"), tmp_path / "j", shard_size=8, progress=False)
    assert a.computed_keys == b.computed_keys


def synthetic_shards(folder: Path, n: int, dim: int = 32, size: int = 700, seed: int = 0) -> np.ndarray:
    """Clustered vectors written as shards directly; returns them as the shards hold them (float16)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(12, dim))
    X = centres[rng.integers(0, 12, n)] + 0.4 * rng.normal(size=(n, dim))
    X = (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float16)
    keys = []
    for index, start in enumerate(range(0, n, size)):
        shard = Shard(folder, "synthetic", index, [(f"r{i}", f"text {i}") for i in range(start, min(n, start + size))])
        shard.write(X[start:start + size])
        keys.append((shard.key, len(shard.ids)))
    write_plan(folder, "synthetic", size, "synthetic", keys)
    return X.astype(np.float32)


def test_tree_from_shards_equals_in_memory_tree(tmp_path):
    from taxonomy.clustering.cluster import two_stage_linkage

    X = synthetic_shards(tmp_path / "s", 5000)
    view = ShardedVectors(tmp_path / "s")
    np.testing.assert_array_equal(view[np.array([4999, 0, 700, 699, 2500])], X[[4999, 0, 700, 699, 2500]])
    np.testing.assert_array_equal(view[650:1450], X[650:1450])
    in_memory = two_stage_linkage(X, max_leaf=300)
    from_shards = two_stage_linkage(view, max_leaf=300)
    np.testing.assert_array_equal(from_shards, in_memory)


def test_field_tree_command(tmp_path):
    X = synthetic_shards(tmp_path / "s", 3000)
    done = run_cli("dendrogram", "--shards", str(tmp_path / "s"), "--out", str(tmp_path / "out"), "--k", "12")
    assert done.returncode == 0, done.stderr
    clusters = pd.read_csv(tmp_path / "out" / "field-clusters.csv")
    assert list(clusters["id"]) == [f"r{i}" for i in range(3000)] and clusters["cluster_k12"].nunique() == 12
    from sklearn.metrics import adjusted_rand_score

    from taxonomy.clustering.cluster import cut, two_stage_linkage

    expected = cut(two_stage_linkage(X), 12)
    assert adjusted_rand_score(expected, clusters["cluster_k12"]) == 1.0
    assert np.load(tmp_path / "out" / "field-linkage.npy").shape == (2999, 4)


@pytest.mark.parametrize("content, message", [
    ('{"id": "a"}\n', "records.jsonl:1: title: missing"),
    ('{"title": "x"}\n', "records.jsonl:1: id: missing"),
    ('{"id": "a", "title": "x"}\n{"id": "a", "title": "y"}\n', "records.jsonl:2: id: 'a' appears twice"),
    ('[1]\n', "records.jsonl:1: -: expected a JSON object"),
])
def test_bad_records_name_file_line_and_field(tmp_path, content, message):
    path = tmp_path / "records.jsonl"
    path.write_text(content, encoding="utf-8")
    done = run_cli("embed", str(path), "--out", str(tmp_path / "s"))
    assert done.returncode == 1 and message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "s" / "plan.json").exists()


def test_usage_errors_exit_2(tmp_path):
    source = titles_file(tmp_path, 4)
    done = run_cli("embed", str(source), "--out", str(tmp_path / "s"), "--shard", "2/2")
    assert done.returncode == 2 and "--shard" in done.stderr
    done = run_cli("dendrogram", "--shards", str(tmp_path), "--abstracts", str(source), "--out", str(tmp_path / "o"))
    assert done.returncode == 2


def test_ray_local_cluster_matches_single_process(tmp_path):
    source = titles_file(tmp_path, 40)
    local = embed_records(source, tmp_path / "local", shard_size=8, progress=False)
    on_ray = embed_records(source, tmp_path / "ray", engine="ray", workers=2, shard_size=8, progress=False)
    assert sorted(on_ray.computed_keys) == sorted(local.computed_keys)
    a, b = ShardedVectors(tmp_path / "local"), ShardedVectors(tmp_path / "ray")
    assert a.ids == b.ids
    np.testing.assert_allclose(b[:], a[:], atol=2e-3)


def test_onnx_backend_without_onnxruntime_says_what_to_install(monkeypatch):
    import importlib.util

    if importlib.util.find_spec("onnxruntime") is not None:
        pytest.skip("ONNX Runtime is installed here; benchmarks/bench_onnx.py exercises the backend")
    from taxonomy.clustering.embeddings import SentenceEncoder

    with pytest.raises(UserError, match=r'pip install -e "\.\[onnx\]"'):
        SentenceEncoder("minilm-onnx-int8")
