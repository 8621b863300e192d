"""The embedded default: the data of the ``mini`` tasks (``source.generated``), generated into the cache.

``umeval run task=mini`` needs no download: the first run writes each generated task's data once into
``<cache>/data/generated-v<FIXTURE_VERSION>-s<seed>``, in the official on-disk layout, so the real loaders read
it.  This module is the product side of that data (where it lives, when it is written, concurrency and
atomicity); the family writers it calls are the ones the loaders register (:mod:`umeval.data.synthetic`, through
:func:`umeval.data.synthetic.write_task_data`), shared with ``umeval selftest`` and the tests, because one writer per
official layout is what keeps the embedded default, the self-test and the loaders' tests reading the same
bytes.  Neither this module nor the run path imports the test support module :mod:`umeval.testing.fixtures`.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from pathlib import Path

from umeval.core.spec import TaskSpec
from umeval.data.synthetic import FIXTURE_VERSION, write_task_data


def ensure_generated(specs: list[TaskSpec], cache_dir: Path, seed: int = 0) -> Path:
    """Generate the fixtures of ``specs`` once into ``cache_dir/data/generated-v<N>`` (atomic per task)."""
    root = cache_dir / "data" / f"generated-v{FIXTURE_VERSION}-s{seed}"
    root.mkdir(parents=True, exist_ok=True)
    # Shards of one run may start together: one process writes, the others wait and then find the markers
    # (rewriting a file would change its mtime, and with it the content keys of stored embeddings).
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for spec in specs:
            _generate_one(spec, root, seed)
    return root


def _generate_one(spec: TaskSpec, root: Path, seed: int) -> None:
    marker = root / ".done" / f"{spec.name}.json"
    if not marker.exists():
        tmp = Path(tempfile.mkdtemp(prefix=f".{spec.name}-", dir=root))
        try:
            write_task_data(spec, tmp, seed=seed)
            for top in tmp.iterdir():  # merge the new task's tree into the shared root
                for src in sorted(top.rglob("*")):
                    dst = root / src.relative_to(tmp)
                    if src.is_dir():
                        dst.mkdir(parents=True, exist_ok=True)
                    else:
                        dst.parent.mkdir(parents=True, exist_ok=True)
                        os.replace(src, dst)
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(json.dumps({"task": spec.name, "version": FIXTURE_VERSION, "seed": seed}))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
