"""`mimtax enrich` against a local HTTP server that answers in each service's real format (texts written for the
tests): batching, pagination, HTTP 429 with Retry-After, a timeout, a malformed response, and resume."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from taxonomy.corpus.enrich import FetchError, HttpClient, enrich
from taxonomy.corpus.enrich.clients import ArxivClient, OpenAlexClient, SemanticScholarClient, inverted_to_text
from taxonomy.corpus.enrich.http import retry_after
from taxonomy.corpus.folder import load_corpus
from taxonomy.corpus.store import AbstractStore
from taxonomy.corpus.text import paper_texts
from tests.conftest import run_cli, write_papers

HEADER = "id,title,year,arxiv_id,doi"
PAPERS = [  # six papers: four with an arXiv id, one with a DOI, one with only a title
    ("p1", "Masked Patches One", "2021", "2101.00001", ""),
    ("p2", "Masked Patches Two", "2021", "2101.00002", ""),
    ("p3", "Masked Patches Three", "2022", "2201.00003", ""),
    ("p4", "Masked Patches Four", "2022", "2201.00004", ""),
    ("p5", "Masked Patches Five", "2023", "", "10.1000/five"),
    ("p6", "Masked Patches Six", "2023", "", ""),
]
BY_ARXIV = {p[3]: p for p in PAPERS if p[3]}


def abstract_of(pid: str) -> str:
    return f"Test abstract for {pid}: hide patches and predict them."


class Service:
    """Routes requests to a handler function and records them; `fail_after` turns on errors mid-run."""

    def __init__(self, handler):
        self.handler = handler
        self.log: list[dict] = []
        self.lock = threading.Lock()

    def __call__(self, request: BaseHTTPRequestHandler) -> None:
        parsed = urllib.parse.urlsplit(request.path)
        query = {k: v[0] for k, v in urllib.parse.parse_qs(parsed.query).items()}
        length = int(request.headers.get("Content-Length") or 0)
        body = json.loads(request.rfile.read(length)) if length else None
        entry = dict(method=request.command, path=parsed.path, query=query, body=body,
                     headers={k.lower(): v for k, v in request.headers.items()})
        with self.lock:
            self.log.append(entry)
            number = len(self.log)
        status, headers, payload = self.handler(entry, number)
        try:
            request.send_response(status)
            for key, value in headers.items():
                request.send_header(key, value)
            request.send_header("Content-Length", str(len(payload)))
            request.end_headers()
            request.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture
def server():
    """Start a local server; `server(handler)` installs a handler and returns (base_url, service)."""
    state: dict = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            state["service"](self)

        do_POST = do_GET

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()

    def install(handler):
        state["service"] = Service(handler)
        return f"http://127.0.0.1:{httpd.server_address[1]}", state["service"]

    yield install
    httpd.shutdown()
    httpd.server_close()


def fast_http(base: str, **kw) -> HttpClient:
    waits: list[float] = []
    return HttpClient(base, timeout=kw.pop("timeout", 2.0), backoff=0.01, sleep=lambda s: waits.append(s), **kw)


# --- service formats ----------------------------------------------------------------------------------

def atom(entries: list[tuple], total: int | None = None) -> bytes:
    items = "".join(
        f"<entry><id>http://arxiv.org/abs/{aid}v2</id><title>{title}</title><summary>\n  {abstract}\n</summary>"
        f"<arxiv:doi>10.1000/{aid}</arxiv:doi></entry>" for aid, title, abstract in entries)
    return (f'<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
            f'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom">'
            f"<title>arXiv Query</title><opensearch:totalResults>{total if total is not None else len(entries)}"
            f"</opensearch:totalResults>{items}</feed>").encode()


def arxiv_handler(entry: dict, number: int):
    q = entry["query"]
    if "id_list" in q:
        ids = q["id_list"].split(",")
        start, size = int(q["start"]), int(q["max_results"])
        page = [(i, BY_ARXIV[i][1], abstract_of(BY_ARXIV[i][0])) for i in ids[start:start + size] if i in BY_ARXIV]
        return 200, {"Content-Type": "application/atom+xml"}, atom(page, len(ids))
    title = q["search_query"].split('"')[1]
    hits = [("2301.00099", p[1], abstract_of(p[0])) for p in PAPERS if p[1].lower() == title]
    return 200, {}, atom(hits + [("2301.00098", "Something Else Entirely", "other")])


def inverted(text: str) -> dict:
    index: dict[str, list[int]] = {}
    for pos, word in enumerate(text.split()):
        index.setdefault(word, []).append(pos)
    return index


def openalex_work(p: tuple) -> dict:
    doi = f"https://doi.org/10.48550/arxiv.{p[3]}" if p[3] else f"https://doi.org/{p[4]}"
    return {"id": f"https://openalex.org/W{p[0]}", "doi": doi, "title": p[1],
            "abstract_inverted_index": inverted(abstract_of(p[0])), "locations": []}


def openalex_handler(entry: dict, number: int):
    q = entry["query"]
    if q["filter"].startswith("title.search:"):
        title = q["filter"].split(":", 1)[1]
        return 200, {}, json.dumps({"meta": {"count": 1}, "results": [
            openalex_work(p) for p in PAPERS if p[1].lower() == title]}).encode()
    wanted = [d.lower() for d in q["filter"][len("doi:"):].split("|")]
    works = [openalex_work(p) for p in PAPERS if openalex_work(p)["doi"][len("https://doi.org/"):].lower() in wanted]
    size = int(q["per-page"])
    start = 0 if q["cursor"] == "*" else int(q["cursor"])
    page = works[start:start + size]
    nxt = str(start + size) if start + size < len(works) else None  # OpenAlex: null at the end
    return 200, {"Content-Type": "application/json"}, json.dumps(
        {"meta": {"count": len(works), "next_cursor": nxt}, "results": page}).encode()


def s2_handler(entry: dict, number: int):
    if entry["path"].endswith("/paper/batch"):
        out = []
        for key in entry["body"]["ids"]:
            p = BY_ARXIV.get(key.split(":", 1)[1]) if key.startswith("ARXIV:") else \
                next((x for x in PAPERS if x[4] and f"DOI:{x[4]}" == key), None)
            out.append(None if p is None or p[0] == "p2" else
                       {"paperId": p[0], "title": p[1], "abstract": abstract_of(p[0]),
                        "externalIds": {"ArXiv": p[3], "DOI": p[4]} if p[3] else {"DOI": p[4]}})
        return 200, {"Content-Type": "application/json"}, json.dumps(out).encode()
    return 404, {}, json.dumps({"error": "Title match not found"}).encode()


def papers_of(ids=None) -> list[dict]:
    return [dict(id=p[0], title=p[1], arxiv_id=p[3], doi=p[4]) for p in PAPERS if ids is None or p[0] in ids]


@pytest.fixture
def corpus(tmp_path) -> Path:
    folder = write_papers(tmp_path / "corpus", HEADER, *[",".join(p) for p in PAPERS])
    for yaml_file in (folder / "taxonomies").glob("*.yaml"):
        yaml_file.unlink()  # labels are not needed here
    return folder


# --- the clients --------------------------------------------------------------------------------------

def test_arxiv_batches_pages_and_title_search(server):
    base, service = server(arxiv_handler)
    client = ArxivClient(fast_http(base), batch_size=6, page_size=2)
    found = client.fetch(papers_of())
    id_requests = [e["query"] for e in service.log if "id_list" in e["query"]]
    assert [q["start"] for q in id_requests] == ["0", "2"]  # 4 ids in pages of 2
    assert all(q["id_list"] == "2101.00001,2101.00002,2201.00003,2201.00004" for q in id_requests)
    assert {k: v.abstract for k, v in found.items()} == {p[0]: abstract_of(p[0]) for p in PAPERS}
    assert found["p6"].arxiv_id == "2301.00099"  # title search accepted only the exact title
    assert found["p1"].arxiv_id == "2101.00001" and found["p1"].doi == "10.1000/2101.00001"


def test_openalex_cursor_pagination_inverted_abstracts_and_key(server, monkeypatch):
    monkeypatch.setenv("OPENALEX_API_KEY", "secret-test-key")
    base, service = server(openalex_handler)
    client = OpenAlexClient(fast_http(base), page_size=2)
    found = client.fetch(papers_of())
    cursors = [e["query"]["cursor"] for e in service.log if e["query"]["filter"].startswith("doi:")]
    assert cursors == ["*", "2", "4"]  # 5 works in pages of 2
    assert all(e["query"]["api_key"] == "secret-test-key" for e in service.log)
    assert {k: v.abstract for k, v in found.items()} == {p[0]: abstract_of(p[0]) for p in PAPERS}
    assert found["p3"].arxiv_id == "2201.00003" and found["p5"].doi == "10.1000/five"
    assert inverted_to_text({"b": [1], "a": [0, 2]}) == "a b a"


def test_semantic_scholar_batches_and_misses(server, monkeypatch):
    monkeypatch.setenv("SEMANTIC_SCHOLAR_API_KEY", "s2-test-key")
    base, service = server(s2_handler)
    client = SemanticScholarClient(fast_http(base, headers={"x-api-key": "s2-test-key"}), batch_size=2)
    found = {}
    for start in range(0, 6, client.batch_size):
        found.update(client.fetch(papers_of()[start:start + 2]))
    posts = [e for e in service.log if e["method"] == "POST"]
    assert [e["body"]["ids"] for e in posts] == [["ARXIV:2101.00001", "ARXIV:2101.00002"],
                                                 ["ARXIV:2201.00003", "ARXIV:2201.00004"], ["DOI:10.1000/five"]]
    assert all(e["headers"].get("x-api-key") == "s2-test-key" for e in service.log)
    assert set(found) == {"p1", "p3", "p4", "p5"}  # p2 is null in the batch answer, p6's title search is a 404


def test_rate_limit_429_retry_after_is_honoured(server):
    def handler(entry, number):
        if number == 1:
            return 429, {"Retry-After": "7"}, b"slow down"
        return openalex_handler(entry, number)

    base, _ = server(handler)
    http = fast_http(base)
    found = OpenAlexClient(http).fetch(papers_of(["p1"]))
    assert http.waits == [7.0] and found["p1"].abstract == abstract_of("p1")
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(10.0)


def test_min_interval_spaces_requests():
    slept: list[float] = []
    http = HttpClient("http://127.0.0.1:9", min_interval=3.0, sleep=slept.append)
    http._throttle()
    http._throttle()
    assert len(slept) == 1 and 2.9 < slept[0] <= 3.0


def test_timeout_is_retried_then_reported(server):
    def handler(entry, number):
        if number == 1:
            time.sleep(0.6)
        return openalex_handler(entry, number)

    base, service = server(handler)
    found = OpenAlexClient(fast_http(base, timeout=0.2)).fetch(papers_of(["p1"]))
    assert found["p1"].abstract and len(service.log) >= 2
    base, _ = server(lambda entry, number: (time.sleep(0.6), openalex_handler(entry, number))[1])
    with pytest.raises(FetchError, match="after 2 tries"):
        OpenAlexClient(fast_http(base, timeout=0.2, retries=1)).fetch(papers_of(["p1"]))


@pytest.mark.parametrize("client_class, payload, words", [
    (ArxivClient, b"<html>maintenance</html>", "not an Atom feed"),
    (ArxivClient, b"<feed><unclosed>", "not an Atom feed"),
    (OpenAlexClient, b"{not json", "not JSON"),
    (OpenAlexClient, b'{"results": "nope"}', "'results' list"),
    (SemanticScholarClient, b'{"data": []}', "one item per id"),
])
def test_malformed_responses_are_clear_errors(server, client_class, payload, words):
    base, _ = server(lambda entry, number: (200, {}, payload))
    with pytest.raises(FetchError, match=words):
        client_class(fast_http(base)).fetch(papers_of(["p1"]))


# --- the enrich job ----------------------------------------------------------------------------------

def test_enrich_keeps_progress_and_resumes_after_a_failure(server, corpus):
    healthy = {"on": False}

    def handler(entry, number):
        if not healthy["on"] and number > 1:
            return 500, {}, b"down"
        return openalex_handler(entry, number)

    base, service = server(handler)
    with pytest.raises(FetchError, match="run the same command again to resume"):
        enrich(corpus, client=OpenAlexClient(fast_http(base, retries=1), batch_size=2), progress=False)
    store = AbstractStore.load(corpus / "store" / "abstracts.sqlite")
    assert {pid for pid in store.rows if store.abstract(pid)} == {"p1", "p2"}  # the first batch survived
    healthy["on"] = True
    service.log.clear()
    summary = enrich(corpus, client=OpenAlexClient(fast_http(base), batch_size=2), progress=False)
    asked = {d for e in service.log for d in e["query"]["filter"].split(":", 1)[1].split("|")}
    assert "10.48550/arxiv.2101.00001" not in asked and "10.48550/arxiv.2201.00003" in asked
    assert summary.asked == 4 and summary.already_done == 2 and summary.abstracts_found == 4
    store = AbstractStore.load(corpus / "store" / "abstracts.sqlite")
    assert all(store.abstract(p[0]) == abstract_of(p[0]) for p in PAPERS)
    assert store.rows["p6"]["arxiv_id"] == ""  # OpenAlex had no arXiv DOI for the title-only paper
    again = enrich(corpus, client=OpenAlexClient(fast_http(base), batch_size=2), progress=False)
    assert again.asked == 0  # nothing left to ask


def test_store_feeds_the_texts_of_every_job(server, corpus):
    base, _ = server(openalex_handler)
    enrich(corpus, client=OpenAlexClient(fast_http(base)), progress=False)
    from taxonomy.corpus.store import store_rows

    loaded = load_corpus(corpus)
    texts = paper_texts(loaded.papers, None, store_rows(loaded))
    assert texts.n_with_abstract == 6 and texts.abstracts[0] == abstract_of("p1")
    assert not (Path(loaded.path) / "papers.csv").read_text(encoding="utf-8").count("Test abstract")


def test_enrich_cli_end_to_end_and_network_failure(server, corpus):
    base, _ = server(openalex_handler)
    ok = run_cli("enrich", "--corpus", str(corpus), "--source", "openalex", MIMTAX_OPENALEX_URL=base)
    assert ok.returncode == 0, ok.stderr
    assert "6 abstracts" in ok.stdout
    dead = run_cli("enrich", "--corpus", str(corpus), "--source", "semanticscholar", "--retry-missing",
                   MIMTAX_S2_URL="http://127.0.0.1:9")
    # every paper has an abstract now, so nothing is asked: no network needed
    assert dead.returncode == 0 and "asked about 0 papers" in dead.stdout
    (corpus / "store" / "abstracts.sqlite").unlink()
    failed = run_cli("enrich", "--corpus", str(corpus), "--source", "arxiv", MIMTAX_ARXIV_URL="http://127.0.0.1:9",
                     MIMTAX_HTTP_RETRIES="0")
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert "resume" in failed.stderr and len(failed.stderr.strip().splitlines()) == 1
    unknown = run_cli("enrich", "--corpus", str(corpus), "--source", "crossref")
    assert unknown.returncode == 1 and "choose arxiv, openalex, semanticscholar" in unknown.stderr
