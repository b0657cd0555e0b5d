"""API-Bank evaluation (issue 5): call extraction, the real tools, ToolSearcher retrieval,
executed-call correctness (official and corrected modes), ROUGE-L, and the scorer entry."""

from .score import pool, score_split

__all__ = ["score_split", "pool"]
