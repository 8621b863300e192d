"""What a task result depends on, as short hashes: the task fingerprint (``config_hash``) and its setup part.

A finished result is reused only while the current config gives the same fingerprint (see
:mod:`umeval.run.planning`); the leaderboard marks a result stale when it no longer does (see
:mod:`umeval.results.board`).
The embedding store has its own key, :func:`store_key`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig

from umeval.core.config import ResolvedRun, fingerprint, to_dict
from umeval.core.spec import TaskSpec
from umeval.run.runtime import resolve_runtime
from umeval.scoring import metrics as M


def metric_k(spec: TaskSpec, k: int) -> int:
    """The ranking depth a task needs: ``k``, or the largest cutoff of its metrics."""
    return max([k] + [M.parse_metric(m)[1] for m in spec.metrics])


def setup_fingerprint(spec: TaskSpec, run: ResolvedRun) -> str:
    """The part of a task's fingerprint shared by its modes.

    Task, model (less its decoding), instructions, limit, cutoff, store dtype and the resolved runtime
    (including the faiss version).
    """
    # How items are batched or submitted changes no vector: batch_tokens and submit_items are left out.
    # formats is the family's code for model.prompt (keyed by name and family version).
    cfg, instruction_set = run.cfg, run.instruction_set
    unused = ("description", "decoding", "batch_tokens", "submit_items", "formats", "declared")
    model = {k: v for k, v in to_dict(cfg.model).items() if k not in unused}
    return fingerprint({
        "spec": spec.summary() | {"instructions": spec.instruction(instruction_set).__dict__,
                                  "options": spec.options, "metrics": spec.metrics, "max_queries": spec.max_queries},
        "model": model, "instruction_set": instruction_set, "limit": cfg.limit,
        "k": metric_k(spec, cfg.scorer.k), "store_dtype": cfg.store_dtype,
        "runtime": dict(run.runtime),
    })


def task_fingerprint(spec: TaskSpec, run: ResolvedRun, mode: str) -> str:
    """The ``config_hash`` of a task result: the setup plus the mode and, for gen, samples/seed/decoding."""
    cfg = run.cfg
    gen = {"gen": to_dict(cfg.gen), "decoding": to_dict(cfg.model.decoding)} if mode == "gen" else None
    return fingerprint({"setup": setup_fingerprint(spec, run), "mode": mode, "gen": gen})


def store_key(cfg: DictConfig, runtime: Mapping[str, Any] | None = None) -> str:
    """The encoder part of every embedding store key: exactly what changes the vectors, as resolved facts.

    What the encoder class declares for this model (:meth:`Encoder.fingerprint`: by default the family's name,
    version, key fields and options, :func:`umeval.models.family.cache_key`), the encoder class, and the runtime
    fields that change vectors (:data:`umeval.run.runtime.ENCODER_RUNTIME`: backend, device and dtype as
    resolved, attention, torch/transformers/vLLM versions, the model's commit).  Raw settings are left out:
    ``device=auto`` and ``device=cpu`` on a CPU machine resolve to the same device and share every vector; ``seed``
    is read by no encoder (generative samples are keyed by ``gen.seed`` per item, in the memo).
    """
    return fingerprint(store_identity(cfg, runtime))


def store_identity(cfg: DictConfig, runtime: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What :func:`store_key` hashes (recorded in the store beside the vectors, for ``umeval cache``)."""
    from umeval.core.plugins import load_object
    from umeval.models.family import cache_key, encoder_ref
    from umeval.run.runtime import ENCODER_RUNTIME, resolve_backend

    runtime = runtime if runtime is not None else resolve_runtime(cfg)
    ref = encoder_ref(cfg, resolve_backend(cfg))
    own = getattr(load_object(ref), "fingerprint", None)  # an encoder outside any family keys itself
    return {"encoder": ref, "model": own(cfg.model) if callable(own) else cache_key(cfg.model),
            "runtime": {k: runtime[k] for k in ENCODER_RUNTIME}}
