"""Qwen3-VL-Embedding as its authors' MMEB-V2 evaluation feeds it: golden inputs, media sizes, loader parts,
every task rendered, and an end-to-end run on a tiny random Qwen3-VL built offline.

Facts from QwenLM/Qwen3-VL-Embedding at 8ce3aab1fbcc7b7143b094f0b2005dd89e7246b9 (paths in it) and
qwen-vl-utils 0.0.14 (the version its pyproject requires), each restated where it is used below.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from umeval.core.config import compose_config
from umeval.core.types import Item
from umeval.models.qwen3_vl_embedding import prompt as q3

SYS = "<|im_start|>system\n"
USER = "<|im_end|>\n<|im_start|>user\n"
END = "<|im_end|>\n<|im_start|>assistant\n"
IMG = "<|vision_start|><|image_pad|><|vision_end|>"
VID = "<|video_pad|>"  # the processor writes "<t seconds><|vision_start|>...<|vision_end|>" per pair of frames


@pytest.fixture(scope="module")
def tiny_q3(cache_dir):  # type: ignore[no-untyped-def]
    from umeval.models.qwen3_vl_embedding.tiny import ensure

    return ensure(cache_dir)


@pytest.fixture(scope="module")
def enc(tiny_q3, cache_dir):  # type: ignore[no-untyped-def]
    from umeval.encoders.qwen2vl import Qwen2VLEncoder

    cfg = compose_config(["model=qwen3-vl-embedding-2b", f"model.path={tiny_q3}", "model.dtype=float32"])
    return Qwen2VLEncoder(cfg.model, cache_dir=cache_dir, device="cpu", batch_size=4, num_workers=0)


@pytest.fixture(scope="module")
def files(tmp_path_factory):  # type: ignore[no-untyped-def]
    d = tmp_path_factory.mktemp("q3-media")
    Image.new("RGB", (300, 120), (10, 200, 30)).save(d / "wide.png")
    Image.new("RGBA", (40, 40), (0, 0, 0, 0)).save(d / "clear.png")
    frames = []
    for i in range(3):
        p = d / f"f{i}.png"
        Image.new("RGB", (224, 112), (i * 90, 20, 20)).save(p)
        frames.append(str(p))
    return {"wide": str(d / "wide.png"), "clear": str(d / "clear.png"), "frames": tuple(frames)}


def test_golden_image_query_and_text_candidate(enc, files):
    """ImageNet-1K (image_cls_dataset.py:21-31): the instruction is ``qry_inst`` without ``<|image_1|>``,
    stripped, in the system turn, with the ``"."`` format_model_input adds (its last character is a letter);
    the user turn is the image then ``qry_text`` (empty here).  The class-name candidate gets the default
    instruction "Represent the user's input." (qwen3_vl_embedding.py default_instruction) and its text alone.
    Catches the instruction staying in the user text (the official Qwen2-VL layout), a missing ".", or the
    query instruction leaking to candidates."""
    q = Item(id="q", text="<|image_pad|>\nRepresent the given image for classification\n", image=files["wide"],
             parts=("\nRepresent the given image for classification", ""))
    assert enc.build_prompt(q, "ImageNet-1K").text == \
        f"{SYS}Represent the given image for classification.{USER}{IMG}{END}"
    c = Item(id="c", text="tench", parts=("", "tench"))
    assert enc.build_prompt(c, "ImageNet-1K", role="candidate").text == \
        f"{SYS}Represent the user's input.{USER}tench{END}"


def test_golden_video_and_visdoc(enc, files):
    """MSR-VTT query (msrvtt_dataset.py:14, 31-35): the authors' own instruction "Find a video that contains the
    following visual content." (the official one ends in ":"), the caption as the text.  Its candidate video:
    default instruction, the video alone (the candidate instruction is commented out, msrvtt_dataset.py:15, 44).
    A ViDoRe query (vidore_dataset.py:14, 23-26): "Find a document image that matches the given query.", then
    the query; its page candidate: the image alone.  An item with no text and no media gets "NULL"
    (format_model_input).  Catches the official instructions or candidate instructions reaching this model."""
    t = Item(id="t", text="Find a video that contains the following visual content: a cat",
             parts=("Find a video that contains the following visual content:", "a cat"))
    assert enc.build_prompt(t, "MSR-VTT").text == \
        f"{SYS}Find a video that contains the following visual content.{USER}a cat{END}"
    v = Item(id="v", text="<|video_pad|> Understand the content of the provided video.", video=files["frames"],
             parts=("Understand the content of the provided video.", ""))
    assert enc.build_prompt(v, "MSR-VTT", role="candidate").text == f"{SYS}Represent the user's input.{USER}{VID}{END}"
    d = Item(id="d", text="Find a document image that matches the given query: revenue?", parts=(
        "Find a document image that matches the given query:", "revenue?"))
    assert enc.build_prompt(d, "ViDoRe_arxivqa").text == \
        f"{SYS}Find a document image that matches the given query.{USER}revenue?{END}"
    page = Item(id="p", text="<|image_pad|> Understand the content of the provided document image.",
                image=files["wide"], parts=("Understand the content of the provided document image.", ""))
    assert enc.build_prompt(page, "ViDoRe_arxivqa", role="candidate").text == \
        f"{SYS}Represent the user's input.{USER}{IMG}{END}"
    assert q3.candidate(Item(id="e", text="", parts=("", "")), [], [], None).text.count("NULL") == 0  # "" is a text
    assert "NULL" in q3.candidate(Item(id="e"), [], [], None).text.split("user\n")[1]


def test_golden_media_sizes(enc, files):
    """Images: smart_resize to multiples of 32 within 4,096..1,843,200 px (MIN_PIXELS/MAX_PIXELS of
    qwen3_vl_embedding.py): 300x120 -> 288x128 (round(300/32)=9, round(120/32)=4); an RGBA image is pasted on
    white.  Frames (three 224x112): fetch_video fetches each with a 64-pixel factor -> 256x128, pads to 4
    frames, then the stack: 256x128 = 32,768 px is under 128*32*32 = 131,072, so both sides scale by 2 ->
    512x256; the processor does not resize (do_resize=False): grid 2 x 16 x 32.  Catches Qwen2-VL's 28-pixel
    arithmetic, the processor resizing again, or an odd frame count."""
    img = Item(id="i", text="", image=files["wide"], parts=("", ""))
    p = enc.build_prompt(img, "ImageNet-1K", role="candidate")
    assert [im.size for im in p.images] == [(288, 128)] and p.resized
    e, _ = enc.prepare([img], "ImageNet-1K", role="candidate")
    assert e["image_grid_thw"].tolist() == [[1, 8, 18]]
    clear = q3.fetch_image(Image.open(files["clear"]))
    assert clear.getpixel((0, 0)) == (255, 255, 255) and clear.size == (64, 64)  # 40 -> min 4,096 px: 64x64
    v = Item(id="v", text="", video=files["frames"], parts=("", ""))
    pv = enc.build_prompt(v, "MSR-VTT", role="candidate")
    assert tuple(pv.videos[0].shape) == (4, 3, 256, 512)
    assert pv.video_metadata == [{"fps": 2.0, "frames_indices": [0, 1, 2, 3], "total_num_frames": 4}]
    e, _ = enc.prepare([v], "MSR-VTT", role="candidate")
    assert e["video_grid_thw"].tolist() == [[2, 16, 32]]
    # The expanded video as the authors' processor (transformers 4.57) writes it: per pair of frames its time (the
    # mean of its two frame indices / fps 2.0: 0.25 s and 1.25 s, one decimal) and its own vision block of
    # 16 x 32 / 4 = 128 tokens, nothing around them.  Catches the template's outer <|vision_start|> ..
    # <|vision_end|> kept (transformers 5.x expands only the bare <|video_pad|>).
    frame = "<|vision_start|>" + "<|video_pad|>" * 128 + "<|vision_end|>"
    assert enc.tokenizer.decode(e["input_ids"][0].tolist()) == \
        f"{SYS}Represent the user's input.{USER}<0.2 seconds>{frame}<1.2 seconds>{frame}{END}"
    many = [Image.new("RGB", (64, 64), (i, 0, 0)) for i in range(100)]
    video, meta = q3.fetch_video(many)
    assert video.shape[0] == 64 and meta["frames_indices"][-1] == 63  # sample_frames: linspace to 64


def test_pooled_last_token_and_unit_vectors(enc, files):
    """_pooling_last reads the last non-padding position: the "\\n" after "assistant", in a right-padded batch
    (the same token); F.normalize makes unit rows.  Catches a pad-token read or unnormalised vectors."""
    items = [Item(id="a", text="x", parts=("", "a red circle")), Item(id="b", text="y", parts=("", "dog")),
             Item(id="c", text="z", image=files["wide"], parts=("", ""))]
    batch, prompts = enc.prepare(items, "ImageNet-1K", role="candidate")
    pos = enc.pool_positions(batch["input_ids"], batch["attention_mask"], prompts)
    ids = batch["input_ids"].numpy()
    lengths = batch["attention_mask"].sum(1).tolist()
    for r in range(len(items)):
        assert pos[r] == lengths[r] - 1 and enc.tokenizer.decode(ids[r, : pos[r] + 1].tolist()).endswith(END)
    vecs = enc.embed(items, role="candidate", task="ImageNet-1K")
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vecs[1], enc.embed(items[1:2], role="candidate", task="ImageNet-1K")[0], atol=1e-5)


def test_loaders_keep_the_parsers_parts(fixture_root):
    """The loaders record (instruction, text) as the parser got them (Item.parts), for this family's split
    into system turn and user text: an image query's row instruction and ``qry_text``, a video retrieval
    query's instruction and caption, a video-QA query's prompt and question, a ViDoRe query's instruction and
    query, candidates' own text.  Catches a loader that leaves parts out (the family would see no text)."""
    from umeval.core.registry import discover_tasks
    from umeval.loaders import LoadContext, load_task

    ctx = LoadContext(data_root=fixture_root, limit=2)
    tasks = dict(discover_tasks().items())
    for name in ("ImageNet-1K", "MSR-VTT", "Video-MME", "ViDoRe_arxivqa", "MomentSeeker", "HMDB51", "CIRR"):
        data = load_task(tasks[name], ctx)
        for it in data.queries[:2] + data.candidates[:2]:
            assert it.parts is not None, (name, it.id)
            inst, text = it.parts
            assert "<|image_pad|>" not in inst + text and "<|video_pad|>" not in inst + text, (name, it.parts)
        q = data.queries[0]
        assert q.parts[1] in q.text and q.parts[0].strip()[:20] in q.text, (name, q.parts, q.text)


