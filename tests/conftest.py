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
    from umeval.models.ume_r1 import tiny as tiny_model
    return tiny_model.ensure(cache_dir)


@pytest.fixture(scope="session")
def tiny25(cache_dir: Path) -> Path:
    """The tiny Qwen2.5-VL checkpoint (LamRA-Ret-Qwen2.5VL's architecture)."""
    from umeval.models.lamra.tiny import ensure

    return ensure(cache_dir)


@pytest.fixture(scope="session")
def hf_encoder(cache_dir: Path):  # type: ignore[no-untyped-def]
    """``hf_encoder(preset, path)``: the preset's family HF encoder on a tiny checkpoint, float32 on the CPU."""
    from umeval.core.config import compose_config
    from umeval.core.plugins import load_object
    from umeval.models.family import encoder_ref

    def make(preset: str, path: Path):  # type: ignore[no-untyped-def]
        cfg = compose_config([f"model={preset}", f"model.path={path}", "model.dtype=float32"])
        return load_object(encoder_ref(cfg, "hf"))(cfg.model, cache_dir=cache_dir, device="cpu", batch_size=4,
                                                   num_workers=0)

    return make


@pytest.fixture(scope="session")
def tiny_encoder(tiny_model: Path, cache_dir: Path):  # type: ignore[no-untyped-def]
    from umeval.core.config import compose_config
    from umeval.encoders.qwen2vl import Qwen2VLEncoder

    cfg = compose_config(["model=tiny-qwen2vl"])
    return Qwen2VLEncoder(cfg.model, cache_dir=cache_dir, batch_size=4, num_workers=1)


@pytest.fixture(scope="session")
def fixture_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every registered MMEB-V2 task's fixture, in its official layout, written once per session (read only)."""
    from umeval.core.registry import discover_tasks
    from umeval.testing.fixtures import write_fixture

    root = tmp_path_factory.mktemp("mmeb")
    for _, spec in discover_tasks().items():
        if not spec.source.generated:
            write_fixture(spec, root, seed=1)
    return root


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


# ---------------------------------------------------------------- vLLM: skipped locally, never in CI


def skip_or_fail_in_ci(reason: str) -> None:
    """Skip the test on a developer machine; fail it where ``CI`` is set (no test may skip silently in CI)."""
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"CI: {reason} (this test must run in CI, it may only skip on a developer machine)",
                    pytrace=False)
    pytest.skip(reason)


def require_vllm() -> None:
    """The one place that decides what a test needing vLLM does when vLLM cannot be imported."""
    from umeval.core.errors import DependencyError
    from umeval.encoders.vllm_backend import _import_vllm

    try:
        _import_vllm()
    except DependencyError as e:
        skip_or_fail_in_ci(f"vLLM is not usable here: {e}")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("vllm") is not None:
        require_vllm()


#: The tiny model's seed for the generative parity tests: with it, the greedy traces of the parity items end
#: with a stop token after at least 16 distinct tokens (seed 0's traces cycle until max_new_tokens).
PARITY_SEED = 16


@pytest.fixture(scope="session")
def parity_model(cache_dir: Path) -> Path:
    from umeval.models.ume_r1 import tiny as tiny_model
    return tiny_model.ensure(cache_dir, seed=PARITY_SEED)


def parity_cfg(path: Path, *overrides: str):  # type: ignore[no-untyped-def]
    from umeval.core.config import compose_config

    return compose_config(["model=tiny-qwen2vl", f"model.path={path}", *overrides]).model


@pytest.fixture(scope="session")
def parity_hf(parity_model: Path, cache_dir: Path):  # type: ignore[no-untyped-def]
    """The HF reference backend on the parity checkpoint."""
    from umeval.encoders.qwen2vl import Qwen2VLEncoder

    return Qwen2VLEncoder(parity_cfg(parity_model), cache_dir=cache_dir, batch_size=4, num_workers=1)


@pytest.fixture(scope="session")
def vllm_encoder(parity_model: Path, cache_dir: Path):  # type: ignore[no-untyped-def]
    """The one VllmEncoder (a generation and a pooling engine, about a minute each to start here) of the session.

    Its generation engine carries the test-only logits processor of ``_vllm_force`` (inactive unless a request
    names a script), so that the forced-trace tests share it with the parity tests.
    """
    require_vllm()
    from _vllm_force import ForceScript

    from umeval.encoders.vllm_backend import VllmEncoder

    # The parity items include one with two images; MMEB-V2 items have at most one (the engine's default limit).
    cfg = parity_cfg(parity_model, "+model.vllm_args.limit_mm_per_prompt={image:2,video:1}")
    enc = VllmEncoder(cfg, cache_dir=cache_dir, batch_size=4, num_workers=1)
    enc.generate_engine_kwargs = {"logits_processors": [ForceScript]}
    yield enc
    enc.close()


@pytest.fixture(scope="module")
def imagenet_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ImageNet-1K selftest fixture in its official layout, written once per test module (API, history, cache)."""
    from umeval.core.registry import resolve_tasks
    from umeval.testing.fixtures import write_fixture

    root = tmp_path_factory.mktemp("imagenet")
    write_fixture(resolve_tasks(["ImageNet-1K"])[0], root, seed=0)
    return root
