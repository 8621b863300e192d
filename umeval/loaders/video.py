"""The MMEB-V2 video families.

Frames are read from ``<data_root>/<source.media_dir>/<video id>/`` (the official layout is
``video-tasks/frames/{video_cls,video_ret,video_mret,video_qa}/<dataset>/<video id>/``), natural-sorted,
and ``num_frames`` of them are taken uniformly (:func:`umeval.loaders.sample_frames`).
Column names differ between the hub datasets, so each spec names its columns in ``options``.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from umeval.loaders import LoadContext, media_path, read_rows, require, sample_frames
from umeval.spec import TaskSpec
from umeval.types import Item, Qrels, TaskData


def _video_id(value: object) -> str:
    # Rows name a video as "video7020", "video7020.mp4" or "all/video7020.mp4"; the frame folder is the stem.
    return PurePosixPath(str(value)).stem


def video_item(spec: TaskSpec, ctx: LoadContext, vid: str, *, text: str = "", instruction: str = "",
               file: str, row: int | str, item_id: str = "") -> Item:
    folder = media_path(ctx, spec, vid, file=file, row=row)
    frames = sample_frames(folder, ctx.num_frames, task=spec.name, file=file, row=row)
    return Item(id=item_id or vid, text=text, instruction=instruction, video=frames, source=(file, row))


def load_retrieval(spec: TaskSpec, ctx: LoadContext) -> TaskData:
    """Text-to-video retrieval: each row is a caption and its video; every caption ranks all videos."""
    opts = spec.options
    q_col, v_col = opts.get("query_field", "caption"), opts.get("video_field", "video_id")
    rows, file = read_rows(spec, ctx)
    n = min(x for x in (len(rows), spec.max_queries) if x is not None)
    inst = spec.instruction(ctx.instruction_set)
    candidates: list[Item] = []
    index: dict[str, int] = {}
    queries: list[Item] = []
    qrels: Qrels = {}
    for i, row in enumerate(rows[:n]):
        require(row, (q_col, v_col), spec, file, i)
        vid = _video_id(row[v_col])
        if vid not in index:
            index[vid] = len(candidates)
            candidates.append(video_item(spec, ctx, vid, instruction=inst.candidate, file=file, row=i))
        if ctx.limit is None or len(queries) < ctx.limit:
            qid = f"q{i}"
            queries.append(Item(id=qid, text=str(row[q_col]), instruction=inst.query, source=(file, i)))
            qrels[qid] = {vid: 1.0}
    return TaskData(task=spec.name, queries=queries, candidates=candidates, qrels=qrels, pools=None)