@pytest.mark.parametrize("preset", ["tiny-qwen3vl-embedding", "vlm2vec-v1-qwen2vl-2b"])
def test_prompts_renders_every_task(preset, fixture_root, tiny_model, cache_dir):
    """``umeval prompts`` writes both sides of all 78 tasks for the new presets (image, video, visdoc).
    Catches a task whose items a new format cannot write (missing parts, a video kind, a task name)."""
    from umeval.commands.prompts import prompt_rows
    from umeval.core.registry import task_groups
    from umeval.encoders.qwen2vl import Qwen2VLEncoder

    extra = [] if preset.startswith("tiny") else [f"model.path={tiny_model}"]
    cfg = compose_config(["task=all", f"model={preset}", *extra, f"data_root={fixture_root}",
                          f"cache_dir={cache_dir}", "limit=1", "hub=false", "model.num_frames=4"])
    encoder = Qwen2VLEncoder(cfg.model, cache_dir=cache_dir, num_workers=0, weights=False)
    rows = prompt_rows(cfg, encoder=encoder)
    assert {r["task"] for r in rows} == set(task_groups()["all"])
    for r in rows:
        assert r["pool_index"] == r["input_tokens"] - 1
        if preset.startswith("tiny"):
            assert r["text"].startswith(SYS) and r["text"].endswith(END)
            assert (r["role"] == "candidate") == ("system\nRepresent the user's input.<|im_end|>" in r["text"])


