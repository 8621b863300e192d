"""Stop-gap for the fixture writer: image tasks whose candidates are images need real ``tgt_img_path`` files.

``umeval.fixtures.write_mmeb_image`` writes classification-shaped rows (``tgt_img_path`` all empty) for every
image task, but the text-to-image and image-to-image parsers read every candidate's image, so the loader
rejects such rows.  This fills the empty paths with small drawn images; it does nothing where the writer
already gives paths, so it can stay after the writer learns to.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from umeval.fixtures import COLOURS, SHAPES, draw
from umeval.spec import TaskSpec


def fill_candidate_images(spec: TaskSpec, root: Path) -> None:
    if spec.family != "mmeb_image" or "image" not in spec.candidate_modality:
        return
    rng = np.random.default_rng(sum(spec.name.encode()))
    media = root / spec.source.media_dir
    for f in sorted((root / spec.source.hub_id / str(spec.source.subset)).glob("*.parquet")):
        table = pq.read_table(f)
        rows = table.to_pylist()
        for i, row in enumerate(rows):
            paths = list(row["tgt_img_path"] or [])
            if paths and all(paths):
                continue
            paths = []
            for j, text in enumerate(row["tgt_text"]):
                colour, shape = (text.split() + ["red", "circle"])[:2]
                colour = colour if colour in COLOURS else "red"
                shape = shape if shape in SHAPES else "circle"
                rel = f"{spec.name}/candidates/{i:04d}_{j}.png"
                (media / rel).parent.mkdir(parents=True, exist_ok=True)
                draw(colour, shape, rng).save(media / rel)
                paths.append(rel)
            row["tgt_img_path"] = paths
        pq.write_table(type(table).from_pylist(rows, schema=table.schema), f)
