"""The evaluation loop: specs -> items -> embeddings -> rankings -> scores -> result rows.

Each stage is a plain function; :func:`run` only strings them together, writes each task's results as soon
as they exist (so a crash loses at most the task in flight) and reuses finished results whose fingerprint
matches (so rerunning a finished suite encodes nothing and does not even load the model).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from umeval import board
from umeval import results as res
from umeval.config import cache_dir, fingerprint, to_dict
from umeval.datafp import data_fingerprint
from umeval.embedded import ensure_generated
from umeval.encoders.base import Advance, Encoder, Trace
from umeval.errors import ConfigError, UmevalError
from umeval.family import encoder_ref as family_encoder_ref
from umeval.loaders import LoadContext, load_task, preflight
from umeval.provenance import ENCODER_RUNTIME, resolve_backend, resolve_runtime
from umeval.registry import discover_tasks, load_object, resolve_tasks
from umeval.scoring import metrics as M
from umeval.scoring.passk import oracle, pass_curve
from umeval.scoring.search import search_global, search_local, to_rankings
from umeval.shard import assign, item_cost, parse_shard
from umeval.spec import TaskSpec
from umeval.store import EmbeddingStore, entry_key
from umeval.types import Embeddings, Item, Rankings, TaskData

log = logging.getLogger("umeval")


# ---------------------------------------------------------------- stages

class EmbeddingMemo:
    """Embeddings by content key, backed by the on-disk :class:`EmbeddingStore`.

    Each unique item is encoded once, across queries, candidates, tasks and runs.  Missing items are encoded
    in chunks and each chunk is stored as soon as it is done, so a killed run loses at most one chunk.
    """

    def __init__(self, store: EmbeddingStore, encoder_id: str, chunk: int = 64) -> None:
        self.store, self.encoder_id, self.chunk = store, encoder_id, max(1, chunk)
        self.encoded = 0  # items sent to the encoder (a rerun of a finished suite sends none)

    def embed(self, encoder: Callable[[], Encoder], items: Sequence[Item], *, mode: str, task: str,
              advance: Advance | None = None) -> Embeddings:
        keys = [entry_key(self.encoder_id, mode, it) for it in items]
        for part in self._missing(items, [[k] for k in keys], advance):
            vecs = encoder().embed([it for it, _ in part], mode=mode, task=task, advance=advance)
            self.encoded += len(part)
            self.store.put([ks[0] for _, ks in part], vecs)
        return Embeddings(ids=[it.id for it in items], vectors=self.store.get(keys))

    def _missing(self, items: Sequence[Item], keys: list[list[str]],
                 advance: Advance | None) -> list[list[tuple[Item, list[str]]]]:
        """The items with a key not yet stored (first occurrence of each), in chunks of ``self.chunk``.

        ``keys[i]`` holds item i's keys (one per sample).  The items already stored are reported done at once.
        """
        todo: dict[str, tuple[Item, list[str]]] = {}
        for ks, it in zip(keys, items):
            if ks[0] not in todo and not all(k in self.store for k in ks):
                todo[ks[0]] = (it, ks)
        if advance and len(items) > len(todo):
            advance(len(items) - len(todo))
        pending = list(todo.values())
        return [pending[start: start + self.chunk] for start in range(0, len(pending), self.chunk)]

    def gen_keys(self, items: Sequence[Item], *, samples: int, base_seed: int, decoding: Any) -> list[list[str]]:
        policy = fingerprint({"decoding": decoding, "n": samples, "seed": base_seed})
        return [[entry_key(self.encoder_id, "gen", it, f"{policy}|s{s}") for s in range(samples)] for it in items]

    def embed_gen(self, encoder: Callable[[], Encoder], items: Sequence[Item], *, samples: int, base_seed: int,
                  decoding: Any, task: str, advance: Advance | None = None) -> tuple[np.ndarray, list[list[Trace]]]:
        """Generative embeddings, (n_items, samples, dim), and traces, stored per (item, sample index).

        The key also holds the decoding policy, the base seed and the number of samples drawn together (with
        ``SamplingParams(n=k)`` sample i depends on k), so changing any of them draws new samples.
        """
        keys = self.gen_keys(items, samples=samples, base_seed=base_seed, decoding=decoding)
        for part in self._missing(items, keys, advance):
            out = encoder().generate_embed([it for it, _ in part], samples=samples, base_seed=base_seed,
                                           decoding=decoding, task=task, advance=advance)
            self.encoded += len(part)
            flat_keys = [k for _, ks in part for k in ks]
            meta = [json.dumps(asdict(t) | {"token_ids": list(t.token_ids)}) for tr in out.traces for t in tr]
            self.store.put(flat_keys, out.vectors.reshape(len(flat_keys), -1), meta=meta)
        flat = [k for ks in keys for k in ks]
        vecs = self.store.get(flat).reshape(len(items), samples, -1)
        traces = [[Trace(**json.loads(m)) for m in self.store.get_meta(ks)] for ks in keys]
        return vecs, traces


def metric_k(spec: TaskSpec, k: int) -> int:
    return max([k] + [M.parse_metric(m)[1] for m in spec.metrics])


def rank(data: TaskData, queries: Embeddings, candidates: Embeddings, *, k: int, backend: str = "auto",
         query_tile: int = 4096, device: str | None = None) -> Rankings:
    """Top-k of every query over its pool (``local``) or the whole corpus (``global``)."""
    info: dict[str, Any] = {}
    if data.pools is None:
        found = search_global(queries.vectors, candidates.vectors, k, backend=backend, query_tile=query_tile,
                              device=device, info=info)
    else:
        found = search_local(queries.vectors, candidates.vectors, data.pools, k, backend=backend, info=info)
    rankings = to_rankings(queries.ids, candidates.ids, found)
    rankings.search_backend = str(info.get("search_backend", ""))
    return rankings


def score(rankings: Rankings, data: TaskData, spec: TaskSpec) -> dict[str, np.ndarray]:
    return M.per_query(rankings, data.qrels, list(spec.metrics))


def per_query_table(rankings: Rankings, per_query: dict[str, np.ndarray]) -> pd.DataFrame:
    df = pd.DataFrame({"query_id": rankings.query_ids, **per_query, "tied": rankings.tied})
    df["topk_ids"] = [rankings.ranked_ids(q) for q in range(len(rankings.query_ids))]
    df["topk_scores"] = [row[row > -np.inf].astype(np.float32).tolist() for row in rankings.scores]
    return df


def readable(table: pd.DataFrame, task: str, mode: str, data: TaskData) -> pd.DataFrame:
    """The per-query table with columns for error analysis in pandas or duckdb.

    ``task``, ``mode``, the query's display text, and ``topk_text`` next to ``topk_ids``: each ranked
    candidate's text (label, caption) and its media path.  An image given as bytes shows as
    ``image <file>#<row>`` (where it came from) or ``image (bytes)``.
    """
    def show(it: Item) -> str:
        # The official text carries media placeholders; the media themselves are named after it.
        text = " ".join(it.text.replace("<|image_pad|>", " ").replace("<|video_pad|>", " ").split())
        parts = [text] if text else []
        if isinstance(it.image, str):
            parts.append(f"image {it.image}")
        elif isinstance(it.image, bytes):
            parts.append(f"image {it.source[0]}#{it.source[1]}" if it.source else "image (bytes)")
        parts += [f"image {p}" for p in it.images]
        if it.video:
            parts.append(f"video {Path(it.video[0]).parent}")
        return " | ".join(parts)

    by_id = {it.id: it for it in data.candidates}
    queries = {it.id: it for it in data.queries}
    front = pd.DataFrame({"task": task, "mode": mode, "query_text": [show(queries[q]) if q in queries else ""
                                                                     for q in table["query_id"]]})
    out = pd.concat([front, table.reset_index(drop=True)], axis=1)
    pos = list(out.columns).index("topk_ids") + 1
    out.insert(pos, "topk_text", [[show(by_id[c]) if c in by_id else "" for c in ids] for ids in out["topk_ids"]])
    return out


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
    """The encoder class of the run: the model family's for the resolved backend (:func:`umeval.family.encoder_ref`)."""
    return family_encoder_ref(cfg, resolve_backend(cfg))


