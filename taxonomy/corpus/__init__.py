"""The papers going in: the corpus folder, survey taxonomies, texts, facets, imports and fetched abstracts."""