def test_end_to_end_tiny(cache_dir, tmp_path):
    """``umeval run task=Mini-ImageCLS model=tiny-qwen3vl-embedding`` on HF: status ok, a rate.  Random weights,
    so no exact score.  Catches the family failing anywhere between the runner and the Qwen3-VL model."""
    from umeval.run.runner import run

    cfg = compose_config(["task=Mini-ImageCLS", "model=tiny-qwen3vl-embedding", "model.dtype=float32",
                          f"output_dir={tmp_path / 'out'}", f"cache_dir={cache_dir}", "progress=false",
                          "backend=hf", "device=cpu", "batch_size=4", "num_workers=0"])
    (row,) = run(cfg).scores
    assert row["status"] == "ok", row
    assert 0.0 <= row["metrics"][row["main_metric"]] <= 1.0


def test_presets_and_card():
    """Both presets: the family's format per role, the authors' image bounds, 64 frames; cards with the
    published embedding dimensions (2,048 and 4,096: technical report Table 1).  Catches a preset drifting."""
    from umeval.commands.export import model_metadata

    for size, dim in (("2b", 2048), ("8b", 4096)):
        m = compose_config([f"model=qwen3-vl-embedding-{size}"]).model
        assert (m.min_pixels, m.max_pixels, m.num_frames) == (4096, 1843200, 64)
        assert m.formats == {"query": "umeval.models.qwen3_vl_embedding.prompt:query",
                             "candidate": "umeval.models.qwen3_vl_embedding.prompt:candidate"}
        assert model_metadata(f"qwen3-vl-embedding-{size}")["embedding_dimension"] == dim
    ref = Path(q3.__file__).parent / "reference" / "Qwen3-VL-Embedding-2B.json"
    import json

    assert json.loads(ref.read_text())["categories"]["All"] == 73.2


