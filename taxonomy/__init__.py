"""mimtax: a living taxonomy of masked image modeling.

The library API mirrors the CLI; heavy dependencies (torch, sentence-transformers) load only when a function
that needs them is called.
"""

from taxonomy.corpus import Corpus, load_corpus, save_papers, validate
from taxonomy.errors import CorpusError, Problem, UserError
from taxonomy.stats import compute_counts, compute_node_counts, compute_summary
from taxonomy.tree import Taxonomy, load_taxonomy
from taxonomy.query import query  # noqa: E402  (the function; the module stays importable as taxonomy.query)
from taxonomy.place import audit, place  # noqa: E402

__version__ = "0.1.0"
__all__ = [
    "Corpus", "CorpusError", "audit", "place", "query", "Problem", "Taxonomy", "UserError", "compute_counts", "compute_node_counts",
    "compute_summary", "load_corpus", "load_taxonomy", "save_papers", "validate",
]
