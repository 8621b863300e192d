"""The result of one task in one mode: the ``scores.json`` schema, typed and versioned.

On disk (schema version 2)::

    {"schema_version": 2, "task": ..., "mode": ..., "metrics": {...}, ..., "provenance": {"umeval_version": ...,
     "git_commit": ..., "timestamp": ..., "backend": ..., "device": ..., ...}}

Files written before the version existed (version 1: no ``schema_version``, the provenance fields at the top level)
are read as they are.  :meth:`TaskResult.read` is the one reader of ``scores.json``; the leaderboard, ``show``,
``export``, ``report`` and ``compare`` consume its flat view, :meth:`TaskResult.to_row` (the version-1 layout, so
they need not know the version).  A file of a newer schema is a one-line error: this umeval cannot know what its
fields mean.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from umeval.core.config import ResolvedRun, to_dict
from umeval.core.errors import DataError
from umeval.core.spec import TaskSpec
from umeval.results import files as res

#: Bump when a field of ``scores.json`` is added, removed, renamed or moved; teach :meth:`TaskResult.from_dict`
#: to read the previous version.  Exception: an optional block that a reader may ignore (``timing``, added in
#: version 2) needs no bump, since a reader that does not know it keeps it in ``extra``, unchanged; a bump would
#: make every older umeval refuse every newer file.
SCHEMA_VERSION = 2


class NewerSchemaError(DataError):
    """A ``scores.json`` written by a newer umeval (a schema version this one does not know)."""


class NotATaskResult(DataError):
    """A file named ``scores.json`` that is unreadable or not a task result (no ``task`` and ``mode``)."""


@dataclass(frozen=True)
class Provenance:
    """What produced a result: umeval itself and the runtime the run resolved.

    The fields after ``timestamp`` are :data:`umeval.results.files.RUNTIME_COLUMNS`, resolved by
    :func:`umeval.run.runtime.resolve_runtime`.
    """

    umeval_version: str | None = None
    git_commit: str | None = None
    timestamp: str | None = None
    backend: str | None = None
    device: str | None = None
    dtype: str | None = None
    attn_implementation: str | None = None
    torch_version: str | None = None
    transformers_version: str | None = None
    vllm_version: str | None = None
    faiss_version: str | None = None
    model_revision_resolved: str | None = None

    @classmethod
    def now(cls, runtime: Mapping[str, Any]) -> Provenance:
        """The running umeval, now, on ``runtime`` (the dict of :func:`umeval.run.runtime.resolve_runtime`)."""
        return cls(**res.stamp(), **{k: runtime.get(k) for k in res.RUNTIME_COLUMNS})


def _model_options(model_cfg: Any) -> str | None:
    """The family's resolved settings as sorted JSON (None without any, or without a known family)."""
    from umeval.models.family import discover_families, options_of

    if model_cfg.get("family") is None or str(model_cfg.family) not in discover_families():
        return None
    opts = options_of(model_cfg)
    return json.dumps(opts, sort_keys=True) if opts else None


PROVENANCE_FIELDS = tuple(f.name for f in dataclasses.fields(Provenance))

#: Fields only some kinds of result have (a failure has no candidates, only gen has diagnostics): left out of the
#: file and of the flat view when unset, as version 1 did.
OPTIONAL = ("n_candidates", "search_backend", "notes", "diagnostics", "model_options", "timing", "partial")


