"""Clustering building blocks and agreement metrics against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.cluster import hierarchy
from sklearn.metrics import adjusted_rand_score, fowlkes_mallows_score

from taxonomy.clustering import cluster
from taxonomy.clustering.agreement import (bk_curve, cophenetic_correlation, dendrogram_purity, flat_scores,
                                           fowlkes_mallows)
from taxonomy.corpus.tree import parse_taxonomy

# a tree over 4 papers: ((0, 1), (2, 3))
PAIRED = np.array([[0, 1, 1.0, 2], [2, 3, 1.0, 2], [4, 5, 2.0, 4]], dtype=float)
# ((0, 2), (1, 3))
CROSSED = np.array([[0, 2, 1.0, 2], [1, 3, 1.0, 2], [4, 5, 2.0, 4]], dtype=float)


def test_cut_gives_exact_k_even_with_ties():
    assert list(cluster.cut(PAIRED, 2)) == [1, 1, 2, 2]
    assert list(cluster.cut(PAIRED, 3)) in ([1, 1, 2, 3], [1, 2, 3, 3])
    assert list(cluster.cut(PAIRED, 4)) == [1, 2, 3, 4]
    assert list(cluster.cut(PAIRED, 1)) == [1, 1, 1, 1]
    assert list(cluster.cut(PAIRED, 99)) == [1, 2, 3, 4]


def test_cuts_agree_with_scipy():
    X = np.random.default_rng(1).normal(size=(80, 4))
    Z = hierarchy.linkage(X, "ward")
    for k, labels in zip([2, 5, 17], cluster.cuts(Z, [2, 5, 17])):
        assert adjusted_rand_score(labels, hierarchy.cut_tree(Z, k).ravel()) == 1.0


def test_dendrogram_purity_hand_computed():
    labels = np.array(["a", "a", "b", "b"], dtype=object)
    assert dendrogram_purity(PAIRED, labels) == 1.0
    # every same-label pair meets only at the root, where half the papers share its label
    assert dendrogram_purity(CROSSED, labels) == 0.5
    # unlabelled papers are ignored
    assert dendrogram_purity(PAIRED, np.array(["a", "a", "", "b"], dtype=object)) == 1.0


def test_fowlkes_mallows_and_its_expectation():
    truth, pred = np.array([0, 0, 1, 1]), np.array([5, 5, 7, 7])
    bk, expected = fowlkes_mallows(truth, pred)
    # T = P = Q = 4 pairs-terms, n = 4: B = 1, E[B] = sqrt(16) / 12
    assert bk == 1.0 and expected == pytest.approx(1 / 3)
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 4, 60), rng.integers(0, 6, 60)
    assert fowlkes_mallows(a, b)[0] == pytest.approx(fowlkes_mallows_score(a, b))
    simulated = np.mean([fowlkes_mallows_score(rng.permutation(a), b) for _ in range(4000)])
    assert fowlkes_mallows(a, b)[1] == pytest.approx(simulated, abs=0.01)


def test_bk_curve_perfect_tree():
    curve = bk_curve(PAIRED, np.array(["a", "a", "b", "b"], dtype=object), ks=[2, 3])
    assert curve.loc[curve.k == 2, "bk"].item() == 1.0
    assert curve.loc[curve.k == 3, "bk"].item() == pytest.approx(1 / np.sqrt(2))  # T=2, P=4, Q=2


def test_flat_scores_perfect_and_chance():
    truth = np.array(["a"] * 5 + ["b"] * 5)
    perfect = flat_scores(truth, np.array([1] * 5 + [2] * 5))
    assert all(v == pytest.approx(1.0) for v in perfect.values())
    split = flat_scores(truth, np.array([1, 2] * 5))
    assert split["ari"] < 0.05 and split["ami"] < 0.05


def test_flat_scores_match_scikit_learn():
    from sklearn import metrics

    rng = np.random.default_rng(7)
    for _ in range(5):
        a, b = rng.integers(0, 6, 120), rng.integers(0, 9, 120)
        ours = flat_scores(a.astype(str), b)
        assert ours["ari"] == pytest.approx(metrics.adjusted_rand_score(a, b))
        assert ours["v_measure"] == pytest.approx(metrics.v_measure_score(a, b))
        assert ours["fowlkes_mallows"] == pytest.approx(metrics.fowlkes_mallows_score(a, b))
        assert ours["ami"] == pytest.approx(metrics.adjusted_mutual_info_score(a, b))


def test_expected_mutual_information_hand_computed_and_edge_cases():
    """2x2 table, n = 4, margins (2, 2): each cell is 1 with probability 4/6 (adds 0) and 2 with probability 1/6
    (adds 2/4 ln 2), so E[MI] = 4 * (1/6) * (1/2) ln 2 = ln 2 / 3."""
    from sklearn import metrics

    from taxonomy.clustering.agreement import expected_mutual_information

    assert expected_mutual_information(np.array([2, 2]), np.array([2, 2]), 4) == pytest.approx(np.log(2) / 3)
    for a, b in [([0] * 6, [0] * 6), ([0] * 6, list(range(6))), (list(range(6)), list(range(6))), ([0, 1], [1, 0])]:
        assert flat_scores(np.array(a), np.array(b))["ami"] == pytest.approx(metrics.adjusted_mutual_info_score(a, b))


def _two_level_taxonomy():
    doc = {"id": "t", "name": "T", "levels": ["top", "leaf"], "nodes": [
        {"id": "x", "name": "X", "children": [{"id": "x1", "name": "X1"}, {"id": "x2", "name": "X2"}]},
        {"id": "y", "name": "Y"}]}
    tax, problems = parse_taxonomy(doc, "t.yaml")
    assert not problems
    return tax


def test_taxonomy_tree_distance_and_levels():
    tax = _two_level_taxonomy()
    assert tax.tree_distance("x1", "x1") == 0
    assert tax.tree_distance("x1", "x2") == 2
    assert tax.tree_distance("x1", "y") == 3
    assert tax.at_level("y", 1) == "y" and tax.at_level("x2", 0) == "x"
    assert tax.level_sizes() == [2, 3]


def test_cophenetic_correlation_hand_computed():
    tax = _two_level_taxonomy()
    # papers 0,1 in x1, 2 in x2, 3 in y; the tree ((0,1),2),3 mirrors the taxonomy exactly
    Z = np.array([[0, 1, 1.0, 2], [2, 4, 2.0, 3], [3, 5, 3.0, 4]])
    truth = np.array(["x1", "x1", "x2", "y"], dtype=object)
    coph = hierarchy.cophenet(Z)  # pairs 01,02,03,12,13,23 -> 1,2,3,2,3,3
    tree = np.array([0, 2, 3, 2, 3, 3])
    expected = np.corrcoef(coph, tree)[0, 1]
    assert cophenetic_correlation(Z, truth, tax) == pytest.approx(expected)
    assert expected > 0.9


def test_pearson_matches_scipy():
    from scipy.stats import pearsonr

    from taxonomy.clustering.agreement import _pearson

    rng = np.random.default_rng(1)
    x, y = rng.normal(size=50), rng.normal(size=50)
    assert _pearson(x, y) == pytest.approx(pearsonr(x, y)[0], abs=1e-12)
    assert _pearson(x, 3 * x + 1) == pytest.approx(1.0) and _pearson(x, -x) == pytest.approx(-1.0)


def test_weighted_ward_matches_scipy_for_unit_weights():
    X = np.random.default_rng(2).normal(size=(50, 6))
    ours = cluster.weighted_ward(X, np.ones(50))
    ref = hierarchy.linkage(X, "ward")
    np.testing.assert_allclose(ours[:, 2], ref[:, 2])
    np.testing.assert_array_equal(ours[:, [0, 1, 3]], ref[:, [0, 1, 3]])


def test_weighted_ward_uses_sizes():
    # a heavy group is costlier to merge: the two light groups join first although farther apart
    centroids = np.array([[0.0], [1.0], [2.3]])
    Z = cluster.weighted_ward(centroids, np.array([100, 100, 1]))
    assert set(Z[0, :2].astype(int)) == {1, 2}


def test_nested_linkage_keeps_groups_together():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 3))
    paths = [("a" if i < 25 else "b", f"g{i % 3}") for i in range(40)]
    Z = cluster.nested_linkage(X, paths)
    hierarchy.is_valid_linkage(Z, throw=True)
    assert hierarchy.is_monotonic(Z)
    top = cluster.cut(Z, 2)
    assert len(set(top[:25])) == 1 and len(set(top[25:])) == 1 and top[0] != top[-1]
    six = cluster.cut(Z, 6)
    assert len({(p, s) for p, s in zip(paths, six)}) == 6


def test_two_stage_matches_exact_on_clear_clusters():
    rng = np.random.default_rng(4)
    centres = rng.normal(size=(8, 10)) * 6
    X = np.vstack([rng.normal(c, 0.5, size=(150, 10)) for c in centres])
    exact = hierarchy.linkage(X, "ward")
    two = cluster.two_stage_linkage(X, n_micro=60)
    hierarchy.is_valid_linkage(two, throw=True)
    assert adjusted_rand_score(cluster.cut(exact, 8), cluster.cut(two, 8)) > 0.95


def test_consensus_is_deterministic_and_valid():
    rng = np.random.default_rng(5)
    views = [rng.normal(size=(30, 4)), rng.normal(size=(30, 6))]
    Z1, d1 = cluster.consensus_linkage(views)
    Z2, d2 = cluster.consensus_linkage(views)
    hierarchy.is_valid_linkage(Z1, throw=True)
    np.testing.assert_array_equal(Z1, Z2)
    assert d1.min() >= 0 and d1.max() <= 1


def test_cuts_fill_every_row_when_a_k_repeats():
    rows = cluster.cuts(PAIRED, [2, 3, 2])
    np.testing.assert_array_equal(rows[0], [1, 1, 2, 2])
    np.testing.assert_array_equal(rows[2], rows[0])


def _shared_by_cutting(Z: np.ndarray, ks: list[int]) -> np.ndarray:
    """The definition, the slow way: materialise every cut and count the pairs that share a cluster."""
    n = len(Z) + 1
    return sum((c[:, None] == c[None, :]).astype(np.float32) for c in cluster.cuts(Z, [k for k in ks if k < n]))


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 40), seed=st.integers(0, 10_000), duplicates=st.booleans())
def test_shared_cut_counts_equal_counting_over_materialised_cuts(n, seed, duplicates):
    """Including tied heights (duplicate points merge at 0) and ks at or above n, which cut nothing."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    if duplicates:
        X[n // 2:] = X[: n - n // 2]
    Z = hierarchy.linkage(X, "ward")
    ks = [1, 2, 3, 5, n - 1, n, n + 4]
    np.testing.assert_array_equal(cluster.shared_cut_counts(Z, ks), _shared_by_cutting(Z, ks))


def test_unbagged_coassociation_is_the_share_of_cuts_that_keep_a_pair_together():
    rng = np.random.default_rng(6)
    views = [rng.normal(size=(25, 4)), rng.normal(size=(25, 3))]
    ks = [2, 4, 8, 16]
    expected = sum(_shared_by_cutting(hierarchy.linkage(X, "ward"), ks) for X in views) / (len(views) * len(ks))
    np.testing.assert_allclose(cluster.coassociation(views, ks), expected, rtol=0, atol=1e-7)


def test_bagged_coassociation_counts_only_the_samples_that_hold_both_papers():
    """Two far-apart blobs: every sample, whole or 80 %, splits them at k = 2, so a pair is together in every
    partition that holds both (1) or in none (0), whatever share of the subsamples held it."""
    rng = np.random.default_rng(7)
    X = np.vstack([rng.normal(0, 0.1, size=(20, 2)), rng.normal(50, 0.1, size=(20, 2))])
    same = np.repeat([0, 1], 20)
    C = cluster.coassociation([X], [2], bags=9)
    np.testing.assert_array_equal(C, (same[:, None] == same[None, :]).astype(np.float32))
    np.testing.assert_array_equal(C, cluster.coassociation([X], [2], bags=9))  # same seed, same samples
    noisy = rng.normal(size=(40, 5))  # no structure: the subsamples do change the shares
    assert not np.array_equal(cluster.coassociation([noisy], [4, 8]), cluster.coassociation([noisy], [4, 8], bags=9))


labels = st.lists(st.integers(0, 6), min_size=0, max_size=60)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_ami_matches_scikit_learn_on_any_labelling(data):
    """Generated labellings, including the edge cases scikit-learn defines: empty, one cluster, all singletons."""
    from sklearn import metrics

    truth = data.draw(labels)
    kind = data.draw(st.sampled_from(["random", "one cluster", "singletons", "same"]))
    predicted = {"random": lambda: data.draw(st.lists(st.integers(0, 9), min_size=len(truth), max_size=len(truth))),
                 "one cluster": lambda: [0] * len(truth), "singletons": lambda: list(range(len(truth))),
                 "same": lambda: list(truth)}[kind]()
    ours = flat_scores(np.array(truth), np.array(predicted))
    assert ours["ami"] == pytest.approx(metrics.adjusted_mutual_info_score(truth, predicted), abs=1e-9)
    assert ours["ari"] == pytest.approx(metrics.adjusted_rand_score(truth, predicted), abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=6), st.integers(0, 5), st.integers(1, 50))
