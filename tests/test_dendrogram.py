"""The dendrogram job end to end: outputs, determinism, the embedding cache, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from taxonomy.clustering import embeddings
from taxonomy.clustering.dendrogram import build_dendrogram
from taxonomy.corpus.folder import load_corpus
from taxonomy.corpus.text import paper_texts
from taxonomy.errors import UserError
from taxonomy.render.export import write_outputs
from tests.conftest import ABSTRACTS, ROOT, write_papers

OUTPUTS = ["dendrogram.png", "dendrogram.svg", "bk_curve.png", "clusters.csv", "tree.nwk", "tree.json",
           "tree.graphml", "report.md", "report.json"]


def run_cli(*args: str, env_cache: Path | None = None) -> subprocess.CompletedProcess:
    import os

    env = dict(os.environ, HF_HUB_OFFLINE="1")
    if env_cache:
        env["MIMTAX_CACHE"] = str(env_cache)
    return subprocess.run([sys.executable, "-m", "taxonomy", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env)


@pytest.fixture(scope="module")
def minilm_run(tmp_path_factory):
    """`mimtax dendrogram` on the shipped corpus with the default embedding, run twice."""
    base = tmp_path_factory.mktemp("dendro")
    cache = base / "cache"
    first = run_cli("dendrogram", "--out", str(base / "a"), "--guided", env_cache=cache)
    second = run_cli("dendrogram", "--out", str(base / "b"), "--guided", env_cache=cache)
    return base, first, second


def test_default_run_writes_every_output(minilm_run):
    base, first, _ = minilm_run
    assert first.returncode == 0, first.stderr
    for name in OUTPUTS:
        assert (base / "a" / name).stat().st_size > 0, name
    report = json.loads((base / "a" / "report.json").read_text())
    assert report["papers"] == 385 and report["config"]["embedding"] == "minilm"
    levels = report["dendrogram"]["awesome-mim"]["levels"]
    assert levels["subsection"]["k"] == 28 and levels["section"]["k"] == 9
    # an unsupervised tree must beat chance at survey A's subsections
    assert levels["subsection"]["ami"] > levels["subsection"]["permutation_mean"]["ami"] + 0.1
    # the guided tree is scored only where it learns: subsections found inside the given sections, against the
    # same tree with the subsection labels shuffled inside each section (not 1.0 from scoring what it was given)
    (row,) = [r for r in report["guided"]["levels"] if r["metric"] == "ami"]
    assert (row["level"], row["given"], row["k"]) == ("subsection", "section", 28)
    assert row["inside_random"] + 0.05 < row["guided"] < 0.95
    for name in ("guided_tree.nwk", "guided_tree.json", "guided_clusters.csv", "guided_dendrogram.png",
                 "guided_dendrogram.svg"):
        assert (base / "a" / name).stat().st_size > 0, name
    assert "Guided tree" in first.stdout
    assert "AMI against the survey taxonomies" in first.stdout


def test_second_run_is_identical_and_uses_cache(minilm_run):
    base, _, second = minilm_run
    assert second.returncode == 0, second.stderr
    assert "embedded 0, from cache 385" in second.stdout
    for name in ("clusters.csv", "tree.nwk", "report.json", "tree.json", "tree.graphml"):
        assert (base / "a" / name).read_bytes() == (base / "b" / name).read_bytes(), name


def test_outputs_parse_back(minilm_run):
    import networkx as nx
    import pandas as pd

    base = minilm_run[0] / "a"
    clusters = pd.read_csv(base / "clusters.csv")
    assert len(clusters) == 385 and clusters["cluster_k28"].nunique() == 28
    assert clusters["terms_k9"].notna().all()
    # every cluster links to a runnable implementation: its members' own, or the nearest one
    assert clusters["impls_k28"].notna().all()
    own = clusters[clusters["id"] == "mae"]["impls_k28"].iloc[0]
    assert "mae" in own.split(", ")
    report = json.loads((base / "report.json").read_text())
    assert len(report["cluster_implementations"]["28"]) == 28
    tree = json.loads((base / "tree.json").read_text())
    assert tree["size"] == 385 and len(tree["children"]) == 2
    graph = nx.read_graphml(base / "tree.graphml")
    assert graph.number_of_nodes() == 2 * 385 - 1 and nx.is_tree(graph.to_undirected())
    newick = (base / "tree.nwk").read_text()
    assert newick.strip().endswith(";") and newick.count("(") == 384 and "'mae'" in newick


def test_graphml_holds_any_title_and_reads_back_as_the_tree(tmp_path):
    from dataclasses import replace

    import networkx as nx

    from taxonomy.clustering.dendrogram import build_dendrogram
    from taxonomy.render.export import _graphml

    result = build_dendrogram(embedding="tfidf", progress=False, permutations=1)
    papers = result.papers.copy()
    papers.loc[0, "title"] = 'A <b>bold</b> & "quoted" title\x0b with a control character'
    _graphml(replace(result, papers=papers), tmp_path / "tree.graphml")
    graph = nx.read_graphml(tmp_path / "tree.graphml")
    n = result.n
    assert graph.nodes[papers.loc[0, "id"]]["title"] == 'A <b>bold</b> & "quoted" title with a control character'
    assert graph.number_of_edges() == 2 * n - 2 and nx.is_tree(graph.to_undirected())
    root = graph.nodes[f"n{2 * n - 2}"]
    assert root["size"] == n and root["kind"] == "cluster" and root["height"] == pytest.approx(result.linkage[-1, 2])
    assert root["terms"] == ", ".join(result.node_terms[2 * n - 2])
    first = [str(papers["id"].iat[int(c)]) if c < n else f"n{int(c)}" for c in result.linkage[0, :2]]
    assert set(graph.successors(f"n{n}")) == set(first)


def test_report_lists_clusters_in_number_order_and_keeps_its_table_whole():
    import re
    from dataclasses import replace

    from taxonomy.clustering.dendrogram import track_clusters
    from taxonomy.render.export import report_markdown

    result = track_clusters(build_dendrogram(embedding="tfidf", progress=False, permutations=1), None)
    cuts = result.cuts.copy()
    column = "id_k28"  # C1, C2, ..., C28: the ids a run writes
    first = cuts[column].iloc[0]
    rows = cuts.index[cuts[column] == first]
    cuts.loc[rows[0], "short_name"] = ""
    cuts.loc[rows[0], "title"] = "Pipes | in a title that is much longer than any table cell should hold"
    text = report_markdown(replace(result, cuts=cuts))
    table = text.split("## Clusters and the implementations they link to")[1].split("\n\n## ")[0]
    rows_md = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| cluster")]
    ids = [line.split(" | ")[0][2:] for line in rows_md]
    numbers = [int(re.sub(r"\D", "", i)) for i in ids]
    assert len(ids) == 28 and numbers == sorted(numbers)  # C2 before C10
    assert all(len(re.findall(r"(?<!\\)\|", line)) == 6 for line in rows_md)  # 5 cells, an escaped pipe inside
    assert "Pipes \\| in a title that is much longer…" in text  # cut at a word, marked as cut


@pytest.mark.parametrize("embedding", ["tfidf", "lsa"])
def test_sparse_embeddings_are_deterministic(tmp_path, embedding):
    runs = []
    for name in ("x", "y"):
        result = build_dendrogram(embedding=embedding, progress=False)
        write_outputs(result, tmp_path / name, pictures=False)
        runs.append(tmp_path / name)
    for name in ("clusters.csv", "tree.nwk", "report.json"):
        assert (runs[0] / name).read_bytes() == (runs[1] / name).read_bytes()


def test_node_labels_avoid_field_words():
    result = build_dendrogram(embedding="tfidf", progress=False)
    top_terms = [t for node in range(2 * result.n - 12, 2 * result.n - 1) for t in result.node_terms[node]]
    assert top_terms and not {"masked", "image", "modeling"} & set(top_terms)
    assert result.leaf_names[list(result.papers["id"]).index("mae")] == "MAE"


@pytest.mark.skipif(not ABSTRACTS.exists(), reason="../shared/corpus/abstracts-dev.jsonl is absent")
def test_abstracts_are_matched():
    result = build_dendrogram(embedding="tfidf", abstracts=ABSTRACTS, progress=False)
    assert 200 <= result.n_with_abstract <= 238
    assert result.config["text_kinds_aligned"] is False  # survey B's recipe is left exactly as it is


# --- the embedding cache -----------------------------------------------------------------------------------

class FakeEncoder:
    calls: list[int] = []

    def __init__(self, name: str = "fake", device: str = "cpu"):
        pass

    def encode(self, texts, progress=True):
        FakeEncoder.calls.append(len(texts))
        return np.array([[len(t), t.count("a"), 1.0] for t in texts], dtype=np.float32)


def test_cache_hit_miss_and_corruption(tmp_path, monkeypatch):
    monkeypatch.setattr(embeddings, "SentenceEncoder", FakeEncoder)
    FakeEncoder.calls = []
    first = embeddings.embed(["alpha", "beta"], "fake", tmp_path, progress=False)
    stats: dict = {}
    second = embeddings.embed(["beta", "gamma", "alpha"], "fake", tmp_path, progress=False, stats=stats)
    assert FakeEncoder.calls == [2, 1]  # only the new text is embedded
    assert stats == {"embedded": 1, "cached": 2, "cache_rebuilt": False}
    np.testing.assert_array_equal(second[[2, 0]], first)
    (tmp_path / "fake" / "vectors.npy").write_bytes(b"not a numpy file")
    stats = {}
    third = embeddings.embed(["alpha"], "fake", tmp_path, progress=False, stats=stats)
    assert stats["cache_rebuilt"] and FakeEncoder.calls[-1] == 1
    np.testing.assert_array_equal(third, first[:1])
    assert embeddings.EmbeddingCache(tmp_path, "fake").keys == [embeddings.text_key("alpha")]


def test_cache_rejects_mismatched_keys(tmp_path, monkeypatch):
    monkeypatch.setattr(embeddings, "SentenceEncoder", FakeEncoder)
    embeddings.embed(["a", "b"], "fake", tmp_path, progress=False)
    (tmp_path / "fake" / "keys.json").write_text(json.dumps(["only-one"]))
    assert embeddings.EmbeddingCache(tmp_path, "fake").rebuilt


def test_corpus_feature_cache_hit_miss_corruption_and_pruning(tmp_path, monkeypatch):
    """Corpus-level features are computed once per exact set of texts, recomputed when any text changes or the
    file is damaged, and old entries are pruned."""
    from taxonomy.clustering import featcache

    calls = []

    def compute():
        calls.append(1)
        return {"vectors": np.arange(6, dtype=np.float64).reshape(3, 2), "vocab": np.array(["a", "b"])}

    texts = ["one", "two", "three"]
    first = featcache.cached_arrays("demo", texts, {"dim": 2}, compute, tmp_path)
    second = featcache.cached_arrays("demo", texts, {"dim": 2}, compute, tmp_path)
    assert len(calls) == 1 and list(second["vocab"]) == ["a", "b"]
    np.testing.assert_array_equal(first["vectors"], second["vectors"])
    featcache.cached_arrays("demo", ["one", "two", "three!"], {"dim": 2}, compute, tmp_path)
    featcache.cached_arrays("demo", texts, {"dim": 3}, compute, tmp_path)
    assert len(calls) == 3  # one edited text, or other parameters: a new key
    path = tmp_path / "corpus" / f"demo-{featcache.corpus_key('demo', texts, {'dim': 2})}.npz"
    path.write_bytes(b"damaged")
    featcache.cached_arrays("demo", texts, {"dim": 2}, compute, tmp_path)
    assert len(calls) == 4 and np.load(path, allow_pickle=False)["vectors"].shape == (3, 2)
    featcache.cached_arrays("demo", texts, {"dim": 2}, compute, False)
    assert len(calls) == 5  # cache_dir=False bypasses
    monkeypatch.setattr(featcache, "KEEP_PER_KIND", 2)
    for i in range(4):
        featcache.cached_arrays("demo", texts + [str(i)], {"dim": 2}, compute, tmp_path)
    assert len(list((tmp_path / "corpus").glob("demo-*.npz"))) == 2


def test_warm_build_does_not_recompute_corpus_features(tmp_path, monkeypatch):
    """Second build on the same texts: term counts, the recipe tree, the bagged consensus and the ordered tree
    come from the cache, and the tree and its names are unchanged; cached equals computed without a cache, and a
    change of code builds the tree afresh."""
    import taxonomy.clustering.dendrogram as dendrogram

    monkeypatch.setattr(embeddings, "SentenceEncoder", FakeEncoder)
    first = build_dendrogram(embedding="fake", cache_dir=tmp_path, progress=False, permutations=1)
    assert list((tmp_path / "corpus").glob("consensus-*.npz")) and list((tmp_path / "corpus").glob("tree-*.npz"))

    def refuse(*args, **kwargs):
        raise AssertionError("recomputed on a warm cache")

    for name in ("lsa_vectors", "tfidf_vectors", "make_tree"):
        monkeypatch.setattr(dendrogram, name, refuse)
    from taxonomy.clustering import labels

    for name in ("candidate_phrases", "topic_names"):  # the names: their phrases and embeddings are cached too
        monkeypatch.setattr(labels, name, refuse)
    for name in ("consensus_linkage", "order_leaves"):
        monkeypatch.setattr(dendrogram.cluster, name, refuse)
    second = build_dendrogram(embedding="fake", cache_dir=tmp_path, progress=False, permutations=1)
    np.testing.assert_array_equal(first.linkage, second.linkage)
    assert first.node_terms == second.node_terms
    assert first.baseline_agreement["levels"].equals(second.baseline_agreement["levels"])
    monkeypatch.undo()
    monkeypatch.setattr(embeddings, "SentenceEncoder", FakeEncoder)
    views = dendrogram.representation_views(paper_texts(load_corpus().papers), "fake", tmp_path, progress=False)
    uncached, condensed = dendrogram.make_tree(views, "consensus", cache_dir=False)
    cached, cached_condensed = dendrogram.make_tree(views, "consensus", cache_dir=tmp_path)
    np.testing.assert_array_equal(uncached, cached)
    np.testing.assert_array_equal(condensed, cached_condensed)
    ordered = dendrogram.ordered_tree(views, "consensus", cache_dir=False)
    np.testing.assert_array_equal(ordered, dendrogram.cluster.order_leaves(uncached, condensed))
    np.testing.assert_array_equal(ordered, dendrogram.ordered_tree(views, "consensus", cache_dir=tmp_path))
    np.testing.assert_array_equal(ordered, first.linkage)
    monkeypatch.setattr(dendrogram, "_code_digest", lambda: "other code")  # changed code: both built afresh
    monkeypatch.setattr(dendrogram.cluster, "consensus_linkage", refuse)
    with pytest.raises(AssertionError, match="recomputed"):
        dendrogram.consensus(views[1:], cache_dir=tmp_path)
    monkeypatch.setattr(dendrogram, "make_tree", refuse)
    with pytest.raises(AssertionError, match="recomputed"):
        dendrogram.ordered_tree(views, "consensus", cache_dir=tmp_path)


def test_warm_regenerate_does_not_import_scikit_learn(minilm_run, tmp_path):
    """The cache is warm after the fixture's runs: the CLI builds everything without importing scikit-learn."""
    import os

    base, _, _ = minilm_run
    env = dict(os.environ, HF_HUB_OFFLINE="1", MIMTAX_CACHE=str(base / "cache"))
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "taxonomy", "dendrogram", "--out",
                          str(tmp_path / "c")], capture_output=True, text=True, cwd=ROOT, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines() if line.startswith("import time")}
    assert "sklearn" not in imported and "scipy.stats" not in imported
    assert (tmp_path / "c" / "tree.nwk").read_bytes() == (base / "a" / "tree.nwk").read_bytes()


