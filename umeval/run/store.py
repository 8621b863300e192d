"""The embedding store: every vector on disk, keyed by exactly what determines it.

A key hashes the store format (:data:`STORE_FORMAT`), the encoder's key (:func:`umeval.run.fingerprints.store_key`:
the family's key fields and the resolved runtime, not raw settings), the mode (disc/gen), for generative samples the
sample index, seed and decoding policy, and the item by content: instruction, text, and the sha256 of each media
file's bytes or of embedded image bytes (:mod:`umeval.run.mediahash` remembers file digests, so an unchanged file
is read once).  Change any of these and exactly the affected items are encoded again; copy, move or ``chmod`` the
data and nothing is.

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

Late interaction (an item embedded as a tokens x dim matrix, :mod:`umeval.core.multivector`): a multi-vector
shard is two files, ``mv-<id>.tokens.npy`` (the flat token matrix in the store dtype) and ``mv-<id>.index.npz``
(the keys and each item's token offsets).  The tokens file is written first and the index last, each by atomic
rename, so an index always points at a complete tokens file (a tokens file without an index, from a killed
writer, is ignored).  :meth:`EmbeddingStore.get_multi` opens tokens files with ``np.load(mmap_mode="r")``: the
matrices are read from disk block by block as the scorer asks for them, never all at once.
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

from umeval.core.multivector import TokenMatrices
from umeval.core.types import Item
from umeval.run.mediahash import MediaHashes

#: Bump when what a key hashes changes: keys of an older format never match, so their vectors are not reused.
#: 2: media by content (sha256 of the bytes) instead of path + size + mtime + ctime; encoder key from the resolved
#: runtime only (no raw ``device``, no ``seed``).
STORE_FORMAT = 2


def media_fingerprint(item: Item, hashes: MediaHashes | None = None) -> str:
    """Item identity by content: instruction, text and the sha256 of each media file's (or inline image's) bytes.

    ``hashes`` remembers file digests (read once while a file is unchanged); without it every file is read.
    """
    return item.content_key_with((hashes or MediaHashes()).digest)


def entry_key(encoder_id: str, mode: str, item: Item, extra: str = "", hashes: MediaHashes | None = None) -> str:
    """The store key of ``item``'s vector: encoder key, mode, ``extra`` (a gen sample's policy) and content."""
    return content_entry_key(encoder_id, mode, media_fingerprint(item, hashes), extra)


def content_entry_key(encoder_id: str, mode: str, content: str, extra: str = "") -> str:
    """:func:`entry_key` from an item's content key (:func:`media_fingerprint`) computed once for many samples."""
    return hashlib.sha256(f"v{STORE_FORMAT}|{encoder_id}|{mode}|{extra}|{content}".encode()).hexdigest()[:40]


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
    #: every file of the shard (a multi-vector shard is its index and its tokens file); deleting a shard deletes these
    files: tuple[Path, ...]


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class EmbeddingStore:
    """A folder of shard files; an in-memory index of key -> (shard, row) built on open."""

    def __init__(self, root: Path, dtype: str = "float32", media_hashes: MediaHashes | None = None) -> None:
        """``media_hashes``: the file digest cache keys are made with (default: in memory, this store's life)."""
        if dtype not in STORE_DTYPES:
            raise ValueError(f"store dtype {dtype!r} is not one of {', '.join(STORE_DTYPES)}")
        self.root = Path(root)
        self.dtype = np.dtype(dtype)
        self.root.mkdir(parents=True, exist_ok=True)
        self.media_hashes = media_hashes or MediaHashes()
        self._index: dict[str, tuple[Path, int]] = {}
        for shard in sorted(self.root.glob("shard-*.npz")):
            try:
                with np.load(shard, allow_pickle=False) as z:
                    keys = z["keys"]
            except (OSError, ValueError, KeyError):
                continue  # a shard from a killed writer cannot exist (atomic rename); skip foreign files
            for i, k in enumerate(keys.tolist()):
                self._index[str(k)] = (shard, i)
        #: multi-vector keys: key -> (index file, start row, token count)
        self._multi: dict[str, tuple[Path, int, int]] = {}
        for index in sorted(self.root.glob("mv-*.index.npz")):
            try:
                with np.load(index, allow_pickle=False) as z:
                    keys, offsets = z["keys"], z["offsets"]
            except (OSError, ValueError, KeyError):
                continue
            for i, k in enumerate(keys.tolist()):
                self._multi[str(k)] = (index, int(offsets[i]), int(offsets[i + 1] - offsets[i]))

    def __contains__(self, key: str) -> bool:
        return key in self._index or key in self._multi

    def __len__(self) -> int:
        return len(self._index) + len(self._multi)

    def is_multi(self, key: str) -> bool:
        """Whether ``key`` holds a token matrix (late interaction) rather than one vector."""
        return key in self._multi

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

    # ---------------------------------------------------------------- late interaction

    def put_multi(self, keys: Iterable[str], matrices: TokenMatrices, encoder: str | None = None) -> None:
        """Store one token matrix per key in one shard, written under fingerprint ``encoder``.

        The tokens file is written first, then the index (keys, offsets, fingerprint), each atomically.
        """
        keys = [str(k) for k in keys]
        if len(keys) != len(matrices):
            raise ValueError(f"{len(keys)} keys for {len(matrices)} token matrices")
        if not keys:
            return
        flat, offsets = matrices.block(np.arange(len(matrices)))
        stem = f"mv-{uuid.uuid4().hex}"
        tokens, index = self.root / f"{stem}.tokens.npy", self.root / f"{stem}.index.npz"
        arrays: dict[str, Any] = {"keys": np.array(keys), "offsets": offsets}
        if encoder is not None:
            arrays["encoder"] = np.array(encoder)
        for path, write in ((tokens, lambda f: np.save(f, np.ascontiguousarray(flat, dtype=self.dtype))),
                            (index, lambda f: np.savez(f, **arrays))):
            tmp = path.with_name("." + path.name + ".tmp")
            with open(tmp, "wb") as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        for i, k in enumerate(keys):
            self._multi[k] = (index, int(offsets[i]), int(offsets[i + 1] - offsets[i]))

    def get_multi(self, keys: Sequence[str]) -> TokenMatrices:
        """The token matrices of ``keys``, memory-mapped from their shards (nothing is read until used)."""
        sources: list[np.ndarray] = []
        opened: dict[Path, int] = {}
        src = np.empty(len(keys), np.int64)
        start = np.empty(len(keys), np.int64)
        lengths = np.empty(len(keys), np.int64)
        for i, k in enumerate(keys):
            index, s, n = self._multi[k]
            if index not in opened:
                opened[index] = len(sources)
                tokens = _tokens_of(index)
                sources.append(np.load(tokens, mmap_mode="r", allow_pickle=False))
            src[i], start[i], lengths[i] = opened[index], s, n
        return TokenMatrices(sources, src, start, lengths)

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


def _tokens_of(index: Path) -> Path:
    return index.with_name(index.name.removesuffix(".index.npz") + ".tokens.npy")


def shards(root: Path) -> Iterator[ShardInfo]:
    """Every shard of the store at ``root`` (vectors or token matrices), with fingerprint, entries, size, files.

    Reads each shard's key array and fingerprint only, not its vectors, and builds no index.  A multi-vector
    shard's size counts its tokens file; a tokens file without an index (a killed writer's) is not a shard.
    """
    found = sorted(Path(root).glob("shard-*.npz")) + sorted(Path(root).glob("mv-*.index.npz"))
    for shard in found:
        files = (shard, _tokens_of(shard)) if shard.name.startswith("mv-") else (shard,)
        try:
            sts = [f.stat() for f in files]
            with np.load(shard, allow_pickle=False) as z:
                n = len(z["keys"])
                enc = str(z["encoder"]) if "encoder" in z.files else None
        except (OSError, ValueError, KeyError):
            continue
        yield ShardInfo(path=shard, encoder=enc, entries=n, bytes=sum(st.st_size for st in sts),
                        mtime=max(st.st_mtime for st in sts), files=files)
