"""The main job: corpus -> text -> representation -> tree -> branch names -> agreement scores.

`build_dendrogram` returns plain data (a linkage matrix and DataFrames); `write_outputs` saves the files;
drawing lives in `taxonomy.render.plotting`. The default tree has two parts. Below, a *consensus*: Ward trees over three
views of the same papers (MiniLM of title + abstract with the title, the same with its dominant direction
removed, and a title/abstract mix), each built on all papers and on nine random 80 % subsamples (bagging),
are cut at many k, and papers that keep landing together are joined first (average linkage on
1 - co-association); that finds small groups reliably. Above, once the consensus has grouped the papers into
about one group per 20 papers, Ward on the MiniLM embedding of title + abstract orders the groups, which places
the large branches better than the consensus does. In every view the mean of papers known by their title alone
and of papers with an abstract are removed separately. Labels are never used to build the unsupervised tree.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from taxonomy.clustering import cluster
from taxonomy.clustering.agreement import bk_curves, compute_agreement, primary_labels
from taxonomy.clustering.embeddings import SPARSE_METHODS, embed, l2_normalize, lsa_vectors, tfidf_vectors
from taxonomy.clustering.featcache import cached_arrays
from taxonomy.clustering.labels import leaf_names, name_tree, survey_matches
from taxonomy.corpus.folder import Corpus, load_corpus
from taxonomy.corpus.impls import group_implementations
from taxonomy.corpus.reported import best_results, page_results
from taxonomy.corpus.store import store_rows
from taxonomy.corpus.text import PaperTexts, paper_texts
from taxonomy.errors import UserError

CONSENSUS_MAX = 8000  # co-association needs n^2 memory; larger corpora use two-stage Ward
MIN_KIND_GROUP = 10  # fewest papers of one kind of text (title only / with abstract) to estimate its mean
PAPERS_PER_GROUP = 20  # the consensus decides the tree below about n / 20 groups, Ward on MiniLM above
CONSENSUS_BAGS = 9  # per view, Ward trees of this many random 80 % subsamples join the consensus (bagging)
BAG_MAX = 2000  # above this many papers the subsamples cost too much time (they scale as n^2 each)


@dataclass
class Dendrogram:
    """A tree over the corpus with its names and scores (plain data, ready to save or draw)."""

    papers: pd.DataFrame
    linkage: np.ndarray
    node_terms: dict[int, list[str]]
    leaf_names: list[str]
    agreement: dict
    baseline_agreement: dict
    guided_linkage: np.ndarray | None
    guided_agreement: pd.DataFrame | None  # the guided tree's honest scores: only the levels it learned
    config: dict
    n_with_abstract: int
    taxonomy: str | None
    cuts: pd.DataFrame = field(default_factory=pd.DataFrame)
    cluster_changes: pd.DataFrame = field(default_factory=pd.DataFrame)  # against an earlier run's clusters
    cache_stats: dict = field(default_factory=dict)  # embedded / cached counts; not part of the report
    node_names: dict[str, str] = field(default_factory=dict)  # node id -> name in the colouring taxonomy
    label_columns: list[str] = field(default_factory=list)  # the corpus's taxonomy label columns
    abstract_conflicts: list[str] = field(default_factory=list)  # ambiguous abstract matches, to be reported
    levels: list[tuple[str, int]] = field(default_factory=list)  # (level name, nodes) of the colouring taxonomy
    guided_node_terms: dict[int, list[str]] = field(default_factory=dict)
    guided_cuts: pd.DataFrame = field(default_factory=pd.DataFrame)
    taxonomies: dict[str, dict] = field(default_factory=dict)  # taxonomy id -> outline (for the interactive page)
    reported: dict[str, str] = field(default_factory=dict)  # paper id -> best reported ImageNet-1K fine-tune
    results: list[dict] = field(default_factory=list)  # every reported result, for the page's leaderboard
    audit_flags: dict[str, str] = field(default_factory=dict)  # paper id -> `mimtax audit`'s finding (--audit)

    @property
    def n(self) -> int:
        return len(self.papers)


def _center(X: np.ndarray, drop: int = 0) -> np.ndarray:
    """Subtract the mean and the top `drop` principal directions: what all MIM papers share."""
    X = X - X.mean(0)
    if drop:
        _, _, vt = np.linalg.svd(X, full_matrices=False)
        X = X - (X @ vt[:drop].T) @ vt[:drop]
    return l2_normalize(X)


def kinds_can_be_aligned(has_abstract, min_group: int = MIN_KIND_GROUP) -> bool:
    """Whether both kinds of text have enough papers for their means to be estimated."""
    has_abstract = np.asarray(has_abstract, dtype=bool)
    return bool(min(has_abstract.sum(), (~has_abstract).sum()) >= min_group)


def align_text_kinds(views: list[np.ndarray], has_abstract: np.ndarray,
                     min_group: int = MIN_KIND_GROUP) -> list[np.ndarray]:
    """Remove from every view the mean of each kind of text (title alone / title + abstract), re-normalised.

    A title alone and a title with its abstract land in different regions of an embedding space whatever the
    paper is about, so without this how much text a paper has competes with its topic. Skipped when either
    kind has fewer than `min_group` papers (its mean would be noise)."""
    has_abstract = np.asarray(has_abstract, dtype=bool)
    if not kinds_can_be_aligned(has_abstract, min_group):
        return views
    aligned = []
    for X in views:
        X = np.array(X, dtype=np.float64)
        for kind in (has_abstract, ~has_abstract):
            X[kind] -= X[kind].mean(0)
        aligned.append(l2_normalize(X))
    return aligned


def representation_views(texts: PaperTexts, embedding: str, cache_dir=None, progress: bool = True,
                         stats: dict | None = None, align: bool = True) -> list[np.ndarray]:
    """The views of the papers: the first orders the large branches (and is the only one for Ward, average
    or complete linkage), the others are combined by the consensus that builds the small groups.

    Dense embeddings get their two kinds of text aligned (`align_text_kinds`; `align=False` to compare without);
    `tfidf` and `lsa` alone are the survey's recipe and its reduction, left exactly as they are."""
    combined = texts.combined()
    if embedding in SPARSE_METHODS:
        return [tfidf_vectors(combined) if embedding == "tfidf" else lsa_vectors(combined)]
    stats = stats if stats is not None else {}
    both = embed(combined, embedding, cache_dir, progress, stats)
    views = [both]
    if len(combined) >= 4:
        title = embed(texts.titles, embedding, cache_dir, progress)
        abstract = embed([a or t for a, t in zip(texts.abstracts, texts.titles)], embedding, cache_dir, progress)
        views += [l2_normalize(both + title), _center(both, 1), _center(l2_normalize(0.3 * title + 0.7 * abstract))]
    return align_text_kinds(views, np.array([bool(a) for a in texts.abstracts])) if align else views


