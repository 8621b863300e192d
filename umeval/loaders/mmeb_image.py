"""The MMEB image family (``ziyjiang/MMEB_Test_Instruct``, one subset per task, split ``test``).

Each row is one query with its own candidate list: ``qry_inst``, ``qry_text``, ``qry_img_path``,
``tgt_inst``, ``tgt_text[]``, ``tgt_img_path[]``; the first candidate is the positive.  Image paths are
relative to ``<data_root>/image-tasks/``.  Older copies put the instruction inside ``qry_text`` behind a
``<|image_1|>`` placeholder; the placeholder is dropped (the encoder places images itself).
"""

from __future__ import annotations

import re

import numpy as np

from umeval.errors import DataError
from umeval.loaders import LoadContext, media_path, query_limit, read_rows, require
from umeval.spec import TaskSpec
from umeval.types import Item, Qrels, TaskData

_PLACEHOLDER = re.compile(r"<\|image_\d+\|>\s*")


def _clean(text: object) -> str:
    return _PLACEHOLDER.sub("", str(text or "")).strip()


def load(spec: TaskSpec, ctx: LoadContext) -> TaskData:
    rows, file = read_rows(spec, ctx)
    n = query_limit(spec, ctx, len(rows))
    inst = spec.instruction(ctx.instruction_set)
    queries: list[Item] = []
    candidates: list[Item] = []
    index: dict[str, int] = {}
    seen: dict[tuple[str, str, str | None], int] = {}  # raw (instruction, text, image path) -> candidate index
    pools: list[np.ndarray] = []
    qrels: Qrels = {}
    for i, row in enumerate(rows[:n]):
        require(row, ("qry_text", "tgt_text"), spec, file, i)
        texts = list(row["tgt_text"] or [])
        imgs = list(row.get("tgt_img_path") or [])
        if not texts and not imgs:
            raise DataError("the row has no candidates", "fix or drop the row", task=spec.name, file=file, row=i)
        if imgs and texts and len(imgs) != len(texts):
            raise DataError(f"{len(texts)} tgt_text but {len(imgs)} tgt_img_path", "make them the same length",
                            task=spec.name, file=file, row=i)
        q_img = row.get("qry_img_path") or None
        qid = f"q{i}"
        queries.append(Item(
            id=qid, text=_clean(row["qry_text"]), instruction=inst.query or _clean(row.get("qry_inst")),
            image=media_path(ctx, spec, q_img, file=file, row=i) if q_img else None, source=(file, i),
        ))
        c_inst = inst.candidate or _clean(row.get("tgt_inst"))
        pool = []
        for j in range(max(len(texts), len(imgs))):
            img = imgs[j] if j < len(imgs) and imgs[j] else None
            raw = (c_inst, texts[j] if j < len(texts) else "", img)
            if raw in seen:  # a candidate repeated across queries (1,000 per query, a few thousand distinct)
                pool.append(seen[raw])
                continue
            item = Item(id="", text=_clean(raw[1]), instruction=c_inst,
                        image=media_path(ctx, spec, img, file=file, row=i) if img else None, source=(file, i))
            key = item.key
            if key not in index:
                index[key] = len(candidates)
                candidates.append(Item(id=key, text=item.text, instruction=item.instruction,
                                       image=item.image, source=(file, i)))
            seen[raw] = index[key]
            pool.append(index[key])
        pools.append(np.asarray(pool, dtype=np.int64))
        qrels[qid] = {candidates[pool[0]].id: 1.0}
    return TaskData(task=spec.name, queries=queries, candidates=candidates, qrels=qrels, pools=pools)
