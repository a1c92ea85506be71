"""Using the tree: queries, semantic search, placing a new paper, leaderboards and reference implementations."""
