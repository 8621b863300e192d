r"""The MMEB image family (``ziyjiang/MMEB_Test_Instruct``, one subset per task, split ``test``).

Each row is one query with its own candidate list: ``qry_inst``, ``qry_text``, ``qry_img_path``,
``tgt_inst``, ``tgt_text[]``, ``tgt_img_path[]``; the first candidate is the positive.  Image paths are
relative to ``<data_root>/image-tasks/``.

The official parsers (``image_cls``, ``image_qa``, ``image_i2t``, ``image_t2i``, ``image_i2i_vg``) differ
only in how they write the text and which fields they read; each spec states its parser's rules as data in
``options`` (see :data:`DEFAULTS` and ``tasks/image.py``), and this loader applies them:

- query: ``qry_inst`` with ``<|image_1|>`` replaced by ``query_inst_token``; with ``query_inst_newline`` it is
  stripped and put after a ``"\n"``.  An image query (``query_image``) is ``"<|image_pad|> " + inst`` plus
  ``" " + qry_text`` when that is non-empty; a text query is ``inst + " " + qry_text`` (the space even when the
  text is empty) and ignores ``qry_img_path``.  ``query_fix_newlines`` turns every ``" \n"`` into ``"\n"``,
  then ``query_suffix`` is appended.
- candidates: text candidates are the bare ``tgt_text`` (``tgt_inst`` and ``tgt_img_path`` are not read);
  image candidates (``candidate_image``) are ``tgt_img_path`` with ``"<|image_pad|> " + tgt_inst`` (without
  ``<|image_1|>``) plus ``" " + caption`` when the row's first caption is not blank, ``" \n"`` -> ``"\n"``, and
  ``"\n"`` (or ``candidate_blank_suffix`` when the first caption is blank).
- a candidate's id is its official name (``candidate_name``: the text, the image path, or
  ``path + ":" + caption`` without surrounding quotes); the first candidate seen under a name is the one
  encoded, and every pool entry with the positive's name is relevant (listed once in the pool, see
  :func:`umeval.loaders.official_pool`).  ``TaskData.notes`` counts the candidates whose own content differed
  from the one kept under their name, and the queries whose list names the positive more than once.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from umeval.core.errors import DataError
from umeval.core.spec import TaskSpec
from umeval.core.types import Item, Qrels, TaskData
from umeval.loaders import (
    REPEATED_POSITIVE,
    LoadContext,
    Row,
    media_path,
    official_pool,
    query_limit,
    read_rows,
    require,
)
from umeval.loaders.registry import Option, register_loader
from umeval.loaders.text import ROW_IMAGE_TOKEN, compose, no_text_at

NAMES = ("text", "path", "path:caption")

#: The task options this loader reads (a parser's text rules, see the module docstring).
OPTIONS: dict[str, Option] = {
    "query_image": Option(bool, "the query has an image (qry_img_path) and its placeholder"),
    "query_inst_token": Option(str, "what <|image_1|> in qry_inst becomes"),
    "query_inst_newline": Option(bool, "strip the instruction and put it after a newline"),
    "query_join_empty": Option(bool, "a text query joins inst and an empty qry_text with a space"),
    "query_fix_newlines": Option(bool, "turn every ' \\n' of the query into '\\n'"),
    "query_suffix": Option(str, "appended to the query"),
    "candidate_image": Option(bool, "candidates are images (tgt_img_path) with tgt_inst"),
    "candidate_name": Option(str, "a candidate's official name", choices=NAMES),
    "candidate_blank_suffix": Option(str, "appended to an image candidate whose row's first caption is blank"),
}

register_loader(  # probe: the default (the spec's subset of MMEB_Test_Instruct)
    "mmeb_image", load="umeval.loaders.mmeb_image:load", fixture="umeval.data.synthetic:write_mmeb_image",
    description="MMEB_Test_Instruct rows: one query with its own candidate list, images under image-tasks/",
    options=OPTIONS,
)

#: The ``image_cls`` / ``image_i2t`` rules; a spec's ``options`` override them key by key.
DEFAULTS: dict[str, Any] = {
    "query_image": True,
    "query_inst_token": "",
    "query_inst_newline": False,
    "query_join_empty": False,
    "query_fix_newlines": True,
    "query_suffix": "\n",
    "candidate_image": False,
    "candidate_name": "text",
    "candidate_blank_suffix": "\n",
}


def _query_text(row: Row, inst: str, f: dict[str, Any]) -> tuple[str, int | None]:
    """The query's text and its ``Item.no_text_at``."""
    inst = inst.replace(ROW_IMAGE_TOKEN, f["query_inst_token"])
    if f["query_inst_newline"]:
        inst = "\n" + inst.strip()
    text = str(row["qry_text"])
    if f["query_image"]:
        out = compose(inst, text, image=True)
    else:
        out = f"{inst} {text}" if (text or f["query_join_empty"]) else inst
    if f["query_fix_newlines"]:
        out = out.replace(" \n", "\n")
    # Only the parsers that go through process_input_text (the image-token ones) leave a bare instruction.
    at = no_text_at(text, out) if f["query_image"] else None
    return out + f["query_suffix"], at


