"""Typed artifacts that the stages hand to each other.

task spec -> :class:`TaskData` (loaded items) -> :class:`Embeddings` -> :class:`Rankings` -> scores
(per-query metric arrays) -> result rows.  Fields are read by name, never by position.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from umeval.core.multivector import TokenMatrices

#: The media placeholders of the official MMEB-V2 text (the Qwen2-VL backbone's): the loaders keep them in an item's
#: text, the prompt formats expand or replace them.  Defined once here.
IMAGE_TOKEN = "<|image_pad|>"
VIDEO_TOKEN = "<|video_pad|>"
VISION_START, VISION_END = "<|vision_start|>", "<|vision_end|>"

#: Graded relevance: query id -> {candidate id: grade}.  Only grades > 0 are kept.
Qrels = dict[str, dict[str, float]]


@dataclass(frozen=True)
class Item:
    """One thing to embed: a query or a candidate, as the task describes it.

    The MMEB-V2 loaders put the whole official input string into ``text`` (placeholders such as
    ``<|image_pad|>``, spaces and newlines as the official parsers write them, see
    :mod:`umeval.loaders.text`) and leave ``instruction`` empty; the model's prompt format rewrites it.
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
    # The official parser got no text for this item (its instruction alone, e.g. a page, a candidate video or a
    # classification query): ``text[:no_text_at]`` is what it composed (placeholder and instruction), the rest
    # what it appended after (a newline).  Backbones whose parser branch writes ``instruction + " "`` then (see
    # umeval.loaders.text) put the space there.  None: the parser got a text, or the item is hand-built.
    no_text_at: int | None = None
    # The placeholders in ``text`` were written by the official parser for every backbone (the video-QA
    # ``process_query``, or an instruction's own ``<|image_1|>``), not added by ``process_input_text``'s Qwen2-VL
    # branch: backbones whose branch adds no placeholder (GME, LamRA) keep them as literal tokens.
    literal_placeholders: bool = False
    # (instruction, text) as the official parser received them, before they were composed into ``text``: for
    # families whose authors place the two apart (e.g. the instruction in a system turn).  Not keyed: for every
    # loader the composed ``text`` (keyed) is made from them by a fixed rule.  None: hand-built items.
    parts: tuple[str, str] | None = None

    @property
    def key(self) -> str:
        h = hashlib.sha256()
        for part in (self.instruction, self.text):
            h.update(part.encode())
            h.update(b"\x00")
        if self.no_text_at is not None:  # only then, so the keys of all other items stay as they were
            h.update(b"no-text-at:%d\x00" % self.no_text_at)
        if self.literal_placeholders:
            h.update(b"literal-placeholders\x00")
        if isinstance(self.image, bytes):
            h.update(b"img-bytes:" + hashlib.sha256(self.image).digest())
        elif self.image is not None:
            h.update(b"img:" + self.image.encode())
        for tag, paths in ((b"imgs:", self.images), (b"vid:", self.video)):
            for p in paths:
                h.update(tag + p.encode() + b"\x00")
        return h.hexdigest()[:32]

    @property
    def content_key(self) -> str:
        """Like :attr:`key`, but media files count by their bytes, not their paths.

        The same data under another data root, or on another machine, gives the same content key; per-item
        sample seeds derive from it (:func:`umeval.encoders.base.item_seed`).  It reads the item's media
        files, so it is computed only for items about to be encoded.
        """
        return self.content_key_with(_content_digest)

    def content_key_with(self, digest: Callable[[str | bytes], bytes]) -> str:
        """:attr:`content_key` with media digests from ``digest`` (e.g. a cache that skips unchanged files)."""
        h = hashlib.sha256()
        for part in (self.instruction, self.text):
            h.update(part.encode())
            h.update(b"\x00")
        if self.no_text_at is not None:
            h.update(b"no-text-at:%d\x00" % self.no_text_at)
        if self.literal_placeholders:
            h.update(b"literal-placeholders\x00")
        for tag, paths in ((b"img:", [self.image]), (b"imgs:", self.images), (b"vid:", self.video)):
            for p in paths:
                if p is None:
                    continue
                h.update(tag + digest(p) + b"\x00")
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


def _content_digest(media: str | bytes) -> bytes:
    """sha256 of inline bytes or of a file's bytes (a file that cannot be read hashes as its name)."""
    if isinstance(media, bytes):
        return hashlib.sha256(media).digest()
    h = hashlib.sha256()
    try:
        with open(media, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except OSError:  # the encoder reports the missing file with its task, file and row
        return b"unreadable:" + media.rsplit("/", 1)[-1].encode()
    return h.digest()


@dataclass
class TaskData:
    """A task's loaded items.

    ``candidates`` holds each distinct candidate once.  For a ``local`` pool, ``pools[i]`` is the ordered
    list of candidate indices that query ``i`` ranks (its order is the tie-break order); for a ``global``
    pool, ``pools`` is None and every query ranks every candidate.  ``notes`` counts what the loader did
    where the official rule is lenient, ambiguous or deliberately not followed (e.g. candidates merged
    because they share an official candidate name); the runner copies it into ``scores.json``.
    """

    task: str
    queries: list[Item]
    candidates: list[Item]
    qrels: Qrels
    pools: list[np.ndarray] | None = None
    notes: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.pools is not None and len(self.pools) != len(self.queries):
            raise ValueError(f"{self.task}: {len(self.pools)} pools for {len(self.queries)} queries")


@dataclass
class Embeddings:
    """L2-normalised vectors, one row per item id; or, for late interaction, one token matrix per item id."""

    ids: list[str]
    vectors: np.ndarray | TokenMatrices  # (n, dim) float32, or n matrices (tokens_i, dim)

    def __post_init__(self) -> None:
        if isinstance(self.vectors, TokenMatrices):
            if len(self.vectors) != len(self.ids):
                raise ValueError(f"{len(self.ids)} ids for {len(self.vectors)} token matrices")
        elif self.vectors.ndim != 2 or self.vectors.shape[0] != len(self.ids):
            raise ValueError(f"{len(self.ids)} ids for vectors of shape {self.vectors.shape}")

    @property
    def multi(self) -> bool:
        """Late interaction: each item is a matrix of token vectors (scored by MaxSim)."""
        return isinstance(self.vectors, TokenMatrices)


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
