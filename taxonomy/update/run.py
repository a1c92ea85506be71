"""`compute_whats_new`: de-duplicate a batch of new papers against the corpus, place them, score their novelty,
suggest new categories, and count growth and trends per node. Plain data in, plain data out."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from taxonomy.corpus.folder import Corpus, norm_title, split_labels, title_similarity
from taxonomy.explore.search import DENSE_WEIGHT
from taxonomy.update.novelty import BatchNovelty
from taxonomy.update.suggest import (MIN_SIZE, Suggestion, contrast_terms, group_batch, novel_groups,
                                     typical_within_node_similarity)

NEAR_DUPLICATE = 0.9  # blended similarity above which two papers are listed as possibly one paper
NEAR_TITLE = 0.85  # or normalised-title similarity (difflib ratio) above this


@dataclass
class NewPapers:
    """A batch of new papers as the importer reads them: the papers table and their abstracts ("" if none)."""

    papers: pd.DataFrame
    abstracts: list[str]
    files: list[str] = field(default_factory=list)


@dataclass
class WhatsNew:
    papers: pd.DataFrame  # the new papers kept, with novelty and their best node in each taxonomy
    duplicates: pd.DataFrame  # new entries dropped: the same paper is in the corpus
    near_duplicates: pd.DataFrame  # kept, but possibly a version of a corpus (or another new) paper
    placements: pd.DataFrame  # every candidate node per paper, taxonomy and level (calibrated scores)
    growth: pd.DataFrame  # per leaf node: corpus papers, new papers, growth
    suggestions: list[Suggestion]
    trends: pd.DataFrame  # taxonomy, node, name, year, corpus, new
    config: dict


def read_new_papers(files: list[str | Path], fmt: str | None = None) -> NewPapers:
    """Any format `mimtax corpus import` reads; duplicates inside the batch are merged the same way."""
    from taxonomy.corpus.importer import import_corpus

    imported = import_corpus(files, fmt)
    by_id = {row["id"]: row["abstract"] for row in imported.abstracts}
    return NewPapers(imported.papers, [by_id.get(pid, "") for pid in imported.papers["id"]],
                     [str(f) for f in files])


def _corpus_keys(papers: pd.DataFrame) -> dict[tuple[str, str], str]:
    keys: dict[tuple[str, str], str] = {}
    for row in papers.itertuples(index=False):
        arxiv = str(row.arxiv_id).split("v")[0] if row.arxiv_id else ""
        doi = str(getattr(row, "doi", "") or "").lower()
        titles = [row.title, *[t for t in str(row.other_titles).split(" | ") if t.strip()]]
        for kind, value in (("arXiv id", arxiv), ("DOI", doi), *(("title", norm_title(t)) for t in titles)):
            if value:
                keys.setdefault((kind, value), row.id)
    return keys


def exact_duplicates(corpus: Corpus, new: NewPapers) -> tuple[np.ndarray, pd.DataFrame]:
    """Which new papers the corpus already holds (same arXiv id, DOI or normalised title, or one of its other
    titles): a keep mask and the list of those dropped."""
    keys = _corpus_keys(corpus.papers)
    keep = np.ones(len(new.papers), dtype=bool)
    rows = []
    for i, row in enumerate(new.papers.itertuples(index=False)):
        arxiv = str(row.arxiv_id).split("v")[0] if row.arxiv_id else ""
        doi = str(getattr(row, "doi", "") or "").lower()
        for kind, value in (("arXiv id", arxiv), ("DOI", doi), ("title", norm_title(row.title))):
            if value and (kind, value) in keys:
                keep[i] = False
                rows.append(dict(new_id=row.id, title=row.title, corpus_id=keys[(kind, value)], matched_on=kind,
                                 source=row.source))
                break
    return keep, pd.DataFrame(rows, columns=["new_id", "title", "corpus_id", "matched_on", "source"])


def near_duplicates(titles: list[str], ids: list[str], batch_vs_batch: np.ndarray, batch_vs_corpus: np.ndarray,
                    corpus: Corpus) -> pd.DataFrame:
    """Pairs that may be one paper under two names (a preprint and its published version): for review only."""
    rows = []
    corpus_titles = corpus.papers["title"].tolist()
    corpus_ids = corpus.papers["id"].tolist()
    for i, title in enumerate(titles):
        for j in np.flatnonzero(batch_vs_corpus[i] >= NEAR_DUPLICATE - 0.2):  # cheap pre-filter
            ts = title_similarity(title, corpus_titles[j])
            if batch_vs_corpus[i, j] >= NEAR_DUPLICATE or ts >= NEAR_TITLE:
                rows.append(dict(new_id=ids[i], title=title, other_id=corpus_ids[j], other_title=corpus_titles[j],
                                 where="corpus", similarity=round(float(batch_vs_corpus[i, j]), 3),
                                 title_similarity=round(ts, 3)))
        for j in range(i + 1, len(titles)):
            ts = title_similarity(title, titles[j])
            if batch_vs_batch[i, j] >= NEAR_DUPLICATE or ts >= NEAR_TITLE:
                rows.append(dict(new_id=ids[i], title=title, other_id=ids[j], other_title=titles[j], where="new",
                                 similarity=round(float(batch_vs_batch[i, j]), 3), title_similarity=round(ts, 3)))
    columns = ["new_id", "title", "other_id", "other_title", "where", "similarity", "title_similarity"]
    return pd.DataFrame(rows, columns=columns).sort_values(["similarity", "new_id"], ascending=[False, True],
                                                           kind="stable").reset_index(drop=True)


def _unique_ids(ids: list[str], taken: set[str]) -> list[str]:
    """New papers keep their imported ids unless the corpus already uses one ('mae' -> 'mae-new')."""
    out = []
    for pid in ids:
        candidate, n = (pid, 1) if pid not in taken else (f"{pid}-new", 2)
        while candidate in taken:
            candidate, n = f"{pid}-new{n}", n + 1
        taken.add(candidate)
        out.append(candidate)
    return out


def compute_whats_new(corpus: Corpus, new: NewPapers, abstracts=None, taxonomy: str | None = None,
                      cache_dir=None, progress: bool = False, min_size: int = MIN_SIZE,
                      novelty: BatchNovelty | None = None) -> WhatsNew:
    from taxonomy.explore.place import Placer
    from taxonomy.explore.search import represent

    main = corpus.taxonomy(taxonomy).id if taxonomy else (
        "awesome-mim" if "awesome-mim" in corpus.taxonomies else next(iter(corpus.taxonomies), None))
    keep, duplicates = exact_duplicates(corpus, new)
    papers = new.papers[keep].reset_index(drop=True)
    texts = [a for a, k in zip(new.abstracts, keep) if k]
    papers["id"] = _unique_ids(papers["id"].tolist(), set(corpus.papers["id"]))
    rep = represent(corpus, abstracts, cache_dir=cache_dir, progress=progress)
    corpus_sim = rep.self_similarity()
    titles = papers["title"].tolist()
    empty = len(papers) == 0
    if empty:
        dense, sparse = np.zeros((0, rep.dense.shape[1])), None
        vs_corpus, vs_batch = np.zeros((0, len(corpus))), np.zeros((0, 0))
    else:
        dense, sparse = rep.encode(titles, texts)
        vs_corpus = rep.similarity(dense, sparse)
        vs_batch = DENSE_WEIGHT * dense @ dense.T + (1 - DENSE_WEIGHT) * (sparse @ sparse.T).toarray()
    labels = list(corpus.labels(main)) if main else [()] * len(corpus)
    cut = typical_within_node_similarity(corpus_sim, labels)
    scorer = novelty or BatchNovelty()
    can_score = len(corpus) >= 2 * scorer.k  # too small a corpus to calibrate on: placement only
    if can_score:
        scorer.fit(corpus_sim, len(papers), cut, min_size)
        scores = scorer.score(vs_batch, vs_corpus)
    else:
        nothing = np.full(len(papers), np.nan)
        scores = dict(new_neighbours=np.zeros(len(papers), dtype=int), novelty=nothing, novelty_p=nothing,
                      novel=np.zeros(len(papers), dtype=bool), atypical=nothing)
    for key in ("novelty", "novelty_p", "atypical"):
        papers[key] = np.round(scores[key], 4)
    papers["novel"] = scores["novel"]
    near = near_duplicates(titles, papers["id"].tolist(), vs_batch, vs_corpus, corpus)

    placements = pd.DataFrame()
    leaf_pick: dict[str, pd.DataFrame] = {}
    if corpus.taxonomies and not empty:
        placer = Placer().fit(corpus, representation=rep)
        placements = placer.place(titles, texts, top=3)
        placements.insert(1, "id", papers["id"].to_numpy()[placements["paper"].to_numpy()])
        for name, tax in corpus.taxonomies.items():
            leaf = placements[(placements.taxonomy == name) & (placements.level == tax.levels[-1])
                              & (placements["rank"] == 1)].set_index("paper").sort_index()
            leaf_pick[name] = leaf
            papers[f"{tax.label_column}_best"] = leaf["node"].to_numpy()
            papers[f"{tax.label_column}_score"] = leaf["score"].to_numpy()

    groups = group_batch(vs_batch, cut) if not empty else np.zeros(0, dtype=int)
    found = novel_groups(groups, scores["new_neighbours"], scorer.k, len(corpus), scorer.group_threshold_,
                         min_size) if len(papers) >= 2 and can_score else []
    suggestions = [_describe(members, p, dense, sparse, vs_corpus, rep, corpus) for members, p in found]
    papers["group"] = groups
    papers["suggestion"] = ""
    for number, s in enumerate(suggestions, 1):
        papers.loc[s.members, "suggestion"] = f"S{number}"

    config = dict(files=new.files, read=len(new.papers), duplicates=len(duplicates), kept=len(papers),
                  corpus=str(corpus.path), corpus_papers=len(corpus), taxonomy=main, k_nearest=scorer.k,
                  alpha=scorer.alpha, p_threshold=float(f"{scorer.threshold_:.3g}") if can_score else None,
                  group_p_threshold=float(f"{scorer.group_threshold_:.3g}") if can_score else None,
                  novelty="scored" if can_score else f"not scored: the corpus has fewer than {2 * scorer.k} papers",
                  group_cut_similarity=round(cut, 4),
                  min_size=min_size, with_abstract=int(sum(1 for t in texts if t)))
    return WhatsNew(papers, duplicates, near, placements, _growth(corpus, papers, leaf_pick), suggestions,
                    _trends(corpus, papers, main), config)


def _describe(members: list[int], p: float, dense, sparse, vs_corpus, rep, corpus: Corpus) -> Suggestion:
    """Name a group by contrast with its nearest node; find that node in each taxonomy and the nearest
    reference implementation."""
    centre = dense[members].mean(axis=0)
    centre = centre / (np.linalg.norm(centre) or 1.0)
    nearest: dict[str, tuple[str, float]] = {}
    node_rows: list[int] = []
    for name, tax in corpus.taxonomies.items():
        labels = list(corpus.labels(name))
        best, best_sim, best_rows = "", -2.0, []
        for leaf in sorted(n.id for n in tax.leaves()):
            rows = [i for i, ls in enumerate(labels) if leaf in ls]
            if not rows:
                continue
            c = rep.dense[rows].mean(axis=0)
            sim = float(c @ centre / (np.linalg.norm(c) or 1.0))
            if sim > best_sim:
                best, best_sim, best_rows = leaf, sim, rows
        nearest[name] = (best, round(best_sim, 3))
        node_rows = node_rows or best_rows
    group_tfidf = np.asarray(sparse[members].mean(axis=0)).ravel()
    node_tfidf = np.asarray(rep.sparse[node_rows].mean(axis=0)).ravel() if node_rows else np.zeros_like(group_tfidf)
    terms = contrast_terms(group_tfidf, node_tfidf, rep.vectorizer.get_feature_names_out())
    implemented = np.flatnonzero(corpus.papers["reference_impl"].to_numpy() != "")
    impl, impl_paper = "", ""
    if len(implemented):
        j = implemented[int(np.argmax(vs_corpus[members][:, implemented].mean(axis=0)))]
        impl, impl_paper = corpus.papers["reference_impl"].iloc[j], corpus.papers["id"].iloc[j]
    return Suggestion(list(members), " / ".join(terms) or "unnamed", terms, p, nearest, impl, impl_paper)


def _growth(corpus: Corpus, papers: pd.DataFrame, leaf_pick: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """New papers per leaf node (each paper counted at its best node) against the node's corpus papers."""
    rows = []
    for name, leaf in leaf_pick.items():
        tax = corpus.taxonomy(name)
        counts = pd.Series([n for ls in corpus.labels(name) for n in dict.fromkeys(ls)]).value_counts()
        new_counts = leaf["node"].value_counts()
        for node in sorted(set(counts.index) | set(new_counts.index)):
            before, added = int(counts.get(node, 0)), int(new_counts.get(node, 0))
            rows.append(dict(taxonomy=name, node=node, name=tax.nodes[node].name, corpus_papers=before,
                             new_papers=added, growth=round(added / before, 3) if before else float("inf")))
    frame = pd.DataFrame(rows, columns=["taxonomy", "node", "name", "corpus_papers", "new_papers", "growth"])
    return frame.sort_values(["taxonomy", "new_papers", "growth", "node"], ascending=[True, False, False, True],
                             kind="stable").reset_index(drop=True)


