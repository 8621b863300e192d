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

from umeval.core import timing
from umeval.core.config import to_dict
from umeval.core.errors import UmevalError
from umeval.core.plugins import load_object
from umeval.core.registry import resolve_tasks
from umeval.core.spec import TaskSpec
from umeval.core.types import Item, TaskData
from umeval.encoders.base import Encoder, GenUnit, Trace, close_encoder
from umeval.loaders import load_task
from umeval.models.family import roles_differ, token_cost
from umeval.results import board
from umeval.results import files as res
from umeval.results.expected import expected_by_benchmark, expected_counts
from umeval.results.task_result import TaskResult
from umeval.run.context import RunContext, encoder_ref
from umeval.run.evaluate import evaluate_task, oracle_scores
from umeval.run.memo import EmbeddingMemo
from umeval.run.planning import TaskPlan, plan_run, record_failure
from umeval.run.shard import assign, item_cost, parse_shard

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


class LazyEncoder:
    """The run's encoder, built on first use: the model loads only when some item really has to be encoded."""

    def __init__(self, ctx: RunContext, factory: Callable[..., Encoder] | None = None) -> None:
        self._ctx, self.factory = ctx, factory
        self.encoder: Encoder | None = None

    def __call__(self) -> Encoder:
        if self.encoder is None:
            cfg = self._ctx.cfg
            factory = self.factory or load_object(encoder_ref(cfg))
            self.encoder = factory(cfg.model, cache_dir=self._ctx.cache_dir, device=cfg.device,
                                   batch_size=cfg.batch_size, num_workers=cfg.num_workers)
        return self.encoder

    def close(self) -> None:
        """Close the encoder if the run instantiated it (frees its GPU memory for the next shard of a Ray worker).

        The run instantiates the family's class, or a class given as ``encoder_factory``; an instance that a factory
        function hands over is the caller's to close, since it may hand the same one to several runs (API, tests).
        """
        if self.encoder is not None and (self.factory is None or isinstance(self.factory, type)):
            close_encoder(self.encoder)
        self.encoder = None


def open_memo(ctx: RunContext) -> EmbeddingMemo:
    """The embedding memo of a run over its store.

    Items per encoder call (and per store write): whole tasks up to model.submit_items, so vLLM's continuous
    batching keeps the GPU full; the HF encoder forms its own batches inside a call.
    """
    cfg = ctx.cfg
    return EmbeddingMemo(ctx.store, ctx.store_key(),
                         chunk=max(8 * int(cfg.batch_size), int(cfg.model.get("submit_items") or 0)),
                         role_keyed=roles_differ(cfg.model), identity=ctx.store_identity())


def run(cfg: DictConfig, *, encoder_factory: Callable[..., Encoder] | None = None,
        console: Any = None) -> RunSummary:
    """Run the tasks of ``cfg``: plan, evaluate what is left, rebuild the leaderboard."""
    specs = resolve_tasks(cfg.task)  # unknown names fail here, before any data or weights
    ctx = RunContext.resolve(cfg, specs)
    # What is already done (same config, same data), and a cheap check that the rest has data, before
    # loading weights.
    plan = plan_run(specs, ctx)
    encoder = LazyEncoder(ctx, encoder_factory)
    memo = open_memo(ctx)
    try:
        shard = parse_shard(cfg.shard)
        if shard is not None:
            return _run_shard(shard, plan.todo, ctx, memo, encoder, console)
        finished, failed, calls = _evaluate_all(plan.todo, ctx, memo, encoder, console)
    finally:
        encoder.close()  # also on failure (issue 19)
    finished |= plan.done
    failed |= plan.failed
    ran = {(s.name, m): (finished.get((s.name, m)) or failed[(s.name, m)]).to_row() for s in specs for m in ctx.modes}
    view = board.current_view(ctx.model_dir, ran, ctx.modes, ctx.expected_hashes)
    for spec, disc, gen in view.oracle_inputs:
        view.add(spec.name, "oracle", oracle_scores(spec, ctx, disc, gen))
    leaderboard = res.leaderboard(view.rows, expected_counts(specs), expected_by_benchmark(view.specs + specs))
    res.write_leaderboard(ctx.model_dir / "leaderboard.parquet", leaderboard)
    failures = [f"{t}/{m}" for t, m in failed]
    res.write_json(ctx.model_dir / "run.json", res.stamp(
        config=to_dict(cfg), tasks=[s.name for s in specs], modes=list(ctx.modes), encoder_calls=calls,
        failed=failures, runtime=dict(ctx.runtime)))
    res.merge_all(ctx.out_dir)
    return RunSummary(output_dir=ctx.out_dir, model=ctx.model_name, leaderboard=leaderboard, scores=view.rows,
                      encoder_calls=calls, failed=failures)


