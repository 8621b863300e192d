"""Typed artifacts that the stages hand to each other.

task spec -> :class:`TaskData` (loaded items) -> :class:`Embeddings` -> :class:`Rankings` -> scores
(per-query metric arrays) -> result rows.  Fields are read by name, never by position.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Role = Literal["query", "candidate"]
Mode = Literal["disc", "gen"]

#: Graded relevance: query id -> {candidate id: grade}.  Only grades > 0 are kept.
Qrels = dict[str, dict[str, float]]


@dataclass(frozen=True)
class Item:
    """One thing to embed: a query or a candidate, as the task describes it.

    ``instruction`` and ``text`` are kept apart: the encoder decides how to join them into its prompt.
    ``image`` is a file path or the encoded bytes of an image; ``video`` is the tuple of frame files
    already sampled by the loader.  ``key`` hashes everything that determines the item's embedding for a
    given model, so equal items are encoded once.
    """

    id: str
    text: str = ""
    instruction: str = ""
    image: str | bytes | None = None
    images: tuple[str, ...] = ()
    video: tuple[str, ...] = ()
    # Where the item came from, for error messages: (file, row).
    source: tuple[str, int | str] | None = None

    @property
    def key(self) -> str:
        h = hashlib.sha256()
        for part in (self.instruction, self.text):
            h.update(part.encode())
            h.update(b"\x00")
        if isinstance(self.image, bytes):
            h.update(b"img-bytes:" + hashlib.sha256(self.image).digest())
        elif self.image is not None:
            h.update(b"img:" + self.image.encode())
        for tag, paths in ((b"imgs:", self.images), (b"vid:", self.video)):
            for p in paths:
                h.update(tag + p.encode() + b"\x00")
        return h.hexdigest()[:32]

    @property
    def modality(self) -> str:
        parts = []
        if self.text or self.instruction:
            parts.append("text")
        if self.image is not None or self.images:
            parts.append("image")
        if self.video:
            parts.append("video")
        return "+".join(parts) or "empty"


@dataclass
class TaskData:
    """A task's loaded items.

    ``candidates`` holds each distinct candidate once.  For a ``local`` pool, ``pools[i]`` is the ordered
    list of candidate indices that query ``i`` ranks (its order is the tie-break order); for a ``global``
    pool, ``pools`` is None and every query ranks every candidate.
    """

    task: str
    queries: list[Item]
    candidates: list[Item]
    qrels: Qrels
    pools: list[np.ndarray] | None = None

    def __post_init__(self) -> None:
        if self.pools is not None and len(self.pools) != len(self.queries):
            raise ValueError(f"{self.task}: {len(self.pools)} pools for {len(self.queries)} queries")


@dataclass
class Embeddings:
    """L2-normalised vectors, one row per item id."""

    ids: list[str]
    vectors: np.ndarray  # (n, dim) float32

    def __post_init__(self) -> None:
        if self.vectors.ndim != 2 or self.vectors.shape[0] != len(self.ids):
            raise ValueError(f"{len(self.ids)} ids for vectors of shape {self.vectors.shape}")


@dataclass
class Rankings:
    """Top-k of each query.

    ``indices[q, r]`` is the candidate (index into ``candidate_ids``) at rank ``r`` of query ``q``, or -1
    where the query's pool is shorter than k.  ``tied[q]`` is True when a score tie touches the top k
    (two equal scores at ranks <= k, or the k-th score equal to the first one left out), so the
    tie-break policy (earlier candidate first) could have changed that query's metrics.
    """

    query_ids: list[str]
    candidate_ids: list[str]
    indices: np.ndarray  # (nq, k) int64
    scores: np.ndarray  # (nq, k) float32
    tied: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # (nq,) bool
    search_backend: str = ""  # what searched, e.g. "torch:cuda" or "numpy (fallback: ...)"

    def __post_init__(self) -> None:
        if self.tied.size == 0:
            self.tied = np.zeros(len(self.query_ids), dtype=bool)

    @property
    def k(self) -> int:
        return int(self.indices.shape[1])

    def ranked_ids(self, q: int) -> list[str]:
        return [self.candidate_ids[i] for i in self.indices[q] if i >= 0]
