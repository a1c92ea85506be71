"""Moved to `taxonomy.corpus.impls` (plain corpus data, used by the clustering stage); kept importable here."""

from taxonomy.corpus.impls import group_implementations, nearest_by_facets

__all__ = ["group_implementations", "nearest_by_facets"]