def encoder_fingerprint(cfg: DictConfig, runtime: dict[str, Any] | None = None) -> str:
    """Everything about the encoder that changes its vectors: the embedding store's key.

    What the encoder class declares for this model (:meth:`Encoder.fingerprint`: by default the family's name,
    version, key fields and options, :func:`umeval.family.cache_key`), the encoder class, and what the run
    resolved to (backend, device, dtype, attention, torch/transformers/vLLM versions, the model's commit; see
    :func:`umeval.provenance.resolve_runtime`).  The runner names no setting of any family.
    """
    m = cfg.model
    runtime = runtime if runtime is not None else resolve_runtime(cfg)
    ref = encoder_ref(cfg)
    return fingerprint({"encoder": ref, "model": load_object(ref).fingerprint(m),
                        "device": cfg.device if m.dtype == "auto" else None, "seed": cfg.seed,
                        "runtime": {k: runtime[k] for k in ENCODER_RUNTIME}})


def open_store(cdir: Path, cfg: DictConfig) -> EmbeddingStore:
    """The model's embedding store; float16 vectors live in their own folder, never mixed with float32 ones."""
    name = cfg.model.name if cfg.store_dtype == "float32" else f"{cfg.model.name}@{cfg.store_dtype}"
    return EmbeddingStore(cdir / "embeddings" / name, dtype=cfg.store_dtype)


