"""The encoder contract.  Encoders see items (text, instruction, media), never a task's data layout."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from umeval.errors import UmevalError
from umeval.types import Item

#: Called with the number of items just finished, for progress bars.
Advance = Callable[[int], None]


class Encoder(Protocol):
    """Turns items into L2-normalised float32 vectors, one row per item, in input order."""

    model_id: str
    revision: str
    calls: int  # items encoded so far (a rerun of a finished suite makes zero)

    def embed(self, items: Sequence[Item], *, mode: str = "disc", task: str | None = None,
              advance: Advance | None = None) -> np.ndarray: ...

    def info(self) -> dict[str, Any]: ...


def l2_normalise(vectors: np.ndarray, items: Sequence[Item], task: str | None = None) -> np.ndarray:
    """Row-normalise, refusing NaN/inf or all-zero rows (they would rank arbitrarily)."""
    v = np.asarray(vectors, dtype=np.float32)
    bad = ~np.isfinite(v).all(axis=1)
    norms = np.linalg.norm(v, axis=1)
    bad |= norms == 0
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        it = items[i]
        where = f" (file {it.source[0]}, row {it.source[1]})" if it.source else ""
        raise UmevalError(f"task {task}: the embedding of item {it.id}{where} is NaN, inf or zero",
                          "check the checkpoint and its dtype (try dtype=float32)")
    return v / norms[:, None]
