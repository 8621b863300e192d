"""The encoder contract.  Encoders see items (text, instruction, media), never a task's data layout."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from umeval.core.errors import ConfigError, UmevalError
from umeval.core.types import Item

#: Called with the number of items just finished, for progress bars.
Advance = Callable[[int], None]


class Encoder(Protocol):
    """Turns items into L2-normalised float32 vectors, one row per item, in input order.

    ``role`` says whether the items are queries or candidates (a family may write them differently; it then
    declares ``roles="differ"`` so the role is part of the cache key).  The embedding store's key is what the
    model's family declares (the run asks the family, :func:`umeval.models.family.cache_key`); an encoder
    outside any family may define a classmethod ``fingerprint(model_cfg)`` instead, called before weights load.
    The encoder reads what its family declares from ``model_cfg`` as the run composed it: the prompt formats
    (``model.formats``) and the family's options with their defaults (``model.options``).  ``close`` frees what
    the encoder holds (weights, GPU memory, engine processes); the runner calls it when a run ends, also on
    failure, so a reused process (a Ray worker taking the next shard) starts with a free GPU.
    """

    model_id: str
    revision: str
    calls: int  # items encoded so far (a rerun of a finished suite makes zero)

    def embed(self, items: Sequence[Item], *, role: str = "query", task: str | None = None,
              advance: Advance | None = None) -> np.ndarray: ...

    def close(self) -> None: ...


def close_encoder(encoder: Any) -> None:
    """``encoder.close()``, for encoders that have one (weight-free test encoders and older plugins may not)."""
    close = getattr(encoder, "close", None)
    if callable(close):
        close()


class GenerativeEncoder(Encoder, Protocol):
    """An encoder of a family with a generative mode: a reasoning trace, then the embedding read after it."""

    def generate_embed(self, items: Sequence[Item], *, role: str = "query", samples: int = 1, base_seed: int = 0,
                       decoding: Any = None, task: str | None = None,
                       advance: Advance | None = None) -> GenResult: ...


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


def assemble(encoder: Any, items: Sequence[Item], batches: Iterable[tuple[Any, np.ndarray]],
             task: str | None = None, advance: Advance | None = None) -> np.ndarray:
    """The L2-normalised ``(len(items), dim)`` matrix from ``(row indices, vectors)`` batches in any order.

    After each batch the encoder's ``calls`` counter and the progress callback move on by the batch's size.
    """
    out: np.ndarray | None = None
    for idx, vec in batches:
        if out is None:
            out = np.empty((len(items), vec.shape[1]), dtype=np.float32)
        out[idx] = vec
        encoder.calls += len(vec)
        if advance:
            advance(len(vec))
    if out is None:
        return np.zeros((0, 0), dtype=np.float32)
    return l2_normalise(out, items, task)


# ---------------------------------------------------------------- generative embeddings

@dataclass
class Trace:
    """One sampled reasoning trace of one item."""

    sample: int
    seed: int
    text: str
    n_tokens: int  # generated tokens
    has_gen_emb: bool  # a <gen_emb> was generated
    finish_reason: str  # "stop" (end of turn) or "length" (max_new_tokens reached)
    pool_position: int  # index, in prompt + generated tokens, of the state read as the embedding
    seconds: float = 0.0
    token_ids: tuple[int, ...] = ()


@dataclass
class GenResult:
    vectors: np.ndarray  # (n_items, samples, dim) float32, L2-normalised
    traces: list[list[Trace]]  # [item][sample]


@dataclass(frozen=True)
class GenUnit:
    """A stretch of a generation stream: items of one task and role, each drawing ``samples`` traces."""

    items: Sequence[Item]
    task: str | None
    role: str
    samples: int


#: Receives each item of a stream as soon as it is done: (unit, index in unit.items, vectors (samples, dim), traces).
GenSink = Callable[[GenUnit, int, np.ndarray, list[Trace]], None]


def gen_readout(prompt_ids: Sequence[int], gen_ids: Sequence[int], gen_emb_id: int,
                stop_ids: Sequence[int]) -> tuple[list[int], bool]:
    """The token sequence whose last position is the generative embedding.

    It is the prompt plus the generated tokens up to and including the last ``<gen_emb>`` among the
    *generated* tokens (the prompt itself contains a literal ``<gen_emb>`` in its instruction, which never
    counts).  When none was generated, the sequence ends at the last generated token that is not a stop or
    padding token (the model's last real position).  Returns the sequence and whether ``<gen_emb>`` was found.
    """
    gen = list(gen_ids)
    hits = [i for i, t in enumerate(gen) if t == gen_emb_id]
    if hits:
        return list(prompt_ids) + gen[: hits[-1] + 1], True
    stops = set(stop_ids)
    end = len(gen)
    while end > 0 and gen[end - 1] in stops:
        end -= 1
    return list(prompt_ids) + gen[:end], False


def sample_seed(base_seed: int, item_key: str) -> int:
    """A per-item seed that does not depend on batch composition or order (31 bits, for every backend)."""
    import hashlib

    return int.from_bytes(hashlib.sha256(f"{base_seed}:{item_key}".encode()).digest()[:4], "little") & 0x7FFFFFFF


def item_seed(base_seed: int, item: Item) -> int:
    """The sample seed of an item: from its content (text, media bytes), never its paths.

    The same data under another data root or on another machine draws the same samples (issue 12: seeds
    from ``item.key``, which holds absolute media paths, gave pass@1 0.125, 0.25 and 0.208 for one data set).
    """
    return sample_seed(base_seed, item.content_key)


# ---------------------------------------------------------------- helpers shared by the backends

def decoding_dict(dec: Any) -> dict[str, Any]:
    """A decoding policy as a dict, from a dict (what the runner passes), a DictConfig or a dataclass.

    Fields and defaults are :class:`umeval.core.config.DecodingConfig`'s; a field not given takes its default.
    """
    from dataclasses import asdict

    from umeval.core.config import DecodingConfig

    defaults = asdict(DecodingConfig())
    if isinstance(dec, Mapping):
        got = {k: dec[k] for k in defaults if k in dec}
    else:
        got = {k: getattr(dec, k) for k in defaults if hasattr(dec, k)}
    return defaults | got


def token_id(tokenizer: Any, token: str, model_id: str) -> int:
    """The id of an added token, looked up by string (ids are never hard-coded)."""
    tid = tokenizer.convert_tokens_to_ids(token)
    if tid is None or tid == tokenizer.unk_token_id:
        raise ConfigError(f"checkpoint {model_id} has no token {token}",
                          f"use a checkpoint that adds {token} or another prompt format (model.prompt=)")
    return int(tid)


def stop_ids(generation_config: Any, tokenizer: Any) -> list[int]:
    """Stop tokens of generation: the generation config's EOS ids and the pad token."""
    eos = generation_config.eos_token_id
    ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    if tokenizer.pad_token_id is not None:
        ids.add(tokenizer.pad_token_id)
    return sorted(int(i) for i in ids)