def setup_fingerprint(spec: TaskSpec, cfg: DictConfig, instruction_set: str,
                      runtime: dict[str, Any] | None = None) -> str:
    """The part of a task's fingerprint shared by its modes.

    Task, model (less its decoding), instructions, limit, cutoff, store dtype and the resolved runtime
    (including the faiss version).
    """
    # How items are batched or submitted changes no vector: batch_tokens and submit_items are left out.
    unused = ("description", "decoding", "batch_tokens", "submit_items")
    model = {k: v for k, v in to_dict(cfg.model).items() if k not in unused}
    return fingerprint({
        "spec": spec.summary() | {"instructions": spec.instruction(instruction_set).__dict__,
                                  "options": spec.options, "metrics": spec.metrics, "max_queries": spec.max_queries},
        "model": model, "instruction_set": instruction_set, "limit": cfg.limit,
        "k": metric_k(spec, cfg.scorer.k), "store_dtype": cfg.store_dtype,
        "runtime": runtime if runtime is not None else resolve_runtime(cfg),
    })


def task_fingerprint(spec: TaskSpec, cfg: DictConfig, mode: str, instruction_set: str,
                     runtime: dict[str, Any] | None = None) -> str:
    """The ``config_hash`` of a task result: the setup plus the mode and, for gen, samples/seed/decoding."""
    gen = {"gen": to_dict(cfg.gen), "decoding": to_dict(cfg.model.decoding)} if mode == "gen" else None
    return fingerprint({"setup": setup_fingerprint(spec, cfg, instruction_set, runtime), "mode": mode, "gen": gen})


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


