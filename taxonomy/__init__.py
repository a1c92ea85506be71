"""mimtax: a living taxonomy of masked image modeling.

The package is grouped by pipeline stage: `corpus` (the papers going in), `clustering` (building the tree),
`render` (what a run writes), `explore` (queries, placement), `update` (keeping a taxonomy current) and `scale`
(beyond one machine). The names below are the library API that mirrors the CLI; heavy dependencies (scipy's
clustering, torch, sentence-transformers) load only when a function that needs them is first used.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from taxonomy.corpus.folder import Corpus, load_corpus, save_papers, validate
from taxonomy.corpus.stats import compute_counts, compute_node_counts, compute_summary
from taxonomy.corpus.tree import Taxonomy, load_taxonomy
from taxonomy.errors import CorpusError, Problem, UserError
from taxonomy.explore.place import audit, place
from taxonomy.explore.query import query

# the dendrogram job's entry points, imported on first use (PEP 562) so `import taxonomy` stays light
_LAZY = {
    "build_dendrogram": "taxonomy.clustering.dendrogram",
    "score_table": "taxonomy.render.export",
    "write_outputs": "taxonomy.render.export",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'taxonomy' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__version__ = "0.1.0"
__all__ = [
    "Corpus", "CorpusError", "audit", "build_dendrogram", "place", "query", "Problem", "Taxonomy", "UserError",
    "compute_counts", "compute_node_counts", "compute_summary", "load_corpus", "load_taxonomy", "save_papers",
    "score_table", "validate", "write_outputs",
]
