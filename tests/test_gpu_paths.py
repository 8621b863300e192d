"""The GPU code paths of issue 13, forced on the CPU: torch search with its fallback, the HF OOM back-off."""

from __future__ import annotations

import numpy as np
import pytest

from umeval.core.config import compose_config
from umeval.results.task_result import TaskResult
from umeval.run.runner import run
from umeval.scoring import search as S
from umeval.testing.hash_encoder import HashEncoder


def _run(tmp_path, cache_dir, *over):
    cfg = compose_config(["task=mini", "model=tiny-qwen2vl", f"output_dir={tmp_path}", f"cache_dir={cache_dir}",
                          "progress=false", "hub=false", "overwrite=true", *over])
    enc = HashEncoder()
    return run(cfg, encoder_factory=lambda *a, **k: enc)


def test_torch_search_in_a_run_matches_numpy_and_records_its_fallback(tmp_path, cache_dir, monkeypatch):
    # Bugs caught: the torch path ranking differently from the CPU path; a device failure ending the run;
    # the row not saying which search ran.
    monkeypatch.setattr(S, "_BROKEN", {})
    ref = {s["task"]: s for s in _run(tmp_path / "a", cache_dir, "scorer.search=numpy").scores}
    got = {s["task"]: s for s in _run(tmp_path / "b", cache_dir, "scorer.search=torch", "scorer.device=cpu").scores}
    assert got.keys() == ref.keys()
    for t, s in got.items():
        assert s["metrics"] == ref[t]["metrics"], t
        assert s["search_backend"] in ("torch:cpu", "faiss", "numpy"), s["search_backend"]
    assert "torch:cpu" in {s["search_backend"] for s in got.values()}  # the mini suite has a global task

    def broken(*a, **kw):
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    monkeypatch.setattr(S, "_torch_top", broken)
    fell = _run(tmp_path / "c", cache_dir, "scorer.search=torch", "scorer.device=cuda")
    rows = {s["task"]: s for s in fell.scores}
    for t, s in rows.items():
        assert s["status"] == "ok" and s["metrics"] == ref[t]["metrics"], t
    glob = [s for s in rows.values() if s["search_backend"].startswith("numpy (fallback")]
    assert glob, [s["search_backend"] for s in rows.values()]
    on_disk = TaskResult.read(tmp_path / "c" / "tiny-qwen2vl" / "tasks" / glob[0]["task"] / "disc" / "scores.json")
    assert "illegal memory access" in str(on_disk.search_backend)


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__])


# ---------------------------------------------------------------- HF batches by cost, OOM back-off

def test_visual_token_estimate():
    # Bug caught: batches formed by item count only, blind to a page's ~3,000 visual tokens.
    from umeval.core.types import Item
    from umeval.models.cost import QWEN2VL_COST, approx_text_tokens

    def image_tokens(size, max_pixels=2359296):  # type: ignore[no-untyped-def]
        return QWEN2VL_COST.image_tokens(size, 784, max_pixels)

    assert image_tokens((1400, 1400)) == 2500  # 50 x 50 blocks of 28 px
    assert image_tokens((4000, 4000)) == 54 * 54  # scaled under max_pixels, sides floored to 28 px: 1512 x 1512
    assert image_tokens((10, 10)) == 1  # raised to min_pixels (one block)
    assert image_tokens(None, max_pixels=784 * 100) == 100  # unreadable: assume the worst
    assert approx_text_tokens(Item(id="t", text="x" * 300)) == 32 + 100


def test_cost_batches_respect_count_and_padded_tokens():
    # Bug caught: a batch exceeding the token budget (padding counted at the longest row), or an item dropped.
    from umeval.encoders.qwen2vl import cost_batches

    costs = [10, 10, 10, 10, 100, 100, 5000, 10]
    order = np.argsort(costs, kind="stable")
    got = cost_batches(order, costs, max_items=4, max_tokens=250)
    # 5 x 10 tokens passes the budget but not the 4-item cap; 3 x 100 = 300 > 250; 5000 alone is over it.
    assert [list(b) for b in got] == [[0, 1, 2, 3], [7, 4], [5], [6]]
    assert sorted(int(i) for b in got for i in b) == list(range(8))


def _oom_run(tmp_path, cache_dir, tiny_encoder, monkeypatch, fits, *over):
    import torch

    from umeval.core.config import compose_config as cc

    real = type(tiny_encoder).hidden_states
    seen: list[int] = []

    def hidden_states(self, enc):
        n = int(enc["input_ids"].shape[0])
        seen.append(n)
        if not fits(enc):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (injected)")
        return real(self, enc)

    monkeypatch.setattr(type(tiny_encoder), "hidden_states", hidden_states)
    monkeypatch.setattr(tiny_encoder, "batch_tokens", 1 << 20)
    monkeypatch.setattr(tiny_encoder, "oom_splits", 0)
    cfg = cc(["task=mini", "model=tiny-qwen2vl", f"output_dir={tmp_path}", f"cache_dir={tmp_path / 'cache'}",
              "progress=false", "hub=false", "overwrite=true", *over])
    return run(cfg, encoder_factory=lambda *a, **k: tiny_encoder), seen


