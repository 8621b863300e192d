"""Late interaction: an item embedded as a matrix (tokens x dim) instead of one vector.

:class:`TokenMatrices` is the artifact a multi-vector encoder returns and the embedding store hands back: the
token matrices of ``n`` items, each L2-normalised per token, read block by block.  Its rows live in one or
more flat ``(tokens, dim)`` arrays (in RAM, or ``np.memmap`` views of the store's shard files) and each item is
a ``(source, start, length)`` slice of one of them, so a corpus larger than memory is never read whole: the
scorer (:mod:`umeval.scoring.maxsim`) asks for a block of items at a time (:meth:`TokenMatrices.block`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class TokenMatrices:
    """The token matrices of ``n`` items: item ``i`` is ``sources[src[i]][start[i]: start[i] + lengths[i]]``.

    Sources may be float16 or float32 (the store's dtype); :meth:`block` always returns float32.  Every item has
    at least one token (MaxSim over an empty matrix has no value).
    """

    def __init__(self, sources: Sequence[np.ndarray], src: np.ndarray, start: np.ndarray,
                 lengths: np.ndarray) -> None:
        self.sources = list(sources)
        self.src = np.asarray(src, dtype=np.int64)
        self.start = np.asarray(start, dtype=np.int64)
        self.lengths = np.asarray(lengths, dtype=np.int64)
        if not (len(self.src) == len(self.start) == len(self.lengths)):
            raise ValueError("src, start and lengths must have one entry per item")
        dims = {int(s.shape[1]) for s in self.sources if s.ndim == 2}
        if any(s.ndim != 2 for s in self.sources) or len(dims) > 1:
            raise ValueError(f"token sources must be 2-d with one dim, got shapes {[s.shape for s in self.sources]}")
        self.dim = dims.pop() if dims else 0
        if len(self.lengths) and self.lengths.min() < 1:
            raise ValueError(f"item {int(np.argmin(self.lengths))} has no token (MaxSim needs at least one)")

    @classmethod
    def from_flat(cls, flat: np.ndarray, offsets: np.ndarray) -> TokenMatrices:
        """Items ``flat[offsets[i]: offsets[i + 1]]`` of one flat ``(tokens, dim)`` array."""
        offsets = np.asarray(offsets, dtype=np.int64)
        if offsets.ndim != 1 or len(offsets) < 1 or offsets[0] != 0 or offsets[-1] != len(flat):
            raise ValueError(f"offsets must run from 0 to {len(flat)} (the number of token rows)")
        n = len(offsets) - 1
        return cls([flat], np.zeros(n, np.int64), offsets[:-1], np.diff(offsets))

    @classmethod
    def from_list(cls, matrices: Sequence[np.ndarray], dim: int | None = None) -> TokenMatrices:
        """Items given one ``(tokens_i, dim)`` array each (copied into one flat float32 array)."""
        if not matrices:
            return cls.from_flat(np.zeros((0, dim or 0), np.float32), np.zeros(1, np.int64))
        offsets = np.concatenate([[0], np.cumsum([len(m) for m in matrices])])
        return cls.from_flat(np.concatenate([np.asarray(m, np.float32) for m in matrices]), offsets)

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def n_tokens(self) -> int:
        return int(self.lengths.sum())

    def block(self, rows: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The tokens of ``rows`` (in that order) as one float32 ``(tokens, dim)`` array and its offsets.

        Memory: the returned array only (the sources are sliced, a memory-mapped one reads just these rows).
        """
        rows = np.asarray(rows, dtype=np.int64)
        lens = self.lengths[rows]
        offsets = np.zeros(len(rows) + 1, np.int64)
        np.cumsum(lens, out=offsets[1:])
        out = np.empty((int(offsets[-1]), self.dim), np.float32)
        for j, r in enumerate(rows.tolist()):
            s = self.start[r]
            out[offsets[j]: offsets[j + 1]] = self.sources[self.src[r]][s: s + lens[j]]
        return out, offsets

    def item(self, i: int) -> np.ndarray:
        """Item ``i``'s ``(tokens, dim)`` float32 matrix."""
        return self.block([i])[0]

    def take(self, rows: Sequence[int] | np.ndarray) -> TokenMatrices:
        """The items ``rows`` (no token is copied)."""
        rows = np.asarray(rows, dtype=np.int64)
        return TokenMatrices(self.sources, self.src[rows], self.start[rows], self.lengths[rows])


def normalise_tokens(matrices: TokenMatrices, what: str = "item") -> TokenMatrices:
    """Each token scaled to unit length (late-interaction models normalise per token); refuses NaN or zero tokens."""
    flat, offsets = matrices.block(np.arange(len(matrices)))
    norms = np.linalg.norm(flat, axis=1)
    bad = ~np.isfinite(flat).all(axis=1) | (norms == 0)
    if bad.any():
        item = int(np.searchsorted(offsets, np.flatnonzero(bad)[0], side="right") - 1)
        raise ValueError(f"{what} {item}: a token vector is NaN, inf or zero")
    return TokenMatrices.from_flat(flat / norms[:, None], offsets)
