"""Published per-task scores as a ``umeval compare`` baseline (task means only).

A reference file (``kind: umeval-reference``, e.g. ``umeval/models/gme/reference/*.json``) holds, per official
task key, the published metrics of one model.  Keys are the official report's names: a task whose umeval name
differs from its export name (``ViDoSeek-page`` is exported as ``ViDoSeek-page-fixed``, see
:attr:`umeval.core.spec.TaskSpec.export_name`) is found under either.  Each task's umeval main metric is read; keys
that name no umeval task (e.g. ``MomentSeeker_1k8``) are left out.  Every row is the discriminative mode.
"""

from __future__ import annotations

import json
from pathlib import Path

from umeval.core.errors import DataError

KIND = "umeval-reference"


def load_reference(path: Path, mode: str = "disc") -> dict[tuple[str, str], tuple[str, float]]:
    """(task, mode) -> (benchmark, published mean of the task's main metric), keyed by umeval task names."""
    from umeval.core.registry import discover_tasks

    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        raise DataError("unreadable reference file", "pass a umeval reference JSON or a result folder",
                        file=str(path)) from None
    if not isinstance(doc, dict) or doc.get("kind") != KIND or not isinstance(doc.get("tasks"), dict):
        raise DataError(f"not a umeval reference (kind '{KIND}' with a 'tasks' map)",
                        "pass a result folder (results/<model>) or a reference file", file=str(path))
    by_key: dict[str, str] = {}
    specs = dict(discover_tasks().items())
    for name, spec in specs.items():
        for key in (name, spec.export_name or name, *spec.aliases):
            by_key.setdefault(key, name)
    out: dict[tuple[str, str], tuple[str, float]] = {}
    for key, metrics in doc["tasks"].items():
        found = by_key.get(key)
        if found is None:
            continue
        name, spec = found, specs[found]
        if spec.main_metric not in metrics:
            raise DataError(f"task {key} has no {spec.main_metric}", "add the task's main metric to the reference",
                            file=str(path))
        out[(name, mode)] = (spec.benchmark, float(metrics[spec.main_metric]))
    if not out:
        raise DataError("the reference names no known task", "check its task keys", file=str(path))
    return out
