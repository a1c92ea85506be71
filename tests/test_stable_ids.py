"""Cluster ids that survive a rebuild, and the change log that says what split, merged, appeared or vanished."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from taxonomy.clustering.stable_ids import assign_ids, kept_share, tracked_partition
from taxonomy.corpus.folder import Corpus, load_corpus
from tests.conftest import run_cli


def _cuts(ids: list[str], labels: list[int], k: int) -> pd.DataFrame:
    return pd.DataFrame({"id": ids, f"cluster_k{k}": labels})


def test_first_run_numbers_clusters_and_a_rerun_keeps_them():
    cuts = _cuts(list("abcdef"), [1, 1, 2, 2, 3, 3], 3)
    first, changes = assign_ids(cuts)
    assert first["id_k3"].tolist() == ["C1", "C1", "C2", "C2", "C3", "C3"] and changes.empty
    again, changes = assign_ids(cuts.assign(cluster_k3=[3, 3, 1, 1, 2, 2]), first)  # renumbered, same groups
    assert again["id_k3"].tolist() == first["id_k3"].tolist()
    assert set(changes["event"]) == {"kept"} and kept_share(changes) == 1.0
    assert list(assign_ids(again, first)[0].columns).count("id_k3") == 1  # idempotent


def test_split_merge_appear_and_vanish_are_logged():
    ids = [f"p{i}" for i in range(16)]
    old_labels = [1] * 4 + [2] * 4 + [3] * 2 + [4] * 2 + [0, 0] + [5] * 2  # p12, p13 are not in the old run
    previous, _ = assign_ids(_cuts([i for i, c in zip(ids, old_labels) if c], [c for c in old_labels if c], 5))
    # C1 stays; C2 splits in two; C3 and C4 merge; p12-p13 are new; C5's papers are gone
    new, changes = assign_ids(_cuts(ids[:14], [1] * 4 + [2, 2, 3, 3] + [4] * 4 + [5, 5], 5), previous)
    events = {(e, i) for e, i in zip(changes["event"], changes["id"])}
    new_id = new.set_index("id")["id_k5"]
    assert ("kept", "C1") in events and ("split", "C2") in events and ("vanished", "C5") in events
    assert new_id["p4"] == "C2" and new_id["p6"] not in {"C1", "C2", "C3", "C4", "C5"}
    merged = changes[changes["event"] == "merged"]
    assert merged["from_ids"].tolist() == ["C3 C4"] and merged["id"].iloc[0] == new_id["p8"] == new_id["p11"]
    survivor = merged["id"].iloc[0]
    assert survivor in {"C3", "C4"} and ("vanished", ({"C3", "C4"} - {survivor}).pop()) in events
    assert sorted(changes.loc[changes["event"] == "appeared", "id"]) == sorted({new_id["p6"], new_id["p12"]})
    assert {new_id["p6"], new_id["p12"]} == {"C6", "C7"}  # fresh ids, never one used before
    assert kept_share(changes) == 3 / 5  # C1, C2, C3 of the five


def test_tracked_partition_recovers_an_earlier_partition_that_the_tree_holds():
    from scipy.cluster import hierarchy

    rng = np.random.default_rng(0)
    centres = ((0, 0), (0, 4), (20, 0), (20, 2))  # the right pair is the tighter one
    x = np.concatenate([rng.normal(c, 0.2, size=(6, 2)) for c in centres])
    Z = hierarchy.linkage(x, "ward")
    ids = [f"p{i}" for i in range(len(x))]
    # the earlier run kept the left pair together and the right blobs apart: a partition the tree holds, but
    # not its cut at one height (which splits the looser left pair first)
    old = {"A": set(ids[0:12]), "B": set(ids[12:18]), "C": set(ids[18:24])}
    height_cut = hierarchy.fcluster(Z, 3, "maxclust")
    assert len(set(height_cut[:12])) == 2
    labels, roots = tracked_partition(Z, ids, old, 3)
    groups = {frozenset(np.array(ids)[labels == c]) for c in np.unique(labels)}
    assert groups == {frozenset(v) for v in old.values()}
    assert len(set(roots)) == 3 and labels.min() == 1 and labels.max() == 3


@pytest.mark.parametrize("seed", [0])
def test_adding_ten_papers_keeps_nine_in_ten_cluster_ids(tmp_path, seed):
    from taxonomy.clustering.dendrogram import build_dendrogram
    from taxonomy.render.export import write_outputs

    corpus = load_corpus()
    drop = np.random.default_rng(seed).choice(len(corpus), 10, replace=False)
    keep = np.setdiff1d(np.arange(len(corpus)), drop)
    smaller = Corpus(corpus.papers.iloc[keep].reset_index(drop=True), corpus.taxonomies, corpus.results, corpus.path)
    write_outputs(build_dendrogram(smaller, progress=False, permutations=2), tmp_path, pictures=False)
    assert not (tmp_path / "cluster-changes.csv").exists()
    before = pd.read_csv(tmp_path / "clusters.csv", dtype=str)
    result = build_dendrogram(corpus, progress=False, permutations=2)
    write_outputs(result, tmp_path, pictures=False)
    changes = pd.read_csv(tmp_path / "cluster-changes.csv")
    assert kept_share(changes) >= 0.9
    after = pd.read_csv(tmp_path / "clusters.csv", dtype=str)
    for k in (9, 28):
        assert after[f"cluster_k{k}"].nunique() == k  # still k clusters, each a subtree of the new tree
        kept = set(changes.loc[(changes.k == k) & changes.event.isin(["kept", "changed"]), "id"])
        for cid in kept:  # a kept id holds at least half of its earlier papers
            old = set(before.loc[before[f"id_k{k}"] == cid, "id"])
            assert len(old & set(after.loc[after[f"id_k{k}"] == cid, "id"])) >= 0.5 * len(old)
    assert "Cluster ids against the previous run" in (tmp_path / "report.md").read_text()


def test_cli_previous_option(tmp_path):
    first = run_cli("dendrogram", "--no-pictures", "--out", str(tmp_path / "a"))
    assert first.returncode == 0, first.stderr
    again = run_cli("dendrogram", "--no-pictures", "--out", str(tmp_path / "b"), "--previous",
                    str(tmp_path / "a" / "clusters.csv"))
    assert again.returncode == 0, again.stderr
    assert "cluster ids kept from the previous run: k=3 3/3" in again.stdout
    a = pd.read_csv(tmp_path / "a" / "clusters.csv")
    b = pd.read_csv(tmp_path / "b" / "clusters.csv")
    assert a.equals(b)  # same corpus, same tree: the same clusters and ids
    bad = run_cli("dendrogram", "--no-pictures", "--out", str(tmp_path / "c"), "--previous",
                  str(tmp_path / "a" / "report.md"))
    assert bad.returncode == 1 and "expected a clusters.csv" in bad.stderr and "Traceback" not in bad.stderr
