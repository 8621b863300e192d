"""Published scores as a ``umeval compare`` baseline: per-task means, or per-category means.

A reference file (``kind: umeval-reference``, e.g. ``umeval/models/gme/reference/*.json``) holds, per official
task key, the published metrics of one model.  Keys are the official report's names: a task whose umeval name
differs from its export name (``ViDoSeek-page`` is exported as ``ViDoSeek-page-fixed``, see
:attr:`umeval.core.spec.TaskSpec.export_name`) is found under either.  Each task's umeval main metric is read; keys
that name no umeval task (e.g. ``MomentSeeker_1k8``) are left out.  Every row is the discriminative mode.

A category file (``kind: umeval-reference-categories``, e.g. ``umeval/models/qwen3_vl_embedding/reference/``)
holds what authors publish when they give no per-task table: means per MMEB-V2 category, modality and overall,
in percent, under the names of their paper's table.  :func:`load_category_reference` maps those names to
umeval's task groups (:data:`CATEGORY_GROUPS`) and the scores to fractions.
"""

from __future__ import annotations

import json
from pathlib import Path

from umeval.core.errors import DataError

KIND = "umeval-reference"
CATEGORY_KIND = "umeval-reference-categories"
#: The category names of MMEB-V2 tables (the benchmark paper's, which later papers reuse) -> umeval task group
#: (:func:`umeval.core.registry.task_groups`: a meta-category, a modality, or ``all``).
CATEGORY_GROUPS = {
    "Image-CLS": "I-CLS", "Image-QA": "I-QA", "Image-RET": "I-RET", "Image-GD": "I-VG", "Image-Overall": "image",
    "Video-CLS": "V-CLS", "Video-QA": "V-QA", "Video-RET": "V-RET", "Video-MRET": "V-MRET", "Video-Overall": "video",
    "VisDoc-VDRv1": "ViDoRe-V1", "VisDoc-VDRv2": "ViDoRe-V2", "VisDoc-VR": "VisRAG", "VisDoc-OOD": "VisDoc-OOD",
    "VisDoc-Overall": "visdoc", "All": "all",
}


def _read(path: Path) -> object:
    """A reference file's JSON; unreadable or not JSON is a one-line error naming it."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        raise DataError("unreadable reference file", "pass a umeval reference JSON or a result folder",
                        file=str(path)) from None


def reference_kind(path: Path) -> str | None:
    """The ``kind`` of a reference JSON file, or None when ``path`` is not one (e.g. a result folder)."""
    path = Path(path)
    if path.suffix != ".json" or not path.is_file():
        return None
    doc = _read(path)
    return doc.get("kind") if isinstance(doc, dict) else None


def load_category_reference(path: Path) -> dict[str, tuple[str, float, int]]:
    """Task group (umeval's name) -> (the table's name, published mean as a fraction, the table's task count)."""
    from umeval.core.registry import task_groups

    doc = _read(path)
    if not isinstance(doc, dict) or doc.get("kind") != CATEGORY_KIND or not isinstance(doc.get("categories"), dict):
        raise DataError(f"not a umeval category reference (kind '{CATEGORY_KIND}' with a 'categories' map)",
                        "pass a category reference file", file=str(path))
    cats, counts = doc["categories"], doc.get("datasets") or {}
    groups = task_groups()
    out: dict[str, tuple[str, float, int]] = {}
    for name, value in cats.items():
        group = CATEGORY_GROUPS.get(name)
        if group is None:
            raise DataError(f"unknown category '{name}'",
                            f"use the MMEB-V2 table names: {', '.join(CATEGORY_GROUPS)}", file=str(path))
        size = len(groups.get(group, []))
        n = int(counts.get(name, size))
        if n != size:
            raise DataError(f"category '{name}' counts {n} tasks, umeval's group {group} has {size}",
                            "check the reference's 'datasets' map", file=str(path))
        out[group] = (name, float(value) / 100.0, n)
    return out


def load_reference(path: Path, mode: str = "disc") -> dict[tuple[str, str], tuple[str, float]]:
    """(task, mode) -> (benchmark, published mean of the task's main metric), keyed by umeval task names."""
    from umeval.core.registry import discover_tasks

    doc = _read(path)
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
