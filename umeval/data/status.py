"""Is a task's data complete?  ``umeval data status`` and the data check ``umeval run`` makes before any weights load.

A task is complete when its annotation rows are there (locally, or on the hub when the run may read it) and
every media file its rows name exists.  The check goes through the task's own loader (so it names exactly
the files a run will read) with frame extraction off, then ``stat``s each media path: no image is decoded.
A frame folder that is missing but whose video is there counts as present (it is extracted when the task
runs).  Row counts are compared with the official run's (:func:`umeval.data.official_sizes.official_sizes`); a
count that differs is reported with the copy it matches (e.g. the older MomentSeeker) but does not make a
task incomplete: tests and smoke runs use small copies on purpose.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from umeval.core.errors import DataError, UmevalError
from umeval.core.spec import TaskSpec
from umeval.loaders import LoadContext, load_task, local_files, preflight
from umeval.loaders import _hub_allowed as hub_allowed
from umeval.run.datafp import media_paths

SHOW = 3  # missing files named in a message; the rest are counted


@dataclass
class TaskStatus:
    """What :func:`check_task` found for one task."""

    task: str
    complete: bool
    annotations: str  # "local", "hub" (read from the hub at run time, media not checked) or "missing"
    queries: int | None = None
    official_queries: int | None = None
    variant: str | None = None  # the recognised copy when the count is not the official one
    media_files: int = 0
    missing: list[str] = field(default_factory=list)  # the first SHOW missing paths
    n_missing: int = 0
    to_extract: int = 0  # videos whose frames will be extracted when the task runs
    extracted: int = 0  # frame folders umeval extracted from videos
    error: str | None = None

    @property
    def counts_match(self) -> bool:
        return self.official_queries is None or self.queries is None or self.queries == self.official_queries

    def problem(self) -> str:
        """One line saying why the task is incomplete."""
        if self.error:
            return self.error
        more = f" and {self.n_missing - len(self.missing)} more" if self.n_missing > len(self.missing) else ""
        return f"task {self.task}: {self.n_missing} media file(s) missing: {', '.join(self.missing)}{more}"

    def to_json(self) -> dict[str, object]:
        return {**asdict(self), "counts_match": self.counts_match}


def _has_local_rows(spec: TaskSpec, ctx: LoadContext) -> bool:
    from umeval.data.manifest import subsets_of

    root = ctx.data_root / spec.source.hub_id
    return all(local_files(root, sub, spec.source.split) for sub in subsets_of(spec))


def check_task(spec: TaskSpec, ctx: LoadContext) -> TaskStatus:
    """The data status of one task under ``ctx`` (its ``limit`` is ignored: every row is checked)."""
    from umeval.data.frames import is_video, was_extracted
    from umeval.data.official_sizes import official_sizes

    official = official_sizes().get(spec.name)
    st = TaskStatus(task=spec.name, complete=False, annotations="missing",
                    official_queries=official.queries if official and not spec.source.generated else None)
    try:
        preflight(spec, ctx)  # no rows locally and no hub: the family's own one-line message
    except UmevalError as e:
        st.error = str(e)
        return st
    local = _has_local_rows(spec, ctx)
    if not local and hub_allowed(ctx):
        # Rows come from the hub at run time; checking media would mean downloading them now.
        st.annotations, st.complete = "hub", True
        return st
    try:  # (rows partly missing and no hub: the loader names the missing file)
        data = load_task(spec, replace(ctx, limit=None, extract_frames=False))
    except UmevalError as e:
        st.error = str(e)
        return st
    st.annotations = "local"
    st.queries = len(data.queries)
    if official and st.queries != official.queries:
        st.variant = official.variants.get(st.queries, f"unrecognised copy ({st.queries} queries, official "
                                                       f"run {official.queries})")
    missing: list[str] = []
    seen: set[str] = set()
    frame_dirs: set[str] = set()
    videos: set[str] = set()
    for item in [*data.queries, *data.candidates]:
        if len(item.video) == 1 and is_video(item.video[0]):
            videos.add(item.video[0])  # a missing frame folder whose video is there (found: not missing)
            continue
        for p in media_paths(item):
            if p in seen:
                continue
            seen.add(p)
            if not os.path.exists(p):
                missing.append(p)
            elif p in item.video:
                frame_dirs.add(os.path.dirname(p))
    st.to_extract = len(videos)
    st.media_files = len(seen)
    st.extracted = sum(was_extracted(d) for d in frame_dirs)
    root = str(Path(os.path.abspath(ctx.data_root)))
    st.n_missing = len(missing)
    st.missing = [p[len(root) + 1:] if p.startswith(root + os.sep) else p for p in missing[:SHOW]]
    st.complete = not missing
    return st


def check_tasks(specs: Iterable[TaskSpec], ctx_for: Callable[[TaskSpec], LoadContext]) -> list[TaskStatus]:
    return [check_task(spec, ctx_for(spec)) for spec in specs]


def preflight_all(specs: list[TaskSpec], ctx_for: Callable[[TaskSpec], LoadContext], *,
                  raise_all: bool) -> dict[str, DataError]:
    """The run's data check: every incomplete task among ``specs``, by name, as a one-line error.

    With ``raise_all`` any incomplete task raises one :class:`DataError` that lists them all (so a run
    missing three tasks says so at once, before the model loads).
    """
    bad = {st.task: DataError(st.problem()) for st in check_tasks(specs, ctx_for) if not st.complete}
    if bad and raise_all:
        listing = " | ".join(str(e) for e in bad.values())
        raise DataError(f"{len(bad)} of {len(specs)} task(s) have incomplete data: {listing}",
                        "run `umeval data fetch task=...` (or `umeval data status`), point data_root= at a "
                        "complete copy, or pass keep_going=true to run the complete tasks")
    return bad
