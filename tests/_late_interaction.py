"""Shared by the late-interaction families' end-to-end tests: run ``Mini-VisDoc`` on a tiny checkpoint, then
check every query's top-5 and the task's ndcg_linear@5 against an independent computation (a per-pair MaxSim
loop over token matrices the test computed itself, a stable sort, nDCG by its formula)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from umeval.core.config import compose_config


def run_mini_visdoc(preset: str, out: Path, cache_dir: Path) -> tuple[dict[str, Any], Any]:
    """``umeval run task=Mini-VisDoc model=<preset>`` on the CPU, 3 items a batch; its score row and the task data."""
    from umeval.core.registry import resolve_tasks
    from umeval.data.embedded import ensure_generated
    from umeval.loaders import LoadContext, load_task
    from umeval.run.runner import run

    cfg = compose_config(["task=Mini-VisDoc", f"model={preset}", f"output_dir={out}", f"cache_dir={cache_dir}",
                          "progress=false", "backend=hf", "device=cpu", "batch_size=3", "num_workers=0", "hub=false"])
    (row,) = run(cfg).scores
    assert row["status"] == "ok" and row["search_backend"] == "maxsim:numpy", row
    spec = resolve_tasks("Mini-VisDoc")[0]
    return row, load_task(spec, LoadContext(data_root=ensure_generated([spec], cache_dir), instruction_set="ume-r1"))


def assert_maxsim_ranking(out: Path, preset: str, row: dict[str, Any], data: Any, queries: list[np.ndarray],
                          pages: list[np.ndarray]) -> None:
    """The run's top-5 per query and its ndcg_linear@5 equal MaxSim over ``queries`` x ``pages`` by hand."""
    got = pd.read_parquet(out / preset / "tasks" / "Mini-VisDoc" / "disc" / "per_query.parquet").set_index("query_id")
    ids = [c.id for c in data.candidates]
    ndcgs = []
    for q, qm in zip(data.queries, queries):
        s = np.array([sum(max(float(t @ u) for u in pm) for t in qm) for pm in pages])
        top = [ids[j] for j in np.argsort(-s, kind="stable")[:5]]
        assert list(got.loc[q.id, "topk_ids"])[:5] == top, q.id
        rel = data.qrels[q.id]
        dcg = sum(rel.get(c, 0.0) / math.log2(i + 2) for i, c in enumerate(top))
        ideal = sum(g / math.log2(i + 2) for i, g in enumerate(sorted(rel.values(), reverse=True)[:5]))
        ndcgs.append(dcg / ideal)
    assert row["metrics"]["ndcg_linear@5"] == pytest.approx(float(np.mean(ndcgs)), abs=1e-12)