def _image_candidate_texts(captions: list[str], inst: str, f: dict[str, Any]) -> list[tuple[str, int]]:
    """Each candidate's text and its ``Item.no_text_at``.

    The parsers pass the caption inside the instruction argument, with ``text=''``: every image candidate has a
    bare instruction.
    """
    inst = inst.replace(ROW_IMAGE_TOKEN, "")
    if captions[0].strip():  # the first caption decides for the whole row, as in the official parsers
        composed = [compose(f"{inst} {c}", image=True).replace(" \n", "\n") for c in captions]
        return [(c + "\n", len(c)) for c in composed]
    blank = compose(inst, image=True).replace(" \n", "\n")
    return [(blank + f["candidate_blank_suffix"], len(blank))] * len(captions)


def _name(kind: str, text: str, path: str) -> str:
    if kind == "text":
        return text
    if kind == "path":
        return path
    return f"{path}:{text.strip(chr(34))}"


def load(spec: TaskSpec, ctx: LoadContext) -> TaskData:
    f = {**DEFAULTS, **{k: v for k, v in spec.options.items() if k in DEFAULTS}}
    if f["candidate_name"] not in NAMES:
        raise DataError(f"unknown candidate_name '{f['candidate_name']}'", f"use one of {', '.join(NAMES)}",
                        task=spec.name)
    rows, file = read_rows(spec, ctx)
    n = query_limit(spec, ctx, len(rows))
    inst = spec.instruction(ctx.instruction_set)
    queries: list[Item] = []
    candidates: list[Item] = []
    index: dict[str, int] = {}
    merged: set[tuple[str, str]] = set()  # (name, content key) of candidates that lost to an earlier one
    merged_queries = 0
    notes: dict[str, int] = {REPEATED_POSITIVE: 0}
    # A candidate repeated across queries (1,000 per query, a few thousand distinct) is built and hashed once.
    seen: dict[tuple[str, str, str], Item] = {}
    pools: list[np.ndarray] = []
    qrels: Qrels = {}
    for i, row in enumerate(rows[:n]):
        require(row, ("qry_inst", "qry_text", "tgt_text"), spec, file, i)
        texts = [str(t) for t in row["tgt_text"] or []]
        if not texts:
            raise DataError("the row has no candidates", "fix or drop the row", task=spec.name, file=file, row=i)
        qid = f"q{i}"
        q_img = None
        if f["query_image"]:
            if not row.get("qry_img_path"):
                raise DataError("the query has no qry_img_path", "fix or drop the row", task=spec.name,
                                file=file, row=i)
            q_img = media_path(ctx, spec, str(row["qry_img_path"]), file=file, row=i)
        q_inst = inst.query or str(row["qry_inst"])
        q_text, q_at = _query_text(row, q_inst, f)
        # A text query's placeholder can only come from its instruction's <|image_1|>, which image_t2i_eval.py:18
        # turns into VLM_IMAGE_TOKENS[backbone] for every backbone: literal for GME and LamRA.
        literal = not f["query_image"] and bool(f["query_inst_token"]) and ROW_IMAGE_TOKEN in q_inst
        queries.append(Item(id=qid, text=q_text, image=q_img, source=(file, i), no_text_at=q_at,
                            literal_placeholders=literal,
                            parts=(q_inst.replace(ROW_IMAGE_TOKEN, ""), str(row["qry_text"]))))

        if f["candidate_image"]:
            paths = [str(p or "") for p in row.get("tgt_img_path") or []]
            if len(paths) != len(texts) or not all(paths):
                raise DataError(f"{len(texts)} tgt_text but {sum(map(bool, paths))} non-empty tgt_img_path",
                                "give every candidate an image path", task=spec.name, file=file, row=i)
            c_inst = inst.candidate or str(row.get("tgt_inst") or "")
            shown = _image_candidate_texts(texts, c_inst, f)
            items = []
            for t, p, (s, at) in zip(texts, paths, shown):
                if (t, p, s) not in seen:
                    seen[(t, p, s)] = Item(id=_name(f["candidate_name"], t, p), text=s,
                                           image=media_path(ctx, spec, p, file=file, row=i), source=(file, i),
                                           no_text_at=at, parts=(c_inst.replace(ROW_IMAGE_TOKEN, ""), t))
                items.append(seen[(t, p, s)])
        else:
            items = [seen.setdefault((t, "", t), Item(id=t, text=t, source=(file, i), parts=("", t))) for t in texts]
        pool, row_merged = [], False
        for item in items:
            if item.id not in index:
                index[item.id] = len(candidates)
                candidates.append(item)
            elif candidates[index[item.id]] is not item and candidates[index[item.id]].key != item.key:
                merged.add((item.id, item.key))
                row_merged = True
            pool.append(index[item.id])
        positive = items[0].id
        pools.append(official_pool(pool, {index[positive]}, notes))
        qrels[qid] = {positive: 1.0}
        merged_queries += row_merged
    notes.update({"candidates_merged_by_name": len(merged), "queries_with_merged_candidates": merged_queries})
    return TaskData(task=spec.name, queries=queries, candidates=candidates, qrels=qrels, pools=pools,
                    notes=notes)