def views_digest(views: list[np.ndarray]) -> str:
    """A hash of the exact arrays (shape, type and bytes): the key of what is computed from them."""
    digest = hashlib.sha256()
    for X in views:
        X = np.ascontiguousarray(X)
        digest.update(f"{X.dtype.str}{X.shape}".encode())
        digest.update(X.tobytes())
    return digest.hexdigest()


@lru_cache(maxsize=1)
def _code_digest() -> str:
    """A hash of the code that builds the consensus and the tree and of the libraries it calls: what is cached
    from them is only reused by the same code (the views' bytes alone would let a changed algorithm read old
    results)."""
    from importlib import metadata

    digest = hashlib.sha256()
    for module in (cluster.__file__, __file__):
        digest.update(Path(module).read_bytes())
    for package in ("numpy", "scipy"):
        digest.update(metadata.version(package).encode())
    return digest.hexdigest()[:16]


def consensus(views: list[np.ndarray], cache_dir=False) -> tuple[np.ndarray, np.ndarray]:
    """`cluster.consensus_linkage` of the views with the default bagging; when bagged (up to BAG_MAX papers,
    a few tenths of a second for 400) it is cached under `<cache>/corpus/`, keyed by the views' bytes and
    the code."""
    bags = CONSENSUS_BAGS if len(views[0]) <= BAG_MAX else 0

    def compute() -> dict[str, np.ndarray]:
        Z, condensed = cluster.consensus_linkage(views, bags=bags)
        return {"linkage": Z, "condensed": condensed.astype(np.float32)}  # float32 co-association: exact

    params = {"bags": bags, "fraction": 0.8, "seed": 0, "code": _code_digest()}
    arrays = cached_arrays("consensus", [views_digest(views)], params, compute, cache_dir if bags else False)
    return arrays["linkage"], arrays["condensed"].astype(np.float64)


