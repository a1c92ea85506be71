"""What a run writes: the files, the pictures, the interactive page and LaTeX for a survey."""
