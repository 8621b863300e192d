"""Sharding: split the encoding work of a run into n deterministic, cost-balanced slices.

Every shard process computes the same assignment on its own (no coordination): the unique items of the
run, keyed by their content key, sorted by estimated cost (descending) then key, are dealt to the least
loaded shard (longest-processing-time first).  A shard encodes only its items into the shared embedding
store; the merge step is an ordinary run over the same store, which then finds every embedding and scores.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from umeval.core.errors import ConfigError
from umeval.core.types import Item
from umeval.models.cost import ModelCost


def parse_shard(value: str | None) -> tuple[int, int] | None:
    """``"i/n"`` -> (i, n) with 0 <= i < n; None for no sharding."""
    if value in (None, "", "none"):
        return None
    try:
        i, n = (int(x) for x in str(value).split("/"))
    except ValueError:
        raise ConfigError(f"shard={value} is not of the form i/n", "write e.g. shard=0/4") from None
    if not 0 <= i < n:
        raise ConfigError(f"shard={value} needs 0 <= i < n", f"use shard=0/{n} .. shard={n - 1}/{n}")
    return i, n


def item_cost(item: Item, cost: ModelCost, samples: int = 1) -> float:
    """Estimated prompt tokens (text + the family's visual tokens for this model); generation multiplies it.

    A 2.36-megapixel page is ~3,000 visual tokens, an 8-frame video ~4 x its frame's tokens, a caption ~30.
    """
    return float(cost.item(item) * samples)


def assign(keys: Sequence[str], costs: Sequence[float], n: int) -> dict[str, int]:
    """Shard of each key: LPT over (cost desc, key) with ties to the lower shard index."""
    order = sorted(range(len(keys)), key=lambda i: (-costs[i], keys[i]))
    heap = [(0.0, s) for s in range(n)]
    owner: dict[str, int] = {}
    for i in order:
        if keys[i] in owner:
            continue
        load, s = heapq.heappop(heap)
        owner[keys[i]] = s
        heapq.heappush(heap, (load + costs[i], s))
    return owner
