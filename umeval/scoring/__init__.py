"""Scoring: exact top-k search (``search``), ranking metrics (``metrics``), pass@k and the oracle (``passk``)."""
