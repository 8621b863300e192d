"""The embedding store: every vector on disk, keyed by everything that determines it.

A key hashes the encoder's identity (model id and revision, prompt format, pixel bounds, frame count, dtype),
the mode (disc/gen), for generative samples the sample index, seed and decoding policy, and the item itself
(instruction, text, and each media file's path, size, modification and change time, or the bytes of
embedded images).  Change any of these and exactly the affected items are encoded again.

Vectors are appended in shard files (``.npz`` of a string key array and a float32 or float16 matrix, read with
``allow_pickle=False``), each written atomically as soon as a batch is done, so a killed run keeps every
finished batch and a rerun encodes only what is missing.

float16 storage (``store_dtype=float16``) halves the store on disk and in memory; :meth:`EmbeddingStore.get`
always returns float32.  Rounding a component to float16 changes it by at most ``u = 2**-11`` of its size
(unit roundoff; subnormals aside, which for unit vectors of a few thousand dims are far below it), so for unit
vectors ``|score16 - score32| <= 2u + u**2 < 9.8e-4``; two candidates can swap ranks only where their float32
scores are within twice that.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from umeval.datafp import media_paths, stat_signature
from umeval.types import Item


def media_fingerprint(item: Item) -> str:
    """Item identity including media content: path, size, mtime and ctime of files; a hash of inline bytes.

    The inode change time (ctime) cannot be set back by tools that preserve mtime (``cp -p``, ``rsync -t``,
    ``touch -r``), so a file replaced by one of the same size and mtime still gets a new key.
    """
    h = hashlib.sha256(item.key.encode())
    for p in media_paths(item):
        h.update(f"{p}:{stat_signature(p)}".encode())
    return h.hexdigest()[:32]


def entry_key(encoder_id: str, mode: str, item: Item, extra: str = "") -> str:
    return hashlib.sha256(f"{encoder_id}|{mode}|{extra}|{media_fingerprint(item)}".encode()).hexdigest()[:40]


#: Dtypes a store may hold its vectors in.
STORE_DTYPES = ("float32", "float16")


class EmbeddingStore:
    """A folder of shard files; an in-memory index of key -> (shard, row) built on open."""

    def __init__(self, root: Path, dtype: str = "float32") -> None:
        if dtype not in STORE_DTYPES:
            raise ValueError(f"store dtype {dtype!r} is not one of {', '.join(STORE_DTYPES)}")
        self.root = Path(root)
        self.dtype = np.dtype(dtype)
        self.root.mkdir(parents=True, exist_ok=True)
        self._index: dict[str, tuple[Path, int]] = {}
        self._loaded: dict[Path, np.ndarray] = {}
        self._meta: dict[Path, np.ndarray] = {}
        for shard in sorted(self.root.glob("shard-*.npz")):
            try:
                with np.load(shard, allow_pickle=False) as z:
                    keys = z["keys"]
            except (OSError, ValueError, KeyError):
                continue  # a shard from a killed writer cannot exist (atomic rename); skip foreign files
            for i, k in enumerate(keys.tolist()):
                self._index[str(k)] = (shard, i)

    def __contains__(self, key: str) -> bool:
        return key in self._index

    def __len__(self) -> int:
        return len(self._index)

    def get(self, keys: Sequence[str]) -> np.ndarray:
        rows = []
        for k in keys:
            shard, i = self._index[k]
            if shard not in self._loaded:
                with np.load(shard, allow_pickle=False) as z:
                    self._loaded[shard] = z["vectors"]
            rows.append(self._loaded[shard][i])
        return np.stack(rows).astype(np.float32, copy=False) if rows else np.zeros((0, 0), np.float32)

    def get_meta(self, keys: Sequence[str]) -> list[str]:
        """The JSON strings stored beside the vectors (e.g. generative traces); "" where none."""
        out = []
        for k in keys:
            shard, i = self._index[k]
            if shard not in self._meta:
                with np.load(shard, allow_pickle=False) as z:
                    self._meta[shard] = z["meta"] if "meta" in z.files else np.array([""] * len(z["keys"]))
            out.append(str(self._meta[shard][i]))
        return out

    def put(self, keys: Iterable[str], vectors: np.ndarray, meta: Sequence[str] | None = None) -> None:
        keys = [str(k) for k in keys]
        if not keys:
            return
        vectors = np.ascontiguousarray(vectors, dtype=self.dtype)
        name = self.root / f"shard-{uuid.uuid4().hex}.npz"
        tmp = name.with_name("." + name.name + ".tmp")
        arrays = {"keys": np.array(keys), "vectors": vectors}
        if meta is not None:
            arrays["meta"] = np.array(list(meta), dtype=str)
            self._meta[name] = arrays["meta"]
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, name)
        self._loaded[name] = vectors
        for i, k in enumerate(keys):
            self._index[k] = (name, i)
