"""The visual-document family in BEIR layout (ViDoRe, VisRAG, ViDoSeek, MMLongBench).

Three subsets of one hub dataset: ``queries`` (``query-id``, ``query``), ``corpus`` (``corpus-id``,
``image`` as a hub Image cell with the page's bytes) and ``qrels`` (``query-id``, ``corpus-id``,
``score``).  Every query ranks the whole corpus.  Qrels with score <= 0 are dropped; a pair listed twice
keeps its largest score; a query without any positive qrel is left out (it cannot be scored).
"""

from __future__ import annotations

from umeval.errors import DataError
from umeval.loaders import LoadContext, image_bytes, read_rows, require, spill
from umeval.spec import TaskSpec
from umeval.types import Item, Qrels, TaskData


def probe_subset(spec: TaskSpec) -> str:
    """The subset whose presence :func:`umeval.loaders.preflight` checks."""
    return str(spec.options.get("queries_subset", "queries"))


def load(spec: TaskSpec, ctx: LoadContext) -> TaskData:
    opts = spec.options
    q_rows, q_file = read_rows(spec, ctx, subset=opts.get("queries_subset", "queries"))
    c_rows, c_file = read_rows(spec, ctx, subset=opts.get("corpus_subset", "corpus"))
    r_rows, r_file = read_rows(spec, ctx, subset=opts.get("qrels_subset", "qrels"))
    inst = spec.instruction(ctx.instruction_set)

    candidates: list[Item] = []
    seen: set[str] = set()
    for i, row in enumerate(c_rows):
        require(row, ("corpus-id", "image"), spec, c_file, i)
        cid = str(row["corpus-id"])
        if cid in seen:
            raise DataError(f"duplicate corpus-id '{cid}'", "make corpus ids unique", task=spec.name,
                            file=c_file, row=i)
        seen.add(cid)
        data = image_bytes(row["image"])
        if data is None:
            raise DataError(f"corpus-id '{cid}' has no image bytes", "re-download the corpus",
                            task=spec.name, file=c_file, row=i)
        candidates.append(Item(id=cid, text="", instruction=inst.candidate, image=spill(ctx, data),
                               source=(c_file, i)))
        c_rows[i] = {}  # with a spill dir, the page's bytes are on disk now: free them as the corpus is read

    qrels: Qrels = {}
    for i, row in enumerate(r_rows):
        require(row, ("query-id", "corpus-id", "score"), spec, r_file, i)
        qid, cid, score = str(row["query-id"]), str(row["corpus-id"]), float(row["score"])
        if cid not in seen:
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
            continue
        queries.append(Item(id=qid, text=str(row["query"]), instruction=inst.query, source=(q_file, i)))
        if ctx.limit is not None and len(queries) >= ctx.limit:
            break
    kept = {q.id for q in queries}
    return TaskData(task=spec.name, queries=queries, candidates=candidates,
                    qrels={q: r for q, r in qrels.items() if q in kept}, pools=None)
