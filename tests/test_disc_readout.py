"""UME-R1's paper-era disc read-out, a documented ``model.options`` switch.

The authors' evaluation code that made the published disc and oracle numbers (Kikcer/lume 08891de,
src/eval/VLM2Vec/eval_twomode.py:39-57 ``get_embedding_idx`` and 141-147) reads the hidden state at the position
*after* the last ``<disc_emb>`` (the ``"\\n"``), or the last token when that position is at or past the end;
umeval reads ``<disc_emb>`` itself by default (the corrected rule).  Bugs these catch: the switch ignored (both
values read the same token), the switch left out of the store key (a paper-rule run reusing corrected vectors),
or left out of the result rows (a published-numbers run indistinguishable from a corrected one).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from umeval.core.config import compose_config
from umeval.core.errors import ConfigError
from umeval.core.types import Item


def _encoder(overrides: list[str], cache_dir: Path):  # type: ignore[no-untyped-def]
    from umeval.core.plugins import load_object
    from umeval.models.family import encoder_ref

    cfg = compose_config(["model=tiny-qwen2vl", "model.dtype=float32", *overrides])
    return cfg, load_object(encoder_ref(cfg, "hf"))(cfg.model, cache_dir=cache_dir, device="cpu", batch_size=4,
                                                    num_workers=0)


def test_paper_readout_reads_the_token_after_disc_emb(cache_dir: Path):
    items = [Item(id="q0", text="find the red square"), Item(id="q1", text="a much longer text " * 5)]
    _, corrected = _encoder([], cache_dir)
    _, paper = _encoder(["model.options.disc_readout=paper"], cache_dir)
    for enc, after in ((corrected, 0), (paper, 1)):
        batch, prompts = enc.prepare(items)
        pos = enc.pool_positions(batch["input_ids"], batch["attention_mask"], prompts)
        ids = batch["input_ids"].numpy()
        for r in range(len(items)):
            disc = int(np.flatnonzero(ids[r] == enc.token_id("<disc_emb>"))[-1])
            assert pos[r] == disc + after
            assert enc.tokenizer.decode([int(ids[r, pos[r]])]) == ("<disc_emb>" if after == 0 else "\n")
        states = enc.hidden_states(batch)[np.arange(len(items)), pos].float().numpy()
        want = states / np.linalg.norm(states, axis=1, keepdims=True)
        np.testing.assert_allclose(enc.embed(items), want, atol=1e-5)
    assert not np.allclose(corrected.embed(items), paper.embed(items), atol=1e-3)


def test_readout_is_keyed_recorded_and_checked():
    from umeval.core.registry import resolve_tasks
    from umeval.models.family import cache_key, validate_model
    from umeval.results.task_result import TaskResult

    base = compose_config(["model=tiny-qwen2vl"])
    paper = compose_config(["model=tiny-qwen2vl", "model.options.disc_readout=paper"])
    assert cache_key(base.model) != cache_key(paper.model)
    spec = resolve_tasks("Mini-ImageCLS")[0]
    from types import SimpleNamespace

    rows = [TaskResult.base(spec, "disc", SimpleNamespace(cfg=c, instruction_set="official", runtime={}), "h").to_row()
            for c in (base, paper)]
    assert rows[0]["model_options"] == '{"disc_readout": "disc_emb"}'
    assert rows[1]["model_options"] == '{"disc_readout": "paper"}'
    bad = compose_config(["model=tiny-qwen2vl"])
    bad.model.options.disc_readout = "papr"
    with pytest.raises(ConfigError, match="disc_readout='papr'.*use one of disc_emb, paper"):
        validate_model(bad)