def run(cfg: DictConfig, *, encoder_factory: Callable[..., Encoder] | None = None,
        console: Any = None) -> RunSummary:
    from umeval.progress import Progress

    specs = resolve_tasks(cfg.task)  # unknown names fail here, before any data or weights
    modes = modes_of(cfg)
    inst_set = str(cfg.instruction_set or cfg.model.instruction_set)
    runtime = resolve_runtime(cfg)  # an unavailable device fails here, in one line
    out_dir = Path(cfg.output_dir)
    cdir = cache_dir(cfg)
    data_root = Path(cfg.data_root).expanduser() if cfg.data_root else cdir / "MMEB-V2"
    gen_root = ensure_generated([s for s in specs if s.source.generated], cdir, seed=cfg.seed) \
        if any(s.source.generated for s in specs) else None

    def ctx_for(spec: TaskSpec) -> LoadContext:
        root = gen_root if spec.source.generated and gen_root else data_root
        return LoadContext(data_root=root, instruction_set=inst_set, limit=cfg.limit,
                           num_frames=int(cfg.model.num_frames), allow_hub=bool(cfg.hub), spill_dir=cdir / "pages")

    def row_extra(spec: TaskSpec, data: TaskData | None = None) -> dict[str, Any]:
        """Provenance every row of ``spec`` carries besides the config: runtime, setup hash, data fingerprint."""
        dfp = data_fingerprint(data, ctx_for(spec).data_root) if data is not None else None
        return {**runtime, "setup_hash": setup_fingerprint(spec, cfg, inst_set, runtime), "data_fingerprint": dfp}

    # What is already done (same config, same data), and a cheap check that the rest has data, before
    # loading weights.
    plan: list[tuple[TaskSpec, str, str, Path]] = []
    done: dict[tuple[str, str], dict[str, Any]] = {}
    data_fps: dict[str, str | None] = {}
    for spec in specs:
        for mode in modes:
            fp = task_fingerprint(spec, cfg, mode, inst_set, runtime)
            d = res.task_dir(out_dir, cfg.model.name, spec.name, mode)
            prev = board.read_scores(d / "scores.json")
            if (not cfg.overwrite and prev and prev.get("config_hash") == fp and prev.get("status") == "ok"
                    and prev.get("data_fingerprint") == _data_fp(spec, ctx_for, data_fps)):
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
                    failed[(spec.name, mode)] = _failure(s, mode, fp, e, cfg, inst_set, row_extra(s))
                    res.write_json(res.task_dir(out_dir, cfg.model.name, s.name, mode) / "scores.json",
                                   failed[(spec.name, mode)])
    plan = [p for p in plan if (p[0].name, p[1]) not in failed]

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
                         chunk=max(8 * int(cfg.batch_size), int(cfg.model.get("submit_items") or 0)))
    shard = parse_shard(cfg.shard)
    if shard is not None:
        calls = encode_shard(shard, plan, cfg, memo, get_encoder, ctx_for, console)
        marker = out_dir / cfg.model.name / "shards" / f"{shard[0]}-of-{shard[1]}.json"
        res.write_json(marker, res.provenance(shard=cfg.shard, encoder_calls=calls,
                                              tasks=[f"{s.name}/{m}" for s, m, _, _ in plan]))
        return RunSummary(output_dir=out_dir, model=cfg.model.name, leaderboard=pd.DataFrame(),
                          encoder_calls=calls)
    calls = 0
    with Progress(enabled=bool(cfg.progress), console=console) as progress:
        progress.suite(len(plan))
        cached_data: tuple[str, TaskData] | None = None
        for spec, mode, fp, d in plan:
            try:
                if cached_data is None or cached_data[0] != spec.name:
                    cached_data = (spec.name, load_task(spec, ctx_for(spec)))
                data = cached_data[1]
                scores = evaluate_task(spec, data, get_encoder, mode=mode, cfg=cfg, fp=fp, out=d,
                                       inst_set=inst_set, progress=progress, memo=memo,
                                       row_extra=row_extra(spec, data))
                done[(spec.name, mode)] = scores
                progress.task_done(f"{spec.name} [{mode}]")
            except UmevalError as e:
                progress.task_done(f"{spec.name} [{mode}]", ok=False)
                if not cfg.keep_going:
                    raise
                failed[(spec.name, mode)] = _failure(spec, mode, fp, e, cfg, inst_set, row_extra(spec))
                res.write_json(d / "scores.json", failed[(spec.name, mode)])
        calls = memo.encoded

    ran = {(s.name, m): done.get((s.name, m)) or failed[(s.name, m)] for s in specs for m in modes}
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