def test_expected_mutual_information_is_the_same_in_any_chunk_size(row_sizes, shuffle_seed, chunk):
    from taxonomy.clustering.agreement import expected_mutual_information

    rows = np.array(row_sizes, dtype=np.int64)
    n = int(rows.sum())
    cols = np.bincount(np.random.default_rng(shuffle_seed).integers(0, 4, n)).astype(np.int64)
    cols = cols[cols > 0]
    whole = expected_mutual_information(rows, cols, n, chunk=10**9)
    assert expected_mutual_information(rows, cols, n, chunk=chunk) == pytest.approx(whole, rel=1e-12, abs=1e-15)


def test_expected_mutual_information_runs_in_fixed_memory():
    """200,000 papers in 2 x 3 groups: about 400,000 terms, ~30 MB if evaluated at once; chunked, far less."""
    import tracemalloc

    from taxonomy.clustering.agreement import expected_mutual_information

    rows, cols = np.array([120_000, 80_000]), np.array([90_000, 70_000, 40_000])
    whole = expected_mutual_information(rows, cols, 200_000, chunk=10**9)
    tracemalloc.start()
    chunked = expected_mutual_information(rows, cols, 200_000, chunk=4096)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert chunked == pytest.approx(whole, rel=1e-9)
    assert peak < 2_000_000, peak


