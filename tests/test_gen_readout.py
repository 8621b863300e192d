"""The generative embedding is the hidden state at a GENERATED ``<gen_emb>``, checked on forced traces.

The tiny random model never writes ``<gen_emb>`` by itself, so a logits processor (test only, through the
encoders' ``generate_kwargs`` / ``sampling_kwargs`` seams) forces its tokens.  The reference is what HF
``generate`` itself computed while decoding (``output_hidden_states=True``), as UME-R1's evaluation reads it:
``hidden_states[s][-1]`` is the final-norm state of the token fed at step ``s``, i.e. of generated token
``s - 1``.  When several ``<gen_emb>`` are generated, the last one is read (UME-R1: ``get_embedding_idx`` in
``src/eval/VLM2Vec/eval_twomode.py`` searches the generated ids from the end; the GRPO trainer also takes
the last one).
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest
import torch
from transformers import LogitsProcessor, LogitsProcessorList

from umeval.core.types import Item
from umeval.encoders.prompts import GEN_TOKEN

#: A trace that ends the turn right after its <gen_emb>, as a trained UME-R1 does.
ENDS = "<think> a red circle </think><answer> red </answer><gen_emb><|im_end|>"
#: A trace with a <gen_emb> in the middle and one as its very last token, cut there by max_new_tokens.
CUT = "<think> a<gen_emb> red circle </think> red<gen_emb>"


class Force(LogitsProcessor):
    """HF logits processor: the k-th generated token is ``script[k]``; free (greedy) decoding after it."""

    def __init__(self, script: list[int]) -> None:
        self.script, self.start = script, None

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        self.start = input_ids.shape[1] if self.start is None else self.start
        k = input_ids.shape[1] - self.start
        if k < len(self.script):
            scores = torch.full_like(scores, float("-inf"))
            scores[:, self.script[k]] = 0.0
        return scores


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture(scope="module")
def item(media):  # type: ignore[no-untyped-def]
    d, _ = media
    return Item(id="g", text="a red circle", instruction="Represent the given image", image=str(d / "a.png"))


def _script(enc, text: str) -> list[int]:  # type: ignore[no-untyped-def]
    ids = enc.tokenizer(text, add_special_tokens=False)["input_ids"]
    assert enc.tokenizer.decode(ids, skip_special_tokens=False) == text
    return [int(t) for t in ids]


def _generated_states(enc, item: Item, script: list[int], max_new_tokens: int):  # type: ignore[no-untyped-def]
    """What HF ``generate`` itself computed: (generated ids, prompt length, states[j] of generated token j)."""
    inputs, _ = enc.prepare([item])
    inputs = inputs.to(enc.device)
    with torch.no_grad():
        out = enc.model.generate(**inputs, do_sample=False, max_new_tokens=max_new_tokens,
                                 eos_token_id=enc.stop_ids(), pad_token_id=enc.tokenizer.pad_token_id,
                                 logits_processor=LogitsProcessorList([Force(script)]),
                                 output_hidden_states=True, return_dict_in_generate=True)
    n_prompt = inputs["input_ids"].shape[1]
    gen = out.sequences[0, n_prompt:].tolist()
    states = np.stack([out.hidden_states[s][-1][0, -1].float().cpu().numpy() for s in range(1, len(gen))])
    return gen, n_prompt, states


@pytest.fixture(scope="module")
def forced(parity_hf, item):  # type: ignore[no-untyped-def]
    """Per script: (script, HF GenResult with the trace forced, generate's states, prompt length)."""
    res = {}
    for name, text in (("ends", ENDS), ("cut", CUT)):
        script = _script(parity_hf, text)
        budget = 64 if name == "ends" else len(script)  # "cut": length-truncated right at its last <gen_emb>
        parity_hf.generate_kwargs = {"logits_processor": LogitsProcessorList([Force(script)])}
        try:
            got = parity_hf.generate_embed([item], decoding={"do_sample": False, "max_new_tokens": budget})
        finally:
            del parity_hf.generate_kwargs  # back to the class default (none)
        # generate never computes the state of its last token: one step more gives the one of CUT's last token.
        gen, n_prompt, states = _generated_states(parity_hf, item, script, budget + 1)
        assert gen[: len(script)] == script
        res[name] = (script, got, states, n_prompt, budget)
    return res


@pytest.mark.slow
def test_vector_is_generates_state_at_gen_emb_before_end_of_turn(forced, parity_hf):
    """Catches a read-out one token off (at ``<|im_end|>``, or at the token before ``<gen_emb>``), and a read-out
    of the prompt's literal ``<gen_emb>`` instead of the generated one."""
    script, got, states, n_prompt, _ = forced["ends"]
    g = script.index(parity_hf.token_id(GEN_TOKEN))
    assert g == len(script) - 2 and script[-1] in parity_hf.stop_ids()
    tr = got.traces[0][0]
    assert tr.token_ids == tuple(script) and tr.finish_reason == "stop" and tr.has_gen_emb
    assert tr.pool_position == n_prompt + g
    vec = got.vectors[0, 0]
    assert _cos(vec, states[g]) > 0.99999
    assert _cos(states[g], states[g - 1]) < 0.999  # neighbours differ: the check above can tell them apart


@pytest.mark.slow
def test_last_generated_gen_emb_is_read_in_a_length_cut_trace(forced, parity_hf):
    """With a ``<gen_emb>`` in the middle and one as the very last token (cut by max_new_tokens), the vector is
    the last one's state.  Catches reading the first ``<gen_emb>``, and the UME-R1 code's off-by-one here (it
    takes generate's last state, which is the token *before* a final ``<gen_emb>``)."""
    script, got, states, n_prompt, budget = forced["cut"]
    hits = [i for i, t in enumerate(script) if t == parity_hf.token_id(GEN_TOKEN)]
    assert len(hits) == 2 and 0 < hits[0] < hits[1] - 1 and hits[1] == len(script) - 1 == budget - 1
    tr = got.traces[0][0]
    assert tr.token_ids == tuple(script) and tr.finish_reason == "length" and tr.has_gen_emb
    assert tr.pool_position == n_prompt + hits[1]
    vec = got.vectors[0, 0]
    assert _cos(vec, states[hits[1]]) > 0.99999
    assert _cos(vec, states[hits[0]]) < 0.9999  # not the middle one (same token: 0.998 on this tiny model)
    assert _cos(vec, states[hits[1] - 1]) < 0.999  # not the token before (the official code's pick here)


@pytest.mark.slow
@pytest.mark.vllm
@pytest.mark.parametrize("name", ["ends", "cut"])
def test_vllm_reads_the_same_vector_on_forced_traces(forced, vllm_encoder, item, monkeypatch, name):
    """The vLLM backend (its own forced generation, then a pooling pass) gives the same trace and the vector
    ``generate`` computed.  Catches a pool_position/readout off by one in the vLLM path, a stop token dropped from
    or added to the trace, and a different <gen_emb> picked."""
    script, got, states, _, budget = forced[name]
    monkeypatch.setattr(vllm_encoder, "sampling_kwargs", {"extra_args": {"force": script}})
    v = vllm_encoder.generate_embed([item], decoding={"do_sample": False, "max_new_tokens": budget})
    tr = v.traces[0][0]
    assert {**asdict(tr), "seconds": 0} == {**asdict(got.traces[0][0]), "seconds": 0}
    g = max(i for i, t in enumerate(script) if t == vllm_encoder.token_id(GEN_TOKEN))
    assert _cos(v.vectors[0, 0], states[g]) > 0.9999
