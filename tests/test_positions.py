"""GME and LamRA get plain 1-D position ids, as their official inference code feeds them.

gme_inference.py:93-99 and lamra_inference.py:141-147 (TIGER-AI-Lab/VLM2Vec 6e1e1d4) call the language model with
``position_ids=None``; the vendored Qwen2VLModel then numbers every token ``0..L-1`` on all three rope sections
(vlm_backbone/qwen2_vl/modeling_qwen2_vl.py:1018-1019; qwen2_5_vl/modeling_qwen2_5_vl.py:1133-1134), image
tokens included.  The bug this catches: the HF encoder feeding them Qwen2-VL's 3-D rope index (the image tokens'
height/width positions), which changes every image, video and page vector of those four presets.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from umeval.core.config import compose_config
from umeval.core.types import Item


def _capture(enc):  # type: ignore[no-untyped-def]
    """Record the position ids the language model's rotary embedding receives."""
    seen: list[torch.Tensor] = []
    lm = enc.model.model.language_model
    hook = lm.rotary_emb.register_forward_hook(lambda _m, args, _out: seen.append(args[1].detach().clone()))
    return seen, hook


@pytest.mark.parametrize(("preset", "which"), [("gme-qwen2vl-2b", "qwen2vl"), ("lamra-ret-qwen25vl-7b", "qwen25"),
                                               ("ume-r1-2b", "qwen2vl")])
def test_position_ids_on_tiny_checkpoints(preset, which, tiny_model, tiny25, hf_encoder, tmp_path):
    enc = hf_encoder(preset, tiny_model if which == "qwen2vl" else tiny25)
    img = tmp_path / "a.png"
    Image.new("RGB", (90, 70), (200, 10, 10)).save(img)
    items = [Item(id="q0", text="<|image_pad|> Represent the given image.", image=str(img)),
             Item(id="q1", text="find the red square")]
    seen, hook = _capture(enc)
    vecs = enc.embed(items)
    hook.remove()
    pos = torch.cat([p.expand(3, -1, -1) for p in seen], dim=1) if len(seen) > 1 else seen[0].expand(3, -1, -1)
    if preset == "ume-r1-2b":  # the corrected UME-R1 / VLM2Vec path keeps the checkpoint's 3-D rope index
        assert not all(torch.equal(pos[d, r], torch.arange(pos.shape[-1])) for d in range(3) for r in range(2))
        return
    for d in range(3):  # temporal, height, width: the same 0..L-1 for every token of every row
        for r in range(pos.shape[1]):
            assert pos[d, r].tolist() == list(range(pos.shape[-1]))
    # The vector is the reference code's: the language model run with plain positions, read at the last token.
    batch, prompts = enc.prepare(items[:1])
    L = batch["input_ids"].shape[1]
    ref = enc.model.model(**batch, position_ids=torch.arange(L)[None], use_cache=False).last_hidden_state[0, -1]
    ref = ref.numpy() / np.linalg.norm(ref.numpy())
    np.testing.assert_allclose(vecs[0], ref, atol=1e-5)
    rope = enc.model.model(**batch, use_cache=False).last_hidden_state[0, -1].numpy()
    assert not np.allclose(vecs[0], rope / np.linalg.norm(rope), atol=1e-4)  # the two really differ here


def test_prompts_command_shows_the_position_kind(tiny_model, cache_dir, tmp_path):
    """``umeval prompts`` says which position ids each family gets.  Catches the command showing nothing (or the
    wrong kind) for GME/LamRA, whose inputs otherwise look like any Qwen2-VL prompt."""
    from umeval.commands.prompts import format_row, item_inputs
    from umeval.core.plugins import load_object
    from umeval.models.family import encoder_ref

    item = Item(id="q", text="find the red square")
    for preset, want in (("gme-qwen2vl-2b", "1-D 0.."), ("vlm2vec-v2", "3-D rope")):
        cfg = compose_config([f"model={preset}", f"model.path={tiny_model}"])
        enc = load_object(encoder_ref(cfg, "hf"))(cfg.model, cache_dir=cache_dir, device="cpu", num_workers=0,
                                                  weights=False)
        row = item_inputs(enc, item, task="t", role="query")
        assert row["positions"].startswith(want)
        assert f"positions {row['positions']}" in format_row(row)
        if want.startswith("1-D"):
            assert row["positions"] == f"1-D 0..{row['input_tokens'] - 1}"
