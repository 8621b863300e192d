"""Qwen3-VL-Embedding on vLLM (the pooling runner) against the HF encoder, on the tiny random Qwen3-VL.

One VllmEncoder (one pooling engine, about 25 s to a minute to start on a 2-core CPU) serves the parity tests of
this module (``q3_vllm``); the end-to-end test runs ``umeval run`` as a user does, in a subprocess with its own
engine.  Both backends get the same prompts from the family's format
(:mod:`umeval.models.qwen3_vl_embedding.prompt`): an image resized by the format, a video as a float
(frames, 3, H, W) tensor with its metadata (fps, frame indices), ``do_resize=False`` for both.  Needs the vLLM
CPU build: skipped without it on a developer machine, failed in CI (conftest).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from umeval.core.config import compose_config
from umeval.core.types import Item

pytestmark = [pytest.mark.slow, pytest.mark.vllm]

#: The parity items are embedded in one call as queries of an image task: each keeps its own instruction (the
#: row's, as ImageNet-1K's parser gives it), in the system turn.
TASK = "ImageNet-1K"


def _cfg(*extra: str):  # type: ignore[no-untyped-def]
    return compose_config(["model=tiny-qwen3vl-embedding", "model.dtype=float32", *extra])


@pytest.fixture(scope="module")
def q3_files(tmp_path_factory):  # type: ignore[no-untyped-def]
    """A 300x120 image and eight distinct 640x480 frames (random noise, so that every pixel counts)."""
    d = tmp_path_factory.mktemp("q3-vllm-media")
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 255, (120, 300, 3), dtype=np.uint8)).save(d / "wide.png")
    frames = []
    for i in range(8):
        p = d / f"f{i}.jpg"
        Image.fromarray(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)).save(p)
        frames.append(str(p))
    return {"wide": str(d / "wide.png"), "frames": tuple(frames)}


@pytest.fixture(scope="module")
def items(q3_files):  # type: ignore[no-untyped-def]
    """Image query with an instruction; a text item; an item with neither text nor media (the format writes
    "NULL"); an 8-frame video with a question.  Their prompts are 20 to about 1,300 tokens long."""
    return [
        Item(id="img", text="<|image_pad|>\nRepresent the given image for classification\n", image=q3_files["wide"],
             parts=("\nRepresent the given image for classification", "")),
        Item(id="txt", text="a tench held by an angler", parts=("", "a tench held by an angler")),
        Item(id="null"),
        Item(id="vid", text="what happens?", video=q3_files["frames"],
             parts=("Answer the question about the video", "what happens?")),
    ]


@pytest.fixture(scope="module")
def q3_hf(cache_dir):  # type: ignore[no-untyped-def]
    from umeval.encoders.qwen2vl import Qwen2VLEncoder

    return Qwen2VLEncoder(_cfg().model, cache_dir=cache_dir, device="cpu", batch_size=4, num_workers=0)


@pytest.fixture(scope="module")
def q3_vllm(cache_dir):  # type: ignore[no-untyped-def]
    """The module's one vLLM encoder (its pooling engine starts on first use)."""
    from conftest import require_vllm

    require_vllm()
    from umeval.encoders.vllm_backend import VllmEncoder
    from umeval.models.qwen3_vl_embedding.tiny import ensure

    ensure(cache_dir)
    enc = VllmEncoder(_cfg().model, cache_dir=cache_dir, batch_size=4, num_workers=0)
    yield enc
    enc.close()


def _pads(enc, ids) -> int:  # type: ignore[no-untyped-def]
    pads = {enc.token_id("<|image_pad|>"), enc.token_id("<|video_pad|>")}
    return sum(int(t) in pads for t in ids)


