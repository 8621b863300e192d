"""Fixture writers: a tiny copy of a task's data in the exact official on-disk layout.

One writer per data family, chosen by the spec's ``family``.  The embedded default (the ``mini`` tasks)
and the tests use them, so the real loaders are what reads the data.  Everything is generated with numpy
and PIL from a seed: the same seed writes the same bytes.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from umeval.spec import TaskSpec

FIXTURE_VERSION = "1"
COLOURS = {"red": (220, 40, 40), "green": (40, 180, 60), "blue": (40, 70, 220), "yellow": (230, 210, 40),
           "purple": (140, 60, 170), "orange": (240, 140, 30)}
SHAPES = ("circle", "square", "triangle")


def draw(colour: str, shape: str, rng: np.random.Generator, size: tuple[int, int] = (64, 48)) -> Image.Image:
    """A noisy background with one coloured shape: distinguishable, deterministic for a given rng."""
    bg = rng.integers(0, 60, size=(size[1], size[0], 3), dtype=np.uint8)
    im = Image.fromarray(bg)
    d = ImageDraw.Draw(im)
    w, h = size
    x0, y0 = int(rng.integers(2, w // 3)), int(rng.integers(2, h // 3))
    x1, y1 = x0 + w // 2, y0 + h // 2
    fill = COLOURS[colour]
    if shape == "circle":
        d.ellipse((x0, y0, x1, y1), fill=fill)
    elif shape == "square":
        d.rectangle((x0, y0, x1, y1), fill=fill)
    else:
        d.polygon([(x0, y1), ((x0 + x1) // 2, y0), (x1, y1)], fill=fill)
    return im


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


# ---------------------------------------------------------------- families

def write_mmeb_image(spec: TaskSpec, root: Path, rng: np.random.Generator, n: int = 6) -> None:
    """``MMEB_Test_Instruct`` rows: an image query and a local list of label candidates, positive first."""
    labels = [f"{c} {s}" for c in COLOURS for s in SHAPES]
    media = root / spec.source.media_dir
    rows = []
    for i in range(n):
        colour, shape = list(COLOURS)[i % len(COLOURS)], SHAPES[i % len(SHAPES)]
        rel = f"{spec.name}/images/{i:04d}.png"
        (media / rel).parent.mkdir(parents=True, exist_ok=True)
        draw(colour, shape, rng).save(media / rel)
        positive = f"{colour} {shape}"
        negatives = [x for x in labels if x != positive]
        picks = rng.choice(len(negatives), size=4, replace=False)
        rows.append({
            "qry_inst": "Represent the given image for classification", "qry_text": "",
            "qry_img_path": rel, "tgt_inst": "",
            "tgt_text": [positive] + [negatives[j] for j in picks], "tgt_img_path": [""] * 5,
        })
    write_parquet(rows, _rows_path(root, spec))


def write_frames(folder: Path, rng: np.random.Generator, colour: str, n_frames: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for f in range(n_frames):
        draw(colour, SHAPES[f % len(SHAPES)], rng).save(folder / f"frame_{f + 1}.jpg", quality=90)


def write_video_ret(spec: TaskSpec, root: Path, rng: np.random.Generator, n: int = 6) -> None:
    """Caption -> video rows (``video_id``, ``caption``) and one frame folder per video."""
    media = root / spec.source.media_dir
    rows = []
    for i in range(n):
        colour = list(COLOURS)[i % len(COLOURS)]
        vid = f"video{i}"
        write_frames(media / vid, rng, colour, n_frames=int(rng.integers(9, 14)))
        rows.append(_ret_row(spec, vid, f"a {colour} shape moves around"))
    write_parquet(rows, _rows_path(root, spec))


def write_beir(spec: TaskSpec, root: Path, rng: np.random.Generator, n: int = 5) -> None:
    """BEIR-style ``queries``/``corpus``/``qrels`` subsets, page images as bytes, graded qrels (1 and 2)."""
    opts = spec.options
    n_docs = 2 * n + 2
    corpus = [{"corpus-id": f"doc{d}", "image": {"bytes": png_bytes(draw(list(COLOURS)[d % 6], SHAPES[d % 3], rng,
                                                                                  size=(56, 72))), "path": None}}
              for d in range(n_docs)]
    queries = [{"query-id": f"query{q}", "query": f"which page shows the {list(COLOURS)[q % 6]} figure?"}
               for q in range(n)]
    qrels = []
    for q in range(n):
        qrels.append({"query-id": f"query{q}", "corpus-id": f"doc{2 * q}", "score": 2})
        qrels.append({"query-id": f"query{q}", "corpus-id": f"doc{2 * q + 1}", "score": 1})
    qrels.append({"query-id": "query0", "corpus-id": f"doc{n_docs - 1}", "score": 0})  # dropped by the loader
    write_parquet(corpus, _rows_path(root, spec, opts.get("corpus_subset", "corpus")), image_columns=("image",))
    write_parquet(queries, _rows_path(root, spec, opts.get("queries_subset", "queries")))
    write_parquet(qrels, _rows_path(root, spec, opts.get("qrels_subset", "qrels")))


def write_video_cls(spec: TaskSpec, root: Path, rng: np.random.Generator, n: int = 5) -> None:
    """``video_id``, ``pos_text`` (and a ``neg_text`` list for local tasks) rows, one frame folder each."""
    labels = [f"{c}_motion" for c in COLOURS]
    media = root / spec.source.media_dir
    rows = []
    for i in range(n):
        vid = f"vid{i}"
        write_frames(media / vid, rng, list(COLOURS)[i % 6], n_frames=int(rng.integers(5, 12)))
        row = {"video_id": vid, "pos_text": labels[i % len(labels)]}
        if spec.pool == "local":
            row["neg_text"] = [labels[(i + j) % len(labels)] for j in range(4)]  # positive included
        rows.append(row)
    write_parquet(rows, _rows_path(root, spec))


# Raw hub rows of each retrieval / QA dataset, keyed by the spec's transform (None: the plain columns).
def _ret_row(spec: TaskSpec, vid: str, caption: str) -> dict[str, Any]:
    t = (spec.transform or "").rsplit(":", 1)[-1]
    if t == "first_caption":
        return {"video_id": vid, "caption": [caption, "another caption"]}
    if t == "vatex":
        return {"videoID": vid, "enCap": [caption, "another caption"]}
    col_v, col_q = spec.options.get("video_field", "video_id"), spec.options.get("query_field", "caption")
    return {col_v: f"videos/{vid}.mp4" if col_v == "video" else vid, col_q: caption}


def _qa_row(spec: TaskSpec, vid: str, i: int, subset: str | None) -> tuple[dict[str, Any], str]:
    """A raw QA row and the frame folder (relative to the media dir) it points at."""
    t = (spec.transform or "").rsplit(":", 1)[-1]
    opts = ["red", "green", "blue", "yellow"]
    q = f"what colour is shown in clip {i}?"
    if t == "videomme":
        return {"question": q, "videoID": vid, "options": [f"{L}. {o}." for L, o in zip("ABCD", opts)],
                "answer": "ABCD"[i % 4], "question_id": str(i)}, vid
    if t == "egoschema":
        return {"question": q, "video_idx": vid, "option": [f"{L}. {o}" for L, o in zip("ABCD", opts)],
                "answer": str(i % 4), "question_idx": str(i)}, vid
    if t == "nextqa":
        return {"question": q, "video": vid, "answer": i % 4, "qid": i, "type": "CW",
                **{f"a{j}": (opts + ["purple"])[j] for j in range(5)}}, vid
    if t == "mvbench":
        return {"question": q, "video": f"{vid}.mp4", "candidates": opts, "answer": opts[i % 4]}, f"{subset}/{vid}.mp4"
    if t == "activitynetqa":
        return {"question": f"is clip {i} red", "video_name": vid, "answer": "yes" if i % 2 else "no",
                "question_id": str(i)}, f"v_{vid}"
    raise ValueError(f"no QA fixture format for transform {spec.transform!r}")


def write_video_qa(spec: TaskSpec, root: Path, rng: np.random.Generator, n: int = 4) -> None:
    media = root / spec.source.media_dir
    subsets = spec.options.get("subsets", [spec.source.subset])
    per = max(1, n // len(subsets))  # MVBench: one row in each of its 20 subsets
    for subset in subsets:
        rows = []
        for i in range(per):
            row, folder = _qa_row(spec, f"qa{i}", i, subset)
            write_frames(media / folder, rng, list(COLOURS)[i % 6], n_frames=int(rng.integers(6, 12)))
            rows.append(row)
        write_parquet(rows, _rows_path(root, spec, subset))


def write_video_mret(spec: TaskSpec, root: Path, rng: np.random.Generator, n: int = 3) -> None:
    """``query``, ``video_path`` rows; ``<stem>/query/`` frames plus positive and negative clip folders."""
    media = root / spec.source.media_dir
    rows = []
    for i in range(n):
        stem = f"movie{i}"
        write_frames(media / stem / "query", rng, "red", n_frames=10)
        write_frames(media / stem / "positive_0", rng, list(COLOURS)[i % 6], n_frames=8)
        for j in range(3):
            write_frames(media / stem / f"negative_{j}", rng, list(COLOURS)[(i + j + 1) % 6], n_frames=8)
        rows.append({"query": f"the {list(COLOURS)[i % 6]} part", "video_path": f"videos/{stem}.mp4"})
    write_parquet(rows, _rows_path(root, spec))


def write_momentseeker(spec: TaskSpec, root: Path, rng: np.random.Generator, n: int = 3) -> None:
    """One query of each kind (video segment, image, text only) with positive and negative clips."""
    media = root / spec.source.media_dir
    rows = []
    for i, kind in enumerate(["mp4", "jpg", ""][:n]):
        inp = f"src/q{i}.mp4" if kind == "mp4" else f"q{i}.jpg" if kind == "jpg" else ""
        if kind == "mp4":
            write_frames(media / "video_frames" / f"src_q{i}", rng, "red", n_frames=9)
        elif kind == "jpg":
            draw("blue", "circle", rng).save(media / f"query_{inp}")
        clips = [f"clips/m{i}_{j}.mp4" for j in range(4)]
        for j, c in enumerate(clips):
            write_frames(media / "video_frames" / c.removesuffix(".mp4").replace("/", "_"), rng,
                         list(COLOURS)[j], n_frames=6)
        rows.append({"query": f"moment {i}", "input_frames": inp,
                     "positive_frames": [{"output_path": clips[0]}, {"output_path": clips[1]}],
                     "negative_frames": [{"output_path": c} for c in clips[2:]]})
    write_parquet(rows, _rows_path(root, spec))


WRITERS: dict[str, Callable[..., None]] = {
    "mmeb_image": write_mmeb_image,
    "video_ret": write_video_ret,
    "video_cls": write_video_cls,
    "video_qa": write_video_qa,
    "video_mret": write_video_mret,
    "momentseeker": write_momentseeker,
    "beir": write_beir,
}


def write_fixture(spec: TaskSpec, root: str | os.PathLike[str], *, seed: int = 0, **kw: Any) -> Path:
    """Write ``spec``'s fixture under ``root`` (its data root) and return the root."""
    root = Path(root)
    rng = np.random.default_rng([seed, sum(spec.name.encode())])
    WRITERS[spec.family](spec, root, rng, **kw)
    return root


