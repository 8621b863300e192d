"""A weight-free encoder for driving the real runner fast: vectors from item content, samples from item seeds.

``run(cfg, encoder_factory=FakeEncoder)`` goes through every stage (loading, store, ranking, scoring, result
files, leaderboards) in well under a second per task.  It decodes images as the real encoders do (a corrupt
file is the same one-line DataError) and draws generative samples under the same per-item seed contract
(:func:`umeval.encoders.base.item_seed`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from umeval.core.types import Item
from umeval.encoders.base import GenResult, Trace, item_seed
from umeval.encoders.media import load_image

DIM = 16


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


def content_vector(item: Item) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(item.content_key.encode()).digest()[:8], "little")
    return np.random.default_rng(seed).normal(size=DIM)


class FakeEncoder:
    model_id = "fake"
    revision = "0"

    def __init__(self, model_cfg: Any = None, **_: Any) -> None:
        self.calls = 0

    def info(self) -> dict[str, Any]:
        return {"model_id": self.model_id, "revision": self.revision}

    def _check_media(self, items: Sequence[Item], task: str | None) -> None:
        for it in items:
            for src in ([it.image] if it.image is not None else []) + list(it.images) + list(it.video):
                load_image(src, it, task)

    def embed(self, items: Sequence[Item], *, mode: str = "disc", task: str | None = None, role: str = "query",
              advance: Any = None) -> np.ndarray:
        self._check_media(items, task)
        self.calls += len(items)
        if advance:
            advance(len(items))
        return _unit(np.stack([content_vector(it) for it in items])) if items else np.zeros((0, DIM), np.float32)

    def generate_embed(self, items: Sequence[Item], *, samples: int = 1, base_seed: int = 0, decoding: Any = None,
                       task: str | None = None, role: str = "query", advance: Any = None) -> GenResult:
        self._check_media(items, task)
        vecs, traces = [], []
        for it in items:
            seed = item_seed(base_seed, it)
            base = content_vector(it)
            rows, trs = [], []
            for s in range(samples):
                noise = np.random.default_rng([seed, s]).normal(size=DIM)
                rows.append(base + 1.5 * noise)
                trs.append(Trace(sample=s, seed=seed, text=f"trace {seed}/{s}", n_tokens=3, has_gen_emb=True,
                                 finish_reason="stop", pool_position=0))
            vecs.append(_unit(np.stack(rows)))
            traces.append(trs)
        self.calls += len(items)
        if advance:
            advance(len(items))
        out = np.stack(vecs) if vecs else np.zeros((0, samples, DIM), np.float32)
        return GenResult(vectors=out, traces=traces)
