"""Fill missing abstracts and arXiv ids from arXiv, OpenAlex or Semantic Scholar into a corpus's local store.

This is the only part of mimtax that uses the network, and only when `mimtax enrich` is run.
"""

from taxonomy.corpus.enrich.http import FetchError, HttpClient
from taxonomy.corpus.enrich.run import SOURCES, enrich, make_client

__all__ = ["FetchError", "HttpClient", "SOURCES", "enrich", "make_client"]
