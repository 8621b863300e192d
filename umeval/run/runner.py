"""The evaluation loop: specs -> items -> embeddings -> rankings -> scores -> result rows.

:func:`run` only strings the stages together: plan what is left (:mod:`umeval.run.planning`: finished results whose
fingerprint matches are reused, so rerunning a finished suite encodes nothing and does not even load the model),
then evaluate each planned task (:mod:`umeval.run.evaluate`: encode through the embedding memo of
:mod:`umeval.run.memo`, rank, score), writing each task's result (:mod:`umeval.results.task_result`) as soon as it
exists, so a crash loses at most the task in flight; then rebuild the leaderboard (:mod:`umeval.results.board`).
:func:`encode_shard` is the encode-only pass of one shard.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import DictConfig

from umeval.core.config import cache_dir, to_dict
from umeval.core.errors import ConfigError, UmevalError
from umeval.core.registry import load_object, resolve_tasks
from umeval.core.spec import TaskSpec
from umeval.core.types import Item, TaskData
from umeval.data.embedded import ensure_generated
from umeval.encoders.base import Encoder
from umeval.loaders import LoadContext, load_task
from umeval.models.family import encoder_ref as family_encoder_ref
from umeval.models.family import roles_differ
from umeval.results import board
from umeval.results import files as res
from umeval.results.expected import expected_by_benchmark as expected_by_benchmark
from umeval.results.expected import expected_counts as expected_counts
from umeval.results.partial import results_root
from umeval.results.task_result import TaskResult
from umeval.run.datafp import data_fingerprint

# Re-exported: the stages' names as earlier versions of this module held them.
from umeval.run.evaluate import evaluate_task as evaluate_task
from umeval.run.evaluate import oracle_scores as oracle_scores
from umeval.run.evaluate import per_query_table as per_query_table
from umeval.run.evaluate import rank as rank
from umeval.run.evaluate import readable as readable
from umeval.run.evaluate import score as score
from umeval.run.evaluate import trace_diagnostics as trace_diagnostics
from umeval.run.evaluate import traces_table as traces_table
from umeval.run.fingerprints import metric_k as metric_k
from umeval.run.fingerprints import setup_fingerprint as setup_fingerprint
from umeval.run.fingerprints import store_key
from umeval.run.fingerprints import task_fingerprint as task_fingerprint
from umeval.run.mediahash import MediaHashes
from umeval.run.memo import EmbeddingMemo as EmbeddingMemo
from umeval.run.planning import ResumePlan as ResumePlan
from umeval.run.planning import TaskPlan as TaskPlan
from umeval.run.planning import plan_run, record_failure
from umeval.run.runtime import resolve_backend, resolve_runtime
from umeval.run.shard import assign, item_cost, parse_shard
from umeval.run.store import EmbeddingStore

log = logging.getLogger("umeval")

# ---------------------------------------------------------------- run

@dataclass
class RunSummary:
    output_dir: Path
    model: str
    leaderboard: pd.DataFrame
    scores: list[dict[str, Any]] = field(default_factory=list)
    encoder_calls: int = 0
    failed: list[str] = field(default_factory=list)  # "task/mode" of this command's failures (keep_going)


def modes_of(cfg: DictConfig) -> list[str]:
    modes = ["disc", "gen"] if cfg.mode == "both" else [str(cfg.mode)]
    unsupported = [m for m in modes if m not in cfg.model.modes]
    if unsupported:
        raise ConfigError(f"model {cfg.model.name} has no {'/'.join(unsupported)} mode",
                          f"use mode={' or mode='.join(cfg.model.modes)}")
    return modes


def encoder_ref(cfg: DictConfig) -> str:
    """The run's encoder class: the family's for the resolved backend (:func:`umeval.models.family.encoder_ref`)."""
    return family_encoder_ref(cfg, resolve_backend(cfg))


def encoder_fingerprint(cfg: DictConfig, runtime: dict[str, Any] | None = None) -> str:
    """The embedding store's encoder key: :func:`umeval.run.fingerprints.store_key` (kept under its old name)."""
    return store_key(cfg, runtime)


def open_store(cdir: Path, cfg: DictConfig) -> EmbeddingStore:
    """The model's embedding store; float16 vectors live in their own folder, never mixed with float32 ones."""
    name = cfg.model.name if cfg.store_dtype == "float32" else f"{cfg.model.name}@{cfg.store_dtype}"
    return EmbeddingStore(cdir / "embeddings" / name, dtype=cfg.store_dtype,
                          media_hashes=MediaHashes(cdir / "embeddings" / "media-hashes.sqlite"))



