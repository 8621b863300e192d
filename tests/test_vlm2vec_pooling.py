"""The ``vlm2vec`` prompt format's last-token pooling (preset ``vlm2vec-v2``), on the tiny checkpoint.

These tests check the pooling mechanism, not the prompt text: the vector is the final-norm state of the last
real (non-pad) token of each right-padded row, and a row's vector does not depend on what it is batched with.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from umeval.core.types import Item

LONG = "a much longer piece of text about a red circle and a blue square " * 8


@pytest.fixture(scope="module")
def vlm2vec(tiny_model, cache_dir):  # type: ignore[no-untyped-def]
    from umeval.core.config import compose_config
    from umeval.encoders.qwen2vl import Qwen2VLEncoder

    cfg = compose_config(["model=vlm2vec-v2", f"model.path={tiny_model}"]).model
    return Qwen2VLEncoder(cfg, cache_dir=cache_dir, batch_size=4, num_workers=0)


def pairs(media):  # type: ignore[no-untyped-def]
    """(short item, much longer item of the same modality): batched together, the short one is padded."""
    d, frames = media
    return {
        "text": (Item(id="ts", text="a cat", instruction="Find a caption:"), Item(id="tl", text=LONG)),
        "image": (Item(id="is", instruction="Represent the given image", image=str(d / "a.png")),
                  Item(id="il", instruction="Represent it", text=LONG, image=str(d / "b.jpg"))),
        "video": (Item(id="vs", instruction="Represent the video", video=frames),
                  Item(id="vl", instruction="Represent it", text=LONG, video=frames)),
    }


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x)


@pytest.mark.parametrize("kind", ["text", "image", "video"])
def test_position_read_is_the_last_non_pad_token(vlm2vec, media, kind):
    """Catches reading a pad position of a right-padded row (its last column, or one past its last real
    token), and reading a pooling token instead of the last token."""
    short, long = pairs(media)[kind]
    assert vlm2vec.build_prompt(short).pool_token is None  # last-token pooling
    enc, prompts = vlm2vec.prepare([short, long])
    mask, ids = enc["attention_mask"], enc["input_ids"]
    n = int(mask[0].sum())
    assert n < ids.shape[1] and (mask[0, n:] == 0).all() and (mask[0, :n] == 1).all()  # right padding
    pos = vlm2vec.pool_positions(ids, mask, prompts)
    assert pos.tolist() == [n - 1, ids.shape[1] - 1]
    assert ids[0, n - 1] != vlm2vec.tokenizer.pad_token_id and (ids[0, n:] == vlm2vec.tokenizer.pad_token_id).all()
    # The state the model computes for the item alone, at its last token:
    alone, _ = vlm2vec.prepare([short])
    assert alone["input_ids"].shape[1] == n
    with torch.no_grad():
        ref = vlm2vec.model(**alone, output_hidden_states=True).hidden_states[-1][0, -1].numpy()
    got = vlm2vec.embed([short, long])
    np.testing.assert_allclose(got[0], _unit(ref), atol=1e-5)
    assert np.abs(got[0] - got[1]).max() > 1e-2  # the two rows are not one vector


@pytest.mark.parametrize("kind", ["text", "image", "video"])
def test_padding_invariance(vlm2vec, media, kind):
    """An item embedded alone and in a batch with a much longer one gives the same vector.  Catches a read at
    the padded row's last column (a pad token), and padding that reaches the real tokens' states."""
    short, long = pairs(media)[kind]
    alone = vlm2vec.embed([short])[0]
    for batch in ([short, long], [long, short]):
        together = vlm2vec.embed(batch)
        np.testing.assert_allclose(together[batch.index(short)], alone, atol=1e-5)
        np.testing.assert_allclose(together[batch.index(long)], vlm2vec.embed([long])[0], atol=1e-5)


@pytest.mark.slow
@pytest.mark.vllm
def test_vllm_reads_the_same_last_token(vllm_encoder, parity_model, cache_dir, media, monkeypatch):
    """The vLLM backend with the vlm2vec format (no pooling token: the whole prompt is pooled at its last
    position) gives the HF vector.  Catches a vLLM prompt cut before the last token when there is no pooling
    token."""
    from conftest import parity_cfg

    from umeval.encoders.qwen2vl import Qwen2VLEncoder
    from umeval.models.family import get_prompt_format

    # the tiny preset's UME-R1 option goes: family vlm2vec has none
    hf = Qwen2VLEncoder(parity_cfg(parity_model, "model.family=vlm2vec", "model.prompt=vlm2vec",
                                   "~model.options.disc_readout", "model.modes=[disc]"),
                        cache_dir=cache_dir, num_workers=0)
    monkeypatch.setattr(vllm_encoder, "prompt_format", get_prompt_format("vlm2vec"))
    items = [it for pair in pairs(media).values() for it in pair]
    v, h = vllm_encoder.embed(items), hf.embed(items)
    cos = (v * h).sum(1) / (np.linalg.norm(v, axis=1) * np.linalg.norm(h, axis=1))
    assert (cos > 0.9999).all(), cos
