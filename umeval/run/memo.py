"""The embedding memo: each unique item is encoded once, across queries, candidates, tasks and runs."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict
from typing import Any, TypeGuard

import numpy as np

from umeval.core.config import fingerprint
from umeval.core.errors import ConfigError
from umeval.core.multivector import TokenMatrices
from umeval.core.timing import count_encoded, timed
from umeval.core.types import Embeddings, Item
from umeval.encoders.base import Advance, Encoder, GenerativeEncoder, GenUnit, Trace
from umeval.run.store import EmbeddingStore, content_entry_key, entry_key

#: What an item is to the encoder: a family may format a query and a candidate differently.
ROLES = ("query", "candidate")


def is_generative(encoder: Encoder) -> TypeGuard[GenerativeEncoder]:
    """Whether ``encoder`` has a generative mode (so the type checker sees every ``generate_embed`` call)."""
    return callable(getattr(encoder, "generate_embed", None))


def generative(encoder: Callable[[], Encoder]) -> GenerativeEncoder:
    """The encoder, as a generative one; a one-line error when its class has none (an encoder_factory's)."""
    enc = encoder()
    if not is_generative(enc):
        raise ConfigError(f"encoder {type(enc).__name__} has no generative mode (no generate_embed)",
                          "use mode=disc, or a model whose family has a gen mode (`umeval list families`)")
    return enc


class EmbeddingMemo:
    """Embeddings by content key, backed by the on-disk :class:`EmbeddingStore`.

    Each unique item is encoded once, across queries, candidates, tasks and runs.  Missing items are encoded
    in chunks and each chunk is stored as soon as it is done, so a killed run loses at most one chunk.
    ``role`` ("query" or "candidate") is passed on to the encoder.  With ``role_keyed`` (a model family that
    writes queries and candidates differently, ``roles="differ"``) the role is part of every key, so an item that
    is a query in one task and a candidate in another is encoded once per role; otherwise once.
    """

    def __init__(self, store: EmbeddingStore, encoder_id: str, chunk: int = 64, *, role_keyed: bool = False,
                 identity: Mapping[str, Any] | None = None) -> None:
        self.store, self.encoder_id, self.chunk = store, encoder_id, max(1, chunk)
        self.role_keyed = role_keyed
        self.identity = identity  # what encoder_id hashes, recorded in the store at the first write
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

    @timed("encode")
    def embed(self, encoder: Callable[[], Encoder], items: Sequence[Item], *, mode: str, task: str, role: str,
              advance: Advance | None = None) -> Embeddings:
        """Each item's vector, or its token matrix when the encoder returns :class:`TokenMatrices`.

        A late-interaction encoder's matrices are stored as such and come back memory-mapped from the store.
        """
        keys = self.disc_keys(items, mode=mode, role=role)
        for part in self._missing(items, [[k] for k in keys], advance):
            vecs = encoder().embed([it for it, _ in part], task=task, role=role, advance=advance)
            self.encoded += len(part)
            count_encoded(len(part))
            self._put([ks[0] for _, ks in part], vecs)
        ids = [it.id for it in items]
        multi = [self.store.is_multi(k) for k in keys]
        if any(multi):
            if not all(multi):  # cannot happen with one encoder id; a store edited by hand could do it
                raise ValueError("the store holds token matrices for some items and vectors for others")
            return Embeddings(ids=ids, vectors=self.store.get_multi(keys))
        return Embeddings(ids=ids, vectors=self.store.get(keys))

    def _put(self, keys: list[str], vectors: np.ndarray | TokenMatrices, meta: Sequence[str] | None = None) -> None:
        """Store vectors (or token matrices) under this encoder's fingerprint, recording what it hashes."""
        if self.identity is not None:
            self.store.describe(self.encoder_id, self.identity)
        if isinstance(vectors, TokenMatrices):
            self.store.put_multi(keys, vectors, encoder=self.encoder_id)
        else:
            self.store.put(keys, vectors, meta=meta, encoder=self.encoder_id)

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

    @timed("encode")
    def embed_gen(self, encoder: Callable[[], Encoder], items: Sequence[Item], *, samples: int, base_seed: int,
                  decoding: Any, task: str, role: str,
                  advance: Advance | None = None) -> tuple[np.ndarray, list[list[Trace]]]:
        """Generative embeddings, (n_items, samples, dim), and traces, stored per (item, sample index).

        The key also holds the decoding policy, the base seed and the number of samples drawn together (with
        ``SamplingParams(n=k)`` sample i depends on k), so changing any of them draws new samples.
        """
        keys = self.gen_keys(items, samples=samples, base_seed=base_seed, decoding=decoding, role=role)
        for part in self._missing(items, keys, advance):
            out = generative(encoder).generate_embed([it for it, _ in part], samples=samples, base_seed=base_seed,
                                                     decoding=decoding, task=task, role=role, advance=advance)
            self.encoded += len(part)
            count_encoded(len(part))
            flat_keys = [k for _, ks in part for k in ks]
            meta = [json.dumps(asdict(t) | {"token_ids": list(t.token_ids)}) for tr in out.traces for t in tr]
            self._put(flat_keys, out.vectors.reshape(len(flat_keys), -1), meta=meta)
        flat = [k for ks in keys for k in ks]
        vecs = self.store.get(flat).reshape(len(items), samples, -1)
        traces = [[Trace(**json.loads(m)) for m in self.store.get_meta(ks)] for ks in keys]
        return vecs, traces

    def embed_gen_stream(self, encoder: Callable[[], Encoder], units: Iterable[GenUnit], *, base_seed: int,
                         decoding: Any, on_unit: Callable[[GenUnit], Advance | None] | None = None,
                         on_unit_done: Callable[[GenUnit, list[list[Trace]]], None] | None = None) -> int:
        """Generative embeddings of every unit's missing items, as one stream through the encoder.

        For an encoder with ``generate_stream`` (vLLM): no barrier between chunks, tasks or roles; each item is
        stored as it finishes (writes batched by ``self.chunk``), so a killed run loses at most one batch.  Other
        encoders get one ``generate_embed`` call per unit.  The encoder is built only if some item is missing.
        ``on_unit(unit)`` is called when a unit starts and may return its progress ``advance``;
        ``on_unit_done(unit, traces)`` when its last item is stored.  Returns the number of items encoded.
        """
        pending: dict[int, tuple[GenUnit, list[list[str]], Advance | None, list[list[Trace]], list[int], GenUnit]] = {}
        buffer: tuple[list[str], list[np.ndarray], list[str]] = ([], [], [])
        encoded = 0

        def missing() -> Iterator[GenUnit]:
            for unit in units:
                keys = self.gen_keys(unit.items, samples=unit.samples, base_seed=base_seed, decoding=decoding,
                                     role=unit.role)
                adv = on_unit(unit) if on_unit else None
                parts = self._missing(unit.items, keys, adv)
                todo = [p for part in parts for p in part]
                if not todo:
                    if on_unit_done:
                        on_unit_done(unit, [])
                    continue
                sub = GenUnit([it for it, _ in todo], unit.task, unit.role, unit.samples)
                pending[id(sub)] = (unit, [ks for _, ks in todo], adv, [], [len(todo)], sub)
                yield sub

        def flush() -> None:
            keys, vecs, meta = buffer
            if keys:
                self.store.put(list(keys), np.stack(vecs), meta=list(meta))
                for b in buffer:
                    b.clear()

        def sink(sub: GenUnit, i: int, vecs: np.ndarray, traces: list[Trace]) -> None:
            nonlocal encoded
            unit, keys, adv, seen, left, _ = pending[id(sub)]
            buffer[0].extend(keys[i])
            buffer[1].extend(vecs)
            buffer[2].extend(json.dumps(asdict(t) | {"token_ids": list(t.token_ids)}) for t in traces)
            encoded += 1
            seen.append(traces)
            left[0] -= 1
            if len(buffer[0]) >= self.chunk:
                flush()
            if adv:
                adv(1)
            if left[0] == 0:
                flush()
                del pending[id(sub)]
                if on_unit_done:
                    on_unit_done(unit, seen)

        todo = missing()
        first = next(todo, None)
        if first is None:
            return 0
        enc = encoder()
        stream = getattr(enc, "generate_stream", None)
        chained = _chain(first, todo)
        try:
            if stream is not None:
                stream(chained, base_seed=base_seed, decoding=decoding, sink=sink)
            else:
                for sub in chained:
                    out = enc.generate_embed(sub.items, samples=sub.samples, base_seed=base_seed,  # type: ignore[attr-defined]
                                             decoding=decoding, task=sub.task, role=sub.role)
                    for i in range(len(sub.items)):
                        sink(sub, i, out.vectors[i], out.traces[i])
        finally:
            flush()  # what finished is kept, also when the stream fails
        self.encoded += encoded
        return encoded


def _chain(first: GenUnit, rest: Iterator[GenUnit]) -> Iterator[GenUnit]:
    yield first
    yield from rest
