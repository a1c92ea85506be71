"""`mimtax enrich`: ask one service about every paper that has no abstract yet, one batch at a time, saving the
store after each batch so that a failure or Ctrl-C loses at most the batch in flight."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from taxonomy.corpus.enrich.clients import ArxivClient, Client, OpenAlexClient, SemanticScholarClient
from taxonomy.corpus.enrich.http import FetchError
from taxonomy.corpus.folder import Corpus, load_corpus
from taxonomy.corpus.store import AbstractStore, store_path
from taxonomy.errors import UserError

SOURCES = {"arxiv": ArxivClient, "openalex": OpenAlexClient, "semanticscholar": SemanticScholarClient}


def make_client(source: str, batch_size: int | None = None) -> Client:
    if source not in SOURCES:
        raise UserError(f"unknown source '{source}'; choose {', '.join(SOURCES)}")
    return SOURCES[source](batch_size=batch_size)


@dataclass
class EnrichSummary:
    source: str
    store: Path
    asked: int
    abstracts_found: int
    arxiv_ids_found: int
    already_done: int
    requests: int


def enrich(corpus: Corpus | str | Path | None = None, source: str = "openalex", store: str | Path | None = None,
           batch_size: int | None = None, limit: int | None = None, retry_missing: bool = False,
           client: Client | None = None, progress: bool = True) -> EnrichSummary:
    """Fill missing abstracts and arXiv ids into the corpus's store from `source`; resumable."""
    if not isinstance(corpus, Corpus):
        corpus = load_corpus(corpus)
    client = client or make_client(source, batch_size)
    source = client.name
    path = Path(store) if store else store_path(corpus.path)
    kept = AbstractStore.load(path)
    known = kept.rows
    papers = [{"id": r.id, "title": r.title, "arxiv_id": r.arxiv_id or known.get(r.id, {}).get("arxiv_id", ""),
               "doi": getattr(r, "doi", "") or known.get(r.id, {}).get("doi", "")}
              for r in corpus.papers.itertuples(index=False)]
    todo = [p for p in papers if not known.get(p["id"], {}).get("abstract")
            and (retry_missing or source not in known.get(p["id"], {}).get("tried", []))]
    done = len(papers) - len(todo)
    todo = todo[:limit] if limit is not None else todo
    abstracts = arxiv_ids = 0
    from rich.progress import Progress

    try:
        with Progress(transient=True, disable=not progress) as bar:
            task = bar.add_task(f"asking {source}", total=len(todo))
            for start in range(0, len(todo), client.batch_size):
                batch = todo[start:start + client.batch_size]
                try:
                    found = client.fetch(batch)
                except FetchError as exc:
                    raise FetchError(f"{exc}; {abstracts} abstracts fetched before the failure are kept in {path}; "
                                     "run the same command again to resume") from None
                with kept.batch():  # one transaction a batch: kept whole, or not at all
                    for paper in batch:
                        hit = found.get(paper["id"])
                        had_arxiv = bool(paper["arxiv_id"])
                        kept.record(paper["id"], paper["title"], source, hit.abstract if hit else "",
                                    hit.arxiv_id if hit else "", hit.doi if hit else "")
                        abstracts += bool(hit and hit.abstract)
                        arxiv_ids += bool(hit and hit.arxiv_id and not had_arxiv)
                bar.advance(task, len(batch))
    finally:
        kept.close()
    return EnrichSummary(source, path, len(todo), abstracts, arxiv_ids, done, client.http.requests)
