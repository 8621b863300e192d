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
    q_col, v_col = spec.options.get("query_field", "caption"), spec.options.get("video_field", "video_id")
    media = root / spec.source.media_dir
    rows = []
    for i in range(n):
        colour = list(COLOURS)[i % len(COLOURS)]
        vid = f"video{i}"
        write_frames(media / vid, rng, colour, n_frames=int(rng.integers(9, 14)))
        rows.append({v_col: vid, q_col: f"a {colour} shape moves around"})
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


WRITERS: dict[str, Callable[..., None]] = {
    "mmeb_image": write_mmeb_image,
    "video_ret": write_video_ret,
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
