"""A zero-cost encoder for harness tests and the suite-scale dry run: vectors from a hash of the item's key.

Each item's vector is a fixed pseudo-random unit vector seeded by its content key, so equal items get equal
vectors in any batch and order, and nothing depends on a model.  ``generate_embed`` returns ``samples`` such
vectors per item (seeded by key and sample index) with a one-token trace.  It costs microseconds per item, so
a run with it measures the harness alone (loaders, de-duplication, store, scoring, result writing).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from umeval.core.types import Item
from umeval.encoders.base import Advance, GenResult, Trace


def hash_vector(key: str, dim: int) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little")
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


class HashEncoder:
    """Implements :class:`umeval.encoders.base.Encoder` (and ``generate_embed``) with no model."""

    dim = 64

    def __init__(self, model_cfg: Any = None, *, cache_dir: Path | None = None, device: str = "cpu",
                 batch_size: int = 8, num_workers: int = 0, dim: int | None = None) -> None:
        self.model_id, self.revision, self.calls = "hash", "0", 0
        self.dim = int(dim or self.dim)

    @classmethod
    def fingerprint(cls, model_cfg: Any) -> dict[str, Any]:
        return {"encoder": "hash", "dim": cls.dim}

    def info(self) -> dict[str, Any]:
        return {"model_id": self.model_id, "revision": self.revision, "dim": self.dim}

    def embed(self, items: Sequence[Item], *, mode: str = "disc", task: str | None = None, role: str = "query",
              advance: Advance | None = None) -> np.ndarray:
        out = np.stack([hash_vector(it.key, self.dim) for it in items]) if items else np.zeros((0, self.dim),
                                                                                              np.float32)
        self.calls += len(items)
        if advance:
            advance(len(items))
        return out

    def generate_embed(self, items: Sequence[Item], *, samples: int = 1, base_seed: int = 0, decoding: Any = None,
                       task: str | None = None, role: str = "query", advance: Advance | None = None) -> GenResult:
        vecs = np.zeros((len(items), samples, self.dim), np.float32)
        traces = []
        for i, it in enumerate(items):
            for s in range(samples):
                vecs[i, s] = hash_vector(f"{it.key}|{base_seed}|{s}", self.dim)
            traces.append([Trace(sample=s, seed=base_seed, text="<gen_emb>", n_tokens=1, has_gen_emb=True,
                                 finish_reason="stop", pool_position=0, token_ids=(0,)) for s in range(samples)])
        self.calls += len(items)
        if advance:
            advance(len(items))
        return GenResult(vectors=vecs, traces=traces)
