"""Suite-scale dry run: all 78 MMEB-V2 tasks at their official sizes through the harness, with no model.

``python -m umeval.bench suite`` (also part of ``make bench``).  A synthetic copy of MMEB-V2 is written in the
official layouts (tiny media files; sizes below), then one ``umeval run task=all`` goes through the real
loaders, de-duplication, the embedding store, scoring and result writing with :class:`HashEncoder` (vectors
from a hash, microseconds per item), in a child process so its peak RSS is its own.  Reported: wall time, peak
RSS, unique items per task, and the share of time in each stage (load, encode+store, score, write).

Sizes: the official query counts of every task (``QUERIES``); image tasks rank 1,000 candidates per query,
drawn from a shared label set (classification: the label set; others a pool of 3,000 texts or images, so
candidates repeat across queries as in the real data); video tasks as the fixture writers lay them out at the
official row counts (retrieval: one video per caption; classification: the official label lists); visual-
document corpora at the sizes in ``CORPUS`` (exact for the OOD tasks; the upper end or middle of the published
range for the others).  Frames are 64 x 48 JPEGs of identical bytes under distinct paths; pages are 8 x 8 PNGs
of distinct bytes.
"""

from __future__ import annotations

import io
import json
import multiprocessing as mp
import os
import resource
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

#: The same knob as umeval.bench.SCALE, read here so that the two modules do not import each other.
SCALE = float(os.environ.get("UMEVAL_BENCH_SCALE", "1.0"))

#: Official query counts (MMEB-V2 evaluation runs).
QUERIES = {
    **{t: 1000 for t in (
        "ImageNet-1K N24News HatefulMemes VOC2007 SUN397 Place365 ImageNet-A ImageNet-R ObjectNet Country211 OK-VQA "
        "A-OKVQA DocVQA InfographicsVQA ChartQA Visual7W ScienceQA VizWiz GQA TextVQA VisDial CIRR VisualNews_t2i "
        "VisualNews_i2t MSCOCO_t2i MSCOCO_i2t NIGHTS WebQA FashionIQ Wiki-SS-NQ OVEN EDIS MSCOCO RefCOCO "
        "RefCOCO-Matching Visual7W-Pointing K700 SmthSmthV2 HMDB51 UCF101 ActivityNetQA MSR-VTT").split()},
    "Breakfast": 433, "MVBench": 4000, "Video-MME": 2700, "NExTQA": 8564, "EgoSchema": 500, "DiDeMo": 1004,
    "MSVD": 670, "VATEX": 4478, "YouCook2": 3179, "QVHighlight": 1083, "Charades-STA": 727, "MomentSeeker": 1602,
    "ViDoRe_arxivqa": 500, "ViDoRe_docvqa": 451, "ViDoRe_infovqa": 494, "ViDoRe_tabfquad": 280, "ViDoRe_tatdqa": 1646,
    "ViDoRe_shiftproject": 100, "ViDoRe_syntheticDocQA_artificial_intelligence": 100,
    "ViDoRe_syntheticDocQA_energy": 100, "ViDoRe_syntheticDocQA_government_reports": 100,
    "ViDoRe_syntheticDocQA_healthcare_industry": 100, "ViDoRe_esg_reports_human_labeled_v2": 52,
    "ViDoRe_biomedical_lectures_v2_multilingual": 640, "ViDoRe_economics_reports_v2_multilingual": 232,
    "ViDoRe_esg_reports_v2_multilingual": 228, "VisRAG_ArxivQA": 816, "VisRAG_ChartQA": 63, "VisRAG_MP-DocVQA": 591,
    "VisRAG_SlideVQA": 556, "VisRAG_InfoVQA": 718, "VisRAG_PlotQA": 863, "ViDoSeek-page": 1142, "ViDoSeek-doc": 1142,
    "MMLongBench-page": 838, "MMLongBench-doc": 838,
}
#: Visual-document corpus sizes (pages).  Published: ViDoRe-V1 70-999, V2 452-1,538, VisRAG 500-9,590,
#: ViDoSeek 5,349, MMLongBench 6,492.
CORPUS = {"ViDoRe_tatdqa": 999, "ViDoRe_esg_reports_human_labeled_v2": 452,
          "ViDoRe_biomedical_lectures_v2_multilingual": 1538, "VisRAG_PlotQA": 9590, "VisRAG_ArxivQA": 8066,
          "ViDoSeek-page": 5349, "ViDoSeek-doc": 5349, "MMLongBench-page": 6492, "MMLongBench-doc": 6492}
