"""GME and LamRA-Ret: golden prompts derived by hand from the official baseline code, end-to-end runs on tiny
random checkpoints of their architectures, and ``umeval compare`` against their published scores.

Official code: TIGER-AI-Lab/VLM2Vec at 6e1e1d42d4cba85ae4db4d3f7a25cba2465d1e16 (paths below are in it).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from umeval.core.config import compose_config
from umeval.core.types import Item
from umeval.models.gme.prompt import baseline_image, baseline_text, gme
from umeval.models.lamra.prompt import lamra

REF = Path(__file__).resolve().parents[1] / "umeval" / "models"

# The loader's official Qwen2-VL texts (umeval.loaders.text) for four kinds of items.
# image_cls_dataset.py:17-20: Qwen: "<|image_pad|>" + " " + "\nRepresent ..." + " " + text, " \n" -> "\n", + "\n".
IMAGE_QUERY = Item(id="q0", text="<|image_pad|>\nRepresent the given image for classification: a photo\n")
# vidore_dataset.py:23 (text query), processor.py:663-665: instruction + " " + text.
TEXT_QUERY = Item(id="q1", text="Find a document image that matches the given query: what is revenue?")
# vidore_dataset.py:32 (image candidate, no text), processor.py:669-671: "<|image_pad|>" + " " + instruction; the
# loader marks where the instruction ends (Item.no_text_at), as the parser got no text.
_PAGE = "<|image_pad|> Understand the content of the provided document image."
IMAGE_CAND = Item(id="c0", text=_PAGE, no_text_at=len(_PAGE))
# image_cls_dataset.py:25: a class name, as it is.
TEXT_CAND = Item(id="c1", text="golden retriever")

# What GME/LamRA receive instead (processor.py:655-659 ``instruction + " " + text``, no token; same parser
# post-processing); with no text, ``instruction + " "`` (the page's trailing space).
GME_TEXT = {
    "q0": "\nRepresent the given image for classification: a photo\n",
    "q1": "Find a document image that matches the given query: what is revenue?",
    "c0": "Understand the content of the provided document image. ",
    "c1": "golden retriever",
}
SYS = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"  # gme_inference.py:54, 131
VIS = "<|vision_start|><|image_pad|><|vision_end|>"  # gme_inference.py:126


def _img() -> Image.Image:
    return Image.new("RGB", (40, 30), (200, 10, 10))


def test_baseline_text_drops_the_placeholder_and_its_space():
    """Catches a GME/LamRA text that keeps the Qwen placeholder, or loses the parser's newlines."""
    for it in (IMAGE_QUERY, TEXT_QUERY, IMAGE_CAND, TEXT_CAND):
        assert baseline_text(it) == GME_TEXT[it.id]
    assert baseline_text(Item(id="v", text="<|video_pad|> Recognize the category of the video content.")) == \
        "Recognize the category of the video content."


def _official_baseline_text(instruction: str, text: str | None = None, post=lambda s: s) -> str:  # type: ignore[no-untyped-def]
    """processor.py:656-659 for the GME/LamRA backbones, then the parser's own edits ``post``."""
    return post(instruction + " " + text if text else instruction + " ")


