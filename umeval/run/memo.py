"""The embedding memo: each unique item is encoded once, across queries, candidates, tasks and runs."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np

from umeval.core.config import fingerprint
from umeval.core.types import Embeddings, Item
from umeval.encoders.base import Advance, Encoder, Trace
from umeval.run.store import EmbeddingStore, content_entry_key, entry_key

#: What an item is to the encoder: a family may format a query and a candidate differently.
ROLES = ("query", "candidate")


class EmbeddingMemo:
    """Embeddings by content key, backed by the on-disk :class:`EmbeddingStore`.

    Each unique item is encoded once, across queries, candidates, tasks and runs.  Missing items are encoded
    in chunks and each chunk is stored as soon as it is done, so a killed run loses at most one chunk.
    ``role`` ("query" or "candidate") is passed on to the encoder.  With ``role_keyed`` (a model family that
    writes queries and candidates differently, ``roles="differ"``) the role is part of every key, so an item that
    is a query in one task and a candidate in another is encoded once per role; otherwise once.
    """

    def __init__(self, store: EmbeddingStore, encoder_id: str, chunk: int = 64, *, role_keyed: bool = False) -> None:
        self.store, self.encoder_id, self.chunk = store, encoder_id, max(1, chunk)
        self.role_keyed = role_keyed
        self.encoded = 0  # items sent to the encoder (a rerun of a finished suite sends none)

    def _mode_key(self, mode: str, role: str) -> str:
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, not {role!r}")
        return f"{mode}@{role}" if self.role_keyed else mode

    def disc_keys(self, items: Sequence[Item], *, mode: str, role: str) -> list[str]:
        """The store key of each item's (non-generative) embedding."""
        hashes = self.store.media_hashes
        keys = [entry_key(self.encoder_id, self._mode_key(mode, role), it, hashes=hashes) for it in items]
        hashes.flush()
        return keys

    def embed(self, encoder: Callable[[], Encoder], items: Sequence[Item], *, mode: str, task: str, role: str,
              advance: Advance | None = None) -> Embeddings:
        keys = self.disc_keys(items, mode=mode, role=role)
        for part in self._missing(items, [[k] for k in keys], advance):
            vecs = encoder().embed([it for it, _ in part], mode=mode, task=task, role=role, advance=advance)
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

    def gen_keys(self, items: Sequence[Item], *, samples: int, base_seed: int, decoding: Any,
                 role: str) -> list[list[str]]:
        policy = fingerprint({"decoding": decoding, "n": samples, "seed": base_seed})
        mode = self._mode_key("gen", role)
        hashes = self.store.media_hashes
        content = [it.content_key_with(hashes.digest) for it in items]  # an item's files hashed once, not per sample
        hashes.flush()
        return [[content_entry_key(self.encoder_id, mode, c, f"{policy}|s{s}") for s in range(samples)]
                for c in content]

    def embed_gen(self, encoder: Callable[[], Encoder], items: Sequence[Item], *, samples: int, base_seed: int,
                  decoding: Any, task: str, role: str,
                  advance: Advance | None = None) -> tuple[np.ndarray, list[list[Trace]]]:
        """Generative embeddings, (n_items, samples, dim), and traces, stored per (item, sample index).

        The key also holds the decoding policy, the base seed and the number of samples drawn together (with
        ``SamplingParams(n=k)`` sample i depends on k), so changing any of them draws new samples.
        """
        keys = self.gen_keys(items, samples=samples, base_seed=base_seed, decoding=decoding, role=role)
        for part in self._missing(items, keys, advance):
            out = encoder().generate_embed([it for it, _ in part], samples=samples, base_seed=base_seed,
                                           decoding=decoding, task=task, role=role, advance=advance)
            self.encoded += len(part)
            flat_keys = [k for _, ks in part for k in ks]
            meta = [json.dumps(asdict(t) | {"token_ids": list(t.token_ids)}) for tr in out.traces for t in tr]
            self.store.put(flat_keys, out.vectors.reshape(len(flat_keys), -1), meta=meta)
        flat = [k for ks in keys for k in ks]
        vecs = self.store.get(flat).reshape(len(items), samples, -1)
        traces = [[Trace(**json.loads(m)) for m in self.store.get_meta(ks)] for ks in keys]
        return vecs, traces