def run(cfg: DictConfig, *, encoder_factory: Callable[..., Encoder] | None = None,
        console: Any = None) -> RunSummary:
    from umeval.run.progress import Progress

    specs = resolve_tasks(cfg.task)  # unknown names fail here, before any data or weights
    modes = modes_of(cfg)
    inst_set = str(cfg.instruction_set or cfg.model.instruction_set)
    runtime = resolve_runtime(cfg)  # an unavailable device fails here, in one line
    out_dir = results_root(cfg)  # a partial run (limit=) writes beside the full results, never over them
    res.check_writable(out_dir)  # a read-only output folder stops here, not after encoding
    cdir = cache_dir(cfg)
    data_root = Path(cfg.data_root).expanduser() if cfg.data_root else cdir / "MMEB-V2"
    gen_root = ensure_generated([s for s in specs if s.source.generated], cdir, seed=cfg.seed) \
        if any(s.source.generated for s in specs) else None

    def ctx_for(spec: TaskSpec) -> LoadContext:
        root = gen_root if spec.source.generated and gen_root else data_root
        return LoadContext(data_root=root, instruction_set=inst_set, limit=cfg.limit,
                           num_frames=int(cfg.model.num_frames), allow_hub=bool(cfg.hub), spill_dir=cdir / "pages")

    def row_extra(spec: TaskSpec, data: TaskData | None = None) -> dict[str, Any]:
        """What every result of ``spec`` carries besides the config and the runtime: setup hash, data fingerprint."""
        dfp = data_fingerprint(data, ctx_for(spec).data_root) if data is not None else None
        return {"setup_hash": setup_fingerprint(spec, cfg, inst_set, runtime), "data_fingerprint": dfp}

    # What is already done (same config, same data), and a cheap check that the rest has data, before
    # loading weights.
    plan = plan_run(specs, modes, cfg, inst_set=inst_set, runtime=runtime, out_dir=out_dir, ctx_for=ctx_for,
                    row_extra=row_extra)

    # The model loads only when some item really has to be encoded.
    encoder: Encoder | None = None

    def get_encoder() -> Encoder:
        nonlocal encoder
        if encoder is None:
            factory = encoder_factory or load_object(encoder_ref(cfg))
            encoder = factory(cfg.model, cache_dir=cdir, device=cfg.device, batch_size=cfg.batch_size,
                              num_workers=cfg.num_workers)
        return encoder

    # Items per encoder call (and per store write): whole tasks up to model.submit_items, so vLLM's continuous
    # batching keeps the GPU full; the HF encoder forms its own batches inside a call.
    memo = EmbeddingMemo(open_store(cdir, cfg), encoder_fingerprint(cfg, runtime),
                         chunk=max(8 * int(cfg.batch_size), int(cfg.model.get("submit_items") or 0)),
                         role_keyed=roles_differ(cfg.model))
    shard = parse_shard(cfg.shard)
    if shard is not None:
        calls = encode_shard(shard, plan.todo, cfg, memo, get_encoder, ctx_for, console)
        index, count = shard
        marker = out_dir / cfg.model.name / "shards" / f"{index}-of-{count}.json"
        res.write_json(marker, res.provenance(shard=cfg.shard, encoder_calls=calls,
                                              tasks=[f"{t.spec.name}/{t.mode}" for t in plan.todo]))
        return RunSummary(output_dir=out_dir, model=cfg.model.name, leaderboard=pd.DataFrame(),
                          encoder_calls=calls)
    finished: dict[tuple[str, str], TaskResult] = dict(plan.done)
    failed: dict[tuple[str, str], TaskResult] = dict(plan.failed)
    calls = 0
    with Progress(enabled=bool(cfg.progress), console=console) as progress:
        progress.suite(len(plan.todo))
        loaded: dict[str, TaskData] = {}  # the last task loaded (its modes follow each other in the plan)
        for task in plan.todo:
            try:
                if task.spec.name not in loaded:
                    loaded.clear()
                    loaded[task.spec.name] = load_task(task.spec, ctx_for(task.spec))
                data = loaded[task.spec.name]
                finished[task.key] = evaluate_task(task, data, get_encoder, cfg=cfg, inst_set=inst_set,
                                                   runtime=runtime, progress=progress, memo=memo,
                                                   extra=row_extra(task.spec, data))
                progress.task_done(task.label)
            except UmevalError as e:
                progress.task_done(task.label, ok=False)
                if not cfg.keep_going:
                    raise
                failed[task.key] = record_failure(task, e, cfg, inst_set=inst_set, runtime=runtime,
                                                  extra=row_extra(task.spec))
        calls = memo.encoded

    ran = {(s.name, m): (finished.get((s.name, m)) or failed[(s.name, m)]).to_row() for s in specs for m in modes}
    model_dir = out_dir / cfg.model.name

    def expected_hash(spec: TaskSpec, mode: str) -> tuple[str, str]:
        return (task_fingerprint(spec, cfg, mode, inst_set, runtime), setup_fingerprint(spec, cfg, inst_set, runtime))

    all_scores, shown_specs = board.current_view(
        model_dir, ran, modes, expected_hash,
        lambda s, d_sc, g_sc: oracle_scores(s, cfg, inst_set, out_dir, d_sc, g_sc))
    leaderboard = res.leaderboard(all_scores, expected_counts(specs), expected_by_benchmark(shown_specs + specs))
    res.write_leaderboard(model_dir / "leaderboard.parquet", leaderboard)
    res.write_json(model_dir / "run.json", res.provenance(
        config=to_dict(cfg), tasks=[s.name for s in specs], modes=modes, encoder_calls=calls,
        failed=[f"{t}/{m}" for t, m in failed], runtime=runtime))
    res.merge_all(out_dir)
    return RunSummary(output_dir=out_dir, model=cfg.model.name, leaderboard=leaderboard, scores=all_scores,
                      encoder_calls=calls, failed=[f"{t}/{m}" for t, m in failed])


