"""A deterministic fake encoder and a finished mini run made with it (the real runner, no model)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from umeval.encoders.base import GenResult, Trace, l2_normalise

DIM = 16


def _vec(key: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)


class FakeEncoder:
    """Vectors from a hash of the item id (and the sample for gen); every third query trace lacks <gen_emb>."""

    model_id, revision = "fake", "0"

    def __init__(self, *args: Any, **kw: Any) -> None:
        self.calls = 0

    def info(self) -> dict[str, Any]:
        return {"model_id": self.model_id}

    def embed(self, items, *, mode="disc", task=None, role="query", advance=None):  # type: ignore[no-untyped-def]
        self.calls += len(items)
        if advance:
            advance(len(items))
        return l2_normalise(np.stack([_vec(f"{mode}|{it.id}") for it in items]), items, task)

    def generate_embed(self, items, *, samples, base_seed, decoding, task=None, role="query", advance=None):  # type: ignore[no-untyped-def]
        self.calls += len(items)
        vecs = np.stack([[_vec(f"gen|{it.id}|{s}") for s in range(samples)] for it in items])
        vecs /= np.linalg.norm(vecs, axis=2, keepdims=True)
        traces = [[Trace(sample=s, seed=base_seed + s, text=f"<think>item {i} sample {s}</think><answer><gen_emb>",
                         n_tokens=7, has_gen_emb=i % 3 != 0, finish_reason="stop", pool_position=3)
                   for s in range(samples)] for i, _ in enumerate(items)]
        if advance:
            advance(len(items))
        return GenResult(vectors=vecs.astype(np.float32), traces=traces)


def fake_run(out: Path, cache: Path, *extra: str) -> Any:
    """``umeval run task=mini mode=both gen.samples=3`` with the fake encoder; returns the RunSummary."""
    from umeval.core.config import compose_config
    from umeval.run.runner import run

    cfg = compose_config(["task=mini", "model=tiny-qwen2vl", "mode=both", "gen.samples=3",
                          "model.decoding.do_sample=true", f"output_dir={out}", f"cache_dir={cache}",
                          "progress=false", *extra])
    return run(cfg, encoder_factory=FakeEncoder)