def test_l2_normalize_matches_scikit_learn():
    from sklearn.preprocessing import normalize

    rng = np.random.default_rng(0)
    for X in (rng.normal(size=(7, 5)).astype(np.float32), rng.normal(size=(4, 3)), np.zeros((2, 3))):
        got = embeddings.l2_normalize(X)
        assert got.dtype == normalize(X).dtype
        np.testing.assert_array_equal(got, normalize(X))


def test_text_kinds_are_aligned_before_clustering():
    """Two topics, each with papers known by title alone and with an abstract: a shared offset per kind of
    text dominates the raw vectors (papers pair up by kind); after the alignment they pair up by topic."""
    from scipy.cluster import hierarchy

    from taxonomy.clustering.dendrogram import align_text_kinds

    rng = np.random.default_rng(0)
    topic = np.repeat([0, 1], 20)
    has_abstract = np.tile([True, False], 20)
    X = 0.2 * np.eye(4)[topic] + 3.0 * np.eye(4)[2 + has_abstract.astype(int)] + rng.normal(0, 0.02, (40, 4))
    by_kind = hierarchy.fcluster(hierarchy.linkage(X, "ward"), 2, "maxclust")
    assert len(set(zip(by_kind, has_abstract))) == 2  # raw: the clusters are the kinds of text
    (aligned,) = align_text_kinds([X], has_abstract)
    by_topic = hierarchy.fcluster(hierarchy.linkage(aligned, "ward"), 2, "maxclust")
    assert len(set(zip(by_topic, topic))) == 2
    np.testing.assert_allclose(np.linalg.norm(aligned, axis=1), 1.0)
    # too few papers of one kind to estimate its mean: the views come back as they were
    few = np.arange(40) < 5
    assert align_text_kinds([X], few)[0] is X