def test_expanded_prompts_match_hf(q3_hf, q3_vllm, items):
    """The token sequence vLLM's processor expands equals the HF processor's ``input_ids``, placeholders and the
    video's per-frame-pair timestamps ("<0.2 seconds>", from the metadata's fps 2.0 and frame indices) included.

    Bugs caught: the processor resizing the format's media again (``do_resize`` not passed: 8 frames of 640x512
    are 2.62 M pixels, over the 1.84 M-pixel video budget the processor would enforce, so vLLM would shrink them to
    fewer tokens); the metadata dropped (vLLM refuses a Qwen3-VL video without it); other timestamps.
    """
    for item in items:
        enc, prompts = q3_hf.prepare([item], TASK)
        hf = enc["input_ids"][0].tolist()
        p = q3_vllm.build_prompt(item, TASK)
        (out,) = q3_vllm._engine("pooling").embed(
            [q3_vllm.request(q3_vllm.disc_ids(p), q3_vllm.media(p), q3_vllm.call_kwargs(p))], use_tqdm=False)
        assert list(out.prompt_token_ids) == hf, f"item {item.id}: vLLM's prompt differs from HF's"
    # The hand-computed sizes behind the claims above: image 300x120 -> 288x128 (9 x 4 blocks of 32 = 36 tokens);
    # frames 640x480 -> 640x512 (multiples of 64; 7.5 rounds to 8), kept by the stack's 786,432 px per frame:
    # 20 x 16 blocks per pair of frames, 4 pairs = 1,280 tokens.
    enc, _ = q3_hf.prepare(items[:1], TASK)
    assert _pads(q3_hf, enc["input_ids"][0].tolist()) == 36
    enc, _ = q3_hf.prepare(items[3:], TASK)
    assert enc["video_grid_thw"].tolist() == [[4, 32, 40]] and _pads(q3_hf, enc["input_ids"][0].tolist()) == 1280
    # Timestamps: each pair of frames at the mean of its two indices / fps 2.0 (0.25 s, 1.25 s, ...), one decimal.
    stamps = re.findall(r"<([0-9.]+) seconds>", q3_hf.tokenizer.decode(enc["input_ids"][0].tolist()))
    assert stamps == ["0.2", "1.2", "2.2", "3.2"], stamps


