"""Partial runs: a quick look (``limit=N``) lives beside the full result, never in its place.

A run with ``limit`` scores the first N queries of each task: its numbers are not the task's.  Written where the
full results live, it would replace them (and mark every other task stale); so its results go to their own folder,
``<output_dir>/partial/<key>/`` (the key names the partial settings, e.g. ``limit=2``), and every row it writes
carries the key (``partial``) and a model name marked with it (``tiny-qwen2vl [limit=2]``), so any table that
shows it (``show``, ``report``, ``export``) says it is partial.  ``export --format mmeb-v2`` refuses partial rows
unless ``--allow-partial`` is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def partial_key(cfg: Any) -> str | None:
    """The key of a partial run (``limit=N``), or None for a full one."""
    limit = cfg.get("limit") if hasattr(cfg, "get") else getattr(cfg, "limit", None)
    return f"limit={limit}" if limit is not None else None


def results_root(cfg: Any) -> Path:
    """Where a run writes its results: ``output_dir``, or ``output_dir/partial/<key>`` for a partial run."""
    key = partial_key(cfg)
    out = Path(cfg.output_dir)
    return out / "partial" / key if key else out


def marked_model(name: str, key: str | None) -> str:
    """The model name a partial row shows (``name [key]``); the plain name for a full run."""
    return f"{name} [{key}]" if key else name