@dataclass(frozen=True)
class TaskResult:
    """One task's result in one mode (``status`` ok or failed); written to ``tasks/<task>/<mode>/scores.json``."""

    task: str
    mode: str
    model: str | None = None
    main_metric: str | None = None
    modality: str | None = None
    meta: str | None = None
    benchmark: str | None = None
    instruction_set: str | None = None
    decoding: str | None = None  # the gen decoding policy as sorted JSON; None for disc
    #: the family's settings (``model.options`` over its defaults) as sorted JSON, e.g. UME-R1's disc_readout;
    #: None for a family without options
    model_options: str | None = None
    model_id: str | None = None
    model_revision: str | None = None
    dataset_revision: str | None = None
    data_version: str | None = None
    export_name: str | None = None
    store_dtype: str | None = None
    config_hash: str | None = None  # the task fingerprint (:func:`umeval.run.fingerprints.task_fingerprint`)
    status: str | None = None  # ok | failed (a reader may mark a result stale)
    error: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    n_queries: int | None = None
    n_candidates: int | None = None
    n_tied: int | None = None
    search_backend: str | None = None
    notes: dict[str, Any] | None = None
    diagnostics: dict[str, Any] | None = None
    setup_hash: str | None = None  # the fingerprint less the generative settings
    data_fingerprint: str | None = None
    # What computing it took in the command that did (umeval.core.timing: wall, CPU, GPU seconds per stage).
    timing: dict[str, Any] | None = None
    partial: str | None = None  # a partial run's key (``limit=2``, :mod:`umeval.results.partial`); None when full
    provenance: Provenance = field(default_factory=Provenance)
    extra: dict[str, Any] = field(default_factory=dict)  # fields this version does not know, kept as read

    # ------------------------------------------------------------ build

    @classmethod
    def base(cls, spec: TaskSpec, mode: str, run: ResolvedRun, config_hash: str, *,
             runtime: Mapping[str, Any] | None = None, **fields: Any) -> TaskResult:
        """A result of ``spec`` in ``mode`` of ``run``: its identity and provenance, plus ``fields``.

        The provenance is the run's runtime unless ``runtime`` is given (the oracle carries its gen result's).
        """
        cfg, inst_set = run.cfg, run.instruction_set
        runtime = run.runtime if runtime is None else runtime
        from umeval.results.partial import marked_model, partial_key

        m = cfg.model
        key = partial_key(cfg)
        ident: dict[str, Any] = dict(
            task=spec.name, mode=mode, model=marked_model(m.name, key), partial=key, main_metric=spec.main_metric,
            modality=spec.modality,
            meta=spec.meta, benchmark=spec.benchmark, instruction_set=inst_set,
            decoding=json.dumps(to_dict(m.decoding), sort_keys=True) if mode == "gen" else None,
            model_options=_model_options(m),
            model_id=m.path or (f"{m.name} (built by {m.builder})" if m.builder else f"{m.name} (no weights)"),
            model_revision=str(m.revision), dataset_revision=spec.source.revision, data_version=spec.data_version,
            export_name=spec.export_name or spec.name, store_dtype=str(cfg.store_dtype), config_hash=config_hash,
            provenance=Provenance.now(runtime))
        return cls(**(ident | fields))

    def replace(self, **changes: Any) -> TaskResult:
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------ views

    def to_row(self) -> dict[str, Any]:
        """The flat view (the version-1 layout): every field at the top level, provenance included."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name == "provenance":
                out.update(dataclasses.asdict(v))
            elif f.name == "extra":
                continue
            elif not (f.name in OPTIONAL and v is None):
                out[f.name] = v
        return {**self.extra, **out}

    def to_json(self) -> dict[str, Any]:
        """The on-disk layout of :data:`SCHEMA_VERSION`: the provenance in its own block."""
        row = self.to_row()
        prov = {k: row.pop(k) for k in PROVENANCE_FIELDS}
        return {"schema_version": SCHEMA_VERSION, **row, "provenance": prov}

    # ------------------------------------------------------------ disk

    def write(self, path: Path) -> None:
        """Write atomically (a reader or a killed run never sees half a file)."""
        res.write_json(path, self.to_json())

    @classmethod
    def from_dict(cls, d: Any, source: Path | str | None = None) -> TaskResult:
        """A result from a parsed ``scores.json`` of any known schema version (1: flat, 2: provenance block)."""
        where = str(source) if source is not None else "scores.json"
        if not isinstance(d, dict) or "task" not in d or "mode" not in d:
            raise NotATaskResult(f"{where} is not a task result (no task and mode)", "re-run the task or delete it")
        d = dict(d)
        version = d.pop("schema_version", 1)
        if not isinstance(version, int) or not 1 <= version <= SCHEMA_VERSION:
            raise NewerSchemaError(f"{where} has scores.json schema_version {version}, this umeval reads up to "
                                   f"{SCHEMA_VERSION}", "upgrade umeval (pip install -U umeval) to read it")
        if version == 1:  # flat: the provenance fields sat beside the others
            prov = {k: d.pop(k) for k in PROVENANCE_FIELDS if k in d}
        else:
            prov = dict(d.pop("provenance", None) or {})
        names = {f.name for f in dataclasses.fields(cls)} - {"provenance", "extra"}
        known = {k: d.pop(k) for k in list(d) if k in names}
        extra = d | {k: prov.pop(k) for k in list(prov) if k not in PROVENANCE_FIELDS}
        if known.get("metrics") is None:
            known["metrics"] = {}
        return cls(**known, provenance=Provenance(**prov), extra=extra)

    @classmethod
    def read(cls, path: Path) -> TaskResult:
        """The result in ``path``; :class:`NotATaskResult` when it is unreadable or not a result."""
        try:
            d = json.loads(Path(path).read_text())
        except (OSError, ValueError) as e:
            raise NotATaskResult(f"cannot read {path} ({e})", "re-run the task or delete the file") from None
        return cls.from_dict(d, path)

    @classmethod
    def load(cls, path: Path) -> TaskResult | None:
        """:meth:`read`, or None when there is no readable result (the task then runs again).

        A newer schema still raises, so a result of a newer umeval is never silently replaced.
        """
        try:
            return cls.read(path)
        except NotATaskResult:
            return None