def encode_shard(shard: tuple[int, int], plan: list[tuple[TaskSpec, str, str, Path]], cfg: DictConfig,
                 memo: EmbeddingMemo, encoder: Callable[[], Encoder], ctx_for: Callable[[TaskSpec], LoadContext],
                 console: Any = None) -> int:
    """Encode this shard's slice of every unique item the plan needs into the store; score nothing."""
    from umeval.progress import Progress

    i, n = shard
    dec, seed, samples = to_dict(cfg.model.decoding), int(cfg.gen.seed), int(cfg.gen.samples)
    lo, hi = int(cfg.model.min_pixels), int(cfg.model.max_pixels)
    last: list[Any] = [None, None]  # the last task loaded: (name, data); one task's data in memory at a time

    def work() -> Iterator[tuple[TaskSpec, str, list[Item], list[str], int, str]]:  # ..., samples, role
        for spec, mode, _, _ in plan:
            if last[0] != spec.name:
                last[:] = [spec.name, None]  # release the previous task's data before loading the next
                last[1] = load_task(spec, ctx_for(spec))
            data = last[1]
            n_cand = samples if cfg.gen.resample_candidates else 1
            for role, items, s in (("queries", data.queries, samples), ("candidates", data.candidates, n_cand)):
                s = s if mode == "gen" else 1
                keys = ([k[0] for k in memo.gen_keys(items, samples=s, base_seed=seed, decoding=dec)]
                        if mode == "gen" else [entry_key(memo.encoder_id, mode, it) for it in items])
                yield spec, mode, list(items), keys, s, role

    # Two streamed passes (tasks are loaded again in the second), so memory holds one task's data, not all.
    costs: dict[str, float] = {}
    for _, _, items, keys, s, _ in work():
        for it, k in zip(items, keys):
            if k not in costs:
                costs[k] = item_cost(it, s, lo, hi)
    owner = assign(list(costs), list(costs.values()), n)
    last[:] = [None, None]
    with Progress(enabled=bool(cfg.progress), console=console) as progress:
        progress.suite(2 * len(plan))  # a queries and a candidates bar per task and mode
        for spec, mode, items, keys, s, role in work():
            mine = [it for it, k in zip(items, keys) if owner[k] == i]
            with progress.task(f"{spec.name} [{mode}] {role} shard {i}/{n}", len(mine)) as adv:
                if mode == "gen":
                    memo.embed_gen(encoder, mine, samples=s, base_seed=seed, decoding=dec, task=spec.name,
                                   advance=adv)
                else:
                    memo.embed(encoder, mine, mode=mode, task=spec.name, advance=adv)
            progress.task_done(f"{spec.name} [{mode}] {role} shard {i}/{n}")
    return memo.encoded


