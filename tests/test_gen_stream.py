"""One generation stream across tasks (memo.embed_gen_stream, runner.stream_gen_ahead) and the token-limit count."""

from __future__ import annotations

from typing import Any

import numpy as np

from umeval.core.types import Item
from umeval.encoders.base import GenResult, GenUnit, Trace
from umeval.run.memo import EmbeddingMemo
from umeval.run.store import EmbeddingStore
from umeval.testing.hash_encoder import HashEncoder, hash_vector


class StreamingHash(HashEncoder):
    """HashEncoder with ``generate_stream``; the first item of each unit hits the token limit."""

    streams: list[list[tuple[str | None, str, int]]] = []

    def generate_stream(self, units: Any, *, base_seed: int = 0, decoding: Any = None, sink: Any) -> None:
        seen: list[tuple[str | None, str, int]] = []
        for unit in units:  # one call for every unit: what the vLLM encoder does
            seen.append((unit.task, unit.role, len(unit.items)))
            for i, it in enumerate(unit.items):
                vecs = np.stack([hash_vector(f"{it.key}|{base_seed}|{s}", self.dim) for s in range(unit.samples)])
                reason = "length" if i == 0 else "stop"
                sink(unit, i, vecs, [Trace(sample=s, seed=base_seed, text="t", n_tokens=8, has_gen_emb=True,
                                           finish_reason=reason, pool_position=0) for s in range(unit.samples)])
        StreamingHash.streams.append(seen)

    def generate_embed(self, items: Any, **kw: Any) -> GenResult:
        raise AssertionError("a streaming encoder is called once, through generate_stream")


def _items(task: str, n: int) -> list[Item]:
    return [Item(id=f"{task}{i}", text=f"{task} item {i}") for i in range(n)]


def test_memo_streams_every_unit_in_one_call_and_stores_each_item(tmp_path):
    """Bug caught: the memo calling the encoder per chunk or per task (a barrier at each boundary), an item not
    stored, or an item encoded again on the next run."""
    StreamingHash.streams = []
    memo = EmbeddingMemo(EmbeddingStore(tmp_path / "s"), "enc", chunk=3)
    units = [GenUnit(_items("a", 5), "A", "query", 2), GenUnit(_items("b", 4), "B", "candidate", 1)]
    done: list[tuple[str | None, int]] = []
    n = memo.embed_gen_stream(lambda: StreamingHash(), units, base_seed=0, decoding={"max_new_tokens": 8},
                              on_unit_done=lambda u, tr: done.append((u.task, len(tr))))
    assert n == 9 and StreamingHash.streams == [[("A", "query", 5), ("B", "candidate", 4)]]
    assert done == [("A", 5), ("B", 4)]
    vecs, traces = memo.embed_gen(lambda: StreamingHash(), units[0].items, samples=2, base_seed=0,
                                  decoding={"max_new_tokens": 8}, task="A", role="query")
    assert vecs.shape == (5, 2, HashEncoder.dim) and traces[0][0].finish_reason == "length"
    assert memo.embed_gen_stream(lambda: StreamingHash(), units, base_seed=0, decoding={"max_new_tokens": 8}) == 0
    assert len(StreamingHash.streams) == 1  # nothing missing: no encoder call at all


def test_token_limit_traces_counted_per_task(tmp_path, monkeypatch):
    """Bug caught: traces cut at max_new_tokens going uncounted (scores.json diagnostics, the progress line), the
    limit missing beside the count, or the run's stream-ahead leaving items for the task loop (then the
    streaming encoder's generate_embed is called and raises)."""
    import json

    import umeval.run.progress as progress
    from umeval.core.config import compose_config
    from umeval.run.runner import run

    notes: list[str] = []
    monkeypatch.setattr(progress.Progress, "note", lambda self, text: notes.append(text))
    cfg = compose_config(["task=Mini-ImageCLS", "model=tiny-qwen2vl", "mode=gen", "backend=hf",
                          f"output_dir={tmp_path / 'out'}", f"cache_dir={tmp_path / 'cache'}",
                          "model.decoding.max_new_tokens=8"])
    run(cfg, encoder_factory=StreamingHash)
    (path,) = (tmp_path / "out").rglob("gen/scores.json")
    diag = json.loads(path.read_text())["diagnostics"]
    # 6 queries and 16 candidates, one trace each; the first of each role hits the limit (StreamingHash).
    assert (diag["n_truncated"], diag["n_traces"], diag["max_new_tokens"]) == (2, 22, 8)
    assert "Mini-ImageCLS [gen]: 2 of 22 traces hit the token limit (max_new_tokens=8)" in notes
    assert "Mini-ImageCLS [gen] queries: 1 of 6 traces hit the token limit (max_new_tokens=8)" in notes