def test_survey_recipe_is_not_aligned():
    """`--embedding tfidf` is survey B's recipe exactly: no alignment, the same tree as the baseline."""
    from taxonomy.clustering.dendrogram import representation_views, survey_recipe_linkage
    from taxonomy.corpus.text import PaperTexts

    texts = PaperTexts(titles=[f"masked {w} model" for w in "abcdefghijklmnopqrstuvwxyz"],
                       abstracts=["" if i % 2 else f"an abstract about topic {i % 5}" for i in range(26)])
    (view,) = representation_views(texts, "tfidf", progress=False)
    np.testing.assert_array_equal(view, embeddings.tfidf_vectors(texts.combined()))
    from taxonomy.clustering import cluster

    np.testing.assert_array_equal(cluster.exact_linkage(view, "ward"), survey_recipe_linkage(texts.combined()))


def test_every_file_of_the_bundled_model_is_checked(tmp_path):
    """Weights, tokenizer and configs: a changed max_seq_length changes every vector, so it must not load."""
    import json
    import shutil

    bundled = embeddings.bundled_minilm_path()
    embeddings.verify_weights(bundled)
    for name in embeddings.MINILM_FILES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        if name == "model.safetensors":
            (tmp_path / name).symlink_to(bundled / name)
        else:
            shutil.copyfile(bundled / name, tmp_path / name)
    embeddings.verify_weights(tmp_path)
    config = json.loads((tmp_path / "sentence_bert_config.json").read_text(encoding="utf-8"))
    (tmp_path / "sentence_bert_config.json").write_text(json.dumps({**config, "max_seq_length": 8}), encoding="utf-8")
    with pytest.raises(UserError, match="sentence_bert_config.json: SHA-256"):
        embeddings.verify_weights(tmp_path)
    shutil.copyfile(bundled / "sentence_bert_config.json", tmp_path / "sentence_bert_config.json")
    (tmp_path / "vocab.txt").unlink()
    with pytest.raises(UserError, match="vocab.txt: file of the bundled model not found"):
        embeddings.verify_weights(tmp_path)


