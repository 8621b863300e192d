"""A weight-free encoder that reads the class the fixtures put in every item (``model=oracle``).

It replaces only the neural network: the runner, store, scorer and result writer run as for any model.  On the
fixtures (:mod:`umeval.testing.fixtures`) a query's relevant candidates are exactly those of its class, so the oracle
scores 1.0 on every task's main metric with no ties, and ``umeval selftest`` can assert exact numbers.

An item's class:

- from its text (instruction + text, placeholders such as ``<|image_pad|>``, case and punctuation ignored):
  the colour word when it names exactly one colour; failing colours, the words ``yes`` (green) / ``no``
  (red) when exactly one of them appears;
- otherwise from its media: the colour of the shape (:func:`umeval.data.synthetic.read_colour`) when the image(s)
  or every sampled frame agree; frames that mix colours (a video sampled the wrong way) have no class.

The vector is ``a * e_class + 0.1 * r`` (then L2-normalised): ``e_class`` one of six axes, ``r`` a unit vector
drawn from the item's content key (it breaks ties and never crosses a class: same-class scores stay above
0.9, others below 0.04), ``a`` = 0.3 for a page whose shape covers less than
:data:`umeval.data.synthetic.STRONG_COVERAGE` of it (a grade-1 page ranks below a grade-2 one), else 1.  An item with
no class is ``r`` alone.

``anti-oracle`` (``options.anti``): queries (``role="query"``, as the runner says) embed with the class axis
negated, so every irrelevant candidate outranks every relevant one and hit@1 is 0.

``oracle-multivector`` (``options.multivector``): late interaction.  Each item is a few unit token vectors
whose MaxSim ranks as the oracle's vector does, so the store's token matrices and the MaxSim scorer are checked
on every task.  A query is 1-3 copies of its oracle vector, each with a different query-only filler axis
(weight 0.5), so every query token scores ``v_q . v_c / sqrt(1.25)`` against a candidate's content token; a
candidate is its oracle vector (the content token) at a position drawn from its key among 0-2 filler tokens
(a candidate-only axis plus 0.1 of a random direction, so a filler scores at most ~0.1 against any query
token).  Relevant candidates score above 0.9 per query token through their content token, which the maximum
must pick out; irrelevant ones below ~0.1, so the oracle's order of the relevant candidates and its perfect
scores are kept.  Disc mode only; not with ``anti``.

Generative mode: sample ``s`` of an item is the disc vector for even ``s``; for odd ``s`` a query embeds as the
anti-oracle does, so per query sample s is right iff s is even (pass@1 = 0.5, pass@2 = 1 with two samples).
Each sample's trace is a fixed text ending in ``<gen_emb>``, stopped (not cut by length).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from umeval.core.errors import ConfigError
from umeval.core.multivector import TokenMatrices
from umeval.core.types import Item
from umeval.data.synthetic import CLASSES, STRONG_COVERAGE, WORD_ALIASES, read_colour
from umeval.encoders.base import Advance, GenResult, Trace, assemble, l2_normalise, sample_seed
from umeval.encoders.media import load_image

NOISE_DIM = 58
NOISE = 0.1
WEAK = 0.3
_PLACEHOLDER = re.compile(r"<\|[a-z0-9_]+\|>")
_TOKEN = re.compile(r"<[^>]+>|\w+|[^\w\s]")


def text_class(item: Item) -> str | None:
    words = re.findall(r"[a-z]+", _PLACEHOLDER.sub(" ", f"{item.instruction} {item.text}".lower()))
    found = {w for w in words if w in CLASSES} or {WORD_ALIASES[w] for w in words if w in WORD_ALIASES}
    return found.pop() if len(found) == 1 else None


def media_class(item: Item, task: str | None = None) -> tuple[str | None, float]:
    """The colour all of the item's images/frames show, and the strength of its class axis.

    The colour is None when the media disagree or show none.
    """
    sources = ([item.image] if item.image is not None else []) + list(item.images) + list(item.video)
    if not sources:
        return None, 1.0
    read = [read_colour(load_image(src, item, task)) for src in sources]
    colours = {c for c, _ in read}
    if len(colours) != 1 or None in colours:
        return None, 1.0
    weak = item.image is not None and len(sources) == 1 and read[0][1] < STRONG_COVERAGE
    return colours.pop(), WEAK if weak else 1.0


def item_class(item: Item, task: str | None = None) -> tuple[str | None, float]:
    """(class, strength) of an item: its text's class, else its media's."""
    c = text_class(item)
    if c is not None:
        strength = media_class(item, task)[1] if item.image is not None else 1.0
        return c, strength
    return media_class(item, task)


def _noise(item: Item) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(item.key.encode()).digest()[:8], "little")
    r = np.random.default_rng(seed).standard_normal(NOISE_DIM)
    return r / np.linalg.norm(r)


def oracle_vector(item: Item, *, negate: bool = False, task: str | None = None) -> np.ndarray:
    cls, strength = item_class(item, task)
    v = np.zeros(len(CLASSES) + NOISE_DIM)
    v[len(CLASSES):] = _noise(item)
    if cls is not None:
        v[len(CLASSES):] *= NOISE
        v[CLASSES.index(cls)] = -strength if negate else strength
    return v


QUERY_FILLERS, CANDIDATE_FILLERS = 3, 3
FILLER_WEIGHT, FILLER_NOISE = 0.5, 0.1


def oracle_tokens(item: Item, *, role: str, task: str | None = None) -> np.ndarray:
    """The multi-vector oracle's unit token vectors of an item (see the module docstring)."""
    v = oracle_vector(item, task=task)
    v = v / np.linalg.norm(v)
    base = len(v)
    dim = base + QUERY_FILLERS + CANDIDATE_FILLERS
    h = int.from_bytes(hashlib.sha256(f"tokens:{item.key}".encode()).digest()[:8], "little")
    if role == "query":
        toks = np.zeros((1 + h % QUERY_FILLERS, dim))
        for i in range(len(toks)):
            toks[i, :base] = v
            toks[i, base + i] = FILLER_WEIGHT
    else:
        n_fill = h % CANDIDATE_FILLERS
        toks = np.zeros((n_fill + 1, dim))
        rng = np.random.default_rng(h)
        for j in range(n_fill):
            r = rng.standard_normal(base)
            toks[j, :base] = FILLER_NOISE * r / np.linalg.norm(r)
            toks[j, base + QUERY_FILLERS + j] = 1.0
        content = (h // CANDIDATE_FILLERS) % (n_fill + 1)
        toks[[content, n_fill]] = toks[[n_fill, content]]  # the content token (built last) moves to its place
        toks[content, :base] = v
    return (toks / np.linalg.norm(toks, axis=1, keepdims=True)).astype(np.float32)


class OracleEncoder:
    """Embeds an item by the class the fixtures give it; see the module docstring."""

    anti = False

    def __init__(self, model_cfg: Any, *, cache_dir: Any = None, device: str = "auto", batch_size: int = 8,
                 num_workers: int = 0) -> None:
        self.cfg = model_cfg
        # the run wrote the family's defaults into model.options
        opts = model_cfg.get("options") or {}
        self.anti = self.anti or bool(opts.get("anti"))  # model=anti-oracle: options.anti
        self.multivector = bool(opts.get("multivector"))  # model=oracle-multivector: late interaction
        if self.multivector and self.anti:
            raise ConfigError("model.options.multivector=true with anti=true", "set one of them, not both")
        self.model_id = f"{model_cfg.name} (no weights)"
        self.revision = "none"
        self.calls = 0

    def embed(self, items: Sequence[Item], *, task: str | None = None, role: str = "query",
              advance: Advance | None = None) -> np.ndarray | TokenMatrices:
        if self.multivector:
            out = TokenMatrices.from_list([oracle_tokens(it, role=role, task=task) for it in items],
                                          dim=len(CLASSES) + NOISE_DIM + QUERY_FILLERS + CANDIDATE_FILLERS)
            self.calls += len(items)
            if advance:
                advance(len(items))
            return out
        vecs = np.stack([oracle_vector(it, negate=self.anti and role == "query", task=task) for it in items]) \
            if items else np.zeros((0, len(CLASSES) + NOISE_DIM))
        return assemble(self, items, [(np.arange(len(items)), vecs)], task, advance)

    def generate_embed(self, items: Sequence[Item], *, samples: int = 1, base_seed: int = 0,
                       decoding: Any = None, task: str | None = None, role: str = "query",
                       advance: Advance | None = None) -> GenResult:
        vectors, traces = [], []
        for item in items:
            seed = sample_seed(base_seed, item.key)
            cls = item_class(item, task)[0]
            vecs, trs = [], []
            for s in range(samples):
                wrong = s % 2 == 1 and role == "query"
                vecs.append(oracle_vector(item, negate=wrong, task=task))
                text = (f"<think>The item shows {cls or 'no class'}; sample {s} answers "
                        f"{'wrongly' if wrong else 'rightly'}.</think><answer><gen_emb>")
                toks = _TOKEN.findall(text)
                trs.append(Trace(sample=s, seed=seed, text=text, n_tokens=len(toks), has_gen_emb=True,
                                 finish_reason="stop", pool_position=len(toks) - 1, seconds=0.0,
                                 token_ids=tuple(int.from_bytes(hashlib.sha256(t.encode()).digest()[:2], "little")
                                                 for t in toks)))
            vectors.append(l2_normalise(np.stack(vecs), [item] * samples, task))
            traces.append(trs)
            self.calls += 1
            if advance:
                advance(1)
        dim = len(CLASSES) + NOISE_DIM
        return GenResult(vectors=np.stack(vectors) if vectors else np.zeros((0, samples, dim), np.float32),
                         traces=traces)
