"""Data fingerprints: has a task's data changed since its result was written?

A task's fingerprint hashes what its loader produced (every query and candidate: id, instruction, text,
inline image bytes; the qrels; the pools: so any change in the rows that reaches the model or the scorer
changes it) and, for each media file an item points to, its path relative to the data root and a stat
signature (size, modification time and inode change time, in ns).  Media content is not read: a file
replaced by another changes its mtime or ctime even when its size stays the same.  Cost: one ``stat`` per
media file (measured in the README, "Data fingerprints").
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from umeval.types import Item, TaskData


def stat_signature(path: str) -> str:
    """``size:mtime_ns:ctime_ns`` of a file, or ``missing``."""
    try:
        st = os.stat(path)
    except OSError:
        return "missing"
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


def media_paths(item: Item) -> list[str]:
    return ([item.image] if isinstance(item.image, str) else []) + list(item.images) + list(item.video)


def _rel(path: str, root: str) -> str:
    return os.path.relpath(path, root) if path.startswith(root + os.sep) else path


def data_fingerprint(data: TaskData, root: Path) -> str:
    """A 16-hex hash of a loaded task's items, qrels, pools and the stat signatures of its media files."""
    h = hashlib.sha256()
    base = os.path.normpath(str(root))
    for role, items in (("query", data.queries), ("candidate", data.candidates)):
        for it in items:
            inline = hashlib.sha256(it.image).hexdigest() if isinstance(it.image, bytes) else None
            media = [(_rel(p, base), stat_signature(p)) for p in media_paths(it)]
            h.update(json.dumps([role, it.id, it.instruction, it.text, inline, media]).encode())
            h.update(b"\n")
    h.update(json.dumps(data.qrels, sort_keys=True).encode())
    for pool in data.pools or []:
        h.update(b"|" + pool.astype("int64").tobytes())
    return h.hexdigest()[:16]
