"""Generative embeddings through the HF reference backend: read-out positions, and mode=both end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from umeval.core.config import compose_config
from umeval.core.types import Item
from umeval.encoders.base import gen_readout
from umeval.encoders.prompts import GEN_TOKEN
from umeval.run.runner import run

G, EOS, PAD = 900, 2, 0


def test_readout_uses_last_generated_gen_emb_not_the_prompts():
    prompt = [5, 6, G, 7]  # the instruction's literal <gen_emb> is in the prompt
    gen = [10, G, 11, G, 12, EOS]
    seq, found = gen_readout(prompt, gen, G, [EOS, PAD])
    assert found and seq == prompt + [10, G, 11, G] and len(seq) - 1 == 7


def test_readout_without_gen_emb_falls_back_to_last_real_token():
    seq, found = gen_readout([5, G, 7], [10, 11, EOS, PAD, PAD], G, [EOS, PAD])
    assert not found and seq == [5, G, 7, 10, 11]


def test_readout_of_a_trace_cut_at_max_new_tokens():
    seq, found = gen_readout([5, G], [10, 11, 12], G, [EOS])  # no stop token: truncated by length
    assert not found and seq == [5, G, 10, 11, 12]


def test_encoder_reads_the_state_at_the_chosen_position(tiny_encoder):
    """The HF backend's vector equals the final-norm state at pool_position of prompt + generated ids."""
    cfg = compose_config(["model=tiny-qwen2vl", "model.decoding.max_new_tokens=6"])
    item = Item(id="t", text="a red circle", instruction="Represent")
    out = tiny_encoder.generate_embed([item], samples=1, decoding=cfg.model.decoding)
    tr = out.traces[0][0]
    assert tr.n_tokens == 6 and tr.finish_reason == "length" and not tr.has_gen_emb
    enc, _ = tiny_encoder.prepare([item])
    prompt = enc["input_ids"][0].tolist()
    assert prompt.count(tiny_encoder.token_id(GEN_TOKEN)) == 1  # the literal one, never read
    assert tr.pool_position == len(prompt) + 6 - 1
    ids = torch.tensor([prompt + list(tr.token_ids)])
    tt = torch.cat([enc["mm_token_type_ids"], torch.zeros((1, 6), dtype=enc["mm_token_type_ids"].dtype)], 1)
    with torch.no_grad():
        hs = tiny_encoder.model(input_ids=ids, attention_mask=torch.ones_like(ids), mm_token_type_ids=tt,
                                pixel_values=enc["pixel_values"], image_grid_thw=enc["image_grid_thw"],
                                output_hidden_states=True).hidden_states[-1][0, tr.pool_position].numpy()
    np.testing.assert_allclose(out.vectors[0, 0], hs / np.linalg.norm(hs), atol=1e-5)


def test_mode_both_with_samples_writes_disc_gen_oracle_and_pass_at_k(tmp_path, cache_dir, tiny_model):
    cfg = compose_config(["task=mini", "mode=both", "gen.samples=4", "model.decoding.do_sample=true",
                          "model.decoding.max_new_tokens=8", "backend=hf", f"output_dir={tmp_path}",
                          f"cache_dir={cache_dir}", "progress=false"])
    board = run(cfg).leaderboard
    tasks = board[board.level == "task"]
    assert set(tasks["mode"]) == {"disc", "gen", "oracle"}
    gen = tasks[tasks["mode"] == "gen"]
    assert {"pass@1", "pass@2", "pass@4"} <= set(gen["metric"])
    assert gen["decoding"].str.contains('"do_sample": true').all()
    main = tasks[tasks.is_main].pivot(index="task", columns="mode", values="value")
    assert (main["oracle"] >= main[["disc", "gen"]].max(axis=1) - 1e-12).all()
    for task in main.index:
        p = tasks[(tasks["mode"] == "gen") & (tasks.task == task)].set_index("metric")["value"]
        assert p["pass@1"] <= p["pass@2"] + 1e-12 <= p["pass@4"] + 2e-12
    traces = pd.read_parquet(tmp_path / "tiny-qwen2vl" / "tasks" / "Mini-T2V" / "gen" / "traces.parquet")
    q = traces[traces.role == "query"]
    assert len(q) == 8 * 4 and set(q["sample"]) == {0, 1, 2, 3}  # the 8 Mini-T2V captions, 4 samples each
    assert (traces[traces.role == "candidate"]["sample"] == 0).all()
    assert {"text", "n_tokens", "has_gen_emb", "finish_reason", "seed", "seconds"} <= set(traces.columns)
    assert (q.groupby("item_id")["seed"].nunique() == 1).all()
    assert q.groupby("item_id")["text"].nunique().max() > 1  # sampling: different traces per item
    assert set(board[board.level == "overall"]["mode"]) == {"disc", "gen", "oracle"}


def test_gen_mode_needs_a_gen_capable_model():
    from umeval.core.errors import ConfigError
    from umeval.run.context import modes_of

    with pytest.raises(ConfigError, match="has no gen mode"):
        modes_of(compose_config(["model=vlm2vec-v2", "mode=gen"]))
