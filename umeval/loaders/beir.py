"""The visual-document family in BEIR layout (ViDoRe, VisRAG, ViDoSeek, MMLongBench).

Three subsets of one hub dataset: ``queries`` (``query-id``, ``query``), ``corpus`` (``corpus-id``,
``image`` as a hub Image cell with the page's bytes) and ``qrels`` (``query-id``, ``corpus-id``,
``score``).  Every query ranks the whole corpus.  Qrels with score <= 0 are dropped; a pair listed twice
keeps its largest score.  A query without any positive qrel is left out (it cannot be scored; the official
code stops with a KeyError there) and counted in ``notes["queries_without_qrels"]``.

Texts are the official ones (``vidore_dataset.py`` / ``visrag_dataset.py``): query ``inst + " " + query``,
page ``"<|image_pad|> " + inst``.  Candidates come in the official order: the relevant pages of each query in
query order, then the rest of the corpus.

Pages: the official code decodes each page (``datasets`` applies the EXIF orientation) and saves it to disk
before encoding: ViDoRe-style parsers as ``<corpus-id>.png`` (lossless, so the original bytes are kept unless
the page has an EXIF orientation), VisRAG under the corpus id's own extension (``options["page_format"] =
"corpus_id_extension"``: a ``.jpg`` id means a JPEG at PIL's default quality), re-encoded here the same way
(an id without an image extension, where the official save fails, keeps its page as it is; counted).
"""

from __future__ import annotations

import io
import os
from typing import Any

from PIL import Image, ImageOps

from umeval.core.errors import DataError
from umeval.core.spec import TaskSpec
from umeval.core.types import Item, Qrels, TaskData
from umeval.loaders import LoadContext, image_bytes, probe_rows, read_rows, require, spill
from umeval.loaders.registry import Option, register_loader
from umeval.loaders.text import compose

PAGE_FORMATS = ("png", "corpus_id_extension")

register_loader(
    "beir", load="umeval.loaders.beir:load", fixture="umeval.data.synthetic:write_beir",
    probe="umeval.loaders.beir:probe",
    description="BEIR layout: queries/corpus/qrels subsets, page images as bytes, graded qrels (ViDoRe, VisRAG)",
    options={
        "page_format": Option(str, "how the official code saves a page before encoding it", choices=PAGE_FORMATS),
        "queries_subset": Option(str, "the subset holding the queries (default 'queries')"),
        "corpus_subset": Option(str, "the subset holding the pages (default 'corpus')"),
        "qrels_subset": Option(str, "the subset holding the qrels (default 'qrels')"),
    },
)


def probe_subset(spec: TaskSpec) -> str:
    """The subset whose presence :func:`probe` checks."""
    return str(spec.options.get("queries_subset", "queries"))


def probe(spec: TaskSpec, ctx: LoadContext) -> None:
    """The registered probe: the queries subset's rows are there (locally, or the hub is allowed)."""
    probe_rows(spec, ctx, probe_subset(spec))


def _oriented(im: Image.Image, data: bytes | None) -> tuple[Image.Image, bool]:
    """The page as ``datasets`` decodes it: EXIF orientation applied when the tag is present."""
    if data is not None and data.startswith(b"\x89PNG") and b"eXIf" not in data:
        return im, False  # no EXIF chunk (PIL would decode the whole PNG to look for one)
    if im.getexif().get(Image.ExifTags.Base.Orientation) is None:
        return im, False
    return ImageOps.exif_transpose(im), True


def official_page(value: Any, corpus_id: str, page_format: str, notes: dict[str, int]) -> bytes | None:
    """The bytes of the page the official code encodes (see the module docstring); None without a page."""
    data = image_bytes(value)
    if data is None and not isinstance(value, Image.Image):
        return None
    im = value if isinstance(value, Image.Image) else Image.open(io.BytesIO(data))  # type: ignore[arg-type]
    im, turned = _oriented(im, data)
    notes["pages_exif_transposed"] += turned
    if page_format == "png":
        if data is not None and not turned:
            return data  # a PNG copy decodes to the same pixels
        fmt = "PNG"
    else:
        fmt = Image.registered_extensions().get(os.path.splitext(corpus_id)[1].lower(), "")
        if not fmt:  # the official save fails ("unknown file extension"); keep the page as it is
            notes["pages_without_extension"] += 1
            if data is not None and not turned:
                return data
            fmt = "PNG"
    buf = io.BytesIO()
    try:
        im.save(buf, format=fmt)
    except OSError:  # e.g. RGBA or P pages saved as JPEG, which the official code cannot write
        buf = io.BytesIO()
        im.convert("RGB").save(buf, format=fmt)
        notes["pages_converted_to_rgb"] += 1
    return buf.getvalue()


