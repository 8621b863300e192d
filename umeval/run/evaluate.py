"""One task in one mode: encode (through the memo), rank, score, and write its per-query table and result.

Also the per-query views (:func:`per_query_table`, :func:`readable`), the generative traces and their
diagnostics, and the oracle (per query, the better of disc and gen).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from umeval.core.config import fingerprint, to_dict
from umeval.core.spec import TaskSpec
from umeval.core.types import Embeddings, Item, Rankings, TaskData
from umeval.encoders.base import Encoder, Trace
from umeval.results import files as res
from umeval.results.task_result import TaskResult
from umeval.run.fingerprints import metric_k
from umeval.run.memo import EmbeddingMemo
from umeval.run.planning import TaskPlan
from umeval.scoring import metrics as M
from umeval.scoring.passk import oracle, pass_curve
from umeval.scoring.search import search_global, search_local, to_rankings

if TYPE_CHECKING:
    from umeval.run.context import RunContext

log = logging.getLogger("umeval")


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


def evaluate_task(task: TaskPlan, data: TaskData, encoder: Callable[[], Encoder], ctx: RunContext, *,
                  progress: Any, memo: EmbeddingMemo, extra: Mapping[str, Any] | None = None) -> TaskResult:
    """Encode, rank and score one task in one mode; write its per-query table and scores.json.

    In gen mode every metric of a query is its mean over the samples (so the main score is pass@1, the
    expected score of one sampled trace); the per-query table's top-k, ties and ``n_tied`` are sample 0's.
    ``extra`` holds the setup hash and data fingerprint the result carries.
    """
    spec, mode, cfg = task.spec, task.mode, ctx.cfg
    k = metric_k(spec, cfg.scorer.k)
    diagnostics: dict[str, Any] | None = None
    if mode == "disc":
        with progress.task(f"{spec.name} [disc] queries", len(data.queries)) as adv:
            q = memo.embed(encoder, data.queries, mode=mode, task=spec.name, role="query", advance=adv)
        with progress.task(f"{spec.name} [disc] candidates", len(data.candidates)) as adv:
            c = memo.embed(encoder, data.candidates, mode=mode, task=spec.name, role="candidate", advance=adv)
        rankings = rank(data, q, c, k=k, backend=cfg.scorer.search, query_tile=cfg.scorer.query_tile,
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
                                      task=spec.name, role="query", advance=adv)
        with progress.task(f"{spec.name} [gen] candidates", len(data.candidates)) as adv:
            cv, c_tr = memo.embed_gen(encoder, data.candidates, samples=n_cand, base_seed=seed, decoding=dec,
                                      task=spec.name, role="candidate", advance=adv)
        q_ids, c_ids = [it.id for it in data.queries], [it.id for it in data.candidates]
        per_sample = np.zeros((len(data.queries), n))
        totals: dict[str, np.ndarray] = {}
        for s in range(n):  # pass@k: every query sample against the candidates' first (or own) sample
            r = rank(data, Embeddings(q_ids, np.ascontiguousarray(qv[:, s])),
                     Embeddings(c_ids, np.ascontiguousarray(cv[:, s if n_cand > 1 else 0])), k=k,
                     backend=cfg.scorer.search, query_tile=cfg.scorer.query_tile, device=cfg.scorer.get("device"))
            sample_scores = score(r, data, spec)
            per_sample[:, s] = sample_scores[spec.main_metric]
            totals = {m: totals.get(m, 0) + np.asarray(v, dtype=np.float64) for m, v in sample_scores.items()}
            if s == 0:  # the table's top-k and ties are sample 0's, ranked once here
                rankings = r
        per_query = {m: v / n for m, v in totals.items()}  # the mean over samples (pass@1 for the main metric)
        res.write_parquet(task.out_dir / "traces.parquet", traces_table(spec.name, data, q_tr, c_tr))
        diagnostics = trace_diagnostics(q_tr + c_tr, [qv, cv])
    metrics = M.mean(per_query)
    if per_sample is not None and per_sample.shape[1] > 1:
        metrics.update(pass_curve(per_sample))
    table = readable(per_query_table(rankings, per_query), spec.name, mode, data)
    if per_sample is not None:
        table["main_per_sample"] = per_sample.tolist()
    res.write_parquet(task.out_dir / "per_query.parquet", table)
    result = ctx.result(
        spec, mode, task.config_hash, status="ok", error=None, metrics=metrics,
        n_queries=len(data.queries), n_candidates=len(data.candidates), n_tied=int(rankings.tied.sum()),
        search_backend=rankings.search_backend, notes=dict(data.notes), diagnostics=diagnostics, **(extra or {}))
    result.write(task.scores_path)
    return result


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


def oracle_scores(spec: TaskSpec, ctx: RunContext, disc: dict[str, Any], gen: dict[str, Any]) -> dict[str, Any]:
    """Per query, the better of disc and gen under the task's main metric; written as mode "oracle".

    The gen score of a query is its mean over samples (the gen headline, pass@1), so the oracle is the
    expected score of picking, per query, the better of the disc embedding and one sampled gen trace
    (the paper's "best of disc and gen" with one sample).  Reused while both inputs are unchanged.
    ``disc`` and ``gen`` are flat rows (:meth:`TaskResult.to_row`); so is the value returned.
    """
    m = spec.main_metric
    d = ctx.task_dir(spec, "oracle")
    fp = fingerprint([disc["config_hash"], gen["config_hash"], disc.get("data_fingerprint"),
                      gen.get("data_fingerprint"), disc.get("timestamp"), gen.get("timestamp")])
    prev = TaskResult.load(d / "scores.json")
    if prev is not None and prev.config_hash == fp and prev.status == "ok":
        return prev.to_row()
    tables = [pd.read_parquet(ctx.task_dir(spec, x) / "per_query.parquet", columns=["query_id", m])
              for x in ("disc", "gen")]
    both = tables[0].merge(tables[1], on="query_id", suffixes=("_disc", "_gen"), validate="one_to_one")
    best = oracle(both[f"{m}_disc"].to_numpy(), both[f"{m}_gen"].to_numpy())
    res.write_parquet(d / "per_query.parquet", pd.DataFrame({"query_id": both["query_id"], m: best,
                                                            "from_gen": both[f"{m}_gen"] > both[f"{m}_disc"]}))
    carry = {k: gen.get(k) for k in ("setup_hash", "decoding", "instruction_set", "model_id", "model_revision",
                                     "store_dtype")}
    runtime = {k: gen.get(k) for k in res.RUNTIME_COLUMNS}
    result = ctx.result(spec, "oracle", fp, runtime=runtime, **carry, data_fingerprint=disc.get("data_fingerprint"),
                        status="ok", error=None, metrics={m: float(best.mean())}, n_queries=len(best), n_tied=0)
    result.write(d / "scores.json")
    return result.to_row()