CORPUS_DEFAULT = {"ViDoRe-V1": 500, "ViDoRe-V2": 1000, "VisRAG": 2000, "VisDoc-OOD": 5349}
POOL = 1000  # candidates per query, image tasks


def scaled(n: int) -> int:
    """``n`` times ``UMEVAL_BENCH_SCALE`` (for a quick look and the tests), at least 2."""
    return max(2, round(n * SCALE))


def _jpeg() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((48, 64, 3), 90, np.uint8)).save(buf, format="JPEG", quality=80)
    return buf.getvalue()


def _page(i: int) -> bytes:
    from PIL import Image

    px = np.frombuffer(np.int64(i).tobytes() * 24, dtype=np.uint8)[:192].reshape(8, 8, 3)
    buf = io.BytesIO()
    Image.fromarray(px).save(buf, format="PNG")
    return buf.getvalue()


def _write_table(rows: list[dict[str, Any]], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)


def write_image_task(spec: Any, root: Path, rng: np.random.Generator, n: int, jpeg: bytes) -> None:
    from umeval.data.synthetic import _rows_path

    media = root / spec.source.media_dir / spec.name
    media.mkdir(parents=True, exist_ok=True)
    image_cands = "image" in spec.candidate_modality.split("+")
    pool = scaled(POOL)
    universe = pool if spec.meta == "I-CLS" else 3 * pool
    if image_cands:
        for u in range(universe):
            (media / f"c{u}.jpg").write_bytes(jpeg)
    rows = []
    for i in range(n):
        picks = rng.choice(universe, size=pool, replace=False)
        q_img = "image" in spec.query_modality.split("+")
        if q_img:
            (media / f"q{i}.jpg").write_bytes(jpeg)
        rows.append({
            "qry_inst": "", "qry_text": f"query {i} of {spec.name}" if not q_img else "",
            "qry_img_path": f"{spec.name}/q{i}.jpg" if q_img else "", "tgt_inst": "",
            "tgt_text": ["" if image_cands else f"label {u}" for u in picks],
            "tgt_img_path": [f"{spec.name}/c{u}.jpg" if image_cands else "" for u in picks],
        })
    _write_table(rows, _rows_path(root, spec))


def write_beir_task(spec: Any, root: Path, rng: np.random.Generator, n: int, n_docs: int) -> None:
    from umeval.data.synthetic import _rows_path

    opts = spec.options
    corpus = [{"corpus-id": f"doc{d}", "image": {"bytes": _page(d), "path": None}} for d in range(n_docs)]
    queries = [{"query-id": f"query{q}", "query": f"which page answers question {q}?"} for q in range(n)]
    qrels = [{"query-id": f"query{q}", "corpus-id": f"doc{int(d)}", "score": 1}
             for q in range(n) for d in rng.choice(n_docs, size=2, replace=False)]
    _write_table(corpus, _rows_path(root, spec, opts.get("corpus_subset", "corpus")))
    _write_table(queries, _rows_path(root, spec, opts.get("queries_subset", "queries")))
    _write_table(qrels, _rows_path(root, spec, opts.get("qrels_subset", "qrels")))


