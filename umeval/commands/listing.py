"""The rows of ``umeval list tasks``: each spec's summary plus its official size and its citations."""

from __future__ import annotations

from typing import Any


def task_rows() -> list[dict[str, Any]]:
    """One row per registered task.

    ``queries`` and ``candidates`` are the official sizes (:mod:`umeval.data.official_sizes`; None for a task
    outside MMEB-V2), ``citation`` the spec's citations (the benchmark's first) and ``source`` the last of them,
    the paper of the data the task is built on.
    """
    from umeval.core.registry import discover_tasks
    from umeval.data.official_sizes import official_sizes

    sizes = official_sizes()
    rows = []
    for _, spec in discover_tasks().items():
        size = sizes.get(spec.name)
        rows.append(spec.summary() | {
            "queries": size.queries if size else None, "candidates": size.candidates if size else None,
            "citation": list(spec.citation), "source": spec.citation[-1] if spec.citation else ""})
    return rows