def _evaluate_all(todo: list[TaskPlan], ctx: RunContext, memo: EmbeddingMemo, encoder: LazyEncoder,
                  console: Any) -> tuple[dict[tuple[str, str], TaskResult], dict[tuple[str, str], TaskResult], int]:
    """Evaluate every planned task; with ``keep_going`` a failing task is written as a failed result."""
    from umeval.run.progress import Progress

    finished: dict[tuple[str, str], TaskResult] = {}
    failed: dict[tuple[str, str], TaskResult] = {}
    with Progress(enabled=bool(ctx.cfg.progress), console=console) as progress:
        progress.suite(len(todo))
        if streams_gen(ctx.cfg, encoder.factory):
            stream_gen_ahead([t for t in todo if t.mode == "gen"], ctx, memo, encoder, progress)
        loaded: dict[str, TaskData] = {}  # the last task loaded (its modes follow each other in the plan)
        for task in todo:
            timing.begin_task(task.spec.name, task.mode)
            try:
                if task.spec.name not in loaded:
                    loaded.clear()
                    loaded[task.spec.name] = ctx.load(task.spec)
                data = loaded[task.spec.name]
                finished[task.key] = evaluate_task(task, data, encoder, ctx, progress=progress, memo=memo,
                                                   extra=ctx.row_extra(task.spec, loaded=True))
                progress.task_done(task.label)
            except UmevalError as e:
                progress.task_done(task.label, ok=False)
                if not ctx.cfg.keep_going:
                    raise
                failed[task.key] = record_failure(task, e, ctx)
    timing.end_task()  # the board and the run record are no task's time
    return finished, failed, memo.encoded


def _run_shard(shard: tuple[int, int], todo: list[TaskPlan], ctx: RunContext, memo: EmbeddingMemo,
               encoder: LazyEncoder, console: Any) -> RunSummary:
    """Encode this shard's slice and write its marker; the merge step (an ordinary run) scores."""
    calls = encode_shard(shard, todo, ctx, memo, encoder, console)
    index, count = shard
    marker = ctx.model_dir / "shards" / f"{index}-of-{count}.json"
    res.write_json(marker, res.stamp(shard=ctx.cfg.shard, encoder_calls=calls,
                                          tasks=[f"{t.spec.name}/{t.mode}" for t in todo]))
    return RunSummary(output_dir=ctx.out_dir, model=ctx.model_name, leaderboard=pd.DataFrame(), encoder_calls=calls)


def streams_gen(cfg: DictConfig, encoder_factory: Callable[..., Encoder] | None = None) -> bool:
    """Whether the run's encoder takes one generation stream across tasks (``generate_stream``: vLLM)."""
    cls = encoder_factory if encoder_factory is not None else load_object(encoder_ref(cfg))
    return callable(getattr(cls, "generate_stream", None))


def gen_units(plan: list[TaskPlan], ctx: RunContext) -> Iterator[GenUnit]:
    """Queries then candidates of each planned gen task, loading one task at a time.

    A task that cannot load is left to the task loop, which records its error.
    """
    n = int(ctx.cfg.gen.samples)
    n_cand = n if ctx.cfg.gen.resample_candidates else 1
    for task in plan:
        try:
            data = load_task(task.spec, ctx.load_context(task.spec))
        except UmevalError:
            continue
        yield GenUnit(list(data.queries), task.spec.name, "query", n)
        yield GenUnit(list(data.candidates), task.spec.name, "candidate", n_cand)


def stream_gen_ahead(plan: list[TaskPlan], ctx: RunContext, memo: EmbeddingMemo, encoder: Callable[[], Encoder],
                     progress: Any) -> None:
    """Generate every planned gen task's missing items as one stream, before the tasks are scored.

    A stream has no barrier between tasks: the GPU never waits for one task's longest trace before starting the
    next.  The task loop then finds every embedding stored.  With ``keep_going``, a failure here is left to the
    task loop, which encodes task by task and records the failing task.
    """
    if not plan:
        return
    cfg = ctx.cfg
    bars: dict[int, Any] = {}
    limit = int(to_dict(cfg.model.decoding).get("max_new_tokens", 0))

    def label(unit: GenUnit) -> str:
        return f"{unit.task} [gen] {'queries' if unit.role == 'query' else 'candidates'}"

    def on_unit(unit: GenUnit) -> Any:
        cm = progress.task(label(unit) + " (streamed)", len(unit.items))
        bars[id(unit)] = cm
        return cm.__enter__()

    def on_unit_done(unit: GenUnit, traces: list[list[Trace]]) -> None:
        cm = bars.pop(id(unit), None)
        if cm is not None:
            cm.__exit__(None, None, None)
        cut = sum(t.finish_reason == "length" for tr in traces for t in tr)
        if cut:
            progress.note(f"{label(unit)}: {cut} of {sum(len(tr) for tr in traces)} traces hit the token limit "
                          f"(max_new_tokens={limit})")

    try:
        memo.embed_gen_stream(encoder, gen_units(plan, ctx), base_seed=int(cfg.gen.seed),
                              decoding=to_dict(cfg.model.decoding), on_unit=on_unit, on_unit_done=on_unit_done)
    except UmevalError as e:
        if not cfg.keep_going:
            raise
        progress.note(f"streamed generation stopped ({e}); the tasks go on one by one")


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


def encode_shard(shard: tuple[int, int], plan: list[TaskPlan], ctx: RunContext, memo: EmbeddingMemo,
                 encoder: Callable[[], Encoder], console: Any = None) -> int:
    """Encode this shard's slice of every unique item the plan needs into the store; score nothing."""
    from umeval.run.progress import Progress

    cfg = ctx.cfg
    i, n = shard
    dec, seed, samples = to_dict(cfg.model.decoding), int(cfg.gen.seed), int(cfg.gen.samples)
    cost = token_cost(cfg.model)  # the family's arithmetic, never the engine's
    loaded: dict[str, TaskData] = {}  # the last task loaded: one task's data in memory at a time

    def work() -> Iterator[ShardWork]:
        for task in plan:
            spec, mode = task.spec, task.mode
            if spec.name not in loaded:
                loaded.clear()  # release the previous task's data before loading the next
                loaded[spec.name] = load_task(spec, ctx.load_context(spec))
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
                costs[k] = item_cost(it, cost, w.samples)
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