# --- bad input -----------------------------------------------------------------------------------------------

HEADER = "id,title,year,arxiv_id,awesome_mim,mim_survey"


def test_empty_and_one_paper_corpora(tmp_path):
    empty = write_papers(tmp_path / "empty", HEADER)
    out = run_cli("dendrogram", "--corpus", str(empty), "--embedding", "tfidf", "--out", str(tmp_path / "o"))
    assert out.returncode == 1 and "at least 2" in out.stderr and "Traceback" not in out.stderr
    one = write_papers(tmp_path / "one", HEADER, "a,A Paper,2022,,analysis,")
    out = run_cli("dendrogram", "--corpus", str(one), "--embedding", "tfidf", "--out", str(tmp_path / "o"))
    assert out.returncode == 1 and "1 paper(s)" in out.stderr
    assert not any((tmp_path / "o").glob("*.csv"))


def test_abstracts_matching_nothing(tmp_path):
    path = tmp_path / "abs.jsonl"
    path.write_text(json.dumps({"title": "Nothing Like Any Paper", "abstract": "x"}) + "\n")
    out = run_cli("dendrogram", "--embedding", "tfidf", "--abstracts", str(path), "--out", str(tmp_path / "o"))
    assert out.returncode == 1 and "no abstract matches" in out.stderr
    path.write_text('{"title": "ok", "abstract": "x"}\n{broken\n')
    out = run_cli("dendrogram", "--embedding", "tfidf", "--abstracts", str(path), "--out", str(tmp_path / "o"))
    assert out.returncode == 1 and f"{path}:2:" in out.stderr


