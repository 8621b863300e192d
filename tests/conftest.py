"""Shared fixtures: an isolated cache, the tiny checkpoint (built once per session), no hub access."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("umeval-cache")
    os.environ["UMEVAL_CACHE"] = str(d)
    return d


@pytest.fixture(scope="session")
def tiny_model(cache_dir: Path) -> Path:
    from umeval import tiny_model

    return tiny_model.ensure(cache_dir)


@pytest.fixture(scope="session")
def tiny_encoder(tiny_model: Path, cache_dir: Path):  # type: ignore[no-untyped-def]
    from umeval.config import compose_config
    from umeval.encoders.qwen2vl import Qwen2VLEncoder

    cfg = compose_config(["model=tiny-qwen2vl"])
    return Qwen2VLEncoder(cfg.model, cache_dir=cache_dir, batch_size=4, num_workers=1)


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple[str, ...]]:
    """Two random images, eight random video frames and one corrupt image, shared by the encoder tests."""
    import numpy as np
    from PIL import Image

    d = tmp_path_factory.mktemp("media")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (40, 70, 3), dtype=np.uint8)).save(d / "a.png")
    Image.fromarray(rng.integers(0, 255, (90, 50, 3), dtype=np.uint8)).save(d / "b.jpg")
    frames = []
    for i in range(8):
        p = d / f"f{i}.jpg"
        Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(p)
        frames.append(str(p))
    (d / "bad.png").write_bytes(b"not an image at all")
    return d, tuple(frames)
