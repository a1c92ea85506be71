"""Building the tree: embeddings, clustering, branch names, stable cluster ids and agreement scores."""