def test_cuda_oom_splits_the_batch_and_the_run_finishes(tmp_path, cache_dir, tiny_encoder, monkeypatch):
    # Bug caught: torch.OutOfMemoryError aborting the run (the "done when"): batches above 1 item OOM,
    # the encoder halves them down to single items, and the scores equal an unconstrained run's.
    ref, _ = _oom_run(tmp_path / "ref", cache_dir, tiny_encoder, monkeypatch, lambda enc: True)
    got, seen = _oom_run(tmp_path / "oom", cache_dir, tiny_encoder, monkeypatch,
                         lambda enc: enc["input_ids"].shape[0] <= 1)
    assert tiny_encoder.oom_splits > 0 and max(seen) > 1 and seen[-1] == 1
    assert tiny_encoder.batch_tokens < 1 << 20  # the budget came down for the batches after the failure
    for a, b in zip(ref.scores, got.scores):
        assert b["status"] == "ok"
        for m, v in a["metrics"].items():
            assert b["metrics"][m] == pytest.approx(v, abs=1e-6), (a["task"], m)


def test_an_item_that_does_not_fit_alone_fails_its_task_by_name(tmp_path, cache_dir, tiny_encoder, monkeypatch):
    # Bug caught: an item too large for the GPU crashing the run or looping; it must name the item and its size.
    from umeval.encoders.qwen2vl import ItemTooLarge

    def fits(enc):
        return "pixel_values" not in enc and "pixel_values_videos" not in enc  # any item with media: OOM

    with pytest.raises(ItemTooLarge, match=r"item .* does not fit in cpu memory alone \(~\d+ tokens"):
        _oom_run(tmp_path / "a", cache_dir, tiny_encoder, monkeypatch, fits)
    summary, _ = _oom_run(tmp_path / "b", cache_dir, tiny_encoder, monkeypatch, fits, "keep_going=true")
    failed = [s for s in summary.scores if s["status"] == "failed"]
    assert failed and all("does not fit" in s["error"] and "max_pixels" in s["error"] for s in failed)


# ---------------------------------------------------------------- vLLM engine sizing (no engine started)

def test_vllm_engine_limits_and_memory_split(tmp_path):
    # Bugs caught: engines sized for the checkpoint's whole context and 999 media per prompt; the pooling engine
    # reserving as much memory as generation although it only prefills.
    import types

    pytest.importorskip("vllm")
    from umeval.core.config import compose_config
    from umeval.encoders.vllm_backend import VllmEncoder

    # the model config as the run composes it (the family's token cost is in model.declared)
    cfg = compose_config(["model=ume-r1-2b", "model.num_frames=8", "model.decoding.max_new_tokens=8192"]).model
    fake = types.SimpleNamespace(cfg=cfg, _context_limit=lambda: 32768)
    lim = VllmEncoder.engine_limits(fake)
    assert lim == {"max_model_len": 4096 + 4 * 3009 + 8192, "limit_mm_per_prompt": {"image": 1, "video": 1}}
    fake._context_limit = lambda: 16384
    assert VllmEncoder.engine_limits(fake)["max_model_len"] == 16384
    (tmp_path / "model-00001.safetensors").write_bytes(b"\0" * 1000)
    ns = types.SimpleNamespace(model_id=str(tmp_path), local=True,
                               gpu_memory_utilization=VllmEncoder.gpu_memory_utilization)
    split = VllmEncoder.memory_split(ns, total_bytes=16 << 30)
    assert split == {"pooling": 0.25, "generate": 0.65}  # weights x 1.15 + 4 GiB of 16 GiB; the rest of 0.9
    assert VllmEncoder.memory_split(ns, total_bytes=80 << 30)["pooling"] == 0.1  # the floor
    ns.local = False  # a hub id: weights unknown, the fixed split
    assert VllmEncoder.memory_split(ns, total_bytes=80 << 30) == {"generate": 0.45, "pooling": 0.45}


def test_cuda_oom_while_generating_fails_the_task_by_name(tmp_path, tiny_encoder, monkeypatch):
    # Bug caught: torch.OutOfMemoryError inside HF generate aborting the whole run (the generative path had no
    # handling); it must fail only its task, naming the item and the sample count, and keep_going goes on.
    import torch

    from umeval.core.config import compose_config as cc
    from umeval.encoders.qwen2vl import ItemTooLarge

    def generate(*a, **k):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 8.00 GiB (injected)")

    monkeypatch.setattr(tiny_encoder.model, "generate", generate)
    over = ["task=Mini-T2V", "model=tiny-qwen2vl", "mode=gen", f"output_dir={tmp_path}",
            f"cache_dir={tmp_path / 'cache'}", "progress=false", "hub=false"]
    with pytest.raises(ItemTooLarge, match=r"generating 1 sample\(s\) of item q0 .* does not fit in cpu memory"):
        run(cc(over), encoder_factory=lambda *a, **k: tiny_encoder)
    summary = run(cc([*over, "keep_going=true"]), encoder_factory=lambda *a, **k: tiny_encoder)
    (row,) = [s for s in summary.scores if s["task"] == "Mini-T2V"]
    assert row["status"] == "failed" and "gen.samples" in row["error"] and summary.failed == ["Mini-T2V/gen"]