@dataclass(frozen=True)
class ShardWork:
    """The items of one task, mode and role that a shard pass walks, each with its (first) key in the store."""

    spec: TaskSpec
    mode: str
    items: list[Item]
    keys: list[str]
    samples: int  # samples drawn per item (1 in disc mode)
    role: str  # "query" or "candidate"

    @property
    def label(self) -> str:
        return f"{self.spec.name} [{self.mode}] {'queries' if self.role == 'query' else 'candidates'}"


def encode_shard(shard: tuple[int, int], plan: list[TaskPlan], cfg: DictConfig,
                 memo: EmbeddingMemo, encoder: Callable[[], Encoder], ctx_for: Callable[[TaskSpec], LoadContext],
                 console: Any = None) -> int:
    """Encode this shard's slice of every unique item the plan needs into the store; score nothing."""
    from umeval.run.progress import Progress

    i, n = shard
    dec, seed, samples = to_dict(cfg.model.decoding), int(cfg.gen.seed), int(cfg.gen.samples)
    lo, hi = int(cfg.model.min_pixels), int(cfg.model.max_pixels)
    loaded: dict[str, TaskData] = {}  # the last task loaded: one task's data in memory at a time

    def work() -> Iterator[ShardWork]:
        for task in plan:
            spec, mode = task.spec, task.mode
            if spec.name not in loaded:
                loaded.clear()  # release the previous task's data before loading the next
                loaded[spec.name] = load_task(spec, ctx_for(spec))
            data = loaded[spec.name]
            n_cand = samples if cfg.gen.resample_candidates else 1
            for role, items, s in (("query", data.queries, samples), ("candidate", data.candidates, n_cand)):
                s = s if mode == "gen" else 1
                keys = ([k[0] for k in memo.gen_keys(items, samples=s, base_seed=seed, decoding=dec, role=role)]
                        if mode == "gen" else memo.disc_keys(items, mode=mode, role=role))
                yield ShardWork(spec=spec, mode=mode, items=list(items), keys=keys, samples=s, role=role)

    # Two streamed passes (tasks are loaded again in the second), so memory holds one task's data, not all.
    costs: dict[str, float] = {}
    for w in work():
        for it, k in zip(w.items, w.keys):
            if k not in costs:
                costs[k] = item_cost(it, w.samples, lo, hi)
    owner = assign(list(costs), list(costs.values()), n)
    loaded.clear()
    with Progress(enabled=bool(cfg.progress), console=console) as progress:
        progress.suite(2 * len(plan))  # a queries and a candidates bar per task and mode
        for w in work():
            mine = [it for it, k in zip(w.items, w.keys) if owner[k] == i]
            label = f"{w.label} shard {i}/{n}"
            with progress.task(label, len(mine)) as adv:
                if w.mode == "gen":
                    memo.embed_gen(encoder, mine, samples=w.samples, base_seed=seed, decoding=dec, task=w.spec.name,
                                   role=w.role, advance=adv)
                else:
                    memo.embed(encoder, mine, mode=w.mode, task=w.spec.name, role=w.role, advance=adv)
            progress.task_done(label)
    return memo.encoded