def _shared_id_papers():
    import pandas as pd

    return pd.DataFrame({
        "id": ["mdt", "mdtv2", "convmae", "solo"],
        "title": ["Masked Diffusion Transformer is a Strong Image Synthesizer",
                  "MDTv2: Masked Diffusion Transformer is a Strong Image Synthesizer",
                  "ConvMAE: Masked Convolution Meets Masked Autoencoders", "A Paper With Its Own Id"],
        "arxiv_id": ["2303.14389", "2303.14389", "2205.03892", "2301.00001"],
        # the corpus knows ConvMAE's later name too: its own title must still win over the renamed version's row
        "other_titles": ["", "", "MCMAE: Masked Convolution Meets Masked Autoencoders", ""]})


def test_abstracts_shared_arxiv_ids_are_matched_by_title_and_reported():
    """A paper and its v2, or two names of one method, share an arXiv id: each gets its own abstract, found by
    its title, and every ambiguity is reported (first row no longer wins)."""
    from taxonomy.corpus.text import match_abstracts

    rows = [  # rows keyed by their file's own numbering, as in the dev abstracts: the arXiv id is the link
        {"key": "p1", "arxiv_id": "2303.14389", "title": "Masked Diffusion Transformer is a Strong Image Synthesizer",
         "abstract": "MDT text"},
        {"key": "p2", "arxiv_id": "2303.14389", "title": "MDTv2: Masked Diffusion Transformer is a Strong Image "
         "Synthesizer", "abstract": "MDTv2 text"},
        {"key": "p3", "arxiv_id": "2205.03892", "title": "MCMAE: Masked Convolution Meets Masked Autoencoders",
         "abstract": "MCMAE text"},
        {"key": "p4", "arxiv_id": "2205.03892", "title": "ConvMAE: Masked Convolution Meets Masked Autoencoders",
         "abstract": "ConvMAE text"},
        {"id": "solo", "arxiv_id": "2205.03892", "title": "Something else", "abstract": "own id wins"},
    ]
    conflicts: list[str] = []
    matched = match_abstracts(_shared_id_papers(), rows, conflicts)
    assert matched == ["MDT text", "MDTv2 text", "ConvMAE text", "own id wins"]
    assert len(conflicts) == 3 and all("matched on the title" in line for line in conflicts)
    assert {line.split(":")[0] for line in conflicts} == {"mdt", "mdtv2", "convmae"}
    # an arXiv id two papers of the corpus share is not trusted without the title, even with one row
    conflicts = []
    only_v1 = match_abstracts(_shared_id_papers(), rows[:1] + [{"arxiv_id": "2303.14389", "title": "Unrelated",
                                                                "abstract": "MDT text"}], conflicts)
    assert only_v1[:2] == ["MDT text", ""]
    assert any(line.startswith("mdtv2:") and "none is used" in line for line in conflicts)
    # a unique arXiv id still matches whatever the title says
    assert match_abstracts(_shared_id_papers(), [{"arxiv_id": "2301.00001", "abstract": "by arXiv"}])[3] == "by arXiv"


