"""The embedding store: every vector on disk, keyed by everything that determines it.

A key hashes the encoder's identity (model id and revision, prompt format, pixel bounds, frame count, dtype),
the mode (disc/gen), for generative samples the sample index, seed and decoding policy, and the item itself
(instruction, text, and each media file's path, size, modification and change time, or the bytes of
embedded images).  Change any of these and exactly the affected items are encoded again.

Vectors are appended in shard files (``.npz`` of a string key array and a float32 or float16 matrix, read with
``allow_pickle=False``), each written atomically as soon as a batch is done, so a killed run keeps every
finished batch and a rerun encodes only what is missing.

Each shard also names the encoder fingerprint it was written under (``encoder``, absent in shards written before
umeval recorded it), and ``encoders/<fingerprint>.json`` holds what that fingerprint hashes (encoder class, the
family's name, version and key fields, the resolved runtime), so ``umeval cache ls`` can say what a store holds
and ``umeval cache prune`` which shards no current configuration reads (:mod:`umeval.commands.cache`).

Memory stays flat over a suite: the store keeps only its key index (key -> shard, row) in RAM; :meth:`get` and
:meth:`get_meta` read the shards they need and release them when they return, so a task's vectors live as long
as the caller holds them.  Metadata (generative traces as JSON) is stored as UTF-8 bytes plus int64 offsets,
Arrow's string layout (``meta_utf8``, ``meta_offsets``), so its size on disk and in memory is about the size of
the text; shards written before hold a fixed-width numpy unicode array (``meta``), still read.

float16 storage (``store_dtype=float16``) halves the store on disk and in memory; :meth:`EmbeddingStore.get`
always returns float32.  Rounding a component to float16 changes it by at most ``u = 2**-11`` of its size
(unit roundoff; subnormals aside, which for unit vectors of a few thousand dims are far below it), so for unit
vectors ``|score16 - score32| <= 2u + u**2 < 9.8e-4``; two candidates can swap ranks only where their float32
scores are within twice that.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from umeval.core.types import Item
from umeval.run.datafp import media_paths, stat_signature


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


@dataclass(frozen=True)
class ShardInfo:
    """One shard file as ``umeval cache`` sees it."""

    path: Path
    encoder: str | None  # the encoder fingerprint it was written under; None: written before it was recorded
    entries: int
    bytes: int
    mtime: float


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class EmbeddingStore:
    """A folder of shard files; an in-memory index of key -> (shard, row) built on open."""

    def __init__(self, root: Path, dtype: str = "float32") -> None:
        if dtype not in STORE_DTYPES:
            raise ValueError(f"store dtype {dtype!r} is not one of {', '.join(STORE_DTYPES)}")
        self.root = Path(root)
        self.dtype = np.dtype(dtype)
        self.root.mkdir(parents=True, exist_ok=True)
        self._index: dict[str, tuple[Path, int]] = {}
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

    def _by_shard(self, keys: Sequence[str]) -> dict[Path, list[tuple[int, int]]]:
        """(position in ``keys``, row in shard) of each key, grouped by shard file."""
        groups: dict[Path, list[tuple[int, int]]] = {}
        for pos, k in enumerate(keys):
            shard, i = self._index[k]
            groups.setdefault(shard, []).append((pos, i))
        return groups

    def get(self, keys: Sequence[str]) -> np.ndarray:
        """float32 ``(len(keys), dim)``; each shard is read once per call and not kept."""
        out: np.ndarray | None = None
        for shard, pairs in self._by_shard(keys).items():
            with np.load(shard, allow_pickle=False) as z:
                vec = z["vectors"]
            if out is None:
                out = np.empty((len(keys), vec.shape[1]), dtype=np.float32)
            pos, rows = (np.fromiter((p[j] for p in pairs), np.int64, len(pairs)) for j in (0, 1))
            out[pos] = vec[rows]
        return out if out is not None else np.zeros((0, 0), np.float32)

    def get_meta(self, keys: Sequence[str]) -> list[str]:
        """The JSON strings stored beside the vectors (e.g. generative traces); "" where none."""
        out = [""] * len(keys)
        for shard, pairs in self._by_shard(keys).items():
            with np.load(shard, allow_pickle=False) as z:
                if "meta_utf8" in z.files:
                    buf, off = z["meta_utf8"], z["meta_offsets"]
                    for pos, i in pairs:
                        out[pos] = buf[off[i]: off[i + 1]].tobytes().decode()
                elif "meta" in z.files:  # shards written before: fixed-width numpy unicode
                    old = z["meta"]
                    for pos, i in pairs:
                        out[pos] = str(old[i])
        return out

    def put(self, keys: Iterable[str], vectors: np.ndarray, meta: Sequence[str] | None = None,
            encoder: str | None = None) -> None:
        """Append a shard of ``keys`` and their vectors (and metadata), written under fingerprint ``encoder``."""
        keys = [str(k) for k in keys]
        if not keys:
            return
        vectors = np.ascontiguousarray(vectors, dtype=self.dtype)
        name = self.root / f"shard-{uuid.uuid4().hex}.npz"
        tmp = name.with_name("." + name.name + ".tmp")
        arrays: dict[str, Any] = {"keys": np.array(keys), "vectors": vectors}
        if encoder is not None:
            arrays["encoder"] = np.array(encoder)
        if meta is not None:
            encoded = [m.encode() for m in meta]
            arrays["meta_offsets"] = np.concatenate([[0], np.cumsum([len(b) for b in encoded])]).astype(np.int64)
            arrays["meta_utf8"] = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, name)
        for i, k in enumerate(keys):
            self._index[k] = (name, i)

    # ------------------------------------------------------------ what the store holds (umeval cache)

    def describe(self, encoder: str, identity: Mapping[str, Any]) -> None:
        """Record what fingerprint ``encoder`` hashes (once per fingerprint; the file never changes after)."""
        path = self.root / "encoders" / f"{encoder}.json"
        if path.exists():
            return
        path.parent.mkdir(exist_ok=True)
        _write_atomic(path, json.dumps(dict(identity), indent=2, sort_keys=True, default=str).encode())


def identities(root: Path) -> dict[str, dict[str, Any]]:
    """Encoder fingerprint -> what it hashes, for every fingerprint described in the store at ``root``."""
    out = {}
    for p in sorted((Path(root) / "encoders").glob("*.json")):
        try:
            out[p.stem] = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
    return out


def shards(root: Path) -> Iterator[ShardInfo]:
    """Every shard file of the store at ``root``, with its encoder fingerprint, entry count and size.

    Reads each shard's key array and fingerprint only, not its vectors, and builds no index.
    """
    for shard in sorted(Path(root).glob("shard-*.npz")):
        try:
            st = shard.stat()
            with np.load(shard, allow_pickle=False) as z:
                n = len(z["keys"])
                enc = str(z["encoder"]) if "encoder" in z.files else None
        except (OSError, ValueError, KeyError):
            continue
        yield ShardInfo(path=shard, encoder=enc, entries=n, bytes=st.st_size, mtime=st.st_mtime)
