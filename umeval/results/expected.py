"""How many tasks each roll-up group should hold: the counts of the whole benchmark a run's tasks belong to."""

from __future__ import annotations

from umeval.core.registry import discover_tasks
from umeval.core.spec import TaskSpec


def expected_counts(specs: list[TaskSpec]) -> dict[str, dict[str, int]]:
    """Task counts of each roll-up group in the whole benchmark the run's tasks belong to."""
    bench = {s.benchmark for s in specs}
    reg = discover_tasks()
    pool = [s for _, s in reg.items() if s.benchmark in bench]
    out: dict[str, dict[str, int]] = {"meta": {}, "modality": {}, "overall": {"All": len(pool)}}
    for s in pool:
        out["meta"][s.meta] = out["meta"].get(s.meta, 0) + 1
        out["modality"][s.modality] = out["modality"].get(s.modality, 0) + 1
    return out


def expected_by_benchmark(specs: list[TaskSpec]) -> dict[str, dict[str, dict[str, int]]]:
    """:func:`expected_counts` per benchmark of ``specs``."""
    return {b: expected_counts([s for s in specs if s.benchmark == b]) for b in {s.benchmark for s in specs}}
