"""Scoring: exact top-k search (``search``), ranking metrics (``metrics``), pass@k and the oracle (``passk``)."""

from umeval.scoring.metrics import from_scores, mean, parse_metric, per_query
from umeval.scoring.search import search_global, search_local, to_rankings

__all__ = ["from_scores", "mean", "parse_metric", "per_query", "search_global", "search_local", "to_rankings"]
