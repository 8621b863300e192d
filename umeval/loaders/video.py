"""The MMEB-V2 video families.

Frames are read from ``<data_root>/<source.media_dir>/<video id>/`` (the official layout is
``video-tasks/frames/{video_cls,video_ret,video_mret,video_qa}/<dataset>/<video id>/``), natural-sorted,
and ``num_frames`` of them are taken uniformly (:func:`umeval.loaders.sample_frames`); the video id is the
row's raw value, as the official code uses it (a dataset whose rows hold a file path instead gets a
``transform``).  Column names differ between the hub datasets, so each spec names its columns in ``options``.
Items carry the official input text (:mod:`umeval.loaders.text`); candidate ids are the official candidate
names, and the first candidate seen under a name is the one encoded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import numpy as np

from umeval.core.errors import DataError
from umeval.core.spec import TaskSpec
from umeval.core.types import Item, Qrels, TaskData
from umeval.loaders import (
    LoadContext,
    all_frames_of,
    apply_transform,
    media_path,
    note_source,
    official_pool,
    probe_rows,
    query_limit,
    read_rows,
    require,
    sample_frames,
)
from umeval.loaders.registry import register_loader
from umeval.loaders.text import compose, list_options, no_text_at, qa_query

register_loader("video_ret", load="umeval.loaders.video:load_retrieval",
                fixture="umeval.data.synthetic:write_video_ret", probe="umeval.loaders.video:probe",
                description="caption <-> video retrieval over all videos, one frame folder per video")
register_loader("video_cls", load="umeval.loaders.video:load_classification",
                fixture="umeval.data.synthetic:write_video_cls", probe="umeval.loaders.video:probe",
                description="video -> label, over the global label list or a per-row list (neg_text)")
register_loader("video_qa", load="umeval.loaders.video:load_qa", fixture="umeval.data.synthetic:write_video_qa",
                probe="umeval.loaders.video:probe",
                description="video + question ranks its options (MVBench reads several subsets)")
register_loader("video_mret", load="umeval.loaders.video:load_moment", fixture="umeval.data.synthetic:write_video_mret",
                probe="umeval.loaders.video:probe",
                description="moment retrieval: query frames and positive/negative clip folders")
register_loader("momentseeker", load="umeval.loaders.video:load_momentseeker",
                fixture="umeval.data.synthetic:write_momentseeker", probe="umeval.loaders.video:probe",
                description="MomentSeeker: video, image or text queries over all-frame clips")


def _video_id(value: object) -> str:
    # Moment retrieval names its video by file path; the official code takes the file name without extension.
    return PurePosixPath(str(value)).stem


def video_item(spec: TaskSpec, ctx: LoadContext, vid: str, *, text: str = "", instruction: str = "",
               file: str, row: int | str, item_id: str = "", all_frames: bool = False,
               no_text_at: int | None = None) -> Item:
    """An item whose video is the frames of ``<media_dir>/<vid>/``: ``num_frames`` of them, or all."""
    folder = media_path(ctx, spec, vid, file=file, row=row)
    frames = (all_frames_of(folder, task=spec.name, file=file, row=row) if all_frames
              else sample_frames(folder, ctx.num_frames, task=spec.name, file=file, row=row))
    return Item(id=item_id or vid, text=text, instruction=instruction, video=frames, source=(file, row),
                no_text_at=no_text_at)


def _add(candidates: list[Item], index: dict[str, int], item: Item) -> int:
    """The index of the candidate named ``item.id``, adding ``item`` when the name is new (first one wins)."""
    if item.id not in index:
        index[item.id] = len(candidates)
        candidates.append(item)
    return index[item.id]


def load_retrieval(spec: TaskSpec, ctx: LoadContext) -> TaskData:
    """Text-to-video retrieval: each row is a caption and its video; every caption ranks all videos.

    Query ``inst + " " + caption``; candidate ``"<|video_pad|> " + inst``, named by the raw video id.
    """
    opts = spec.options
    q_col, v_col = opts.get("query_field", "caption"), opts.get("video_field", "video_id")
    rows, file = read_rows(spec, ctx)
    n = min(x for x in (len(rows), spec.max_queries) if x is not None)  # `limit` cuts queries, not videos
    inst = spec.instruction(ctx.instruction_set)
    cand_text = compose(inst.candidate, video=True)
    candidates: list[Item] = []
    index: dict[str, int] = {}
    queries: list[Item] = []
    qrels: Qrels = {}
    for i, row in enumerate(rows[:n]):
        require(row, (q_col, v_col), spec, file, i)
        vid = str(row[v_col])
        if vid not in index:
            _add(candidates, index, video_item(spec, ctx, vid, text=cand_text, file=file, row=i,
                                               no_text_at=len(cand_text)))
        if ctx.limit is None or len(queries) < ctx.limit:
            qid = f"q{i}"
            queries.append(Item(id=qid, text=compose(inst.query, str(row[q_col])), source=(file, i)))
            qrels[qid] = {vid: 1.0}
    return TaskData(task=spec.name, queries=queries, candidates=candidates, qrels=qrels, pools=None)


def load_classification(spec: TaskSpec, ctx: LoadContext) -> TaskData:
    """Video classification: a video query (``"<|video_pad|> " + inst``) ranks bare label texts.

    ``global`` (K700, UCF101, HMDB51, Breakfast): every query ranks the pool of all labels, i.e. the rows'
    labels in order of first appearance followed by ``options["labels"]`` (the dataset's fixed label list).
    ``local`` (SmthSmthV2): a query ranks exactly its own ``options["candidates_field"]`` list (``neg_text``),
    as the official code does; a query whose positive is not in that list cannot score (counted in
    ``notes["positive_not_in_pool"]``).
    """
    opts = spec.options
    v_col, l_col = opts.get("video_field", "video_id"), opts.get("label_field", "pos_text")
    rows, file = read_rows(spec, ctx)
    inst = spec.instruction(ctx.instruction_set)
    candidates: list[Item] = []
    index: dict[str, int] = {}

    def cand(label: str, i: int) -> int:
        return _add(candidates, index, Item(id=label, text=label, source=(file, i)))

    queries, qrels, pools, missing = [], {}, [], 0
    for i, row in enumerate(rows[: query_limit(spec, ctx, len(rows))]):
        require(row, (v_col, l_col), spec, file, i)
        label = str(row[l_col])
        qid = f"q{i}"
        q_text = compose(inst.query, video=True)
        queries.append(video_item(spec, ctx, str(row[v_col]), text=q_text, file=file, row=i, item_id=qid,
                                  no_text_at=len(q_text)))
        qrels[qid] = {label: 1.0}
        if spec.pool == "local":
            require(row, (opts.get("candidates_field", "neg_text"),), spec, file, i)
            names = [str(x) for x in row[opts.get("candidates_field", "neg_text")]]
            missing += label not in names
            pools.append(official_pool([cand(x, i) for x in names], {index[label]} if label in index else set()))
        else:
            cand(label, i)
    if spec.pool == "global":
        for label in opts.get("labels", ()):
            cand(str(label), -1)
    notes = {"positive_not_in_pool": missing} if spec.pool == "local" else {}
    return TaskData(task=spec.name, queries=queries, candidates=candidates, qrels=qrels,
                    pools=pools if spec.pool == "local" else None, notes=notes)


def _sum_notes(rows: Sequence[dict[str, object]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in rows:
        for k, v in dict(r.get("notes") or {}).items():  # type: ignore[call-overload]
            out[k] = out.get(k, 0) + int(v)
    return out


def load_qa(spec: TaskSpec, ctx: LoadContext) -> TaskData:
    """Video QA: a video + question query ranks that question's options (local).

    Hub rows differ per dataset; each spec's ``transform`` turns a row into ``question`` (what follows the
    prompt), ``options`` (candidate texts), optionally ``names`` (the official candidate names, default the
    texts), ``listed`` (options the official code appends as ``(A) ...`` lines), the positive as ``answer``
    (an index into the options) or ``label`` (a name that may match no option: the query then cannot score),
    ``video`` (frame folder, relative to the media dir) and optionally ``notes`` (counts summed into
    ``TaskData.notes``).  The query text is ``"<|video_pad|> " + prompt + " " + question``.
    ``options["subsets"]`` lists hub subsets read one after another (MVBench), each row getting a ``subset``.
    """
    subsets = spec.options.get("subsets") or [spec.source.subset]
    rows, file = [], ""
    for sub in subsets:
        part, file = read_rows(spec, ctx, subset=sub, transform=False)
        rows += [{**r, "subset": sub} for r in part]
    rows = apply_transform(spec, rows, file)[: query_limit(spec, ctx, len(rows))]
    inst = spec.instruction(ctx.instruction_set)
    queries, candidates, qrels, pools = [], [], {}, []
    index: dict[str, int] = {}
    notes = _sum_notes(rows)
    notes.setdefault("positive_not_in_pool", 0)
    for i, row in enumerate(rows):
        require(row, ("question", "options", "video"), spec, file, i)
        options = [str(o) for o in row["options"]]
        names = [str(o) for o in row.get("names") or options]
        if len(names) != len(options):
            raise DataError(f"{len(names)} option names for {len(options)} options", "fix the row's transform",
                            task=spec.name, file=file, row=i)
        if row.get("label") is not None:
            label = str(row["label"])
        else:
            require(row, ("answer",), spec, file, i)
            answer = int(row["answer"])
            if not 0 <= answer < len(options):
                raise DataError(f"answer index {answer} is outside the {len(options)} options",
                                "fix the row's answer", task=spec.name, file=file, row=i)
            label = names[answer]
        text = qa_query(str(row["question"]), inst.query)
        if row.get("listed") is not None:
            text = list_options(text, [str(o) for o in row["listed"]])
        qid = f"q{i}"
        queries.append(video_item(spec, ctx, str(row["video"]), text=text, file=file, row=i, item_id=qid))
        pool = [_add(candidates, index, Item(id=nm, text=o, source=(file, i))) for nm, o in zip(names, options)]
        pools.append(official_pool(pool, {index[label]} if label in index else set()))
        qrels[qid] = {label: 1.0}
        notes["positive_not_in_pool"] += label not in names
    return TaskData(task=spec.name, queries=queries, candidates=candidates, qrels=qrels, pools=pools, notes=notes)


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
        note_source(folder)
        clips = sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name != "query")
        qid = f"q{i}"
        queries.append(video_item(spec, ctx, f"{stem}/query", text=compose(inst.query, str(row["query"]), video=True),
                                  file=file, row=i, item_id=qid))
        pool = []
        for clip in clips:
            name = f"{stem}/{clip}"
            if name not in index:
                index[name] = len(candidates)
                clip_text = compose(inst.candidate, video=True)
                candidates.append(video_item(spec, ctx, name, text=clip_text, file=file, row=i, item_id=name,
                                             no_text_at=len(clip_text)))
            pool.append(index[name])
        qrels[qid] = {f"{stem}/{c}": 1.0 for c in clips if c.startswith("positive")}
        if not qrels[qid]:
            raise DataError(f"no clip folder of {folder} starts with 'positive'", "restore the positive clip",
                            task=spec.name, file=file, row=i)
        pools.append(np.asarray(pool, dtype=np.int64))
    return TaskData(task=spec.name, queries=queries, candidates=candidates, qrels=qrels, pools=pools)


def _clip_folder(path: str) -> str:
    return "video_frames/" + str(path).replace("/", "_").split(".mp4")[0]


def load_momentseeker(spec: TaskSpec, ctx: LoadContext) -> TaskData:
    """MomentSeeker: text, text+image or text+video queries rank their own positive and negative clips.

    ``input_frames`` picks the query type (ending in ``.mp4``: a video segment, ``.jpg``: an image, anything
    else: text only, as the official code decides; a non-empty input read as text only is counted in
    ``notes["inputs_read_as_text"]``) and with it the instruction (``options["instructions"]``, keyed
    video/image/text).  Clips live under ``video_frames/<output_path, '/' -> '_', cut at .mp4>/``; the query
    video and every clip use all the frames of their folder (the official ``load_frames``, no sampling);
    several positives are possible.
    """
    rows, file = read_rows(spec, ctx)
    instr = spec.options["instructions"]
    inst = spec.instruction(ctx.instruction_set)
    queries, candidates, qrels, pools = [], [], {}, []
    index: dict[str, int] = {}
    as_text = 0
    for i, row in enumerate(rows[: query_limit(spec, ctx, len(rows))]):
        require(row, ("query", "positive_frames"), spec, file, i)
        qid, inp, text = f"q{i}", str(row.get("input_frames") or ""), str(row["query"])
        if inp.endswith(".mp4"):
            q_text = compose(instr["video"], text, video=True)
            q = video_item(spec, ctx, _clip_folder(inp), text=q_text, file=file, row=i, item_id=qid,
                           all_frames=True, no_text_at=no_text_at(text, q_text))
        elif inp.endswith(".jpg"):
            q_text = compose(instr["image"], text, image=True)
            q = Item(id=qid, text=q_text, source=(file, i), no_text_at=no_text_at(text, q_text),
                     image=media_path(ctx, spec, f"query_{inp}", file=file, row=i))
        else:
            as_text += bool(inp)
            q = Item(id=qid, text=compose(instr["text"], text), source=(file, i))
        queries.append(q)
        pos = [_clip_folder(d["output_path"]) for d in row["positive_frames"] or []]
        neg = [_clip_folder(d["output_path"]) for d in row.get("negative_frames") or []]
        clip_text = compose(inst.candidate, video=True)
        pool = [_add(candidates, index, video_item(spec, ctx, name, text=clip_text, file=file, row=i, item_id=name,
                                                   all_frames=True, no_text_at=len(clip_text)))
                 if name not in index else index[name]
                for name in pos + neg]
        pools.append(official_pool(pool, {index[p] for p in pos}))
        qrels[qid] = {p: 1.0 for p in pos}
    return TaskData(task=spec.name, queries=queries, candidates=candidates, qrels=qrels, pools=pools,
                    notes={"inputs_read_as_text": as_text})


def probe_subset(spec: TaskSpec) -> str | None:
    """The subset whose presence :func:`probe` checks (MVBench reads several)."""
    subsets = spec.options.get("subsets")
    return str(subsets[0]) if subsets else spec.source.subset


def probe(spec: TaskSpec, ctx: LoadContext) -> None:
    """The registered probe of every video family: the (first) subset's rows are there, or the hub is allowed."""
    probe_rows(spec, ctx, probe_subset(spec))
