"""Keep a taxonomy current: what is new, where it goes, and which categories the survey is missing."""

from taxonomy.update.run import NewPapers, WhatsNew, compute_whats_new, read_new_papers

__all__ = ["NewPapers", "WhatsNew", "compute_whats_new", "read_new_papers"]
