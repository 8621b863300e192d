"""The HF discriminative encoder on the tiny checkpoint, through the real from_pretrained path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from umeval.core.errors import DataError
from umeval.core.types import Item
from umeval.models.ume_r1.prompt import DISC_TOKEN, UME_R1_GEN_PROMPT


def items(media):
    d, frames = media
    return [
        Item(id="t", text="a short query", instruction="Find a document image that matches the given query:"),
        Item(id="i", text="", instruction="Represent the given image for classification", image=str(d / "a.png")),
        Item(id="j", text="a much longer piece of text " * 6, image=str(d / "b.jpg")),
        Item(id="v", text="", instruction="Understand the content of the provided video.", video=frames),
    ]


def test_padded_batch_equals_alone(tiny_encoder, media):
    its = items(media)
    together = tiny_encoder.embed(its)
    assert together.shape == (4, 128)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-6)
    for i, it in enumerate(its):
        alone = tiny_encoder.embed([it])[0]
        np.testing.assert_allclose(alone, together[i], atol=1e-5)


def test_reads_last_disc_token_state(tiny_encoder, media):
    """The vector is the final-norm hidden state at the last <disc_emb>, not the token after it."""
    it = items(media)[1]
    enc, prompts = tiny_encoder.prepare([it])
    ids = enc["input_ids"][0]
    disc = tiny_encoder.token_id(DISC_TOKEN)
    pos = int((ids == disc).nonzero()[-1])
    assert prompts[0].text.endswith(f"{DISC_TOKEN}\n{UME_R1_GEN_PROMPT}<|im_end|>\n<|im_start|>assistant\n")
    with torch.no_grad():
        out = tiny_encoder.model(**enc, output_hidden_states=True)
    ref = out.hidden_states[-1][0, pos].numpy()
    ref = ref / np.linalg.norm(ref)
    np.testing.assert_allclose(tiny_encoder.embed([it])[0], ref, atol=1e-5)
    after = out.hidden_states[-1][0, pos + 1].numpy()
    assert not np.allclose(after / np.linalg.norm(after), ref, atol=1e-3)


def test_text_only_gets_blank_image(tiny_encoder):
    """The authors' blank 28x28 JPEG goes through qwen-vl-utils, which makes it 56x56 (4 visual tokens)."""
    prompt = tiny_encoder.build_prompt(Item(id="t", text="hello"))
    assert len(prompt.images) == 1 and prompt.images[0].size == (56, 56)
    assert prompt.images[0].getpixel((0, 0)) == (255, 255, 255)


def test_corrupt_image_names_the_file(tiny_encoder, media):
    d, _ = media
    bad = Item(id="x", image=str(d / "bad.png"), source=("rows.parquet", 7))
    with pytest.raises(DataError) as e:
        tiny_encoder.embed([bad], task="T")
    msg = str(e.value)
    assert "task T" in msg and "rows.parquet" in msg and "row 7" in msg and "bad.png" in msg
    assert "\n" not in msg


def test_checkpoint_hub_arguments_one_line_when_the_hub_is_off(tmp_path, monkeypatch):
    """One rule for every encoder (HF, vLLM, ColPali): catches a hub id reaching from_pretrained with the hub off
    (a long network traceback) and a local folder given a hub revision (which transformers then rejects)."""
    from umeval.core.errors import ConfigError
    from umeval.encoders.qwen2vl import hub_kwargs

    assert hub_kwargs(str(tmp_path), "abc") == {}
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert hub_kwargs("org/model", "abc") == {"revision": "abc"}
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match="checkpoint org/model is not a local folder and the hub is off"):
        hub_kwargs("org/model", "abc")