def generate(root: Path, seed: int = 0) -> dict[str, float]:
    """Write the synthetic suite under ``root``; seconds per family."""
    import umeval.data.synthetic as fx
    from umeval.core.registry import discover_tasks
    from umeval.loaders.registry import loader_entry

    jpeg = _jpeg()

    def fast_frames(folder: Path, rng: np.random.Generator, colour: str, n_frames: int, **_: Any) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for f in range(n_frames):
            (folder / f"frame_{f + 1}.jpg").write_bytes(jpeg)

    real = fx.write_frames
    fx.write_frames = fast_frames  # the fixture writers' layouts, with tiny identical frames
    seconds: dict[str, float] = defaultdict(float)
    try:
        for name, spec in discover_tasks().items():
            if spec.benchmark != "MMEB-V2":
                continue
            t0 = time.perf_counter()
            rng = np.random.default_rng([seed, sum(name.encode())])
            n = scaled(QUERIES[name])
            if spec.family == "mmeb_image":
                write_image_task(spec, root, rng, n, jpeg)
            elif spec.family == "beir":
                n_docs = scaled(CORPUS.get(name) or CORPUS_DEFAULT.get(spec.meta.split()[-1], 1000))
                write_beir_task(spec, root, rng, n, n_docs)
            else:
                loader_entry(spec.family).write_fixture(spec, root, rng, n=n)
            seconds[spec.family] += time.perf_counter() - t0
    finally:
        fx.write_frames = real
    return dict(seconds)


#: Stage -> the functions timed as that stage, each ("module" or "module:Class", attribute); patched where they are
#: looked up (a module that imports a name binds its own copy), nested calls counted once.
STAGES = {"load": (("umeval.run.datafp:DataFingerprints", "load"),),
          "encode+store (dedup)": (("umeval.run.memo:EmbeddingMemo", "embed"),
                                   ("umeval.run.memo:EmbeddingMemo", "embed_gen")),
          "score (search)": (("umeval.run.evaluate", "rank"),), "score (metrics)": (("umeval.run.evaluate", "score"),),
          "write results": (("umeval.results.files", "write_parquet"), ("umeval.results.files", "write_json"))}


