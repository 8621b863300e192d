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

from umeval.core.types import Item, TaskData


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
    return path[len(root) + 1:] if path.startswith(root + os.sep) else path


def data_fingerprint(data: TaskData, root: Path) -> str:
    """A 16-hex hash of a loaded task's items, qrels, pools and the stat signatures of its media files."""
    h = hashlib.sha256()
    base = os.path.normpath(str(root))
    for role, items in (("query", data.queries), ("candidate", data.candidates)):
        for it in items:
            inline = hashlib.sha256(it.image).hexdigest() if isinstance(it.image, bytes) else None
            media = [(_rel(p, base), stat_signature(p)) for p in media_paths(it)]
            h.update(repr((role, it.id, it.instruction, it.text, inline, media)).encode())  # repr: exact, fast
    h.update(json.dumps(data.qrels, sort_keys=True).encode())
    for pool in data.pools or []:
        h.update(b"|" + pool.astype("int64").tobytes())
    return h.hexdigest()[:16]


def bench(n: int = 10_000) -> dict[str, float]:
    """Seconds to fingerprint a task of ``n`` image candidates (1 kB files in a temporary folder).

    The same number of bare ``os.stat`` calls is timed in the same process for comparison.
    """
    import tempfile
    import time

    with tempfile.TemporaryDirectory() as tmp:
        items = [Item(id=str(i), text=f"caption {i}", image=os.path.join(tmp, f"{i}.png")) for i in range(n)]
        for it in items:
            Path(str(it.image)).write_bytes(b"x" * 1000)
        data = TaskData("bench", items[:1], items, {})
        t0 = time.perf_counter()
        data_fingerprint(data, Path(tmp))
        t1 = time.perf_counter()
        for it in items:
            os.stat(str(it.image))
        t2 = time.perf_counter()
    return {"fingerprint_s": t1 - t0, "stat_only_s": t2 - t1}


if __name__ == "__main__":  # python -m umeval.run.datafp [N]: the cost quoted in the README
    import sys

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    r = bench(n)
    print(f"data fingerprint of {n} media files: {r['fingerprint_s']:.3f} s (bare os.stat: {r['stat_only_s']:.3f} s)")
