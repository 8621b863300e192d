"""The task spec: a task is data.

A spec says what a task is (name, modality, meta-category, instructions, where its data lives, main metric,
candidate pool); a *loader* named by ``family`` turns it into :class:`umeval.core.types.TaskData`.  Specs hold no
logic: a family with odd rows gets options in ``options`` or one ``transform`` hook, never a branch on the
task name in shared code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from umeval.scoring.metrics import OFFICIAL as OFFICIAL_METRICS

Modality = Literal["image", "video", "visdoc"]
Pool = Literal["local", "global"]

DEFAULT_INSTRUCTION_SET = "official"


@dataclass(frozen=True)
class Instructions:
    """Query and candidate instructions of one instruction set."""

    query: str = ""
    candidate: str = ""


@dataclass(frozen=True)
class DataSource:
    """Where a task's rows come from.

    ``hub_id``/``subset``/``split``/``revision`` name the hub dataset (read through ``datasets`` when
    online).  A local copy is looked for first at ``<data_root>/<hub_id>/`` in the hub's own file layout
    (``<subset>/<split>-*.parquet``, or ``data/<split>-*.parquet`` for a dataset without subsets).
    ``media_dir`` is the folder under ``data_root`` that the rows' relative media paths start from.
    """

    hub_id: str
    subset: str | None = None
    split: str = "test"
    revision: str = "main"
    media_dir: str = ""
    generated: bool = False  # data written by umeval.data.embedded into the cache (the embedded default)


@dataclass(frozen=True)
class TaskSpec:
    name: str
    modality: Modality
    meta: str  # meta-category used for roll-ups: I-CLS, V-RET, ViDoRe-V1, ...
    family: str  # loader name, see umeval.loaders
    source: DataSource
    query_modality: str
    candidate_modality: str
    pool: Pool
    instructions: dict[str, Instructions] = field(default_factory=dict)
    main_metric: str = "hit@1"
    metrics: tuple[str, ...] = OFFICIAL_METRICS  # every key of the official score dict
    benchmark: str = "MMEB-V2"
    groups: tuple[str, ...] = ()
    max_queries: int | None = None  # the official evaluation keeps only the first N rows
    options: dict[str, Any] = field(default_factory=dict)  # family-specific, read by the loader
    transform: str | None = None  # "module:function" applied to each raw row before the loader reads it
    description: str = ""
    # The key the official report script (experiments/report_score_v2.py) writes for this task in exports;
    # None: the task's name.
    export_name: str | None = None
    aliases: tuple[str, ...] = ()  # other names that select this task (e.g. the export name)

    def instruction(self, name: str = DEFAULT_INSTRUCTION_SET) -> Instructions:
        """The instruction set ``name``, falling back to the official one."""
        if name in self.instructions:
            return self.instructions[name]
        return self.instructions.get(DEFAULT_INSTRUCTION_SET, Instructions())

    @property
    def data_version(self) -> str:
        """``hub_id@revision``: which data a number was computed on (fixed and unfixed hub copies differ)."""
        return f"{self.source.hub_id}@{self.source.revision}"

    def summary(self) -> dict[str, Any]:
        """Flat metadata for listings (``umeval list tasks --json``)."""
        return {
            "name": self.name,
            "benchmark": self.benchmark,
            "modality": self.modality,
            "meta_category": self.meta,
            "family": self.family,
            "query_modality": self.query_modality,
            "candidate_modality": self.candidate_modality,
            "pool": self.pool,
            "main_metric": self.main_metric,
            "hub_id": self.source.hub_id,
            "subset": self.source.subset,
            "split": self.source.split,
            "revision": self.source.revision,
            "data_version": self.data_version,
            "export_name": self.export_name or self.name,
            "aliases": list(self.aliases),
            "instruction_sets": sorted(self.instructions),
            "groups": list(self.groups),
        }