def make_tree(views: list[np.ndarray], linkage: str, exact_max: int = cluster.EXACT_MAX,
              cache_dir=False) -> tuple[np.ndarray, np.ndarray | None]:
    """(linkage matrix, condensed distances used for leaf ordering or None). `cache_dir=False`: no cache."""
    from scipy.spatial.distance import pdist

    n = len(views[0])
    if linkage == "consensus" and len(views) > 2 and n <= CONSENSUS_MAX:
        below, condensed = consensus(views[1:], cache_dir)
        return cluster.ward_above(below, views[0], max(1, n // PAPERS_PER_GROUP)), condensed
    method = "ward" if linkage == "consensus" else linkage
    Z = cluster.build_linkage(views[0], method, exact_max)
    condensed = pdist(views[0], "euclidean" if method == "ward" else "cosine") if n <= 1500 else None
    return Z, condensed


def ordered_tree(views: list[np.ndarray], linkage: str, cache_dir=None) -> np.ndarray:
    """`make_tree` with its leaves optimally ordered for the picture. Optimal leaf ordering is the slowest step
    of a warm regenerate (a tenth of a second for 385 papers, on the path to the first picture), so the ordered
    tree is cached under `<cache>/corpus/`, keyed by the views' bytes, the linkage and the code that built it."""

    def compute() -> dict[str, np.ndarray]:
        Z, condensed = make_tree(views, linkage, cache_dir=cache_dir)
        return {"linkage": cluster.order_leaves(Z, condensed) if condensed is not None else Z}

    params = {"linkage": linkage, "code": _code_digest()}
    return cached_arrays("tree", [views_digest(views)], params, compute, cache_dir)["linkage"]


def build_dendrogram(corpus: Corpus | str | Path | None = None, abstracts: str | Path | None = None,
                     embedding: str = "minilm", linkage: str = "auto", taxonomy: str | None = None,
                     guided: bool = False, cache_dir=None, progress: bool = True,
                     permutations: int = 10, on_tree=None, on_curves=None, audit=None) -> Dendrogram:
    """Build, name and score the dendrogram of a corpus (see the module docstring for the recipe).

    `audit(corpus, abstracts, cache_dir)` -> {paper id: finding}, e.g. `taxonomy.explore.place.audit_flags`,
    fills the page's audit panel (a function handed in, so this stage does not import the explore stage).

    `on_tree(result)` is called once the tree and its names exist, `on_curves(result)` once the B_k curves of
    it and of survey B's recipe exist (in `agreement["bk"]`), both before the slower scores are computed
    (the CLI starts drawing the picture then)."""
    if audit and not callable(audit):
        raise TypeError("audit= takes a function, e.g. build_dendrogram(..., audit=taxonomy.explore.place.audit_flags)")
    if not isinstance(corpus, Corpus):
        corpus = load_corpus(corpus)
    if len(corpus) < 2:
        raise UserError(f"{corpus.path}: the corpus has {len(corpus)} paper(s); a dendrogram needs at least 2")
    taxonomy = resolve_taxonomy(corpus, taxonomy)
    if guided and taxonomy is None:
        raise UserError(f"{corpus.path}: --guided needs a taxonomy and this corpus has none "
                        "(import with --taxonomy-from-headings, or add taxonomies/*.yaml)")
    if linkage not in ("auto", "consensus", *cluster.LINKAGES):
        raise UserError(f"unknown linkage '{linkage}'; choose auto, consensus, ward, average or complete")
    if linkage == "auto":
        linkage = "ward" if embedding in SPARSE_METHODS else "consensus"
    texts = paper_texts(corpus.papers, abstracts, store_rows(corpus))
    stats: dict = {}
    views = representation_views(texts, embedding, cache_dir, progress, stats)
    Z = ordered_tree(views, linkage, cache_dir)
    guided_Z = guided_linkage(views[0], corpus, taxonomy) if guided else None
    combined = texts.combined()
    max_named = None if len(corpus) <= 5000 else 200
    leaves = leaf_names(corpus.papers)
    result = Dendrogram(
        papers=corpus.papers.reset_index(drop=True), linkage=Z,
        node_terms=name_tree(combined, Z, leaves, embedding, cache_dir, max_named, progress),
        leaf_names=leaves, agreement={}, baseline_agreement={}, guided_linkage=guided_Z,
        guided_agreement=None,
        config=dict(embedding=embedding, linkage=linkage, taxonomy=taxonomy, guided=guided,
                    abstracts=str(abstracts) if abstracts else None, n_views=len(views),
                    corrections=list(corpus.corrections), corpus=str(corpus.path),
                    text_kinds_aligned=embedding not in SPARSE_METHODS
                    and kinds_can_be_aligned([bool(a) for a in texts.abstracts])),
        n_with_abstract=texts.n_with_abstract, taxonomy=taxonomy, cache_stats=stats,
        node_names={n.id: n.name for n in corpus.taxonomy(taxonomy).nodes.values()} if taxonomy else {},
        label_columns=[t.label_column for t in corpus.taxonomies.values()], abstract_conflicts=texts.conflicts,
        taxonomies={t.id: taxonomy_outline(t) for t in corpus.taxonomies.values()},
        reported={str(k): str(v) for k, v in best_results(corpus)[0].items()}, results=page_results(corpus),
        levels=list(zip(corpus.taxonomy(taxonomy).levels, corpus.taxonomy(taxonomy).level_sizes())) if taxonomy else [],
    )
    if on_tree is not None:
        on_tree(result)
    baseline = survey_recipe_linkage(combined, cache_dir)
    ours_bk, baseline_bk = bk_curves(Z, corpus), bk_curves(baseline, corpus)
    result.agreement, result.baseline_agreement = {"bk": ours_bk}, {"bk": baseline_bk}
    if on_curves is not None:
        on_curves(result)
    result.cuts = compute_cuts(result, corpus)
    result.agreement = compute_agreement(Z, corpus, permutations, ours_bk)
    result.baseline_agreement = compute_agreement(baseline, corpus, permutations, baseline_bk)
    if guided_Z is not None:
        result.guided_agreement = guided_scores(views[0], corpus, taxonomy, Z, permutations)
        result.guided_node_terms = name_tree(combined, guided_Z, leaves, embedding, cache_dir, max_named, progress)
        result.guided_cuts = compute_cuts(guided_view(result), corpus)
    if audit:  # the explore stage's audit, handed in by the caller (clustering does not import explore)
        result.audit_flags = audit(corpus, abstracts, cache_dir)
    return result


def survey_recipe_linkage(texts: list[str], cache_dir=None) -> np.ndarray:
    """Survey B's recipe on the same text: TF-IDF + Ward (two-stage on LSA topics beyond exact sizes)."""
    if len(texts) > cluster.EXACT_MAX:
        return cluster.build_linkage(lsa_vectors(texts), "ward")
    return cached_arrays("recipe-tree", texts, {"vectors": "tfidf", "linkage": "ward"},
                         lambda: {"linkage": cluster.exact_linkage(tfidf_vectors(texts), "ward")}, cache_dir)["linkage"]


def resolve_taxonomy(corpus: Corpus, taxonomy: str | None) -> str | None:
    """The taxonomy that colours the picture: the one asked for, else awesome-mim, else the corpus's first."""
    if taxonomy is not None:
        return corpus.taxonomy(taxonomy).id  # fails early on an unknown name
    if "awesome-mim" in corpus.taxonomies:
        return "awesome-mim"
    return next(iter(corpus.taxonomies), None)


def guided_linkage(X: np.ndarray, corpus: Corpus, taxonomy: str, depth: int | None = None) -> np.ndarray:
    """Upper levels = the taxonomy's first `depth` levels (all by default; primary labels), lower levels = Ward
    on the text inside each node."""
    tax = corpus.taxonomy(taxonomy)
    depth = len(tax.levels) if depth is None else depth
    paths = []
    for label in primary_labels(corpus, taxonomy):
        path = tax.ancestors(label)[:depth] if label else ["~unlabelled"]
        paths.append(tuple(path + [path[-1]] * (depth - len(path))))
    return cluster.nested_linkage(X, paths)


def guided_scores(X: np.ndarray, corpus: Corpus, taxonomy: str, unguided: np.ndarray,
                  permutations: int = 10, seed: int = 0) -> pd.DataFrame:
    """How well text recovers each level of a taxonomy once the levels above it are given.

    Scoring the guided tree at the levels it was given is circular (AMI 1). So for each level below the top, a
    tree is guided by the levels above only and cut at this level's size: the split inside each given node is
    learned. `inside_random` is the same score when the labels are shuffled within each given node (what the
    guidance alone is worth); `unguided` is the unsupervised tree's score at that level."""
    from taxonomy.clustering.agreement import flat_scores, why_not_scored

    tax = corpus.taxonomy(taxonomy)
    rng = np.random.default_rng(seed)
    rows = []
    for level in range(1, len(tax.levels)):
        truth = primary_labels(corpus, taxonomy, level)
        given = primary_labels(corpus, taxonomy, level - 1)
        keep = truth != ""
        if not keep.any() or why_not_scored(truth):  # a level the unguided tree is not scored on either
            continue
        k = len(set(truth[keep]))
        predicted = cluster.cut(guided_linkage(X, corpus, taxonomy, depth=level), k)[keep]
        scores = flat_scores(truth[keep], predicted)
        unguided_scores = flat_scores(truth[keep], cluster.cut(unguided, k)[keep])
        shuffled = []
        for _ in range(permutations):
            labels = truth[keep].copy()
            for parent in np.unique(given[keep]):
                inside = np.flatnonzero(given[keep] == parent)
                labels[inside] = labels[rng.permutation(inside)]
            shuffled.append(flat_scores(labels, predicted))
        for metric in ("ami", "ari"):
            rows.append(dict(taxonomy=tax.id, level=tax.levels[level], given=", ".join(tax.levels[:level]), k=k,
                             papers=int(keep.sum()), metric=metric, guided=scores[metric],
                             inside_random=float(np.mean([s[metric] for s in shuffled])),
                             unguided=unguided_scores[metric]))
    return pd.DataFrame(rows, columns=["taxonomy", "level", "given", "k", "papers", "metric", "guided",
                                       "inside_random", "unguided"])


def taxonomy_outline(tax) -> dict:
    """A taxonomy as plain data: its nodes in tree order as [id, name, parent, depth], its levels and sizes."""
    nodes, stack = [], [n.id for n in reversed(tax.roots())]
    while stack:
        node = tax.nodes[stack.pop()]
        nodes.append([node.id, node.name, node.parent, node.depth])
        stack += [c.id for c in reversed(tax.children(node.id))]
    return {"id": tax.id, "name": tax.name, "column": tax.label_column, "levels": list(tax.levels),
            "sizes": tax.level_sizes(), "nodes": nodes}


def guided_view(result: Dendrogram) -> Dendrogram:
    """The guided tree as a Dendrogram of its own (for its files and pictures): same papers, guided linkage."""
    from dataclasses import replace

    return replace(result, linkage=result.guided_linkage, node_terms=result.guided_node_terms,
                   cuts=result.guided_cuts, guided_linkage=None, guided_agreement=None,
                   config={**result.config, "linkage": f"guided by {result.taxonomy}", "guided": False})


def compute_cuts(result: Dendrogram, corpus: Corpus | None = None, ks: list[int] | None = None,
                 partitions: dict[int, tuple[np.ndarray, np.ndarray]] | None = None) -> pd.DataFrame:
    """Paper -> cluster at each taxonomy level's size, with the key terms of that cluster. `partitions` gives, for
    some k, (labels, subtree roots) to use instead of the cut at one height (see `track_clusters`)."""
    papers = result.papers
    out = pd.DataFrame({"id": papers["id"], "short_name": papers["short_name"], "title": papers["title"]})
    order = _leaf_order(result.linkage)
    out["leaf_order"] = np.argsort(order)
    for column in result.label_columns:
        if column in papers:
            out[column] = papers[column]
    if ks is None:
        ks = sorted({k for tax in corpus.taxonomies.values() for k in tax.level_sizes()})
        ks = ks or [k for k in (5, 10, 20, 40) if k < result.n] or [1]  # no taxonomy: a few generic cuts
    all_labels, all_nodes = cluster.cuts(result.linkage, ks, return_nodes=True)
    matches = survey_matches(papers, result.linkage, result.taxonomies)
    for i, k in enumerate(ks):
        if partitions and k in partitions:
            all_labels[i], all_nodes[i] = partitions[k]
    for k, labels, nodes in zip(ks, all_labels, all_nodes):
        out[f"cluster_k{k}"] = labels
        # a cluster is named after its subtree; a single paper after itself
        out[f"terms_k{k}"] = [", ".join(result.node_terms.get(int(node), [])) if node >= result.n
                              else result.leaf_names[int(node)] for node in nodes]
        out[f"name_k{k}"] = [(result.node_terms.get(int(node)) or [""])[0] if node >= result.n
                             else result.leaf_names[int(node)] for node in nodes]
        out[f"survey_k{k}"] = ["≈ " + matches[int(node)][0] if int(node) in matches else "" for node in nodes]
        impls = group_implementations(papers, labels, out["leaf_order"])
        out[f"impls_k{k}"] = [impls[c] for c in labels]
    return out


def track_clusters(result: Dendrogram, previous: pd.DataFrame | None) -> Dendrogram:
    """Give the flat clusters ids that carry over from an earlier run's clusters.csv (`previous`, or None for a
    first run): the cuts are re-chosen to keep earlier clusters, then matched (see `stable_ids`)."""
    from taxonomy.clustering import stable_ids

    ks = sorted(int(c[9:]) for c in result.cuts.columns if c.startswith("cluster_k"))
    cuts = result.cuts
    if previous is not None:
        ids = list(result.papers["id"])
        partitions = {k: stable_ids.tracked_partition(result.linkage, ids, old, k) for k in ks
                      if (old := stable_ids.previous_groups(previous, k))}
        # the usual rebuild of an unchanged corpus finds the same cuts and keeps them as they are
        if any(not np.array_equal(labels, cuts[f"cluster_k{k}"]) for k, (labels, _) in partitions.items()):
            cuts = compute_cuts(result, ks=ks, partitions=partitions)
    result.cuts, result.cluster_changes = stable_ids.assign_ids(cuts, previous)
    return result


def _leaf_order(Z: np.ndarray) -> np.ndarray:
    from scipy.cluster import hierarchy

    return hierarchy.leaves_list(Z)
