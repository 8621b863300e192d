"""Loaders: one per data family, turning a :class:`TaskSpec` and a data root into :class:`TaskData`.

Each loader module registers its families (:func:`umeval.loaders.registry.register_loader`: load, fixture
writer, probe); :func:`load_task` and :func:`preflight` dispatch through that entry.

Shared pieces live here: reading a hub dataset's rows from a local copy (or the hub when online), resolving
media paths safely under the data root, and sampling video frames.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from umeval.core.errors import DataError
from umeval.core.plugins import load_object
from umeval.core.spec import TaskSpec
from umeval.core.timing import timed
from umeval.core.types import TaskData
from umeval.loaders.registry import loader_entry

Row = dict[str, Any]
FRAME_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class LoadContext:
    """What a loader needs besides the spec."""

    data_root: Path
    instruction_set: str = "official"
    limit: int | None = None  # keep only the first N queries (smoke runs)
    num_frames: int = 8
    allow_hub: bool = True
    # Where embedded media bytes (visual-document pages) are written once, content-addressed, so items hold a
    # path and the encoder reads each page per batch; None keeps the bytes in the item.
    spill_dir: Path | None = None
    # A missing frame folder whose video is there is extracted (umeval.data.frames); False (the data check): the
    # item names the missing folder, or the video standing in for it, and nothing is written.
    extract_frames: bool = True


def spill(ctx: LoadContext, data: bytes) -> str | bytes:
    """``data`` as a file under ``ctx.spill_dir`` named by its SHA-256, or ``data`` itself without a spill dir.

    Written once: a file that exists is kept, so its mtime, part of the store key, never changes.
    """
    if ctx.spill_dir is None:
        return data
    import hashlib
    import os
    import tempfile

    digest = hashlib.sha256(data).hexdigest()
    suffix = ".png" if data[:4] == b"\x89PNG" else ".jpg" if data[:2] == b"\xff\xd8" else ".img"
    path = Path(ctx.spill_dir) / digest[:2] / f"{digest}{suffix}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".spill-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            try:
                os.link(tmp, path)  # atomic and exclusive: a concurrent writer's file wins, never replaced
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)
    return str(path)


# ---------------------------------------------------------------- what a load read

#: The sources a load read (annotation files, listed folders; ``hub:...`` for rows from the hub), while recorded.
_SOURCES: ContextVar[list[str] | None] = ContextVar("umeval_load_sources", default=None)


@contextmanager
def recording_sources() -> Iterator[list[str]]:
    """Collect what the loads inside the block read besides the items' media.

    The files and folders whose change can change the loaded task (cheap freshness checks,
    :mod:`umeval.run.datafp`).
    """
    token = _SOURCES.set([])
    try:
        yield _SOURCES.get()  # type: ignore[misc]
    finally:
        _SOURCES.reset(token)


def note_source(where: str | os.PathLike[str]) -> None:
    """Record that a load read ``where`` (a file, a folder it listed, or a ``hub:`` label)."""
    sources = _SOURCES.get()
    if sources is not None:
        sources.append(str(where))


REPEATED_POSITIVE = "queries_with_repeated_positive"


@timed("load")
def load_task(spec: TaskSpec, ctx: LoadContext) -> TaskData:
    data = loader_entry(spec.family).load_fn()(spec, ctx)
    if not data.queries:
        raise DataError("no queries were loaded", "check the data files and the split", task=spec.name)
    # Every task reports it: a local pool counts through official_pool; a global pool names each candidate once
    # (candidates are keyed by their official name), so no list of its can repeat a positive.
    data.notes.setdefault(REPEATED_POSITIVE, 0)
    return data


def preflight(spec: TaskSpec, ctx: LoadContext) -> None:
    """A cheap check, before any weights load, that the task's rows can be found (locally or on the hub).

    Runs the probe its family registered, else :func:`probe_rows` (an unknown family fails here, in one line).
    """
    probe = loader_entry(spec.family).probe_fn() or probe_rows
    probe(spec, ctx)


def probe_rows(spec: TaskSpec, ctx: LoadContext, subset: str | None = None) -> None:
    """The default probe: parquet rows of ``subset`` (default: the spec's) exist locally, or the hub is allowed."""
    subset = subset if subset is not None else spec.source.subset
    root = ctx.data_root / spec.source.hub_id
    if not local_files(root, subset, spec.source.split) and not _hub_allowed(ctx):
        where = f"{root}/{subset + '/' if subset else ''}{spec.source.split}-*.parquet"
        raise DataError(f"no local copy of {spec.source.hub_id} at {where} and the hub is off",
                        _download_hint(spec, root), task=spec.name)


def _hub_allowed(ctx: LoadContext) -> bool:
    off = os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1"
    return ctx.allow_hub and not off


def _download_hint(spec: TaskSpec, root: Path) -> str:
    return (f"download it with `hf download {spec.source.hub_id} --repo-type dataset --revision "
            f"{spec.source.revision} --local-dir {root}`, or point data_root= at a folder holding "
            f"{spec.source.hub_id}/")


# ---------------------------------------------------------------- rows

def local_files(root: Path, subset: str | None, split: str) -> list[Path]:
    """Parquet files of ``split`` in a local copy that keeps the hub's file layout."""
    dirs = [root / subset, root / "data" / subset] if subset else [root / "data", root]
    for d in dirs:
        files = sorted(d.glob(f"{split}-*.parquet")) + sorted(d.glob(f"{split}.parquet"))
        if files:
            return files
    return []


def read_rows(spec: TaskSpec, ctx: LoadContext, subset: str | None = None, split: str | None = None,
              hub_id: str | None = None, transform: bool = True) -> tuple[list[Row], str]:
    """Rows of one (subset, split) of the spec's dataset, and a label naming where they came from."""
    src = spec.source
    hub_id = hub_id or src.hub_id
    subset = subset if subset is not None else src.subset
    split = split or src.split
    root = ctx.data_root / hub_id
    files = local_files(root, subset, split)
    if files:
        import pyarrow.parquet as pq

        rows: list[Row] = []
        note_source(files[0].parent)  # its listing: a shard added or removed changes the rows
        for f in files:
            note_source(f)
            try:
                rows.extend(pq.read_table(f).to_pylist())
            except Exception as e:  # pyarrow raises several types for a damaged file
                raise DataError(f"cannot read parquet ({type(e).__name__}: {e})".replace("\n", " "),
                                "re-download the file", task=spec.name, file=str(f)) from None
        label = str(files[0]) if len(files) == 1 else f"{root}/{subset or ''}/{split}-*.parquet"
    else:
        rows, label = _hub_rows(spec, ctx, hub_id, subset, split, root)
        note_source(label)
    return (apply_transform(spec, rows, label) if transform else rows), label


def apply_transform(spec: TaskSpec, rows: list[Row], file: str) -> list[Row]:
    """The spec's row hook (``"module:function"``, row -> row), if any; a row it cannot read is a DataError."""
    if not spec.transform:
        return rows
    fn = load_object(spec.transform)
    out = []
    for i, r in enumerate(rows):
        try:
            out.append(fn(dict(r)))
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
            raise DataError(f"malformed row ({type(e).__name__}: {e})", "fix or drop the row", task=spec.name,
                            file=file, row=i) from None
    return out


def _hub_rows(spec: TaskSpec, ctx: LoadContext, hub_id: str, subset: str | None, split: str,
              root: Path) -> tuple[list[Row], str]:
    where = f"{root}/{subset + '/' if subset else ''}{split}-*.parquet"
    fix = _download_hint(spec, root)
    if not _hub_allowed(ctx):
        raise DataError(f"no local copy of {hub_id} at {where} and the hub is off", fix, task=spec.name)
    try:
        import datasets

        ds = datasets.load_dataset(hub_id, subset, split=split, revision=spec.source.revision)
    except Exception as e:  # network, auth or missing-config errors all end the same way for the user
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DataError(f"no local copy at {where} and the hub failed ({msg})", fix, task=spec.name) from None
    return [dict(r) for r in ds], f"hub:{hub_id}/{subset}/{split}@{spec.source.revision}"


def query_limit(spec: TaskSpec, ctx: LoadContext, n: int) -> int:
    """How many of ``n`` query rows a run reads: the spec's ``max_queries`` and the run's ``limit`` cut them."""
    return min(x for x in (n, spec.max_queries, ctx.limit) if x is not None)


def official_pool(entries: list[int], relevant: set[int], notes: dict[str, int] | None = None) -> np.ndarray:
    """A local pool as the official list of candidate names, with later repeats of a relevant entry left out.

    The official scorer ranks the name list as given (a repeated negative takes two places).  A relevant name
    listed twice ranks twice, right next to its first copy (same vector): hit, mrr, recall and precision count
    it once (through ``set(prediction[:k]) & labels``), but the official ndcg and map at 5 and 10 sum a gain for
    each copy (ndcg_linear@5 = 1.631 for a positive listed twice and ranked first, above the maximum of 1).
    Leaving the repeat out gives the correct values (a deviation, docs/design.md); each query whose list
    repeats a positive is counted in ``notes["queries_with_repeated_positive"]`` when ``notes`` is given.
    """
    seen: set[int] = set()
    out = []
    repeated = False
    for e in entries:
        if e in relevant and e in seen:
            repeated = True
            continue
        seen.add(e)
        out.append(e)
    if notes is not None:
        notes[REPEATED_POSITIVE] = notes.get(REPEATED_POSITIVE, 0) + repeated
    return np.asarray(out, dtype=np.int64)


def require(row: Row, keys: tuple[str, ...], spec: TaskSpec, file: str, i: int) -> None:
    missing = [k for k in keys if k not in row or row[k] is None]
    if missing:
        raise DataError(f"missing field(s) {', '.join(missing)}", "fix or drop the row",
                        task=spec.name, file=file, row=i)


# ---------------------------------------------------------------- media

def media_path(ctx: LoadContext, spec: TaskSpec, rel: str, *, file: str, row: int | str) -> str:
    """``data_root/media_dir/rel``, refusing a path in a row that climbs out of the data root.

    The check is on the path as written (``..`` and absolute paths collapsed lexically), not on where
    symlinks lead: a folder under the data root may be a symlink to another disk (the usual way to keep
    hundreds of GB of media out of a home folder), but a row cannot name a file outside the data root.
    """
    root = Path(os.path.normpath(os.path.abspath(ctx.data_root)))
    p = Path(os.path.normpath(root / spec.source.media_dir / rel))
    if p != root and root not in p.parents:
        raise DataError(f"media path '{rel}' escapes the data root {root}", "fix the path in the row",
                        task=spec.name, file=file, row=row)
    return str(p)


def _natural_key(name: str) -> list[Any]:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def sample_frames(folder: str, num_frames: int, *, task: str, file: str, row: int | str) -> tuple[str, ...]:
    """``num_frames`` frame files taken uniformly over the saved frames of a video folder.

    Frames are natural-sorted (``frame_2`` before ``frame_10``) and picked at
    ``linspace(0, n-1, num_frames)`` truncated to int, as the official MMEB-V2 code does; a folder with
    fewer frames gives all of them, as the official ``process_video_frames`` returns them (no padding).
    The official video-retrieval parsers (MSR-VTT, MSVD, VATEX, DiDeMo, YouCook2) then stop: they build the
    candidate with ``bytes=[None] * num_frames`` beside the shorter path list, and ``ImageVideoInstance``
    asserts equal lengths (base_eval_dataset.py:51); every other parser sizes its lists by the paths and reads
    the short video.  umeval reads it in every family (a deviation, docs/design.md).
    """
    frames = all_frames_of(folder, task=task, file=file, row=row)
    if len(frames) <= num_frames:
        return frames
    idx = np.linspace(0, len(frames) - 1, num_frames).astype(int)
    return tuple(frames[i] for i in idx)


def all_frames_of(folder: str, *, task: str, file: str, row: int | str) -> tuple[str, ...]:
    """Every frame file of a folder, natural-sorted (the official ``load_frames``)."""
    d = Path(folder)
    if not d.is_dir():
        raise DataError(f"frame folder {folder} does not exist", "extract the video's frames there",
                        task=task, file=file, row=row)
    note_source(d)
    frames = sorted((p.name for p in d.iterdir() if p.suffix.lower() in FRAME_SUFFIXES), key=_natural_key)
    if not frames:
        raise DataError(f"frame folder {folder} has no .jpg/.jpeg/.png frames", "re-extract the video's frames",
                        task=task, file=file, row=row)
    return tuple(str(d / f) for f in frames)


def image_bytes(value: Any) -> bytes | None:
    """Bytes of a hub ``Image`` cell ({'bytes': ..., 'path': ...}) or raw bytes."""
    if isinstance(value, dict):
        value = value.get("bytes")
    return bytes(value) if isinstance(value, bytes | bytearray) and value else None