def test_bare_instruction_items_get_the_official_trailing_space(fixture_root):
    """Where a parser passes no text, GME and LamRA get ``instruction + " "`` (processor.py:656-659): visdoc pages
    (vidore_dataset.py:32), video retrieval candidates (msrvtt_dataset.py:32), video classification queries,
    image candidates (image_t2i_eval.py:30-37) and image queries with an empty qry_text (image_cls_dataset.py:18-20).
    Catches the space being dropped: before, 51 tasks (44,766 of the 83,530 official queries) ranked with it
    missing on one side."""
    from umeval.core.registry import resolve_tasks
    from umeval.loaders import LoadContext, load_task
    from umeval.loaders.mmeb_image import DEFAULTS, _image_candidate_texts, _query_text

    for name, side in (("ViDoRe_arxivqa", "candidates"), ("MSR-VTT", "candidates"), ("K700", "queries")):
        spec = resolve_tasks(name)[0]
        inst = spec.instruction("official")
        data = load_task(spec, LoadContext(data_root=fixture_root, allow_hub=False))
        it = getattr(data, side)[0]
        assert baseline_text(it) == _official_baseline_text(inst.candidate if side == "candidates" else inst.query)

    fix = lambda s: s.replace(" \n", "\n")  # noqa: E731 - the parsers' own edit
    inst = "<|image_1|> Represent the given image for classification\n"
    text, at = _query_text({"qry_text": ""}, inst, DEFAULTS)
    got = baseline_text(Item(id="q", text=text, image="x.jpg", no_text_at=at))
    assert got == fix(_official_baseline_text(inst.replace("<|image_1|>", ""), "")) + "\n"
    assert got == " Represent the given image for classification\n \n"
    text, at = _query_text({"qry_text": "a photo"}, inst, DEFAULTS)  # a text: no extra space
    assert baseline_text(Item(id="q", text=text, image="x.jpg", no_text_at=at)) == \
        fix(_official_baseline_text(inst.replace("<|image_1|>", ""), "a photo")) + "\n"
    tgt = "<|image_1|>\nRepresent the given image with the following caption"
    for captions in (["", ""], ["a dog on grass", "a cat"]):
        (text, at), _ = _image_candidate_texts(captions, tgt, DEFAULTS)
        first = tgt.replace("<|image_1|>", "") + (" " + captions[0] if captions[0] else "")
        assert baseline_text(Item(id="c", text=text, image="x.jpg", no_text_at=at)) == \
            fix(_official_baseline_text(first, "")) + "\n"


def test_gme_golden_prompts():
    """gme_inference.py:115-131: one literal layout, default system turn for queries and candidates alike
    (model.py:87 passes no instruction and no is_query), image block first, ``<|endoftext|>`` last.
    Catches a chat-template rendering, a role-specific system turn, or a missing image block."""
    end = "<|im_end|>\n<|im_start|>assistant\n<|endoftext|>"
    for it, media in ((IMAGE_QUERY, True), (TEXT_QUERY, False), (IMAGE_CAND, True), (TEXT_CAND, False)):
        p = gme(it, [_img()] if media else [], [], None)
        assert p.text == f"{SYS}<|im_start|>user\n{VIS if media else ''}{GME_TEXT[it.id]}{end}"
        assert p.pool_token is None and len(p.images) == int(media) and p.videos == []
    assert gme(IMAGE_QUERY, [_img()], [], None).text == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
        "<|vision_start|><|image_pad|><|vision_end|>\nRepresent the given image for classification: a photo\n"
        "<|im_end|>\n<|im_start|>assistant\n<|endoftext|>")


def test_fetch_image_pre_resize_and_middle_frame():
    """gme_inference.py:280-319 (fetch_image: RGB, multiples of 28 within 3,136..12,845,056 pixels) and
    model.py:79-86 (a video gives its middle frame).  Catches a skipped pre-resize or the wrong frame."""
    im = baseline_image([Image.new("L", (40, 30), 9)], [])
    assert im.mode == "RGB" and im.size == (84, 56)  # 28x28 < 3,136 -> scaled up by sqrt(3136/1200), ceil to 28
    frames = [Image.new("RGB", (56, 56), (i * 30, 0, 0)) for i in range(7)]
    assert baseline_image([], [frames]).getpixel((0, 0)) == (90, 0, 0)  # frames[7 // 2]
    assert baseline_image(frames[:3], []).getpixel((0, 0)) == (30, 0, 0)  # several images: the middle one
    p = gme(Item(id="v", text="<|video_pad|> Find the video."), [], [frames], None)
    assert len(p.images) == 1 and p.videos == [] and VIS in p.text


class _Template:
    """apply_chat_template of the Qwen2-VL template (default system turn), as the tiny checkpoints carry it."""

    def apply_chat_template(self, messages, tokenize=False, add_generation_prompt=False):
        from jinja2 import Template

        from umeval.models.ume_r1.tiny import CHAT_TEMPLATE

        return Template(CHAT_TEMPLATE).render(messages=messages, add_generation_prompt=add_generation_prompt)