def test_auto_backend_picks_vllm_and_costs_are_qwen3s(monkeypatch):
    """The family declares a vLLM encoder: on a box with a GPU and vLLM, ``backend=auto`` picks it for both presets
    (``backend=vllm`` reaches it).  Its token cost is Qwen3-VL's, 32 x 32 pixels per token and the format's own
    video budget, for estimates, batching, shards and the vLLM engine's length: hand-computed, a 300x120 image ->
    288x128 = 9 x 4 = 36 tokens; 64 frames of 640x480 -> 640x512 (64-pixel sides), then the stack within
    max(min(786,432, 7,864,320 / 64 * 2), 137,625) = 245,760 px per frame -> 544x416 (qwen-vl-utils' resize)
    = 17 x 13 = 221 tokens per pair of frames, x 32 pairs = 7,072; the most: 1,800 per image, 240 x 32 = 7,680
    per 64-frame video.  Catches the family left on HF under auto, or Qwen2-VL's 28-pixel arithmetic with the
    image bounds applied to video frames (which would size a 64-frame video at 73,440 tokens)."""
    import importlib.util

    import torch

    from umeval.encoders.pixels import declared_cost
    from umeval.run.context import encoder_ref
    from umeval.run.runtime import resolve_backend

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: object() if n == "vllm" else real(n, *a))
    for preset in ("qwen3-vl-embedding-2b", "qwen3-vl-embedding-8b", "tiny-qwen3vl-embedding"):
        cfg = compose_config([f"model={preset}"])
        assert resolve_backend(cfg) == "vllm" and encoder_ref(cfg) == "umeval.encoders.vllm_backend:VllmEncoder"
    cost = declared_cost(compose_config(["model=qwen3-vl-embedding-2b"]).model)
    assert cost.cost.image_tokens((300, 120), cost.min_pixels, cost.max_pixels) == 36
    assert cost.cost.video_tokens((640, 480), 64, cost.min_pixels, cost.max_pixels) == 7072
    assert (cost.max_image(), cost.max_video(), cost.max_visual()) == (1800, 7680, 7680)


@pytest.mark.parametrize(("size", "n"), [((224, 112), 3), ((640, 480), 64), ((1920, 1080), 100), ((64, 48), 8)])
def test_video_cost_counts_the_formats_tokens(size, n):
    """The declared video cost equals the tokens of the tensor the format builds (blocks of 32 x 32 per pair of
    frames).  Catches the cost drifting from the format (frame cap, odd-count padding, the two resizes)."""
    from umeval.models.qwen3_vl_embedding.cost import QWEN3_VL_EMBEDDING_COST

    video, _ = q3.fetch_video([Image.new("RGB", size)] * n)
    t, _, h, w = video.shape
    assert QWEN3_VL_EMBEDDING_COST.video_tokens(size, n, 0, 0) == (h // 32) * (w // 32) * (t // 2)


def test_vllm_chunks_are_bounded_by_visual_tokens():
    """The vLLM encoder builds a chunk's prompts (media included) before its call: a chunk ends at ``size`` items
    or before its visual tokens pass the budget, whichever comes first, with at least one item.  Bug caught:
    1,024 of this family's 64-frame float videos (7,680 tokens, ~190 MB each) in one chunk, ~190 GB of RAM."""
    from umeval.encoders.vllm_backend import VllmEncoder, chunk_ranges

    assert chunk_ranges([1] * 10, 4, 100) == [range(0, 4), range(4, 8), range(8, 10)]
    assert chunk_ranges([7680] * 5, 1024, 2 * 7680) == [range(0, 2), range(2, 4), range(4, 5)]
    assert chunk_ranges([5, 300, 5, 5], 10, 100) == [range(0, 1), range(1, 2), range(2, 4)]  # an item over budget
    assert chunk_ranges([], 4, 10) == []
    assert 1024 * 7680 > VllmEncoder.chunk_visual_tokens >= 7680
