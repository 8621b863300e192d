"""A finished mini run made with the tests' hash encoder (the real runner, no model)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fakes import FakeEncoder


def fake_run(out: Path, cache: Path, *extra: str) -> Any:
    """``umeval run task=mini mode=both gen.samples=3`` with the fake encoder; returns the RunSummary."""
    from umeval.core.config import compose_config
    from umeval.run.runner import run

    cfg = compose_config(["task=mini", "model=tiny-qwen2vl", "mode=both", "gen.samples=3",
                          "model.decoding.do_sample=true", f"output_dir={out}", f"cache_dir={cache}",
                          "progress=false", *extra])
    return run(cfg, encoder_factory=FakeEncoder)