def test_lamra_golden_prompts():
    """lamra_inference.py:55-103 + 177: user turn [image, text] (text only: text + "\\n"), assistant "<emb>.",
    then the generation prompt; the last token ("\\n" after the final "assistant") is read (149-160).
    Catches a missing "<emb>." turn, a missing generation prompt, or GME's literal layout used for LamRA."""
    tail = "<|im_end|>\n<|im_start|>assistant\n<emb>.<|im_end|>\n<|im_start|>assistant\n"
    for it, media in ((IMAGE_QUERY, True), (TEXT_QUERY, False), (IMAGE_CAND, True), (TEXT_CAND, False)):
        p = lamra(it, [_img()] if media else [], [], _Template())
        body = f"{VIS}{GME_TEXT[it.id]}" if media else f"{GME_TEXT[it.id]}\n"
        assert p.text == f"{SYS}<|im_start|>user\n{body}{tail}"
        assert p.pool_token is None
    assert lamra(TEXT_CAND, [], [], _Template()).text == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\ngolden retriever\n"
        "<|im_end|>\n<|im_start|>assistant\n<emb>.<|im_end|>\n<|im_start|>assistant\n")


@pytest.mark.parametrize("family", ["gme", "lamra"])
def test_pooled_token_on_tiny_checkpoints(family, tiny_model, tiny25, hf_encoder, tmp_path):
    """The read position is the last real token: ``<|endoftext|>`` for GME, the final ``\\n`` for LamRA, in a
    right-padded batch (the official left padding reads the same token).  Catches a read of a pad token or of
    the last occurrence of some other token."""
    preset, path = ("gme-qwen2vl-2b", tiny_model) if family == "gme" else ("lamra-ret-qwen25vl-7b", tiny25)
    enc = hf_encoder(preset, path)
    img = tmp_path / "a.png"
    _img().save(img)
    items = [Item(id="q0", text=IMAGE_QUERY.text, image=str(img)), TEXT_QUERY, TEXT_CAND]
    batch, prompts = enc.prepare(items)
    pos = enc.pool_positions(batch["input_ids"], batch["attention_mask"], prompts)
    ids = batch["input_ids"].numpy()
    want = "<|endoftext|>" if family == "gme" else "\n"
    for r in range(len(items)):
        assert enc.tokenizer.decode([int(ids[r, pos[r]])]) == want
        if family == "lamra":
            assert enc.tokenizer.decode(ids[r, pos[r] - 16: pos[r] + 1].tolist()).endswith(
                "<emb>.<|im_end|>\n<|im_start|>assistant\n")
    vecs = enc.embed(items)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)  # L2-normalised (gme_inference:111)
    # A batch gives each item the vector it gets alone (right padding, no leak).
    np.testing.assert_allclose(vecs[1], enc.embed([TEXT_QUERY])[0], atol=1e-5)
    assert enc.cfg.prompt == family


def test_family_refuses_another_format():
    """Catches a GME preset silently encoding with another family's prompt (e.g. model.prompt=vlm2vec): the
    config fails when it is built, before data or weights."""
    from umeval.core.errors import ConfigError

    with pytest.raises(ConfigError, match="not a prompt format of family gme.*set model.prompt=gme"):
        compose_config(["model=gme-qwen2vl-2b", "model.prompt=vlm2vec"])


@pytest.mark.parametrize("family", ["gme", "lamra"])
def test_end_to_end_tiny(family, tiny_model, tiny25, cache_dir, tmp_path):
    """``umeval run task=Mini-ImageCLS model=<family preset> model.path=<tiny>`` finishes with status ok; random
    weights, so the score is only checked to be a rate.  Catches a family that cannot run through the runner."""
    from umeval.run.runner import run

    if family == "lamra":  # the tiny Qwen2.5-VL preset (its builder makes the checkpoint)
        extra = ["model=tiny-qwen25vl-lamra"]
    else:
        extra = ["model=gme-qwen2vl-2b", f"model.path={tiny_model}", "model.dtype=float32"]
    cfg = compose_config(["task=Mini-ImageCLS", *extra, f"output_dir={tmp_path / 'out'}", f"cache_dir={cache_dir}",
                          "progress=false", "backend=hf", "device=cpu", "batch_size=4", "num_workers=0"])
    summary = run(cfg)
    (row,) = summary.scores
    assert row["status"] == "ok", row
    assert 0.0 <= row["metrics"][row["main_metric"]] <= 1.0  # random weights: a rate, nothing more
    assert row["model_id"] == (str(tiny_model) if family == "gme" else
                               "tiny-qwen25vl-lamra (built by umeval.models.lamra.tiny:ensure)")


