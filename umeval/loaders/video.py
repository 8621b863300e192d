"""The MMEB-V2 video families.

Frames are read from ``<data_root>/<source.media_dir>/<video id>/`` (the official layout is
``video-tasks/frames/{video_cls,video_ret,video_mret,video_qa}/<dataset>/<video id>/``), natural-sorted,
and ``num_frames`` of them are taken uniformly (:func:`umeval.loaders.sample_frames`).
Column names differ between the hub datasets, so each spec names its columns in ``options``.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import numpy as np

from umeval.errors import DataError
from umeval.loaders import (
    LoadContext,
    apply_transform,
    media_path,
    query_limit,
    read_rows,
    require,
    sample_frames,
)
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
    n = min(x for x in (len(rows), spec.max_queries) if x is not None)  # `limit` cuts queries, not videos
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


def load_classification(spec: TaskSpec, ctx: LoadContext) -> TaskData:
    """Video classification: a video query ranks label texts.

    ``global`` (K700, UCF101, HMDB51, Breakfast): every query ranks the pool of all labels, i.e. the rows'
    labels in order of first appearance followed by ``options["labels"]`` (the dataset's fixed label list).
    ``local`` (SmthSmthV2): a query ranks its own ``options["candidates_field"]`` list (``neg_text``); its
    positive is added in front when the list lacks it.
    """
    opts = spec.options
    v_col, l_col = opts.get("video_field", "video_id"), opts.get("label_field", "pos_text")
    rows, file = read_rows(spec, ctx)
    inst = spec.instruction(ctx.instruction_set)
    candidates: list[Item] = []
    index: dict[str, int] = {}

    def cand(label: str, i: int) -> int:
        if label not in index:
            index[label] = len(candidates)
            candidates.append(Item(id=label, text=label, instruction=inst.candidate, source=(file, i)))
        return index[label]

    queries, qrels, pools = [], {}, []
    for i, row in enumerate(rows[: query_limit(spec, ctx, len(rows))]):
        require(row, (v_col, l_col), spec, file, i)
        label = str(row[l_col])
        qid = f"q{i}"
        queries.append(video_item(spec, ctx, _video_id(row[v_col]), instruction=inst.query, file=file, row=i,
                                  item_id=qid))
        qrels[qid] = {label: 1.0}
        if spec.pool == "local":
            require(row, (opts.get("candidates_field", "neg_text"),), spec, file, i)
            names = [str(x) for x in row[opts.get("candidates_field", "neg_text")]]
            names = names if label in names else [label, *names]
            pools.append(np.asarray([cand(x, i) for x in names], dtype=np.int64))
        else:
            cand(label, i)
    if spec.pool == "global":
        for label in opts.get("labels", ()):
            cand(str(label), -1)
    return TaskData(task=spec.name, queries=queries, candidates=candidates, qrels=qrels,
                    pools=pools if spec.pool == "local" else None)


def load_qa(spec: TaskSpec, ctx: LoadContext) -> TaskData:
    """Video QA: a video + question query ranks that question's options (local).

    Hub rows differ per dataset; each spec's ``transform`` turns a row into ``question`` (the query text),
    ``options`` (candidate texts), ``answer`` (index of the right option) and ``video`` (frame folder, relative
    to the media dir).  ``options["subsets"]`` lists hub subsets read one after another (MVBench), each row
    getting a ``subset`` field.
    """
    subsets = spec.options.get("subsets") or [spec.source.subset]
    rows, file = [], ""
    for sub in subsets:
        part, file = read_rows(spec, ctx, subset=sub, transform=False)
        rows += [{**r, "subset": sub} for r in part]
    rows = apply_transform(spec, rows, file)
    inst = spec.instruction(ctx.instruction_set)
    queries, candidates, qrels, pools = [], [], {}, []
    index: dict[str, int] = {}
    for i, row in enumerate(rows[: query_limit(spec, ctx, len(rows))]):
        require(row, ("question", "options", "answer", "video"), spec, file, i)
        options = [str(o) for o in row["options"]]
        answer = int(row["answer"])
        if not 0 <= answer < len(options):
            raise DataError(f"answer index {answer} is outside the {len(options)} options",
                            "fix the row's answer", task=spec.name, file=file, row=i)
        qid = f"q{i}"
        queries.append(video_item(spec, ctx, str(row["video"]), text=str(row["question"]),
                                  instruction=inst.query, file=file, row=i, item_id=qid))
        pool = []
        for o in options:
            item = Item(id="", text=o, instruction=inst.candidate)
            if item.key not in index:
                index[item.key] = len(candidates)
                candidates.append(Item(id=item.key, text=o, instruction=inst.candidate, source=(file, i)))
            pool.append(index[item.key])
        pools.append(np.asarray(pool, dtype=np.int64))
        qrels[qid] = {candidates[pool[answer]].id: 1.0}
    return TaskData(task=spec.name, queries=queries, candidates=candidates, qrels=qrels, pools=pools)


def load_moment(spec: TaskSpec, ctx: LoadContext) -> TaskData:
    """Moment retrieval (QVHighlight, Charades-STA): a query ranks the clips of its own video (local).

    ``<media_dir>/<video stem>/query/`` holds the whole video's frames (the query's video), every other
    subfolder one candidate clip; every clip folder whose name starts with ``positive`` is relevant.  Clips are
    taken in sorted order (the official code uses unsorted ``os.listdir``, which only matters for ties).  A clip
    is one candidate however many rows use its video (rows of one video share its clips, as the official
    code's candidates are keyed by path); the official label is the *last* ``positive*`` folder in
    ``os.listdir`` order, which is the same clip wherever a video has one positive folder.
    """
    rows, file = read_rows(spec, ctx)
    inst = spec.instruction(ctx.instruction_set)
    queries, candidates, qrels, pools = [], [], {}, []
    index: dict[str, int] = {}
    for i, row in enumerate(rows[: query_limit(spec, ctx, len(rows))]):
        require(row, ("query", "video_path"), spec, file, i)
        stem = _video_id(row["video_path"])
        folder = Path(media_path(ctx, spec, stem, file=file, row=i))
        if not folder.is_dir():
            raise DataError(f"clip folder {folder} does not exist", "extract the clips' frames there",
                            task=spec.name, file=file, row=i)
        clips = sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name != "query")
        qid = f"q{i}"
        queries.append(video_item(spec, ctx, f"{stem}/query", text=str(row["query"]), instruction=inst.query,
                                  file=file, row=i, item_id=qid))
        pool = []
        for clip in clips:
            name = f"{stem}/{clip}"
            if name not in index:
                index[name] = len(candidates)
                candidates.append(video_item(spec, ctx, name, instruction=inst.candidate, file=file, row=i,
                                             item_id=name))
            pool.append(index[name])
        qrels[qid] = {f"{stem}/{c}": 1.0 for c in clips if c.startswith("positive")}
        if not qrels[qid]:
            raise DataError(f"no clip folder of {folder} starts with 'positive'", "restore the positive clip",
                            task=spec.name, file=file, row=i)
        pools.append(np.asarray(pool, dtype=np.int64))
    return TaskData(task=spec.name, queries=queries, candidates=candidates, qrels=qrels, pools=pools)


def _clip_folder(path: str) -> str:
    return "video_frames/" + str(path).removesuffix(".mp4").replace("/", "_")


def load_momentseeker(spec: TaskSpec, ctx: LoadContext) -> TaskData:
    """MomentSeeker: text, text+image or text+video queries rank their own positive and negative clips.

    ``input_frames`` picks the query type (``.mp4``: a video segment, ``.jpg``: an image, empty: text only) and
    with it the instruction (``options["instructions"]``, keyed video/image/text); clips live under
    ``video_frames/<output_path without .mp4, '/' -> '_'>/``; several positives are possible.
    """
    rows, file = read_rows(spec, ctx)
    instr = spec.options["instructions"]
    inst = spec.instruction(ctx.instruction_set)
    queries, candidates, qrels, pools = [], [], {}, []
    index: dict[str, int] = {}
    for i, row in enumerate(rows[: query_limit(spec, ctx, len(rows))]):
        require(row, ("query", "positive_frames"), spec, file, i)
        qid, inp, text = f"q{i}", str(row.get("input_frames") or ""), str(row["query"])
        if inp.endswith(".mp4"):
            q = video_item(spec, ctx, _clip_folder(inp), text=text, instruction=instr["video"], file=file, row=i,
                           item_id=qid)
        elif inp:
            q = Item(id=qid, text=text, instruction=instr["image"], source=(file, i),
                     image=media_path(ctx, spec, f"query_{inp}", file=file, row=i))
        else:
            q = Item(id=qid, text=text, instruction=instr["text"], source=(file, i))
        queries.append(q)
        pos = [_clip_folder(d["output_path"]) for d in row["positive_frames"] or []]
        neg = [_clip_folder(d["output_path"]) for d in row.get("negative_frames") or []]
        pool = []
        for name in pos + neg:
            if name not in index:
                index[name] = len(candidates)
                candidates.append(video_item(spec, ctx, name, instruction=inst.candidate, file=file, row=i,
                                             item_id=name))
            pool.append(index[name])
        pools.append(np.asarray(pool, dtype=np.int64))
        qrels[qid] = {p: 1.0 for p in pos}
    return TaskData(task=spec.name, queries=queries, candidates=candidates, qrels=qrels, pools=pools)


def probe_subset(spec: TaskSpec) -> str | None:
    """The subset whose presence :func:`umeval.loaders.preflight` checks (MVBench reads several)."""
    subsets = spec.options.get("subsets")
    return str(subsets[0]) if subsets else spec.source.subset
