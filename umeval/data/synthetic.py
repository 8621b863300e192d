"""Synthetic task data: a tiny copy of a task's data in the exact official on-disk layout, from a seed.

One writer per data family; each loader module registers its family's writer as its ``fixture``
(:func:`umeval.loaders.registry.register_loader`), and :func:`write_task_data` dispatches through that entry.
The embedded default (the ``mini`` tasks, :mod:`umeval.data.embedded`), ``umeval selftest`` and the tests (through
the test support module :mod:`umeval.testing.fixtures`) use them, so the real loaders are what reads the data.
Everything is generated with numpy and PIL from a seed: the same seed writes the same bytes.

Every item carries a class a weight-free reader can decode (:mod:`umeval.encoders.oracle`), so a perfect
ranking is known: each writer returns the number of relevant candidates of each query the loader keeps, and
:func:`write_task_data` records it as ``<root>/.expected/<task>.json`` (the answer key).
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from umeval.core.spec import TaskSpec

FIXTURE_VERSION = "2"

# Every fixture item carries a class that can be read without weights (see umeval.encoders.oracle): a colour in
# its pixels or frames (the colour of its one shape; the six are far apart) and/or a colour word in its text.
# A query's relevant candidates are exactly those of its class; every other candidate of its pool is of another
# class or of none.  Two words are classes too: "yes" reads as green and "no" as red (ActivityNetQA's options).
COLOURS = {"red": (220, 40, 40), "green": (40, 180, 60), "blue": (40, 70, 220), "yellow": (230, 210, 40),
           "purple": (140, 60, 170), "cyan": (40, 200, 210)}
CLASSES = tuple(COLOURS)
WORD_ALIASES = {"yes": "green", "no": "red"}
SHAPES = ("circle", "square", "triangle")
#: Frames a video item is sampled to (the models' ``num_frames``): the frames that linspace sampling picks carry
#: the video's colour, every other frame a decoy colour, so any other sampling reads a mixed, classless video.
SAMPLED_FRAMES = 8
#: A page whose shape covers at least this share of the image is a "strong" match (graded 2 in BEIR qrels).
STRONG_COVERAGE = 0.3


def colour(i: int) -> str:
    return CLASSES[i % len(CLASSES)]


def draw(colour: str, shape: str, rng: np.random.Generator, size: tuple[int, int] = (64, 48),
         scale: float = 0.5) -> Image.Image:
    """A dark noisy background with one coloured shape of ``scale`` times the image's width and height."""
    bg = rng.integers(0, 60, size=(size[1], size[0], 3), dtype=np.uint8)
    im = Image.fromarray(bg)
    d = ImageDraw.Draw(im)
    w, h = size
    bw, bh = int(w * scale), int(h * scale)
    x0, y0 = int(rng.integers(1, max(2, w - bw - 1))), int(rng.integers(1, max(2, h - bh - 1)))
    x1, y1 = x0 + bw, y0 + bh
    fill = COLOURS[colour]
    if shape == "circle":
        d.ellipse((x0, y0, x1, y1), fill=fill)
    elif shape == "square":
        d.rectangle((x0, y0, x1, y1), fill=fill)
    else:
        d.polygon([(x0, y1), ((x0 + x1) // 2, y0), (x1, y1)], fill=fill)
    return im


def read_colour(im: Image.Image) -> tuple[str | None, float]:
    """The colour of an image's shape (nearest of :data:`COLOURS` to the median bright pixel) and its coverage.

    Bright pixels are those with a channel >= 110 (the background stays below 60); fewer than 2% of them: None.
    """
    a = np.asarray(im.convert("RGB"), dtype=np.float64).reshape(-1, 3)
    bright = a[a.max(axis=1) >= 110]
    coverage = len(bright) / max(1, len(a))
    if coverage < 0.02:
        return None, coverage
    med = np.median(bright, axis=0)
    names = list(COLOURS)
    dist = [float(np.sum((med - np.asarray(COLOURS[n])) ** 2)) for n in names]
    return names[int(np.argmin(dist))], coverage


def png_bytes(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def write_parquet(rows: list[dict[str, Any]], path: Path, image_columns: tuple[str, ...] = ()) -> None:
    """Write rows as a hub-style parquet file; ``image_columns`` become hub ``Image`` features."""
    import datasets

    datasets.disable_progress_bars()
    feats = None
    if image_columns:
        ds = datasets.Dataset.from_list(rows)
        for c in image_columns:
            ds = ds.cast_column(c, datasets.Image())
        feats = ds.features
    ds = datasets.Dataset.from_list(rows, features=feats)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.to_parquet(str(path))


def _rows_path(root: Path, spec: TaskSpec, subset: str | None = None) -> Path:
    src = spec.source
    sub = subset if subset is not None else src.subset
    folder = root / src.hub_id / sub if sub else root / src.hub_id / "data"
    return folder / f"{src.split}-00000-of-00001.parquet"


def _other(c: str, k: int) -> str:
    """The k-th colour after ``c`` (k >= 1): never ``c`` itself."""
    return colour(CLASSES.index(c) + 1 + (k - 1) % (len(CLASSES) - 1))


# ---------------------------------------------------------------- families

def write_mmeb_image(spec: TaskSpec, root: Path, rng: np.random.Generator, n: int = 6) -> list[int]:
    """``MMEB_Test_Instruct`` rows: a query and its own candidate list, positive first.

    The spec's modalities decide what each side holds: an image (its colour is the class), a text (a colour
    word, or none when an image carries the class; odd rows put the word in the text too), or both.  Candidate
    images and texts are named by (colour, shape), so many rows share candidates; every third row lists its
    first negative twice.  Returns the number of relevant candidates per query.
    """
    media = root / spec.source.media_dir
    q_img, q_txt = "image" in spec.query_modality, "text" in spec.query_modality
    c_img, c_txt = "image" in spec.candidate_modality, "text" in spec.candidate_modality
    rows = []

    def image(rel: str, col: str, shape: str) -> str:
        if not (media / rel).exists():
            (media / rel).parent.mkdir(parents=True, exist_ok=True)
            draw(col, shape, rng).save(media / rel)
        return rel

    def candidate(col: str, shape: str) -> tuple[str, str]:
        if not c_img:
            return f"{col} {shape}", ""
        text = ("<|image_1|>\n" + (f"a {col} {shape}" if shape == "circle" else f"a {shape}")) if c_txt \
            else "<|image_1|>\nRepresent the given image."
        return text, image(f"{spec.name}/candidates/{col}_{shape}.png", col, shape)

    for i in range(n):
        col, shape = colour(i), SHAPES[i % len(SHAPES)]
        if q_img:
            rel = f"{spec.name}/images/{i:04d}.png"
            (media / rel).parent.mkdir(parents=True, exist_ok=True)
            draw(col, shape, rng).save(media / rel)
            words = (f"which {shape} is the {col} one?" if i % 2 else "what does the picture show?") if q_txt else ""
            q_text, q_path = ("<|image_1|>\n" + words).strip(), rel
        else:
            q_text, q_path = f"find the {col} {shape}", ""
        cands = [candidate(col, shape)]
        for k in range(1, 5):
            cands.append(candidate(_other(col, k), SHAPES[int(rng.integers(0, 3))]))
        if i % 3 == 0:
            cands.append(cands[1])  # a duplicated negative inside one pool
        rows.append({
            "qry_inst": "Represent the given query for retrieval", "qry_text": q_text, "qry_img_path": q_path,
            "tgt_inst": "", "tgt_text": [t for t, _ in cands], "tgt_img_path": [p for _, p in cands],
        })
    write_parquet(rows, _rows_path(root, spec))
    return [1] * n


def write_frames(folder: Path, rng: np.random.Generator, col: str, n_frames: int,
                 decoy: str | None = None, sampled: bool = True) -> None:
    """Frames ``frame_1.jpg`` ... ``frame_<n>.jpg`` of a video of colour ``col``.

    The frames that ``linspace`` sampling keeps are ``col``, the others ``decoy`` (another colour), so a video
    read with any other sampling (or sort order) mixes two colours and has no class.  ``sampled=False`` is for
    a family whose official loader reads every frame (MomentSeeker): all frames are ``col``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    keep = set(range(n_frames)) if n_frames <= SAMPLED_FRAMES or not sampled else \
        set(np.linspace(0, n_frames - 1, SAMPLED_FRAMES).astype(int).tolist())
    decoy = decoy or _other(col, 1)
    for f in range(n_frames):
        c = col if f in keep else decoy
        draw(c, SHAPES[f % len(SHAPES)], rng).save(folder / f"frame_{f + 1}.jpg", quality=90)


def write_video_ret(spec: TaskSpec, root: Path, rng: np.random.Generator, n: int = 8) -> list[int]:
    """Caption -> video rows (``video_id``, ``caption``) and one frame folder per video.

    Six videos of six colours; rows past the sixth caption an earlier video again (a candidate several
    queries share).
    """
    media = root / spec.source.media_dir
    rows = []
    for i in range(n):
        col, vid = colour(i), f"video{i % len(CLASSES)}"
        if i < len(CLASSES):
            write_frames(media / vid, rng, col, n_frames=int(rng.integers(9, 15)))
        caption = f"a {col} shape moves around" if i < len(CLASSES) else f"the clip where the {col} shape is"
        rows.append(_ret_row(spec, vid, caption))
    write_parquet(rows, _rows_path(root, spec))
    return [1] * n


_BEIR_DOCS = [  # (colour, strong) per corpus page; strong pages cover most of the page
    ("red", True), ("red", False), ("green", True), ("green", False), ("blue", False), ("yellow", True),
    ("yellow", False), ("yellow", False), ("purple", True), ("purple", False), ("cyan", False), ("cyan", True),
]
_BEIR_QUERIES = [  # (colour, text); the qrels give every page of the query's colour: strong 2, weak 1
    ("red", "which page shows the red figure?"), ("green", "find the green chart"),
    ("blue", "the page with a blue diagram"), ("yellow", "pages about the yellow shape"),
    ("red", "a red figure, please"),  # shares its pages with query0
    ("purple", "a query whose only qrel has grade 0"),  # dropped by the loader: no positive qrel
]


def write_beir(spec: TaskSpec, root: Path, rng: np.random.Generator, *, unscorable: bool | None = None,
               **_: Any) -> list[int]:
    """BEIR-style ``queries``/``corpus``/``qrels`` subsets, page images as bytes, graded qrels (0, 1 and 2).

    Shapes of ViDoRe-V2: several positives per query graded 2 (the page the shape fills) and 1 (a smaller
    shape), a single positive (ViDoRe-V1), two queries sharing their pages, a grade-0 row beside a query's
    positives, and more pages than any query has positives plus five.  A task whose pages the official code
    saves under the corpus id's own extension (VisRAG, ``page_format``) gets ids with an image extension
    (``doc0.png``; visrag_dataset.py:63-71 saves ``<id>`` as it is, which fails without one).

    ``unscorable``: add a query whose only qrel has grade 0.  The official ``qrels_mapping[query_id]``
    (vidore_dataset.py:28, visrag_dataset.py:28) stops with a KeyError on it, so the fixtures of the official
    tasks leave it out (a loader test writes it with ``unscorable=True``); the embedded default keeps it, as it
    always had (``None``: only for generated data).
    """
    opts = spec.options
    unscorable = spec.source.generated if unscorable is None else unscorable
    ext = ".png" if opts.get("page_format") == "corpus_id_extension" else ""
    queries_spec = _BEIR_QUERIES if unscorable else _BEIR_QUERIES[:-1]
    corpus = [{"corpus-id": f"doc{d}{ext}", "image": {"bytes": png_bytes(draw(c, SHAPES[d % 3], rng, size=(56, 72),
                                                                          scale=0.95 if strong else 0.45)),
                                                  "path": None}}
              for d, (c, strong) in enumerate(_BEIR_DOCS)]
    queries = [{"query-id": f"query{q}", "query": text} for q, (_, text) in enumerate(queries_spec)]
    qrels: list[dict[str, Any]] = []
    for q, (c, _text) in enumerate(queries_spec):  # not `_`: that is the **kwargs dict here
        if q == len(_BEIR_QUERIES) - 1:
            qrels.append({"query-id": f"query{q}", "corpus-id": f"doc8{ext}", "score": 0})
            continue
        for d, (dc, strong) in enumerate(_BEIR_DOCS):
            if dc == c:
                qrels.append({"query-id": f"query{q}", "corpus-id": f"doc{d}{ext}", "score": 2 if strong else 1})
    qrels.append({"query-id": "query0", "corpus-id": f"doc10{ext}", "score": 0})  # grade 0: dropped by the loader
    write_parquet(corpus, _rows_path(root, spec, opts.get("corpus_subset", "corpus")), image_columns=("image",))
    write_parquet(queries, _rows_path(root, spec, opts.get("queries_subset", "queries")))
    write_parquet(qrels, _rows_path(root, spec, opts.get("qrels_subset", "qrels")))
    return [sum(dc == c for dc, _ in _BEIR_DOCS) for c, _ in _BEIR_QUERIES[:-1]]  # the grade-0-only one: left out


def write_video_cls(spec: TaskSpec, root: Path, rng: np.random.Generator, n: int = 8) -> list[int]:
    """``video_id``, ``pos_text`` (and a ``neg_text`` list for local tasks) rows, one frame folder each.

    Labels are ``<colour>_motion``; rows past the sixth reuse a label (shared candidates); the local list holds
    the positive among three other labels, and the first row lists a negative twice.
    """
    media = root / spec.source.media_dir
    rows = []
    for i in range(n):
        vid, col = f"vid{i}", colour(i)
        write_frames(media / vid, rng, col, n_frames=int(rng.integers(5, 14)))
        row: dict[str, Any] = {"video_id": vid, "pos_text": f"{col}_motion"}
        if spec.pool == "local":
            names = [f"{_other(col, k)}_motion" for k in (1, 2)] + [f"{col}_motion", f"{_other(col, 3)}_motion"]
            row["neg_text"] = names + ([names[0]] if i == 0 else [])
        rows.append(row)
    write_parquet(rows, _rows_path(root, spec))
    return [1] * n


# Raw hub rows of each retrieval / QA dataset, keyed by the spec's transform (None: the plain columns).
def _ret_row(spec: TaskSpec, vid: str, caption: str) -> dict[str, Any]:
    t = (spec.transform or "").rsplit(":", 1)[-1]
    if t == "first_caption":  # msvd_dataset.py:21 reads video_id, video, caption
        return {"video_id": vid, "video": f"{vid}.avi", "caption": [caption, "another caption"]}
    if t == "vatex":
        return {"videoID": vid, "enCap": [caption, "another caption"]}
    col_v, col_q = spec.options.get("video_field", "video_id"), spec.options.get("query_field", "caption")
    row = {col_v: f"videos/{vid}.mp4" if col_v == "video" else vid, col_q: caption}
    if spec.source.generated:  # the embedded default keeps the bytes it always had
        return row
    # The file column the official parser also reads: msrvtt_dataset.py:22 and msvd_dataset.py:21 ``video``,
    # youcook2_dataset.py:21 ``video_path`` (beside the id column).
    extra = {"video_id": "video", "id": "video_path"}.get(col_v)
    return row | ({extra: f"{vid}.mp4"} if extra else {})


def _qa_row(spec: TaskSpec, vid: str, i: int, subset: str | None) -> tuple[dict[str, Any], str, str]:
    """A raw QA row, the frame folder (relative to the media dir) it points at, and the answer's colour."""
    t = (spec.transform or "").rsplit(":", 1)[-1]
    opts = ["red", "green", "blue", "yellow"]
    q = f"what colour is shown in clip {i}?"
    a = i % 4
    if t == "videomme":
        return {"question": q, "videoID": vid, "options": [f"{L}. {o}." for L, o in zip("ABCD", opts)],
                "answer": "ABCD"[a], "question_id": str(i), "domain": "Knowledge",  # videomme_dataset.py:31
                "sub_category": "Humanity & History"}, vid, opts[a]
    if t == "egoschema":
        return {"question": q, "video_idx": vid, "option": [f"{L}. {o}" for L, o in zip("ABCD", opts)],
                "answer": str(a), "question_idx": str(i)}, vid, opts[a]
    if t == "nextqa":
        five = opts + ["purple"]
        a = i % 5
        return {"question": q, "video": vid, "answer": a, "qid": i, "type": "CW",
                **{f"a{j}": five[j] for j in range(5)}}, vid, five[a]
    if t == "mvbench":
        return ({"question": q, "video": f"{vid}.mp4", "candidates": opts, "answer": opts[a]},
                f"{subset}/{vid}.mp4", opts[a])
    if t == "activitynetqa":
        yes = i % 2 == 1
        return ({"question": f"is clip {i} a go signal", "video_name": vid, "answer": "yes" if yes else "no",
                 "question_id": str(i)}, f"v_{vid}", WORD_ALIASES["yes" if yes else "no"])
    raise ValueError(f"no QA fixture format for transform {spec.transform!r}")


def write_video_qa(spec: TaskSpec, root: Path, rng: np.random.Generator, n: int = 4) -> list[int]:
    """A video + question ranks its options (colour words, or yes/no); the video shows the answer's colour."""
    media = root / spec.source.media_dir
    subsets = spec.options.get("subsets", [spec.source.subset])
    per = max(1, n // len(subsets))  # MVBench: one row in each of its 20 subsets
    total = 0
    for s, subset in enumerate(subsets):
        rows = []
        for i in range(per):
            row, folder, col = _qa_row(spec, f"qa{i}", i + s, subset)
            write_frames(media / folder, rng, col, n_frames=int(rng.integers(6, 14)))
            rows.append(row)
        write_parquet(rows, _rows_path(root, spec, subset))
        total += per
    return [1] * total


def write_video_mret(spec: TaskSpec, root: Path, rng: np.random.Generator, n: int = 3) -> list[int]:
    """``query``, ``video_path`` rows; ``<stem>/query/`` frames plus positive and negative clip folders.

    The first two rows ask about the same video (same clips, same positive), as QVHighlight and Charades-STA
    rows do; a query's text names its clip's colour, its whole-video frames mix every clip's colour.
    """
    media = root / spec.source.media_dir
    rows = []
    for i in range(n):
        stem, col = f"movie{i}", colour(i)
        clips = {"positive_0": col, **{f"negative_{j}": _other(col, j + 1) for j in range(3)}}
        qdir = media / stem / "query"
        qdir.mkdir(parents=True, exist_ok=True)
        for f, c in enumerate(list(clips.values()) * 3):
            draw(c, SHAPES[f % 3], rng).save(qdir / f"frame_{f + 1}.jpg", quality=90)
        for name, c in clips.items():
            write_frames(media / stem / name, rng, c, n_frames=int(rng.integers(8, 13)))
        rows.append({"query": f"the {col} part", "video_path": f"videos/{stem}.mp4"})
        if i == 0:
            rows.append({"query": f"when does the {col} shape show up", "video_path": f"videos/{stem}.mp4"})
    write_parquet(rows, _rows_path(root, spec))
    return [1] * len(rows)


def write_momentseeker(spec: TaskSpec, root: Path, rng: np.random.Generator, **_: Any) -> list[int]:
    """One query of each kind (video segment, image: the class is in the media; text only: a colour word).

    Each has two positive and two negative clips; a fourth, text query shares the first query's clips.
    """
    media = root / spec.source.media_dir
    rows = []
    for i, kind in enumerate(["mp4", "jpg", ""]):
        col = colour(i)
        inp = f"src/q{i}.mp4" if kind == "mp4" else f"q{i}.jpg" if kind == "jpg" else ""
        if kind == "mp4":
            write_frames(media / "video_frames" / f"src_q{i}", rng, col, n_frames=11, sampled=False)
        elif kind == "jpg":
            draw(col, "circle", rng).save(media / f"query_{inp}")
        clips = [f"clips/m{i}_{j}.mp4" for j in range(4)]
        for j, c in enumerate(clips):
            write_frames(media / "video_frames" / c.removesuffix(".mp4").replace("/", "_"), rng,
                         col if j < 2 else _other(col, j - 1), n_frames=int(rng.integers(6, 12)), sampled=False)
        rows.append({"query": f"the moment with the {col} shape" if not kind else "find this moment",
                     "input_frames": inp,
                     "positive_frames": [{"output_path": clips[0]}, {"output_path": clips[1]}],
                     "negative_frames": [{"output_path": c} for c in clips[2:]]})
    rows.append({**rows[0], "query": f"where the {colour(0)} shape moves", "input_frames": ""})
    write_parquet(rows, _rows_path(root, spec))
    return [2] * len(rows)


def write_task_data(spec: TaskSpec, root: str | os.PathLike[str], *, seed: int = 0, **kw: Any) -> Path:
    """Write ``spec``'s data under ``root`` (its data root) with the writer its family's loader registered.

    Also writes the answer key ``<root>/.expected/<task>.json``: the number of relevant candidates of each
    query the loader keeps, in order (a perfect ranking's scores follow from it).
    """
    from umeval.loaders.registry import loader_entry

    root = Path(root)
    rng = np.random.default_rng([seed, sum(spec.name.encode())])
    relevant = loader_entry(spec.family).write_fixture(spec, root, rng, **kw)
    (root / ".expected").mkdir(parents=True, exist_ok=True)
    (root / ".expected" / f"{spec.name}.json").write_text(json.dumps({"task": spec.name, "relevant": relevant}))
    return root


def relevant_counts(root: str | os.PathLike[str], task: str) -> list[int]:
    """The number of relevant candidates of each query of ``task``'s fixture under ``root``."""
    return list(json.loads((Path(root) / ".expected" / f"{task}.json").read_text())["relevant"])