def _trends(corpus: Corpus, papers: pd.DataFrame, taxonomy: str | None) -> pd.DataFrame:
    """Papers per year for every node of the main taxonomy (a paper counts at its node and every ancestor): the
    corpus's labels, and the new papers at their best leaf."""
    columns = ["taxonomy", "depth", "level", "node", "name", "year", "corpus", "new"]
    if taxonomy is None:
        return pd.DataFrame(columns=columns)
    tax = corpus.taxonomy(taxonomy)
    counts: dict[tuple[str, int], list[int]] = {}

    def add(labels: list[str], year, which: int) -> None:
        if pd.isna(year) or not str(year).strip():
            return
        for node in dict.fromkeys(a for label in labels for a in tax.ancestors(label)):
            counts.setdefault((node, int(year)), [0, 0])[which] += 1

    for year, labels in zip(corpus.papers["year"], corpus.papers[tax.label_column]):
        add(split_labels(labels), year, 0)
    best = f"{tax.label_column}_best"
    if best in papers:
        for year, leaf in zip(papers["year"], papers[best]):
            add([leaf] if leaf else [], year, 1)
    rows = [dict(taxonomy=tax.id, depth=tax.nodes[node].depth,
                 level=tax.levels[min(tax.nodes[node].depth, len(tax.levels) - 1)], node=node,
                 name=tax.nodes[node].name, year=year, corpus=c, new=n)
            for (node, year), (c, n) in sorted(counts.items())]
    return pd.DataFrame(rows, columns=columns)
