"""Data fingerprints: has a task's data changed since its result was written?

A task's fingerprint hashes what its loader produced (every query and candidate: id, instruction, text,
inline image bytes; the qrels; the pools: so any change in the rows that reaches the model or the scorer
changes it) and, for each media file an item points to, its path relative to the data root and a stat
signature (size, modification time and inode change time, in ns).  Media content is not read: a file
replaced by another changes its mtime or ctime even when its size stays the same.  Cost: one ``stat`` per
media file (measured in the README, "Data fingerprints").

Checking a finished task must not cost a full load (a visual-document corpus decodes and spills up to 9,590
pages): :class:`DataFingerprints` keeps, per task, a small record next to the embedding store of what its last
load read (annotation files, listed folders, every media file, each with its stat signature) and the
fingerprint that load gave.  While every one of those signatures is unchanged, and the loader code, the spec
and the load settings are the same, the fingerprint is taken from the record: one ``stat`` per file, no
parquet read, no decode.  Anything else (a record missing, a signature changed, rows from the hub) loads.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from functools import cache
from pathlib import Path

from umeval.core.config import fingerprint
from umeval.core.errors import UmevalError
from umeval.core.spec import TaskSpec
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


@cache
def loader_code_hash() -> str:
    """A hash of the loaders' and task plugins' source: a change of either may change what a load gives."""
    import umeval_tasks

    import umeval.loaders

    h = hashlib.sha256()
    for pkg in (umeval.loaders, umeval_tasks):
        for f in sorted(Path(pkg.__path__[0]).rglob("*.py")):
            h.update(f.name.encode() + f.read_bytes())
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()[:16]


class DataFingerprints:
    """Data fingerprints of a run's tasks: each computed once per run, from the record when nothing changed.

    ``cache_dir/datafp/<task>.json`` holds the record of the task's last load (see the module docstring).
    """

    def __init__(self, cache_dir: Path) -> None:
        self.dir = cache_dir / "datafp"
        self.known: dict[str, str | None] = {}
        self.loads = 0  # full loads done (the tests and the bench read it)
        # The data of the last task loaded to fingerprint it, until the run takes it (one task's data at most):
        # a task whose data changed is then loaded once, not once for the check and once to evaluate.
        self._held: tuple[str, TaskData] | None = None

    def _key(self, spec: TaskSpec, lctx: object) -> str:
        fields = {f.name: str(getattr(lctx, f.name)) for f in dataclasses.fields(lctx)  # type: ignore[arg-type]
                  if f.name != "spill_dir"}
        return fingerprint({"spec": spec.summary(), "options": spec.options, "max_queries": spec.max_queries,
                            "transform": spec.transform, "load": fields, "code": loader_code_hash()})

    def load(self, spec: TaskSpec, lctx: object) -> TaskData:
        """Load ``spec``'s data, fingerprint it and write the record of what the load read."""
        from umeval.loaders import load_task, recording_sources

        if self._held is not None and self._held[0] == spec.name:
            data = self._held[1]
            self._held = None
            return data
        self._held = None
        with recording_sources() as sources:
            data = load_task(spec, lctx)  # type: ignore[arg-type]
        self.loads += 1
        root = Path(lctx.data_root)  # type: ignore[attr-defined]
        fp = data_fingerprint(data, root)
        self.known[spec.name] = fp
        files = sorted(set(sources)) + sorted({p for items in (data.queries, data.candidates)
                                               for it in items for p in media_paths(it)})
        if all(os.path.isabs(f) for f in files):  # rows from the hub (``hub:`` labels) are not checked by stat
            record = {"key": self._key(spec, lctx), "fingerprint": fp,
                      "files": [[f, stat_signature(f)] for f in files]}
            from umeval.results.files import write_json

            write_json(self.dir / f"{spec.name}.json", record)
        return data

    def of(self, spec: TaskSpec, lctx: object) -> str | None:
        """The fingerprint of ``spec``'s data; None when it cannot be loaded (the task then runs and says why)."""
        if spec.name not in self.known:
            self.known[spec.name] = self._from_record(spec, lctx)
        if self.known[spec.name] is None:
            try:
                self._held = (spec.name, self.load(spec, lctx))
            except UmevalError:
                self.known[spec.name] = None
        return self.known[spec.name]

    def _from_record(self, spec: TaskSpec, lctx: object) -> str | None:
        try:
            record = json.loads((self.dir / f"{spec.name}.json").read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("key") != self._key(spec, lctx):
            return None
        files = record.get("files") or []
        if any(stat_signature(f) != sig for f, sig in files):
            return None
        return str(record["fingerprint"])


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
