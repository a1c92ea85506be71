"""One client per service. Each takes papers (id, title, arxiv_id, doi) and returns what it found per paper id.

Papers with an identifier are looked up in batches (arXiv `id_list`, OpenAlex `filter=doi:a|b`, Semantic
Scholar `POST /paper/batch`); papers with only a title are searched one by one and accepted only when the
normalised title matches.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from taxonomy.corpus.enrich.http import FetchError, HttpClient, NotFound
from taxonomy.corpus.folder import norm_title
from taxonomy.corpus.readers.records import clean_arxiv, clean_doi, squash

ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV_NS = "{http://arxiv.org/schemas/atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
ARXIV_DOI_PREFIX = "10.48550/arxiv."


@dataclass
class Found:
    abstract: str = ""
    arxiv_id: str = ""
    doi: str = ""


def _same_title(a: str, b: str) -> bool:
    return bool(a) and norm_title(a) == norm_title(b)


def _first_with_title(answer: object, key: str, service: str, title: str) -> dict | None:
    """The first record in a title search's answer (a list under `key`) whose title is the paper's."""
    if not isinstance(answer, dict) or not isinstance(answer.get(key), list):
        raise FetchError(f"malformed response from {service}: expected an object with a '{key}' list")
    return next((item for item in answer[key]
                 if isinstance(item, dict) and _same_title(item.get("title") or "", title)), None)


class Client:
    """Shared shape: `batch_size` papers per `fetch` call; `http` does throttling and retries."""

    name = ""
    batch_size = 50

    def __init__(self, http: HttpClient, batch_size: int | None = None):
        self.http = http
        self.batch_size = batch_size or self.batch_size

    def fetch(self, papers: list[dict]) -> dict[str, Found]:
        found: dict[str, Found] = {}
        with_ids = [p for p in papers if self._has_id(p)]
        if with_ids:
            found.update(self.by_ids(with_ids))
        for paper in papers:
            if paper["id"] not in found:
                hit = self.by_title(paper)
                if hit is not None:
                    found[paper["id"]] = hit
        return found

    def _has_id(self, paper: dict) -> bool:
        return bool(paper.get("arxiv_id") or paper.get("doi"))

    def by_ids(self, papers: list[dict]) -> dict[str, Found]:
        raise NotImplementedError

    def by_title(self, paper: dict) -> Found | None:
        raise NotImplementedError


# --- arXiv: Atom feed, 1 request / 3 s, `start`/`max_results` paging ------------------------------------

class ArxivClient(Client):
    name = "arxiv"
    batch_size = 50
    page_size = 50

    def __init__(self, http: HttpClient | None = None, batch_size: int | None = None, page_size: int | None = None):
        super().__init__(http or HttpClient(os.environ.get("MIMTAX_ARXIV_URL", "https://export.arxiv.org"),
                                            min_interval=3.0), batch_size)
        self.page_size = page_size or self.page_size

    def _has_id(self, paper: dict) -> bool:
        return bool(paper.get("arxiv_id"))

    def _feed(self, params: dict) -> tuple[list[dict], int]:
        raw = self.http.request("GET", "/api/query", params)
        try:
            root = ET.fromstring(raw)
        except ET.ParseError as exc:
            raise FetchError(f"malformed response from arXiv: not an Atom feed ({exc})") from None
        if root.tag != f"{ATOM}feed":
            raise FetchError(f"malformed response from arXiv: root element is {root.tag}, not an Atom feed")
        total = root.findtext(f"{OPENSEARCH}totalResults")
        entries = []
        for entry in root.findall(f"{ATOM}entry"):
            link = entry.findtext(f"{ATOM}id", "")
            arxiv_id = clean_arxiv(link) if "/abs/" in link else ""
            if not arxiv_id:
                continue  # arXiv reports a bad id as an entry titled "Error"
            entries.append({"arxiv_id": arxiv_id, "title": squash(entry.findtext(f"{ATOM}title", "")),
                            "abstract": squash(entry.findtext(f"{ATOM}summary", "")),
                            "doi": clean_doi(entry.findtext(f"{ARXIV_NS}doi", ""))})
        return entries, int(total) if total and total.strip().isdigit() else len(entries)

    def by_ids(self, papers: list[dict]) -> dict[str, Found]:
        wanted = {p["arxiv_id"]: p["id"] for p in papers}
        found: dict[str, Found] = {}
        start = 0
        while True:
            entries, total = self._feed({"id_list": ",".join(wanted), "start": start, "max_results": self.page_size})
            for e in entries:
                if e["arxiv_id"] in wanted:
                    found[wanted[e["arxiv_id"]]] = Found(e["abstract"], e["arxiv_id"], e["doi"])
            start += self.page_size
            if not entries or start >= min(total, len(wanted)):
                return found

    def by_title(self, paper: dict) -> Found | None:
        title = norm_title(paper["title"])
        if not title:
            return None
        entries, _ = self._feed({"search_query": f'ti:"{title}"', "start": 0, "max_results": 5})
        for e in entries:
            if _same_title(e["title"], paper["title"]):
                return Found(e["abstract"], e["arxiv_id"], e["doi"])
        return None


# --- OpenAlex: JSON, cursor paging, abstracts as inverted indexes ---------------------------------------

def inverted_to_text(index: dict | None) -> str:
    """OpenAlex ships abstracts as {word: [positions]}; put the words back in order."""
    if not isinstance(index, dict):
        return ""
    slots: dict[int, str] = {}
    for word, positions in index.items():
        for pos in positions if isinstance(positions, list) else []:
            if isinstance(pos, int):
                slots[pos] = word
    return " ".join(slots[i] for i in sorted(slots))


class OpenAlexClient(Client):
    name = "openalex"
    batch_size = 50  # OpenAlex accepts up to 100 OR-ed values in one filter
    page_size = 50
    select = "id,doi,title,abstract_inverted_index,ids,locations"

    def __init__(self, http: HttpClient | None = None, batch_size: int | None = None, page_size: int | None = None):
        super().__init__(http or HttpClient(os.environ.get("MIMTAX_OPENALEX_URL", "https://api.openalex.org"),
                                            min_interval=0.1), batch_size)
        self.page_size = page_size or self.page_size

    def _params(self, **extra: object) -> dict:
        params = {"select": self.select, **extra}
        if os.environ.get("OPENALEX_API_KEY"):
            params["api_key"] = os.environ["OPENALEX_API_KEY"]
        if os.environ.get("OPENALEX_MAILTO"):
            params["mailto"] = os.environ["OPENALEX_MAILTO"]
        return params

    def _works(self, **params: object) -> list[dict]:
        """Every work of a query, following `meta.next_cursor`."""
        works, cursor = [], "*"
        while cursor:
            page = self.http.get_json("/works", self._params(**params, cursor=cursor))
            if not isinstance(page, dict) or not isinstance(page.get("results"), list):
                raise FetchError("malformed response from OpenAlex: expected an object with a 'results' list")
            works += [w for w in page["results"] if isinstance(w, dict)]
            cursor = (page.get("meta") or {}).get("next_cursor") if page["results"] else None
        return works

    @staticmethod
    def _found(work: dict) -> Found:
        doi = clean_doi(work.get("doi") or "")
        urls = [str((loc or {}).get("landing_page_url") or "") for loc in work.get("locations") or []]
        arxiv = doi[len(ARXIV_DOI_PREFIX):] if doi.startswith(ARXIV_DOI_PREFIX) else clean_arxiv(*urls)
        return Found(inverted_to_text(work.get("abstract_inverted_index")), clean_arxiv(f"arXiv:{arxiv}") if arxiv
                     else "", "" if doi.startswith(ARXIV_DOI_PREFIX) else doi)

    def by_ids(self, papers: list[dict]) -> dict[str, Found]:
        keys: dict[str, str] = {}
        for p in papers:
            if p.get("doi"):
                keys[p["doi"].lower()] = p["id"]
            if p.get("arxiv_id"):
                keys[ARXIV_DOI_PREFIX + p["arxiv_id"].lower()] = p["id"]
        found: dict[str, Found] = {}
        for work in self._works(filter="doi:" + "|".join(keys), **{"per-page": self.page_size}):
            pid = keys.get(clean_doi(work.get("doi") or ""))
            if pid is not None:
                hit = self._found(work)
                if pid not in found or (hit.abstract and not found[pid].abstract):
                    found[pid] = hit
        return found

    def by_title(self, paper: dict) -> Found | None:
        title = norm_title(paper["title"])
        if not title:
            return None
        page = self.http.get_json("/works", self._params(filter=f"title.search:{title}", **{"per-page": 5}))
        match = _first_with_title(page, "results", "OpenAlex", paper["title"])
        return self._found(match) if match else None


# --- Semantic Scholar: POST /paper/batch (up to 500 ids), /paper/search/match for titles ----------------

class SemanticScholarClient(Client):
    name = "semanticscholar"
    batch_size = 100
    fields = "title,abstract,externalIds"

    def __init__(self, http: HttpClient | None = None, batch_size: int | None = None):
        key = os.environ.get("SEMANTIC_SCHOLAR_API_KEY") or os.environ.get("S2_API_KEY")
        super().__init__(http or HttpClient(os.environ.get("MIMTAX_S2_URL", "https://api.semanticscholar.org"),
                                            min_interval=1.0, headers={"x-api-key": key} if key else {}), batch_size)

    @staticmethod
    def _found(paper: dict) -> Found:
        ext = paper.get("externalIds") or {}
        return Found(squash(paper.get("abstract") or ""), clean_arxiv(f"arXiv:{ext['ArXiv']}") if ext.get("ArXiv") else "",
                     clean_doi(ext.get("DOI") or ""))

    def by_ids(self, papers: list[dict]) -> dict[str, Found]:
        ids = [f"ARXIV:{p['arxiv_id']}" if p.get("arxiv_id") else f"DOI:{p['doi']}" for p in papers]
        answer = self.http.post_json("/graph/v1/paper/batch", {"fields": self.fields}, {"ids": ids})
        if not isinstance(answer, list) or len(answer) != len(ids):
            raise FetchError("malformed response from Semantic Scholar: expected a list with one item per id")
        return {p["id"]: self._found(item) for p, item in zip(papers, answer) if isinstance(item, dict)}

    def by_title(self, paper: dict) -> Found | None:
        try:
            answer = self.http.get_json("/graph/v1/paper/search/match", {"query": paper["title"], "fields": self.fields})
        except NotFound:
            return None
        match = _first_with_title(answer, "data", "Semantic Scholar", paper["title"])
        return self._found(match) if match else None
