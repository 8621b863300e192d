"""per_query.parquet is readable on its own: task, mode, the query's text and each top-k candidate's text."""

from __future__ import annotations

import numpy as np
import pandas as pd
from _fake_results import fake_run

from umeval.core.types import Item, Rankings, TaskData
from umeval.run.evaluate import per_query_table, readable


def test_display_text_of_each_kind_of_item():
    """Catches texts paired with the wrong ids (they must follow each row's own ranking) and media left out."""
    cands = [Item("c0", text="golden  retriever\n"), Item("c1", image="/d/p.png"),
             Item("c2", image=b"\x89PNG", source=("corpus.parquet", 7)), Item("c3", image=b"x"),
             Item("c4", video=("/v/clip9/f0.jpg", "/v/clip9/f1.jpg")), Item("c5", text="a cat", images=("/d/a.jpg",))]
    data = TaskData("T", queries=[Item("q0", text="dog?"), Item("q1", image="/d/q.png")], candidates=cands, qrels={})
    idx = np.array([[0, 1, 2], [5, 4, 3]])
    r = Rankings(["q0", "q1"], [c.id for c in cands], idx, np.zeros((2, 3), np.float32), np.zeros(2, bool))
    t = readable(per_query_table(r, {"hit@1": np.array([1.0, 0.0])}), "T", "gen", data)
    assert list(t.columns[:4]) == ["task", "mode", "query_text", "query_id"]
    assert list(t.columns).index("topk_text") == list(t.columns).index("topk_ids") + 1
    assert t["task"].tolist() == ["T", "T"] and t["mode"].tolist() == ["gen", "gen"]
    assert t["query_text"].tolist() == ["dog?", "image /d/q.png"]
    assert list(t["topk_text"][0]) == ["golden retriever", "image /d/p.png", "image corpus.parquet#7"]
    assert list(t["topk_text"][1]) == ["a cat | image /d/a.jpg", "video /v/clip9", "image (bytes)"]


def test_written_tables_carry_the_columns(tmp_path):
    out = tmp_path / "out"
    fake_run(out, tmp_path / "cache")
    for task in ("Mini-ImageCLS", "Mini-T2V", "Mini-VisDoc"):
        for mode in ("disc", "gen"):
            df = pd.read_parquet(out / "tiny-qwen2vl/tasks" / task / mode / "per_query.parquet")
            assert set(df["task"]) == {task} and set(df["mode"]) == {mode}
            assert all(len(a) == len(b) for a, b in zip(df["topk_ids"], df["topk_text"]))
    cls = pd.read_parquet(out / "tiny-qwen2vl/tasks/Mini-ImageCLS/disc/per_query.parquet")
    assert all(t and not t.startswith("image") for ts in cls["topk_text"] for t in ts)  # label texts
    # The official query text (placeholder dropped for display), then the query image.
    assert all(" | image " in q and "<|image_pad|>" not in q and q.endswith(".png") for q in cls["query_text"])