def test_ward_above_keeps_the_groups_and_rebuilds_the_top_by_ward():
    """Below the k-group cut the tree is the given one; above it, Ward on the groups' centroids in X."""
    rng = np.random.default_rng(3)
    below_features, X = rng.normal(size=(80, 6)), rng.normal(size=(80, 4))
    Z = hierarchy.linkage(below_features, "average")
    for k in (1, 2, 7, 20, 79, 80):
        out = cluster.ward_above(Z, X, k)
        assert hierarchy.is_valid_linkage(out) and hierarchy.is_monotonic(out)
        for finer in range(k, 81, 9):  # every cut with at least k clusters is the original tree's
            assert np.array_equal(cluster.cut(out, finer), cluster.cut(Z, finer))
    k = 7
    groups = cluster.cut(Z, k)
    sizes = np.bincount(groups)[1:]
    centroids = np.array([X[groups == g].mean(0) for g in range(1, k + 1)])
    top = cluster.ward_above(Z, X, k)[-(k - 1):]
    expected = cluster.weighted_ward(centroids, sizes)
    assert np.allclose(np.diff(top[:, 2]), np.diff(expected[:, 2]))  # same Ward heights, shifted above the groups
    for j in range(2, k):  # and the same coarse partitions
        by_groups = cluster.cut(expected, j)[groups - 1]
        assert adjusted_rand_score(cluster.cut(cluster.ward_above(Z, X, k), j), by_groups) == 1.0