def test_pooled_vectors_match_hf(q3_hf, q3_vllm, items):
    """vLLM's LAST-pooled, L2-normalised vector equals the HF encoder's for every item, each alone and all four
    in one call (prompts from ~20 to ~1,300 tokens, so HF right-pads the short ones by over 1,000 positions).

    Bugs caught: a wrong pooling position (vLLM reading before the last prompt token, e.g. a prompt cut like the
    UME-R1 ``<disc_emb>`` path); a padded position read on HF; the video's metadata, pixels or ``do_resize``
    handled differently by the two processors; an item's vector depending on the others in its batch.
    """
    singles = np.concatenate([q3_hf.embed([it], task=TASK) for it in items])
    hf = q3_hf.embed(items, task=TASK)
    vl = q3_vllm.embed(items, task=TASK)
    assert vl.shape == hf.shape == (4, 128)
    np.testing.assert_allclose(np.linalg.norm(vl, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(hf, singles, atol=1e-5)  # HF: padding does not leak
    vl_singles = np.concatenate([q3_vllm.embed([it], task=TASK) for it in items])
    np.testing.assert_allclose(vl, vl_singles, atol=1e-5)
    cos = (vl * singles).sum(1)
    assert (cos > 0.9999).all(), cos
    # Max abs difference seen on the CPU build (vLLM 0.32, float32): reported with the test run.
    print(f"max |vLLM - HF| = {np.abs(vl - singles).max():.2e}, min cosine = {cos.min():.8f}")
    # The items are not near-duplicates (a pooled constant would also "match"):
    assert np.abs(vl @ vl.T - np.eye(4)).max() > 0.05


def test_end_to_end_cli_vllm_scores_equal_hf(cache_dir, tmp_path):
    """``umeval run task=mini model=tiny-qwen3vl-embedding backend=vllm`` as a user runs it (a subprocess, which
    starts its own engine): every task (image classification, text-to-video retrieval, visual documents) scores
    exactly as the same run with ``backend=hf``, and its results say vllm.  Catches the vLLM path failing anywhere
    between the CLI and the engine for this family (encoder resolution, roles, task names, videos through the
    runner, the cache key), or giving vectors that rank differently."""
    import os
    import subprocess
    import sys

    from umeval.results.task_result import TaskResult
    from umeval.run.runner import run

    common = ["task=mini", "model=tiny-qwen3vl-embedding", "model.dtype=float32", "progress=false", "batch_size=4"]
    env = {**os.environ, "UMEVAL_CACHE": str(cache_dir), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    r = subprocess.run([sys.executable, "-m", "umeval.cli", "run", *common, "backend=vllm",
                        f"output_dir={tmp_path / 'vllm'}"], capture_output=True, text=True, env=env, timeout=900,
                       check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    hf = {row["task"]: row for row in run(compose_config([*common, "backend=hf", "device=cpu", "num_workers=0",
                                                          f"output_dir={tmp_path / 'hf'}",
                                                          f"cache_dir={cache_dir}"])).scores}
    assert sorted(hf) == ["Mini-ImageCLS", "Mini-T2V", "Mini-VisDoc"]
    for task, h in hf.items():
        v = TaskResult.read(tmp_path / "vllm" / "tiny-qwen3vl-embedding" / "tasks" / task / "disc" / "scores.json")
        assert v.provenance.backend == "vllm" and h["backend"] == "hf" and h["status"] == "ok"
        print(task, "vllm", v.metrics[h["main_metric"]], "hf", h["metrics"][h["main_metric"]])
        assert v.metrics == h["metrics"], (task, v.metrics, h["metrics"])
    # The tiny model's image scores (seed 0, 6 queries): 1 of 6 at rank 1, 5 of 6 in the top 5 (not trivial).
    assert (hf["Mini-ImageCLS"]["metrics"]["hit@1"], hf["Mini-ImageCLS"]["metrics"]["hit@5"]) == (1 / 6, 5 / 6)


def test_videos_normalised_as_hf_processor_does(q3_vllm, monkeypatch):
    """vLLM 0.32 normalises pixels on the device with the image processor's mean/std, videos included.  Bug
    caught: a checkpoint whose video processor normalises otherwise (the first tiny Qwen3-VL had the Qwen2-VL image
    processor's CLIP mean/std beside the video processor's 0.5: its video vectors had cosine 0.93 to HF's; with
    the engine told to leave normalisation to the HF processor, 1.0).  The tiny checkpoint now normalises both
    with 0.5, as Qwen3-VL's processor configuration does, so device normalisation stays on for it."""
    import copy

    from transformers import Qwen2VLImageProcessor

    from umeval.encoders.vllm_backend import same_normalisation

    assert same_normalisation(q3_vllm.processor)
    assert "mm_device_do_normalize" not in q3_vllm._engine_kwargs("pooling")
    clip = copy.copy(q3_vllm.processor)
    clip.image_processor = Qwen2VLImageProcessor(patch_size=16, merge_size=2)  # CLIP mean/std
    assert not same_normalisation(clip)
    monkeypatch.setattr(q3_vllm, "processor", clip)
    assert q3_vllm._engine_kwargs("pooling")["mm_device_do_normalize"] is False


def test_chunks_end_before_the_visual_token_budget(q3_vllm, items, monkeypatch):
    """The encoder's chunks follow the family's token cost (image 36, text 0, the 8-frame video 1,280): with a
    1,300-token budget the video starts a chunk of its own.  Bug caught: chunks cut by item count only (1,024
    64-frame float videos, ~190 GB, built at once)."""
    monkeypatch.setattr(q3_vllm, "chunk_visual_tokens", 1300)
    assert [list(idx) for idx, _ in q3_vllm._chunks(items, TASK)] == [[0, 1, 2], [3]]