def _child(root: str, out: str, cache: str) -> None:
    """One ``umeval run task=all`` with the hash encoder; timings by stage; written to ``out`` as JSON."""
    import importlib

    from umeval.core.config import compose_config
    from umeval.run.runner import run
    from umeval.testing.hash_encoder import HashEncoder

    spent: dict[str, float] = defaultdict(float)
    depth = [0]

    def timed(stage: str, fn: Any) -> Any:
        def wrapper(*a: Any, **kw: Any) -> Any:
            if depth[0]:
                return fn(*a, **kw)
            depth[0] += 1
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                spent[stage] += time.perf_counter() - t0
                depth[0] -= 1
        return wrapper

    for stage, targets in STAGES.items():
        for where, attr in targets:
            mod, _, cls = where.partition(":")
            owner: Any = importlib.import_module(mod)
            if cls:
                owner = getattr(owner, cls)
            setattr(owner, attr, timed(stage, getattr(owner, attr)))
    enc = HashEncoder(dim=64)
    cfg = compose_config(["task=all", "model=tiny-qwen2vl", f"data_root={root}", f"output_dir={Path(out).parent}",
                          f"cache_dir={cache}", "progress=false", "hub=false", "overwrite=true"])
    t0 = time.perf_counter()
    summary = run(cfg, encoder_factory=lambda *a, **k: enc)
    wall = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_SELF)
    cpu_first = ru.ru_utime + ru.ru_stime
    rerun = _reruns(cfg, enc)
    rows = [{"task": s["task"], "status": s["status"], "n_queries": s.get("n_queries"),
             "n_candidates": s.get("n_candidates"), "error": s.get("error")} for s in summary.scores]
    ru = resource.getrusage(resource.RUSAGE_SELF)
    Path(out).write_text(json.dumps({
        "wall": wall, "stages": dict(spent), "encoded": summary.encoder_calls, "tasks": rows,
        "cpu": cpu_first, "rerun": rerun,
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))


def _reruns(cfg: Any, enc: Any) -> dict[str, dict[str, float]]:
    """Rerun the finished suite twice: freshness by a full load per task (the old check), then from the records."""
    from omegaconf import OmegaConf

    from umeval.run.datafp import DataFingerprints
    from umeval.run.runner import run

    again = OmegaConf.merge(cfg, {"overwrite": False})
    out = {}
    real = DataFingerprints._from_record
    for name, from_record in (("full load per task (before)", lambda *a: None), ("records (after)", real)):
        DataFingerprints._from_record = from_record  # type: ignore[method-assign]
        ru0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        summary = run(again, encoder_factory=lambda *a, **k: enc)
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        out[name] = {"wall": time.perf_counter() - t0, "encoded": summary.encoder_calls,
                     "cpu": (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)}
    DataFingerprints._from_record = real  # type: ignore[method-assign]
    return out


def bench_suite(tmp: Path) -> list[dict[str, Any]]:
    root = tmp / "mmeb-synthetic"
    t0 = time.perf_counter()
    gen = generate(root)
    t_gen = time.perf_counter() - t0
    out = tmp / "suite-out" / "suite.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    p = mp.get_context("spawn").Process(target=_child, args=(str(root), str(out), str(tmp / "suite-cache")))
    p.start()
    p.join()
    if p.exitcode != 0 or not out.exists():
        raise RuntimeError(f"suite dry run failed (exit code {p.exitcode})")
    r = json.loads(out.read_text())
    case = "suite dry run: 78 MMEB-V2 tasks, official sizes, hash encoder"
    stages = r["stages"]
    other = r["wall"] - sum(stages.values())
    tasks = r["tasks"]
    failed = [t for t in tasks if t["status"] != "ok"]
    items = {t["task"]: (t["n_queries"] or 0) + (t["n_candidates"] or 0) for t in tasks}
    rows = [
        {"case": case, "method": "synthetic data generation (not harness)", "value": t_gen, "unit": "s",
         "ratio": None, "note": json.dumps({k: round(v, 1) for k, v in gen.items()})},
        {"case": case, "method": "wall time, whole harness", "value": r["wall"], "unit": "s", "ratio": None,
         "note": f"{len(tasks)} tasks, {len(failed)} failed" + (f": {failed[0]['error']}" if failed else "")},
        {"case": case, "method": "CPU time of the harness process (user + system)", "value": r["cpu"], "unit": "s",
         "ratio": r["cpu"] / r["wall"], "note": "ratio: CPU / wall (below 1: waiting for a shared CPU or disk)"},
        {"case": case, "method": "peak RSS", "value": r["peak_rss_gib"], "unit": "GiB", "ratio": None},
        {"case": case, "method": "unique items encoded (whole suite)", "value": float(r["encoded"]),
         "unit": "items", "ratio": None},
        {"case": case, "method": "queries + unique candidates per task (max)", "value": float(max(items.values())),
         "unit": "items", "ratio": None, "note": max(items, key=items.__getitem__)},
        {"case": case, "method": "queries + unique candidates per task (median)",
         "value": float(np.median(list(items.values()))), "unit": "items", "ratio": None},
    ]
    rerun = r["rerun"]
    base = rerun["full load per task (before)"]["cpu"]
    for name, m in rerun.items():
        rows.append({"case": case, "method": f"rerun of the finished suite, freshness by {name}: CPU",
                     "value": m["cpu"], "unit": "s", "ratio": m["cpu"] / base,
                     "note": f"wall {m['wall']:.1f} s, {m['encoded']} items encoded; ratio: CPU / before"})
    for stage, v in sorted({**stages, "other (planning, fingerprints, leaderboard)": other}.items(),
                           key=lambda kv: -kv[1]):
        rows.append({"case": case, "method": f"stage: {stage}", "value": v, "unit": "s",
                     "ratio": v / r["wall"]})
    (Path("results/bench")).mkdir(parents=True, exist_ok=True)
    Path("results/bench/suite-tasks.json").write_text(json.dumps(tasks, indent=1))
    return rows