def test_abstract_conflicts_are_printed_as_warnings(tmp_path):
    papers = _shared_id_papers()
    versions = {"mdtv2": "mdt"}
    corpus = write_papers(tmp_path / "c", "id,title,year,arxiv_id,awesome_mim,mim_survey,version_of",
                          *[f"{p.id},{p.title},2023,{p.arxiv_id},fundamental/image-generation,,{versions.get(p.id, '')}"
                            for p in papers.itertuples()])
    path = tmp_path / "abs.jsonl"
    path.write_text("".join(json.dumps({"key": f"p{i}", "arxiv_id": "2303.14389", "title": t, "abstract": t + " x"})
                            + "\n" for i, t in enumerate(_shared_id_papers().title[:2])))
    out = run_cli("dendrogram", "--corpus", str(corpus), "--embedding", "tfidf", "--abstracts", str(path),
                  "--no-pictures", "--out", str(tmp_path / "o"))
    assert out.returncode == 0, out.stderr
    assert f"warning: {path}: mdtv2: arXiv 2303.14389 is shared by 2 different abstracts" in out.stderr
    assert "(2 with an abstract)" in out.stdout
    assert "mim-survey" not in out.stdout  # a taxonomy that labels none of the papers is not scored (was 1.000)


def test_unknown_embedding_and_linkage(tmp_path):
    out = run_cli("dendrogram", "--embedding", "no-such-model-xyz", "--out", str(tmp_path / "o"))
    assert out.returncode == 1 and "unknown embedding 'no-such-model-xyz'" in out.stderr
    assert "Traceback" not in out.stderr
    out = run_cli("dendrogram", "--linkage", "single", "--out", str(tmp_path / "o"))
    assert out.returncode == 1 and "unknown linkage" in out.stderr