def load(spec: TaskSpec, ctx: LoadContext) -> TaskData:
    opts = spec.options
    page_format = str(opts.get("page_format", "png"))
    if page_format not in PAGE_FORMATS:
        raise DataError(f"unknown page_format '{page_format}'", f"use one of {', '.join(PAGE_FORMATS)}",
                        task=spec.name)
    q_rows, q_file = read_rows(spec, ctx, subset=opts.get("queries_subset", "queries"))
    c_rows, c_file = read_rows(spec, ctx, subset=opts.get("corpus_subset", "corpus"))
    r_rows, r_file = read_rows(spec, ctx, subset=opts.get("qrels_subset", "qrels"))
    inst = spec.instruction(ctx.instruction_set)
    notes = {"queries_without_qrels": 0, "pages_exif_transposed": 0, "pages_converted_to_rgb": 0,
             "pages_without_extension": 0}

    corpus: dict[str, Item] = {}
    page_text = compose(inst.candidate, image=True)
    for i, row in enumerate(c_rows):
        require(row, ("corpus-id", "image"), spec, c_file, i)
        cid = str(row["corpus-id"])
        if cid in corpus:
            raise DataError(f"duplicate corpus-id '{cid}'", "make corpus ids unique", task=spec.name,
                            file=c_file, row=i)
        try:
            data = official_page(row["image"], cid, page_format, notes)
        except (OSError, ValueError, SyntaxError) as e:
            raise DataError(f"cannot decode the page of corpus-id '{cid}' ({type(e).__name__}: {e})",
                            "re-download the corpus", task=spec.name, file=c_file, row=i) from None
        if data is None:
            raise DataError(f"corpus-id '{cid}' has no image bytes", "re-download the corpus",
                            task=spec.name, file=c_file, row=i)
        corpus[cid] = Item(id=cid, text=page_text, image=spill(ctx, data), source=(c_file, i),
                           no_text_at=len(page_text), parts=(inst.candidate, ""))
        c_rows[i] = {}  # with a spill dir, the page's bytes are on disk now: free them as the corpus is read

    qrels: Qrels = {}
    for i, row in enumerate(r_rows):
        require(row, ("query-id", "corpus-id", "score"), spec, r_file, i)
        qid, cid, score = str(row["query-id"]), str(row["corpus-id"]), float(row["score"])
        if cid not in corpus:
            raise DataError(f"qrel points at unknown corpus-id '{cid}'", "fix the qrels or the corpus",
                            task=spec.name, file=r_file, row=i)
        if score > 0:
            rel = qrels.setdefault(qid, {})
            rel[cid] = max(score, rel.get(cid, 0.0))

    queries: list[Item] = []
    seen_q: set[str] = set()
    for i, row in enumerate(q_rows):
        require(row, ("query-id", "query"), spec, q_file, i)
        qid = str(row["query-id"])
        if qid in seen_q:
            raise DataError(f"duplicate query-id '{qid}'", "make query ids unique", task=spec.name, file=q_file,
                            row=i)
        seen_q.add(qid)
        if qid not in qrels:
            notes["queries_without_qrels"] += 1
            continue
        queries.append(Item(id=qid, text=compose(inst.query, str(row["query"])), source=(q_file, i),
                            parts=(inst.query, str(row["query"]))))
        if ctx.limit is not None and len(queries) >= ctx.limit:
            break
    kept = {q.id for q in queries}
    # The official candidate order: each query's relevant pages, then the rest of the corpus.
    order = list(dict.fromkeys([c for q in queries for c in qrels[q.id]] + list(corpus)))
    return TaskData(task=spec.name, queries=queries, candidates=[corpus[c] for c in order],
                    qrels={q: r for q, r in qrels.items() if q in kept}, pools=None, notes=notes)