def evaluate_task(spec: TaskSpec, data: TaskData, encoder: Callable[[], Encoder], *, mode: str, cfg: DictConfig,
                  fp: str, out: Path, inst_set: str, progress: Any, memo: EmbeddingMemo,
                  row_extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Encode, rank and score one task in one mode; write its per-query table and scores.json.

    In gen mode every metric of a query is its mean over the samples (so the main score is pass@1, the
    expected score of one sampled trace); the per-query table's top-k, ties and ``n_tied`` are sample 0's.
    """
    k = metric_k(spec, cfg.scorer.k)
    extra: dict[str, Any] = {}
    if mode == "disc":
        with progress.task(f"{spec.name} [disc] queries", len(data.queries)) as adv:
            q = memo.embed(encoder, data.queries, mode=mode, task=spec.name, advance=adv)
        with progress.task(f"{spec.name} [disc] candidates", len(data.candidates)) as adv:
            c = memo.embed(encoder, data.candidates, mode=mode, task=spec.name, advance=adv)
        rankings = rank(data, q, c, k=k, backend=cfg.scorer.backend, query_tile=cfg.scorer.query_tile,
                        device=cfg.scorer.get("device"))
        per_query = score(rankings, data, spec)
        per_sample = None
    else:
        n, dec, seed = int(cfg.gen.samples), to_dict(cfg.model.decoding), int(cfg.gen.seed)
        if n > 1 and not dec["do_sample"]:
            log.warning("gen.samples=%d with greedy decoding: every sample is the same trace", n)
        n_cand = n if cfg.gen.resample_candidates else 1
        with progress.task(f"{spec.name} [gen] queries", len(data.queries)) as adv:
            qv, q_tr = memo.embed_gen(encoder, data.queries, samples=n, base_seed=seed, decoding=dec,
                                      task=spec.name, advance=adv)
        with progress.task(f"{spec.name} [gen] candidates", len(data.candidates)) as adv:
            cv, c_tr = memo.embed_gen(encoder, data.candidates, samples=n_cand, base_seed=seed, decoding=dec,
                                      task=spec.name, advance=adv)
        q_ids, c_ids = [it.id for it in data.queries], [it.id for it in data.candidates]
        per_sample = np.zeros((len(data.queries), n))
        totals: dict[str, np.ndarray] = {}
        for s in range(n):  # pass@k: every query sample against the candidates' first (or own) sample
            r = rank(data, Embeddings(q_ids, np.ascontiguousarray(qv[:, s])),
                     Embeddings(c_ids, np.ascontiguousarray(cv[:, s if n_cand > 1 else 0])), k=k,
                     backend=cfg.scorer.backend, query_tile=cfg.scorer.query_tile, device=cfg.scorer.get("device"))
            sample_scores = score(r, data, spec)
            per_sample[:, s] = sample_scores[spec.main_metric]
            totals = {m: totals.get(m, 0) + np.asarray(v, dtype=np.float64) for m, v in sample_scores.items()}
            if s == 0:  # the table's top-k and ties are sample 0's, ranked once here
                rankings = r
        per_query = {m: v / n for m, v in totals.items()}  # the mean over samples (pass@1 for the main metric)
        res.write_parquet(out / "traces.parquet", traces_table(spec.name, data, q_tr, c_tr))
        extra["diagnostics"] = trace_diagnostics(q_tr + c_tr, [qv, cv])
    metrics = M.mean(per_query)
    if per_sample is not None and per_sample.shape[1] > 1:
        metrics.update(pass_curve(per_sample))
    table = readable(per_query_table(rankings, per_query), spec.name, mode, data)
    if per_sample is not None:
        table["main_per_sample"] = per_sample.tolist()
    res.write_parquet(out / "per_query.parquet", table)
    scores = {
        **_row_base(spec, mode, cfg, inst_set, fp), "status": "ok", "error": None, "metrics": metrics,
        "n_queries": len(data.queries), "n_candidates": len(data.candidates), "n_tied": int(rankings.tied.sum()),
        "search_backend": rankings.search_backend, "notes": dict(data.notes), **extra, **(row_extra or {}),
    }
    res.write_json(out / "scores.json", scores)
    return scores


def traces_table(task: str, data: TaskData, q_tr: list[list[Trace]], c_tr: list[list[Trace]]) -> pd.DataFrame:
    rows = []
    for role, items, trs in (("query", data.queries, q_tr), ("candidate", data.candidates, c_tr)):
        for it, tr in zip(items, trs):
            for t in tr:
                rows.append({"task": task, "item_id": it.id, "role": role, "sample": t.sample, "seed": t.seed,
                             "text": t.text, "n_tokens": t.n_tokens, "has_gen_emb": t.has_gen_emb,
                             "finish_reason": t.finish_reason, "pool_position": t.pool_position,
                             "seconds": t.seconds})
    return pd.DataFrame(rows)


def trace_diagnostics(traces: list[list[Trace]], vectors: list[np.ndarray]) -> dict[str, float]:
    """Per-task trace diagnostics.

    Share of traces without <gen_emb>, share cut at max_new_tokens, mean length, and the mean cosine between
    samples of the same item (how much the reasoning moves the embedding; NaN with one sample).
    """
    flat = [t for tr in traces for t in tr]
    cos = []
    for v in vectors:  # (n_items, samples, dim), L2-normalised
        if v.shape[1] > 1:
            g = np.einsum("isd,itd->ist", v, v)
            iu = np.triu_indices(v.shape[1], 1)
            cos.append(g[:, iu[0], iu[1]].mean(axis=1))
    return {
        "no_gen_emb_share": float(np.mean([not t.has_gen_emb for t in flat])) if flat else float("nan"),
        "truncated_share": float(np.mean([t.finish_reason == "length" for t in flat])) if flat else float("nan"),
        "n_truncated": int(sum(t.finish_reason == "length" for t in flat)),
        "mean_trace_tokens": float(np.mean([t.n_tokens for t in flat])) if flat else float("nan"),
        "mean_sample_cosine": float(np.concatenate(cos).mean()) if cos else float("nan"),
    }


def oracle_scores(spec: TaskSpec, cfg: DictConfig, inst_set: str, out_dir: Path,
                  disc: dict[str, Any], gen: dict[str, Any]) -> dict[str, Any]:
    """Per query, the better of disc and gen under the task's main metric; written as mode "oracle".

    The gen score of a query is its mean over samples (the gen headline, pass@1), so the oracle is the
    expected score of picking, per query, the better of the disc embedding and one sampled gen trace
    (the paper's "best of disc and gen" with one sample).  Reused while both inputs are unchanged.
    """
    m = spec.main_metric
    d = res.task_dir(out_dir, cfg.model.name, spec.name, "oracle")
    fp = fingerprint([disc["config_hash"], gen["config_hash"], disc.get("data_fingerprint"),
                      gen.get("data_fingerprint"), disc.get("timestamp"), gen.get("timestamp")])
    prev = board.read_scores(d / "scores.json")
    if prev and prev.get("config_hash") == fp and prev.get("status") == "ok":
        return prev
    tables = [pd.read_parquet(res.task_dir(out_dir, cfg.model.name, spec.name, x) / "per_query.parquet",
                              columns=["query_id", m]) for x in ("disc", "gen")]
    both = tables[0].merge(tables[1], on="query_id", suffixes=("_disc", "_gen"), validate="one_to_one")
    best = oracle(both[f"{m}_disc"].to_numpy(), both[f"{m}_gen"].to_numpy())
    res.write_parquet(d / "per_query.parquet", pd.DataFrame({"query_id": both["query_id"], m: best,
                                                            "from_gen": both[f"{m}_gen"] > both[f"{m}_disc"]}))
    carry = {k: gen.get(k) for k in (*res.RUNTIME_COLUMNS, "setup_hash", "decoding", "instruction_set",
                                     "model_id", "model_revision", "store_dtype")}
    scores = {**_row_base(spec, "oracle", cfg, inst_set, fp), **carry, "data_fingerprint": disc.get("data_fingerprint"),
              "status": "ok", "error": None, "metrics": {m: float(best.mean())}, "n_queries": len(best),
              "n_tied": 0}
    res.write_json(d / "scores.json", scores)
    return scores


def _row_base(spec: TaskSpec, mode: str, cfg: DictConfig, inst_set: str, fp: str) -> dict[str, Any]:
    return {"task": spec.name, "mode": mode, "model": cfg.model.name, "main_metric": spec.main_metric,
            "modality": spec.modality, "meta": spec.meta, "benchmark": spec.benchmark, "instruction_set": inst_set,
            "decoding": json.dumps(to_dict(cfg.model.decoding), sort_keys=True) if mode == "gen" else None,
            "model_id": cfg.model.path or (f"{cfg.model.name} (built by {cfg.model.builder})" if cfg.model.builder
                                            else f"{cfg.model.name} (no weights)"),
            "model_revision": str(cfg.model.revision), "dataset_revision": spec.source.revision,
            "data_version": spec.data_version, "export_name": spec.export_name or spec.name,
            "store_dtype": str(cfg.store_dtype), "config_hash": fp, **res.provenance()}


def _failure(spec: TaskSpec, mode: str, fp: str, err: Exception, cfg: DictConfig, inst_set: str,
             row_extra: dict[str, Any] | None = None) -> dict[str, Any]:
    log.error("%s", err)
    return {**_row_base(spec, mode, cfg, inst_set, fp), "status": "failed", "error": str(err), "metrics": {},
            "n_queries": 0, "n_tied": 0, **(row_extra or {})}


def _data_fp(spec: TaskSpec, ctx_for: Callable[[TaskSpec], LoadContext], memo: dict[str, str | None]) -> str | None:
    """The data fingerprint of a task (loaded once per run).

    None when the task cannot be loaded: it then re-runs and reports why.
    """
    if spec.name not in memo:
        ctx = ctx_for(spec)
        try:
            memo[spec.name] = data_fingerprint(load_task(spec, ctx), ctx.data_root)
        except UmevalError:
            memo[spec.name] = None
    return memo[spec.name]