# ---------------------------------------------------------------- compare against published scores

def test_reference_pairs_official_keys_with_umeval_tasks(tmp_path):
    """The published GME-2B file pairs every MMEB-V2 task: ``ViDoSeek-page-fixed`` (the official export key)
    with umeval's ``ViDoSeek-page``, each task's own main metric (hit@1, or ndcg_linear@5 for visdoc), and
    ``MomentSeeker_1k8`` (no umeval task) left out.  Catches a key or metric mismatch dropping tasks silently."""
    from umeval.commands.compare import load_side

    ref = REF / "gme" / "reference" / "gme-Qwen2-VL-2B-Instruct.json"
    side = load_side(ref)
    assert len(side) == 78 and all(m == "disc" for _, m in side)
    doc = json.loads(ref.read_text())["tasks"]
    assert side[("ViDoSeek-page", "disc")].mean == doc["ViDoSeek-page-fixed"]["ndcg_linear@5"]
    assert side[("ImageNet-1K", "disc")].mean == 0.581  # all_scores/.../gme-Qwen2-VL-2B-Instruct.json
    assert ("MomentSeeker_1k8", "disc") not in side
    for f in ("gme/reference/gme-Qwen2-VL-7B-Instruct.json", "lamra/reference/LamRA-Ret.json",
              "lamra/reference/LamRA-Ret-Qwen2.5VL-7b.json"):
        assert len(load_side(REF / f)) == 78


def test_compare_with_reference_baseline_gives_mean_deltas():
    """Task means only: delta = candidate mean - published mean in points, no interval, never a regression.
    A task the candidate lacks is a ``missing`` row (issue 21: the gate then fails; test_trust checks the exit).
    Catches a reference treated as per-query scores (a query mismatch) or a reference task silently dropped."""
    from umeval.commands.compare import SideResult, compare

    base = {("ImageNet-1K", "disc"): SideResult("ok", None, "MMEB-V2", None, 0.581),
            ("ViDoSeek-page", "disc"): SideResult("ok", None, "MMEB-V2", None, 0.80)}
    cand = {("ViDoSeek-page", "disc"): SideResult("ok", pd.Series([0.5, 0.7], index=["q0", "q1"]), "MMEB-V2")}
    rows = {r.task: r for r in compare(base, cand, expected={"MMEB-V2": 78})}
    r = rows["ViDoSeek-page"]
    assert r.status == "ok" and r.baseline == 0.80 and abs(r.delta_points - (-20.0)) < 1e-9
    assert r.ci_low != r.ci_low and not r.regression  # NaN: no bootstrap
    assert rows["ImageNet-1K"].status == "missing"
    shared = rows["shared (1 of 2)"]
    assert abs(shared.delta_points - (-20.0)) < 1e-9


def test_compare_cli_reference_vs_results(tmp_path, capsys):
    """``umeval compare <reference.json> results/<model>`` runs end to end (fake per-query results)."""
    from umeval.commands.compare import main

    folder = tmp_path / "m" / "tasks" / "ImageNet-1K" / "disc"
    folder.mkdir(parents=True)
    (folder / "scores.json").write_text(json.dumps({"task": "ImageNet-1K", "mode": "disc", "status": "ok",
                                                    "main_metric": "hit@1", "benchmark": "MMEB-V2"}))
    pd.DataFrame({"query_id": ["a", "b"], "hit@1": [1.0, 0.0]}).to_parquet(folder / "per_query.parquet")
    out = tmp_path / "r.json"
    assert main([str(REF / "gme" / "reference" / "gme-Qwen2-VL-2B-Instruct.json"), str(tmp_path / "m"),
                 "--json", str(out)]) == 0
    rows = {r["task"]: r for r in json.loads(out.read_text())}
    assert abs(rows["ImageNet-1K"]["delta_points"] - (50.0 - 58.1)) < 1e-9
    assert "shared (1 of 78)" in rows
