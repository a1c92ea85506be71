"""Names of the tree's branches: key phrases from the papers' own texts, never a title's praise or a word the whole
corpus uses, never the parent's name again; clusters that coincide with a survey node say which."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from scipy.cluster import hierarchy

from taxonomy.clustering.labels import TITLE_WORDS, candidate_phrases, name_tree, survey_matches, topic_names

TOPICS = {
    "point": ["point clouds", "LiDAR scans", "3D shapes"],
    "audio": ["speech recognition", "audio spectrograms", "sound events"],
    "medical": ["medical segmentation", "CT scans", "chest X-rays"],
    "video": ["video frames", "action recognition", "motion cues"],
    "protein": ["protein structure", "amino acids", "molecular graphs"],
    "text": ["scene text", "document images", "optical characters"],
    "robot": ["robot control", "reinforcement agents", "world models"],
    "remote": ["remote sensing", "satellite images", "hyperspectral bands"],
}  # eight topics: each is an eighth of the corpus, below the corpus-wide share (15 % of the papers)


def _corpus(per_topic: int = 8) -> tuple[list[str], list[str]]:
    """Texts in which every paper says 'masked image modeling' (corpus-wide) and praises itself in its title."""
    texts, topics = [], []
    for topic, phrases in TOPICS.items():
        for i in range(per_topic):
            a, b = i % 3, (i + 1) % 3
            texts.append(f"Scalable and Enhanced {phrases[a].title()} Learners. We study masked image modeling for "
                         f"{phrases[a]} and {phrases[b]}; masked image modeling with {phrases[a]} works.")
            topics.append(topic)
    return texts, topics


def _fake_embed(texts: list[str]) -> np.ndarray:
    """Deterministic bag-of-words vectors (a stand-in for MiniLM that needs no model)."""
    out = np.zeros((len(texts), 64))
    for i, text in enumerate(texts):
        for word in text.lower().replace(";", " ").replace(".", " ").split():
            out[i, int(hashlib.sha256(word.encode()).hexdigest(), 16) % 64] += 1
    return out


def _tree(topics: list[str]) -> np.ndarray:
    codes = {t: i for i, t in enumerate(TOPICS)}
    X = np.array([[10.0 * codes[t] ** 1.5, 0.1 * (i % 8)] for i, t in enumerate(topics)])
    return hierarchy.linkage(X, "ward")


def test_candidate_phrases_leave_out_corpus_wide_and_title_words():
    texts, _ = _corpus()
    phrases = candidate_phrases(texts)
    assert {"masked", "image", "modeling"} <= phrases.corpus_wide  # by document frequency, not by a list
    vocab = [str(p) for p in phrases.vocab]
    assert "point clouds" in vocab and "chest x-rays" in vocab and "lidar scans" in vocab
    for phrase in vocab:
        words = phrase.split()
        assert 1 <= len(words) <= 3
        assert words[0] not in phrases.corpus_wide, phrase
        assert not set(words) & TITLE_WORDS, phrase
    assert phrases.display["lidar scans"] == "LiDAR scans" and phrases.display["point clouds"] == "point clouds"


@pytest.mark.parametrize("embedded", [True, False])
def test_every_branch_gets_a_phrase_of_its_own_topic_and_none_repeats_its_parent(embedded):
    texts, topics = _corpus()
    Z = _tree(topics)
    vectors = _fake_embed(texts) if embedded else None
    names = topic_names(texts, Z, _fake_embed if embedded else None, vectors)
    n = len(texts)
    root = 2 * n - 2
    assert set(names) == set(range(n, 2 * n - 1)) and names[root] == [] and all(names[v] for v in range(n, root))
    parent = {int(c): n + r for r, row in enumerate(Z) for c in row[:2]}
    for node, phrases in names.items():
        if node == root:
            continue
        words = set(phrases[0].lower().split())
        assert not words & TITLE_WORDS and not words <= {"masked", "image", "modeling"}, phrases
        if node in parent and names[parent[node]] and not names[parent[node]][0].startswith("mixed: "):
            above = set(names[parent[node]][0].lower().split())
            assert not (words <= above or above <= words), (phrases[0], names[parent[node]][0])
    # every topic's cluster is named from its own phrases
    for topic, phrases in TOPICS.items():
        members = [i for i, t in enumerate(topics) if t == topic]
        node = next(v for v in range(n, 2 * n - 1)
                    if sorted(hierarchy.to_tree(Z, rd=True)[1][v].pre_order()) == members)
        own = {w for p in phrases for w in p.lower().split()}
        assert set(names[node][0].lower().split()) & own, (topic, names[node])


def test_names_are_cached_and_the_same_each_time(tmp_path):
    texts, topics = _corpus()
    Z = _tree(topics)
    leaves = [f"P{i}" for i in range(len(texts))]
    first = name_tree(texts, Z, leaves, embedding=None, cache_dir=tmp_path)
    assert list((tmp_path / "corpus").glob("topic-names-*.npz"))
    assert name_tree(texts, Z, leaves, embedding=None, cache_dir=tmp_path) == first
    assert name_tree(texts, Z, leaves, embedding=None, cache_dir=False) == first


def test_a_branch_no_phrase_fits_is_named_after_its_papers():
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu"]
    texts = [f"{w.title()}." for w in words]  # twelve papers, no phrase used by two of them
    Z = hierarchy.linkage(np.arange(12.0)[:, None] ** 1.3, "ward")
    names = name_tree(texts, Z, [w.upper() for w in words], embedding=None, cache_dir=False)
    assert set(names) == set(range(12, 23)) and names[22] == []  # the root: every paper, no name
    for v in range(12, 22):
        a, b = names[v][0].split(" & ")
        assert a.lower() in words and b.lower() in words and a != b


def test_a_grab_bag_branch_is_named_mixed_and_a_topic_branch_is_not():
    """A topic's branch (its phrases in most of its papers) keeps a topic name; a branch of sixteen papers, each
    about its own thing, two sharing a phrase, is named "mixed: ..."."""
    from taxonomy.clustering.labels import MIXED_PREFIX, fresh_terms

    texts, topics = _corpus()
    Z = _tree(topics)
    names = topic_names(texts, Z)
    tree = hierarchy.to_tree(Z, rd=True)[1]
    for topic in TOPICS:
        members = [i for i, t in enumerate(topics) if t == topic]
        node = next(v for v in range(len(texts), 2 * len(texts) - 1) if sorted(tree[v].pre_order()) == members)
        assert not names[node][0].startswith(MIXED_PREFIX), (topic, names[node])
    # a grab-bag of 24 papers, each about its own thing, two (8 %) sharing "masked tokens"; beside it a branch of
    # 24 whose four (17 %) share "point clouds"
    from taxonomy.clustering.labels import MIXED_COVERAGE, MIXED_MIN_SIZE

    assert 2 / 24 < MIXED_COVERAGE < 4 / 24 and MIXED_MIN_SIZE <= 24
    words = iter(f"z{a}{b}" for a in "bcdfghjklmnp" for b in "aeiou")
    alone = lambda: f"Study {(w := next(words))} of {w} things."  # noqa: E731
    bag = [alone() for _ in range(11)] + ["Masked tokens for lambda.", "Masked tokens for mu."] + [alone() for _ in range(11)]
    clouds = [f"Point clouds of {next(words)}." for _ in range(4)] + [alone() for _ in range(20)]
    Zb = hierarchy.linkage(np.r_[np.arange(24.0), 100 + np.arange(24.0)][:, None], "average")
    named = topic_names(bag + clouds, Zb)
    tree = hierarchy.to_tree(Zb, rd=True)[1]
    bag_node = next(v for v in range(48, 95) if sorted(tree[v].pre_order()) == list(range(24)))
    cloud_node = next(v for v in range(48, 95) if sorted(tree[v].pre_order()) == list(range(24, 48)))
    assert named[bag_node][0].startswith(MIXED_PREFIX), named[bag_node]
    assert "clouds" in named[cloud_node][0] and not named[cloud_node][0].startswith(MIXED_PREFIX), named[cloud_node]
    assert named[94] == []
    # "mixed:" is not a topic word: two grab-bags do not hide each other's phrases
    assert fresh_terms(["mixed: point clouds + video"], {"mixed:"}) == ["mixed: point clouds + video"]


def test_survey_matches_need_f1_of_a_half_and_three_shared_papers():
    papers = pd.DataFrame({"awesome_mim": ["down/audio"] * 4 + ["down/video"] * 4 + ["", "fund/x"]})
    Z = hierarchy.linkage(np.array([[0.0]] * 4 + [[10.0]] * 4 + [[100.0], [300.0]]) + np.arange(10)[:, None] * 0.01,
                          "single")
    outline = {"id": "awesome-mim", "name": "Awesome-MIM (survey A)", "column": "awesome_mim",
               "nodes": [["down", "Downstream", None, 0], ["down/audio", "Audio and Speech", "down", 1],
                         ["down/video", "Video", "down", 1], ["fund", "Fundamental", None, 0],
                         ["fund/x", "X", "fund", 1]]}
    matches = survey_matches(papers, Z, {"awesome-mim": outline})
    n = len(papers)
    nodes = hierarchy.to_tree(Z, rd=True)[1]
    audio = next(v for v in range(n, 2 * n - 1) if sorted(nodes[v].pre_order()) == [0, 1, 2, 3])
    assert matches[audio] == ("A: Audio and Speech", 1.0)
    both = next(v for v in range(n, 2 * n - 1) if sorted(nodes[v].pre_order()) == list(range(8)))
    assert matches[both][0] == "A: Downstream"  # the parent node, deeper ones only half covered
    assert 9 not in matches  # one paper never "matches" a node, whatever its F1