def ensure_generated(specs: list[TaskSpec], cache_dir: Path, seed: int = 0) -> Path:
    """Generate the fixtures of ``specs`` once into ``cache_dir/data/generated-v<N>`` (atomic per task)."""
    root = cache_dir / "data" / f"generated-v{FIXTURE_VERSION}-s{seed}"
    root.mkdir(parents=True, exist_ok=True)
    # Shards of one run may start together: one process writes, the others wait and then find the markers
    # (rewriting a file would change its mtime, and with it the content keys of stored embeddings).
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for spec in specs:
            _generate_one(spec, root, seed)
    return root


def _generate_one(spec: TaskSpec, root: Path, seed: int) -> None:
    marker = root / ".done" / f"{spec.name}.json"
    if not marker.exists():
        tmp = Path(tempfile.mkdtemp(prefix=f".{spec.name}-", dir=root))
        try:
            write_fixture(spec, tmp, seed=seed)
            for top in tmp.iterdir():  # merge the new task's tree into the shared root
                for src in sorted(top.rglob("*")):
                    dst = root / src.relative_to(tmp)
                    if src.is_dir():
                        dst.mkdir(parents=True, exist_ok=True)
                    else:
                        dst.parent.mkdir(parents=True, exist_ok=True)
                        os.replace(src, dst)
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(json.dumps({"task": spec.name, "version": FIXTURE_VERSION, "seed": seed}))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
