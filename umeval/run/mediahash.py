"""Media files keyed by their bytes: a sha256 per file, remembered so that an unchanged file is read once.

The embedding store keys an item by the content of its media (:func:`umeval.run.store.entry_key`), so copying,
moving or ``chmod``-ing a data root re-encodes nothing.  Hashing every file on every run would read the whole data
set each time; :class:`MediaHashes` remembers each file's digest against its absolute path, size, modification time
and inode change time (ns) in a small SQLite file beside the store (``<cache_dir>/embeddings/media-hashes.sqlite``),
so a later run costs one ``stat`` per file and reads only files that are new or changed.  The change time is part
of the check so that a file rewritten with its size and mtime restored (``cp -p``, ``rsync -t``) is read again; a
``chmod`` also changes it, which costs a re-read, never a re-encode.  The first-run cost is measured by
``python -m umeval.bench media_hash`` (README, "Embedding store keys").

SQLite (Python's standard library) takes care of concurrent writers (shards of one run share the cache dir).  The
sidecar is only a cache: when it cannot be opened or written, digests are computed and kept in memory.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
from pathlib import Path

log = logging.getLogger("umeval")

#: Bump when the digest changes (another hash function, another block layout): old rows are then ignored.
DIGEST_VERSION = 1


def file_digest(path: str) -> bytes:
    """sha256 of a file's bytes (raises OSError when it cannot be read)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").digest()


class MediaHashes:
    """Content digests of media files, cached against (path, size, mtime_ns, ctime_ns) in memory and on disk."""

    def __init__(self, sidecar: Path | None = None) -> None:
        self.sidecar = sidecar
        self._mem: dict[str, tuple[tuple[int, int, int], bytes]] = {}
        self._new: list[tuple[str, int, int, int, int, bytes]] = []
        self.read = 0  # files read (hashed) by this instance: 0 on a rerun over unchanged data
        self._db: sqlite3.Connection | None = None
        if sidecar is not None:
            try:
                Path(sidecar).parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(str(sidecar), timeout=60, isolation_level=None)
                self._db.execute("CREATE TABLE IF NOT EXISTS media (path TEXT PRIMARY KEY, size INTEGER, "
                                 "mtime_ns INTEGER, ctime_ns INTEGER, version INTEGER, digest BLOB)")
            except (OSError, sqlite3.Error) as e:
                log.warning("media hash cache %s unavailable (%s): hashes are kept in memory only", sidecar, e)
                self._db = None

    def digest(self, media: str | bytes) -> bytes:
        """sha256 of inline bytes or of a file's bytes; a file that cannot be read hashes as its name.

        (The encoder then reports the missing file with its task, file and row.)
        """
        if isinstance(media, bytes):
            return hashlib.sha256(media).digest()
        path = os.path.abspath(media)
        try:
            st = os.stat(path)
        except OSError:
            return b"unreadable:" + media.rsplit("/", 1)[-1].encode()
        sig = (st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        hit = self._mem.get(path)
        if hit is not None and hit[0] == sig:
            return hit[1]
        found = self._lookup(path, sig)
        if found is None:
            try:
                found = file_digest(path)
            except OSError:
                return b"unreadable:" + media.rsplit("/", 1)[-1].encode()
            self.read += 1
            self._new.append((path, *sig, DIGEST_VERSION, found))
            if len(self._new) >= 4096:
                self.flush()
        self._mem[path] = (sig, found)
        return found

    def _lookup(self, path: str, sig: tuple[int, int, int]) -> bytes | None:
        if self._db is None:
            return None
        try:
            row = self._db.execute("SELECT size, mtime_ns, ctime_ns, version, digest FROM media WHERE path = ?",
                                   (path,)).fetchone()
        except sqlite3.Error:
            return None
        if row is None or tuple(row[:3]) != sig or row[3] != DIGEST_VERSION:
            return None
        return bytes(row[4])

    def flush(self) -> None:
        """Write the digests computed since the last flush to the sidecar (one transaction)."""
        new, self._new = self._new, []
        if self._db is None or not new:
            return
        try:
            with self._db:
                self._db.execute("BEGIN")
                self._db.executemany("INSERT OR REPLACE INTO media VALUES (?, ?, ?, ?, ?, ?)", new)
        except sqlite3.Error as e:
            log.warning("cannot write media hash cache %s (%s): hashes are kept in memory only", self.sidecar, e)
            self._db = None
