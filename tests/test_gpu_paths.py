"""The GPU code paths of issue 13, forced on the CPU: torch search with its fallback, the HF OOM back-off."""

from __future__ import annotations

import json

import pytest

from umeval.config import compose_config
from umeval.hash_encoder import HashEncoder
from umeval.runner import run
from umeval.scoring import search as S


def _run(tmp_path, cache_dir, *over):
    cfg = compose_config(["task=mini", "model=tiny-qwen2vl", f"output_dir={tmp_path}", f"cache_dir={cache_dir}",
                          "progress=false", "hub=false", "overwrite=true", *over])
    enc = HashEncoder()
    return run(cfg, encoder_factory=lambda *a, **k: enc)


def test_torch_search_in_a_run_matches_numpy_and_records_its_fallback(tmp_path, cache_dir, monkeypatch):
    # Bugs caught: the torch path ranking differently from the CPU path; a device failure ending the run;
    # the row not saying which search ran.
    monkeypatch.setattr(S, "_BROKEN", {})
    ref = {s["task"]: s for s in _run(tmp_path / "a", cache_dir, "scorer.backend=numpy").scores}
    got = {s["task"]: s for s in _run(tmp_path / "b", cache_dir, "scorer.backend=torch", "scorer.device=cpu").scores}
    assert got.keys() == ref.keys()
    for t, s in got.items():
        assert s["metrics"] == ref[t]["metrics"], t
        assert s["search_backend"] in ("torch:cpu", "faiss", "numpy"), s["search_backend"]
    assert "torch:cpu" in {s["search_backend"] for s in got.values()}  # the mini suite has a global task

    def broken(*a, **kw):
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    monkeypatch.setattr(S, "_torch_top", broken)
    fell = _run(tmp_path / "c", cache_dir, "scorer.backend=torch", "scorer.device=cuda")
    rows = {s["task"]: s for s in fell.scores}
    for t, s in rows.items():
        assert s["status"] == "ok" and s["metrics"] == ref[t]["metrics"], t
    glob = [s for s in rows.values() if s["search_backend"].startswith("numpy (fallback")]
    assert glob, [s["search_backend"] for s in rows.values()]
    on_disk = json.loads((tmp_path / "c" / "tiny-qwen2vl" / "tasks" / glob[0]["task"] / "disc" /
                          "scores.json").read_text())
    assert "illegal memory access" in on_disk["search_backend"]


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__])
