"""A zero-cost encoder for harness tests and the suite-scale dry run: vectors from a hash of the item.

Each item's vector is a fixed pseudo-random unit vector seeded by a hash of the item, so equal items get equal
vectors in any batch and order, and nothing depends on a model.  It costs microseconds per item, so a run with
it measures the harness alone (loaders, de-duplication, store, scoring, result writing).

Two flavours, one class:

- ``HashEncoder()`` (the bench): seeded by :attr:`Item.key` (no media read); ``generate_embed`` gives
  ``samples`` independent vectors per item (seeded by key, base seed and sample index) with a one-token trace.
- ``HashEncoder(by_content=True, check_media=True, dim=16)`` (the tests' ``FakeEncoder``): seeded by
  :attr:`Item.content_key`; it decodes every image as the real encoders do (a corrupt file is the same one-line
  DataError), and draws generative samples under the per-item seed contract of the real encoders
  (:func:`umeval.encoders.base.item_seed`: the item's vector plus seeded noise).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from umeval.core.types import Item
from umeval.encoders.base import Advance, GenResult, Trace, item_seed

#: How far a generative sample of the content-keyed flavour lies from its item's vector (noise scale).
SAMPLE_NOISE = 1.5


def hash_vector(key: str, dim: int, *, normalise: bool = True) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little")
    v = np.random.default_rng(seed).standard_normal(dim)
    return (v / np.linalg.norm(v)).astype(np.float32) if normalise else v


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


class HashEncoder:
    """Implements :class:`umeval.encoders.base.Encoder` (and ``generate_embed``) with no model."""

    dim = 64

    def __init__(self, model_cfg: Any = None, *, cache_dir: Path | None = None, device: str = "cpu",
                 batch_size: int = 8, num_workers: int = 0, dim: int | None = None, by_content: bool = False,
                 check_media: bool = False) -> None:
        self.model_id, self.revision, self.calls = "hash", "0", 0
        self.dim = int(dim or self.dim)
        self.by_content, self.check_media = by_content, check_media

    @classmethod
    def fingerprint(cls, model_cfg: Any) -> dict[str, Any]:
        return {"encoder": "hash", "dim": cls.dim}

    def close(self) -> None:
        """Nothing to free (the encoder protocol's close)."""

    def _vector(self, it: Item) -> np.ndarray:
        return hash_vector(it.content_key if self.by_content else it.key, self.dim, normalise=not self.by_content)

    def _media(self, items: Sequence[Item], task: str | None) -> None:
        if self.check_media:
            from umeval.encoders.media import load_image

            for it in items:
                for src in ([it.image] if it.image is not None else []) + list(it.images) + list(it.video):
                    load_image(src, it, task)

    def _done(self, n: int, advance: Advance | None) -> None:
        self.calls += n
        if advance:
            advance(n)

    def embed(self, items: Sequence[Item], *, task: str | None = None, role: str = "query",
              advance: Advance | None = None) -> np.ndarray:
        self._media(items, task)
        out = (_unit(np.stack([self._vector(it) for it in items])) if items
               else np.zeros((0, self.dim), np.float32))
        self._done(len(items), advance)
        return out

    def generate_embed(self, items: Sequence[Item], *, samples: int = 1, base_seed: int = 0, decoding: Any = None,
                       task: str | None = None, role: str = "query", advance: Advance | None = None) -> GenResult:
        self._media(items, task)
        vecs = np.zeros((len(items), samples, self.dim), np.float32)
        traces = []
        for i, it in enumerate(items):
            if self.by_content:  # the real encoders' contract: one seed per item, from its content
                seed, base = item_seed(base_seed, it), self._vector(it)
                rows = [base + SAMPLE_NOISE * np.random.default_rng([seed, s]).normal(size=self.dim)
                        for s in range(samples)]
                vecs[i] = _unit(np.stack(rows))
                traces.append([Trace(sample=s, seed=seed, text=f"trace {seed}/{s}", n_tokens=3, has_gen_emb=True,
                                     finish_reason="stop", pool_position=0) for s in range(samples)])
            else:
                for s in range(samples):
                    vecs[i, s] = hash_vector(f"{it.key}|{base_seed}|{s}", self.dim)
                traces.append([Trace(sample=s, seed=base_seed, text="<gen_emb>", n_tokens=1, has_gen_emb=True,
                                     finish_reason="stop", pool_position=0, token_ids=(0,)) for s in range(samples)])
        self._done(len(items), advance)
        return GenResult(vectors=vecs, traces=traces)
