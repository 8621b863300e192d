"""The evaluation loop: specs -> items -> embeddings -> rankings -> scores -> result rows.

Each stage is a plain function; :func:`run` only strings them together, writes each task's results as soon
as they exist (so a crash loses at most the task in flight) and reuses finished results whose fingerprint
matches (so rerunning a finished suite encodes nothing and does not even load the model).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from umeval import results as res
from umeval.config import cache_dir, fingerprint, to_dict
from umeval.encoders.base import Advance, Encoder
from umeval.errors import ConfigError, UmevalError
from umeval.fixtures import ensure_generated
from umeval.loaders import LoadContext, load_task, preflight
from umeval.registry import discover_tasks, load_object, resolve_tasks
from umeval.scoring import metrics as M
from umeval.scoring.search import search_global, search_local, to_rankings
from umeval.spec import TaskSpec
from umeval.types import Embeddings, Item, Rankings, TaskData

log = logging.getLogger("umeval")


# ---------------------------------------------------------------- stages

class EmbeddingMemo:
    """Embeddings of this run, by (mode, item content key): each unique item is encoded once per run."""

    def __init__(self) -> None:
        self._vecs: dict[tuple[str, str], np.ndarray] = {}

    def embed(self, encoder: Encoder, items: Sequence[Item], *, mode: str, task: str,
              advance: Advance | None = None) -> Embeddings:
        keys = [it.key for it in items]
        todo: dict[str, Item] = {}
        for k, it in zip(keys, items):
            if (mode, k) not in self._vecs and k not in todo:
                todo[k] = it
        if advance and len(items) > len(todo):
            advance(len(items) - len(todo))
        if todo:
            unique = list(todo.values())
            vecs = encoder.embed(unique, mode=mode, task=task, advance=advance)
            for k, v in zip(todo, vecs):
                self._vecs[(mode, k)] = v
        return Embeddings(ids=[it.id for it in items], vectors=np.stack([self._vecs[(mode, k)] for k in keys]))


def metric_k(spec: TaskSpec, k: int) -> int:
    return max([k] + [M.parse_metric(m)[1] for m in spec.metrics])


def rank(data: TaskData, queries: Embeddings, candidates: Embeddings, *, k: int, backend: str = "auto",
         query_tile: int = 4096) -> Rankings:
    """Top-k of every query over its pool (``local``) or the whole corpus (``global``)."""
    if data.pools is None:
        found = search_global(queries.vectors, candidates.vectors, k, backend=backend, query_tile=query_tile)
    else:
        found = search_local(queries.vectors, candidates.vectors, data.pools, k)
    return to_rankings(queries.ids, candidates.ids, found)


def score(rankings: Rankings, data: TaskData, spec: TaskSpec) -> dict[str, np.ndarray]:
    return M.per_query(rankings, data.qrels, list(spec.metrics))


def per_query_table(rankings: Rankings, per_query: dict[str, np.ndarray]) -> pd.DataFrame:
    df = pd.DataFrame({"query_id": rankings.query_ids, **per_query, "tied": rankings.tied})
    df["topk_ids"] = [rankings.ranked_ids(q) for q in range(len(rankings.query_ids))]
    df["topk_scores"] = [row[row > -np.inf].astype(np.float32).tolist() for row in rankings.scores]
    return df


# ---------------------------------------------------------------- run

@dataclass
class RunSummary:
    output_dir: Path
    model: str
    leaderboard: pd.DataFrame
    scores: list[dict[str, Any]] = field(default_factory=list)
    encoder_calls: int = 0


def modes_of(cfg: DictConfig) -> list[str]:
    modes = ["disc", "gen"] if cfg.mode == "both" else [str(cfg.mode)]
    unsupported = [m for m in modes if m not in cfg.model.modes]
    if unsupported:
        raise ConfigError(f"model {cfg.model.name} has no {'/'.join(unsupported)} mode",
                          f"use mode={' or mode='.join(cfg.model.modes)}")
    return modes


def task_fingerprint(spec: TaskSpec, cfg: DictConfig, mode: str, instruction_set: str) -> str:
    model = {k: v for k, v in to_dict(cfg.model).items() if k != "description"}
    return fingerprint({
        "spec": spec.summary() | {"instructions": spec.instruction(instruction_set).__dict__,
                                  "options": spec.options, "metrics": spec.metrics, "max_queries": spec.max_queries},
        "model": model, "mode": mode, "instruction_set": instruction_set, "limit": cfg.limit,
        "k": metric_k(spec, cfg.scorer.k), "gen": to_dict(cfg.gen) if mode == "gen" else None,
    })


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


def run(cfg: DictConfig, *, encoder_factory: Callable[..., Encoder] | None = None,
        console: Any = None) -> RunSummary:
    from umeval.progress import Progress

    specs = resolve_tasks(cfg.task)  # unknown names fail here, before any data or weights
    modes = modes_of(cfg)
    inst_set = str(cfg.instruction_set or cfg.model.instruction_set)
    out_dir = Path(cfg.output_dir)
    cdir = cache_dir(cfg)
    data_root = Path(cfg.data_root).expanduser() if cfg.data_root else cdir / "MMEB-V2"
    gen_root = ensure_generated([s for s in specs if s.source.generated], cdir, seed=cfg.seed) \
        if any(s.source.generated for s in specs) else None

    def ctx_for(spec: TaskSpec) -> LoadContext:
        root = gen_root if spec.source.generated and gen_root else data_root
        return LoadContext(data_root=root, instruction_set=inst_set, limit=cfg.limit,
                           num_frames=int(cfg.model.num_frames), allow_hub=bool(cfg.hub))

    # What is already done, and a cheap check that the rest has data, before loading weights.
    plan: list[tuple[TaskSpec, str, str, Path]] = []
    done: dict[tuple[str, str], dict[str, Any]] = {}
    for spec in specs:
        for mode in modes:
            fp = task_fingerprint(spec, cfg, mode, inst_set)
            d = res.task_dir(out_dir, cfg.model.name, spec.name, mode)
            prev = _read_scores(d / "scores.json")
            if not cfg.overwrite and prev and prev.get("config_hash") == fp and prev.get("status") == "ok":
                done[(spec.name, mode)] = prev
            else:
                plan.append((spec, mode, fp, d))
    failed: dict[tuple[str, str], dict[str, Any]] = {}
    for spec in {p[0].name: p[0] for p in plan}.values():
        try:
            preflight(spec, ctx_for(spec))
        except UmevalError as e:
            if not cfg.keep_going:
                raise
            for s, mode, fp, _ in plan:
                if s.name == spec.name:
                    failed[(spec.name, mode)] = _failure(s, mode, fp, e, cfg, inst_set)
    plan = [p for p in plan if (p[0].name, p[1]) not in failed]

    encoder: Encoder | None = None
    memo = EmbeddingMemo()
    calls = 0
    with Progress(enabled=bool(cfg.progress), console=console) as progress:
        cached_data: tuple[str, TaskData] | None = None
        for spec, mode, fp, d in plan:
            try:
                if cached_data is None or cached_data[0] != spec.name:
                    cached_data = (spec.name, load_task(spec, ctx_for(spec)))
                data = cached_data[1]
                if encoder is None:
                    factory = encoder_factory or load_object(cfg.model.encoder)
                    encoder = factory(cfg.model, cache_dir=cdir, device=cfg.device, batch_size=cfg.batch_size,
                                      num_workers=cfg.num_workers)
                scores = evaluate_task(spec, data, encoder, mode=mode, cfg=cfg, fp=fp, out=d,
                                       inst_set=inst_set, progress=progress, memo=memo)
                done[(spec.name, mode)] = scores
            except UmevalError as e:
                if not cfg.keep_going:
                    raise
                failed[(spec.name, mode)] = _failure(spec, mode, fp, e, cfg, inst_set)
                res.write_json(d / "scores.json", failed[(spec.name, mode)])
        if encoder is not None:
            calls = encoder.calls

    all_scores = [done.get((s.name, m)) or failed[(s.name, m)] for s in specs for m in modes]
    board = res.leaderboard(all_scores, expected_counts(specs))
    model_dir = out_dir / cfg.model.name
    res.write_parquet(model_dir / "leaderboard.parquet", board)
    res.write_json(model_dir / "run.json", res.provenance(
        config=to_dict(cfg), tasks=[s.name for s in specs], modes=modes, encoder_calls=calls,
        failed=[f"{t}/{m}" for t, m in failed]))
    res.merge_all(out_dir)
    return RunSummary(output_dir=out_dir, model=cfg.model.name, leaderboard=board, scores=all_scores,
                      encoder_calls=calls)


def evaluate_task(spec: TaskSpec, data: TaskData, encoder: Encoder, *, mode: str, cfg: DictConfig, fp: str,
                  out: Path, inst_set: str, progress: Any, memo: EmbeddingMemo) -> dict[str, Any]:
    with progress.task(f"{spec.name} [{mode}] queries", len(data.queries)) as adv:
        q = memo.embed(encoder, data.queries, mode=mode, task=spec.name, advance=adv)
    with progress.task(f"{spec.name} [{mode}] candidates", len(data.candidates)) as adv:
        c = memo.embed(encoder, data.candidates, mode=mode, task=spec.name, advance=adv)
    rankings = rank(data, q, c, k=metric_k(spec, cfg.scorer.k), backend=cfg.scorer.backend,
                    query_tile=cfg.scorer.query_tile)
    per_query = score(rankings, data, spec)
    res.write_parquet(out / "per_query.parquet", per_query_table(rankings, per_query))
    scores = {
        "task": spec.name, "mode": mode, "model": cfg.model.name, "status": "ok", "error": None,
        "metrics": M.mean(per_query), "main_metric": spec.main_metric, "modality": spec.modality,
        "meta": spec.meta, "benchmark": spec.benchmark, "n_queries": len(data.queries),
        "n_candidates": len(data.candidates), "n_tied": int(rankings.tied.sum()), "instruction_set": inst_set,
        "decoding": json.dumps(to_dict(cfg.model.decoding), sort_keys=True) if mode == "gen" else None,
        "model_id": getattr(encoder, "model_id", cfg.model.path), "model_revision": str(cfg.model.revision),
        "dataset_revision": spec.source.revision, "config_hash": fp,
        **res.provenance(),
    }
    res.write_json(out / "scores.json", scores)
    return scores


def _read_scores(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _failure(spec: TaskSpec, mode: str, fp: str, err: Exception, cfg: DictConfig, inst_set: str) -> dict[str, Any]:
    log.error("%s", err)
    return {"task": spec.name, "mode": mode, "model": cfg.model.name, "status": "failed", "error": str(err),
            "metrics": {}, "main_metric": spec.main_metric, "modality": spec.modality, "meta": spec.meta,
            "benchmark": spec.benchmark, "n_queries": 0, "n_tied": 0, "instruction_set": inst_set,
            "model_id": cfg.model.path, "model_revision": str(cfg.model.revision),
            "dataset_revision": spec.source.revision, "config_hash": fp, **res.provenance()}