def test_unwritable_output_folder(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    out = run_cli("dendrogram", "--embedding", "tfidf", "--out", str(blocker / "sub"))
    assert out.returncode == 1 and "not writable" in out.stderr


def test_failed_write_leaves_previous_outputs(tmp_path, monkeypatch):
    result = build_dendrogram(embedding="tfidf", progress=False)
    write_outputs(result, tmp_path, pictures=False)
    before = (tmp_path / "report.json").read_bytes()

    import taxonomy.render.export as export

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(export, "_graphml", boom)
    with pytest.raises(RuntimeError):
        write_outputs(result, tmp_path, pictures=False)
    assert (tmp_path / "report.json").read_bytes() == before
    assert not list(tmp_path.glob(".staging-*"))


def test_pictures_are_the_same_with_and_without_the_drawing_process(tmp_path, monkeypatch):
    """The forked painter and the single-process fallback write byte-identical pictures, and leave no scratch."""
    import xml.etree.ElementTree as ET

    result = build_dendrogram(embedding="tfidf", progress=False)
    write_outputs(result, tmp_path / "forked")
    monkeypatch.setenv("MIMTAX_NO_FORK", "1")
    write_outputs(result, tmp_path / "serial")
    for name in ("dendrogram.png", "dendrogram.svg", "bk_curve.png"):
        assert (tmp_path / "forked" / name).read_bytes() == (tmp_path / "serial" / name).read_bytes(), name
    assert not list((tmp_path / "forked").glob(".painter-*")) and not list((tmp_path / "forked").glob(".staging-*"))
    svg = ET.parse(tmp_path / "forked" / "dendrogram.svg").getroot()
    texts = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert set(result.leaf_names) <= set(texts)  # every leaf is named in the SVG


def test_painter_stops_cleanly_when_the_build_fails(tmp_path):
    """A user error while the painter waits: exit 1, one line, no drawing process or scratch folder left."""
    empty = write_papers(tmp_path / "c", "id,title,year,arxiv_id,awesome_mim,mim_survey")
    out = run_cli("dendrogram", "--corpus", str(empty), "--out", str(tmp_path / "out"))
    assert out.returncode == 1 and len(out.stderr.strip().splitlines()) == 1
    assert not list((tmp_path / "out").glob(".painter-*"))


def test_branch_names_go_to_their_own_node_when_merge_heights_tie():
    """Names were looked up by merge height: two merges at one height both got the later one's name."""
    import numpy as np
    import pandas as pd

    from taxonomy.render.painter import PictureData
    from taxonomy.render.plotting import dendrogram_layout

    linkage = np.array([[0, 1, 1.0, 2], [2, 3, 1.0, 2], [4, 5, 2.0, 4]], dtype=float)  # two merges tie at 1.0
    tree = PictureData(4, linkage, ["a0", "a1", "b2", "b3"], {4: ["alpha"], 5: ["beta"], 6: ["root"]}, {}, None,
                       {"embedding": "test", "linkage": "test"}, pd.DataFrame(index=range(4)))
    layout = dendrogram_layout(tree)
    leaf_y = {name: y for y, name, _ in layout.leaves}
    named = {label: y for _, y, label in layout.branches}
    assert set(named) == {"alpha", "beta", "root"}
    assert named["alpha"] == (leaf_y["a0"] + leaf_y["a1"]) / 2 and named["beta"] == (leaf_y["b2"] + leaf_y["b3"]) / 2
    assert min(leaf_y.values()) < named["root"] < max(leaf_y.values())


def test_the_bk_figure_says_what_bk_is(tmp_path):
    import numpy as np
    import pandas as pd

    from taxonomy.render.painter import PictureData
    from taxonomy.render.plotting import plot_bk_curve

    curve = pd.DataFrame({"k": [2, 3], "bk": [0.3, 0.2], "permutation_mean": [0.1, 0.1]})
    result = PictureData(3, np.zeros((2, 4)), ["a", "b", "c"], {}, {}, "t", {}, pd.DataFrame(index=range(3)),
                         {"bk": {"t": curve}}, {"bk": {"t": curve}})
    fig = plot_bk_curve(result, tmp_path / "bk.png")
    caption = " ".join(t.get_text() for t in fig.texts)
    assert "Fowlkes-Mallows" in caption and "random" in caption and (tmp_path / "bk.png").stat().st_size > 0
