"""ColQwen2.5: golden inputs derived by hand from its authors' engine, the adapter merge checked against a merge
computed here, an end-to-end run of the tiny checkpoint with its scores recomputed independently, the token cost
and the reference file.

Authors' engine: illuin-tech/colpali at v0.3.9 (5b1b912cd0d0bb67ffa11b92fd298c4df70597c0), paths in
``colpali_engine/models/qwen2_5/colqwen2_5/`` unless named.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from _late_interaction import assert_maxsim_ranking, run_mini_visdoc
from PIL import Image

from umeval.core.config import compose_config
from umeval.core.types import Item
from umeval.models.colqwen.prompt import colqwen25

ROOT = Path(__file__).resolve().parents[1]
EOT10 = "<|endoftext|>" * 10
PAGE = "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Describe the image.<|im_end|><|endoftext|>"
PROC = SimpleNamespace()  # the format reads nothing from the processor


def _img(colour: tuple[int, int, int], size: tuple[int, int] = (32, 24), mode: str = "RGB") -> Image.Image:
    return Image.new("RGB", size, colour).convert(mode)


def test_text_items_get_the_query_template():
    """processing_colqwen2_5.py:112-118: "Query: " + text + ten ``<|endoftext|>`` and nothing after.  Catches
    transformers' ColQwen2Processor template (a trailing newline), the ColPali template (``<bos>``, pad tokens), a
    missing augmentation buffer, and an instruction dropped from a text-only item (the ColPali rule keeps it)."""
    q = Item(id="q", text="what is the revenue?")
    assert colqwen25(q, [], [], PROC).text == "Query: what is the revenue?" + EOT10
    # An instruction (e.g. a retrieval task's) comes first, as the official parser writes it for ColPali.
    q = Item(id="i", instruction="Find a document image that matches the given query:", text="revenue?")
    assert colqwen25(q, [], [], PROC).text == "Query: Find a document image that matches the given query: revenue?" \
        + EOT10
    p = colqwen25(Item(id="c", text="golden retriever"), [], [], PROC)
    assert p.text == "Query: golden retriever" + EOT10 and p.images == []


def test_items_with_media_are_pages_and_lose_their_text():
    """processing_colqwen2_5.py:22-24, :76-77: a page is its image (RGB) under the fixed page text; umeval's ColPali
    rule for tasks the authors never ran: the first image or the video's first frame, the item's text dropped.
    Catches a VQA question reaching the page, the middle frame instead of the first, a grey image sent in mode L."""
    vqa = Item(id="q", text="<|image_pad|>\nRepresent the given image with the following question: what colour?")
    red, blue = _img((255, 0, 0)), _img((0, 0, 255))
    p = colqwen25(vqa, [red, blue], [], PROC)
    assert p.text == PAGE and len(p.images) == 1 and p.images[0].getpixel((0, 0)) == (255, 0, 0)
    p = colqwen25(Item(id="v", text="<|video_pad|> a video"), [], [[blue, red, red]], PROC)
    assert p.text == PAGE and p.images[0].getpixel((0, 0)) == (0, 0, 255)
    assert colqwen25(Item(id="g", text="x"), [_img((9, 9, 9), mode="L")], [], PROC).images[0].mode == "RGB"


def test_token_cost_counts_the_one_image_a_page_is_made_of():
    """The family's cost: one 28 x 28 block per token of the first image or first frame only; none for text.
    Catches the default Qwen2-VL cost (every image, every frame pair), which would size batches and vLLM-free
    shards for 8 frames a ColQwen item never sends."""
    from umeval.models.colqwen import FirstVisualCost

    cost, buf = FirstVisualCost(), io.BytesIO()
    _img((1, 2, 3), (56, 84)).save(buf, format="PNG")
    png = buf.getvalue()
    assert cost.item_visual_tokens(Item(id="v", text="", video=[png] * 8), 784, 12544) == 2 * 3
    assert cost.item_visual_tokens(Item(id="m", text="", images=[png, png]), 784, 12544) == 6
    assert cost.item_visual_tokens(Item(id="t", text="a query"), 784, 12544) == 0


@pytest.fixture(scope="module")
def tiny_colqwen(cache_dir: Path) -> Path:
    from umeval.models.colqwen.tiny import ensure

    return ensure(cache_dir)


def test_the_adapter_is_merged_into_the_base_as_peft_defines_it(tiny_colqwen):
    """The loaded weights equal base + (alpha/r) B A for every module the adapter names, computed here from the
    adapter files, and the base's elsewhere; the adapter changes the vectors.  Catches an adapter silently not
    applied (keys that match no module only warn), one applied to the vision MLPs (the backbone's new names contain
    "model"), a wrong scale, and base weights left random by a key mapping that misses."""
    import torch
    from safetensors.torch import load_file

    from umeval.models.colqwen.checkpoint import load_merged

    merged = load_merged(tiny_colqwen, torch.float32).state_dict()
    base = load_merged(tiny_colqwen, torch.float32, with_adapter=False).state_dict()
    raw = load_file(str(tiny_colqwen / "base" / "model.safetensors"))
    cfg = json.loads((tiny_colqwen / "adapter_config.json").read_text())
    lora = load_file(str(tiny_colqwen / "adapter_model.safetensors"))
    scale = cfg["lora_alpha"] / cfg["r"]
    renamed = {"model.": "vlm.language_model.", "visual.": "vlm.visual.", "custom_text_proj.": "embedding_proj_layer."}

    def ours(engine_key: str) -> str:
        head = next(h for h in renamed if engine_key.startswith(h))
        return renamed[head] + engine_key[len(head):]

    assert {ours(k) for k in raw if not k.startswith("lm_head.")} == set(base)
    assert all(torch.equal(base[ours(k)], v) for k, v in raw.items() if not k.startswith("lm_head."))
    adapted = set()
    for key in lora:
        if key.endswith(".lora_A.weight"):
            module = key[len("base_model.model."):-len(".lora_A.weight")]
            a, b = lora[key], lora[key.replace("lora_A", "lora_B")]
            name = ours(module + ".weight")
            torch.testing.assert_close(merged[name], base[name] + scale * b @ a, rtol=0, atol=1e-6)
            adapted.add(name)
    assert len(adapted) == 2 * 7 + 1 and not any("visual" in n for n in adapted)
    assert all(torch.equal(merged[k], base[k]) for k in base if k not in adapted)


def test_a_base_whose_keys_do_not_map_is_refused(tiny_colqwen, tmp_path):
    """A base saved under other key names (e.g. transformers 5's ``model.language_model.*``) fails in one line
    instead of loading with random weights (transformers only warns about missing keys).  Catches the loader
    dropping its missing-keys check."""
    import shutil

    import torch
    from safetensors.torch import load_file, save_file

    from umeval.core.errors import ConfigError
    from umeval.models.colqwen.checkpoint import load_merged

    copy = tmp_path / "ckpt"
    shutil.copytree(tiny_colqwen, copy)
    weights = load_file(str(copy / "base" / "model.safetensors"))
    save_file({k.replace("model.layers.", "model.language_model.layers."): v for k, v in weights.items()},
              str(copy / "base" / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(ConfigError, match="weights missing"):
        load_merged(copy, torch.float32)


def _positions(ids: list[int], grid: tuple[int, int] | None, image_id: int) -> np.ndarray:
    """Qwen2.5-VL's rope index for one unpadded row, written out: text counts on all three axes; an image's
    tokens take (t, row, col) offsets from where it starts, and the text after resumes at start + max(rows, cols).
    (Independent of transformers' ``get_rope_index``.)"""
    out, pos, i = [], 0, 0
    while i < len(ids):
        if ids[i] == image_id and grid is not None:
            rows, cols = grid
            out += [(pos, pos + r, pos + c) for r in range(rows) for c in range(cols)]
            i += rows * cols
            pos += max(rows, cols)
        else:
            out.append((pos, pos, pos))
            pos, i = pos + 1, i + 1
    return np.array(out).T


def _own_matrix(model, tok, image_processor, text: str, image: Image.Image | None) -> np.ndarray:  # type: ignore[no-untyped-def]
    """One item alone through the model, page prompt expanded here: every position's token vector."""
    import torch

    kw, grid = {}, None
    if image is not None:
        px = image_processor([image], size={"shortest_edge": 784, "longest_edge": 12544}, return_tensors="pt")
        t, h, w = px["image_grid_thw"][0].tolist()
        grid = (h // 2, w // 2)
        text = text.replace("<|image_pad|>", "<|image_pad|>" * (grid[0] * grid[1]))
        kw = {"pixel_values": px["pixel_values"][None], "image_grid_thw": px["image_grid_thw"]}
    ids = tok(text)["input_ids"]
    pos = torch.tensor(_positions(ids, grid, tok.convert_tokens_to_ids("<|image_pad|>")))[:, None, :]
    x = torch.tensor([ids])
    return model(input_ids=x, attention_mask=torch.ones_like(x), position_ids=pos, **kw).embeddings[0].numpy()


def test_end_to_end_tiny_scores_recomputed_independently(tiny_colqwen, cache_dir, tmp_path):
    """``umeval run model=tiny-colqwen2.5 task=Mini-VisDoc``: every query's top-5 and its ndcg_linear@5 equal what an
    independent computation gives: inputs written here from the engine's facts, each item alone (no padding)
    with its rope positions written out, MaxSim by a per-pair loop, a stable sort, nDCG by its formula.  Catches
    left padding leaking into a row, plain 1-D positions (what ``ColQwen2ForRetrieval`` falls back to when the
    encoder passes none), pixel rows mis-split per image, dropped augmentation tokens, and any store or scorer
    error on the late-interaction path."""
    import torch
    import transformers

    from umeval.models.colqwen.checkpoint import load_merged

    row, data = run_mini_visdoc("tiny-colqwen2.5", tmp_path / "out", cache_dir)
    tf: object = transformers
    tok = tf.AutoTokenizer.from_pretrained(tiny_colqwen)  # type: ignore[attr-defined]
    image_processor = tf.Qwen2VLImageProcessorPil.from_pretrained(tiny_colqwen)  # type: ignore[attr-defined]
    model = load_merged(tiny_colqwen, torch.float32)
    with torch.no_grad():
        texts = [f"{q.instruction} {q.text}" if q.instruction else q.text for q in data.queries]
        qs = [_own_matrix(model, tok, image_processor, f"Query: {t}{EOT10}", None) for t in texts]
        pages = []
        for c in data.candidates:
            im = Image.open(c.image if isinstance(c.image, str) else io.BytesIO(c.image)).convert("RGB")
            pages.append(_own_matrix(model, tok, image_processor, PAGE, im))
    assert_maxsim_ranking(tmp_path / "out", "tiny-colqwen2.5", row, data, qs, pages)


def test_stored_matrices_equal_each_item_alone(tiny_colqwen, cache_dir):
    """The encoder's matrices for a mixed batch (pages of two sizes, queries of different lengths, left-padded)
    equal each item encoded alone to float32 rounding.  Catches padding that changes a row's vectors."""
    import torch

    from umeval.core.config import compose_config as compose
    from umeval.models.colqwen.encoder import ColQwen25Encoder

    cfg = compose(["model=tiny-colqwen2.5", f"cache_dir={cache_dir}", "hub=false"])
    enc = ColQwen25Encoder(cfg.model, cache_dir=cache_dir, device="cpu", batch_size=4)
    buf_a, buf_b = io.BytesIO(), io.BytesIO()
    _img((200, 10, 10), (56, 84)).save(buf_a, format="PNG")
    _img((10, 200, 10), (112, 56)).save(buf_b, format="PNG")
    items = [Item(id="a", text="", image=buf_a.getvalue()), Item(id="b", text="", image=buf_b.getvalue()),
             Item(id="q", text="red"), Item(id="r", text="which page shows the red figure?")]
    together = enc.embed(items, task="T")
    with torch.no_grad():
        for i, it in enumerate(items):
            alone = enc.embed([it], task="T")
            np.testing.assert_allclose(together.item(i), alone.item(0), rtol=0, atol=2e-5)
    assert [len(together.item(i)) for i in (2, 3)] == [len(enc.tokenizer(f"Query: {t}{EOT10}")["input_ids"])
                                                   for t in ("red", "which page shows the red figure?")]


def test_reference_pairs_the_published_vidore_tasks():
    """The published ViDoRe scores (MTEB results of the pinned revision) pair 11 MMEB-V2 tasks by their main metric.
    Catches a task key that names no umeval task (silently dropped by ``umeval compare``)."""
    from umeval.results.reference import load_reference

    ref = load_reference(ROOT / "umeval" / "models" / "colqwen" / "reference" / "colqwen2.5-v0.2.json")
    assert len(ref) == 11
    assert ref[("ViDoRe_arxivqa", "disc")][1] == 0.88868  # hand-read: VidoreArxivQARetrieval.json ndcg_at_5
    assert ref[("ViDoRe_esg_reports_human_labeled_v2", "disc")][1] == 0.66357


def test_umeval_prompts_renders_an_image_a_video_and_a_visual_document_task(tiny_colqwen, cache_dir):
    """``umeval prompts model=tiny-colqwen2.5`` on the mini image, video and visual-document tasks: the image query
    is a page (its instruction gone), the video candidate a page of its first frame, the visual-document query the
    query template, a 56 x 84 page 2 x 3 = 6 image tokens.  Catches the command assuming another family's inputs."""
    from umeval.commands.prompts import prompt_rows

    cfg = compose_config(["task=[Mini-ImageCLS,Mini-T2V,Mini-VisDoc]", "model=tiny-colqwen2.5",
                          f"cache_dir={cache_dir}", "limit=1", "hub=false"])
    rows = {(r["task"], r["role"]): r for r in prompt_rows(cfg)}
    assert rows[("Mini-ImageCLS", "query")]["text"] == PAGE
    assert rows[("Mini-ImageCLS", "candidate")]["text"] == "Query: red circle" + EOT10
    assert rows[("Mini-T2V", "candidate")]["text"] == PAGE and rows[("Mini-T2V", "candidate")]["n_images"] == 1
    assert rows[("Mini-VisDoc", "query")]["text"] == (
        "Query: Find a document image that matches the given query: which page shows the red figure?" + EOT10)
    assert rows[("Mini-VisDoc", "candidate")]["visual_tokens"] == 6
    assert rows[("Mini-VisDoc", "candidate")]["image_sizes"] == [[56, 84]]


def test_pixel_bounds_that_differ_from_the_checkpoints_are_named(tiny_colqwen, cache_dir, caplog):
    """The preset's bounds are applied (they key the store); where the checkpoint's own preprocessor_config.json
    states others, loading says so in one line naming the file and the setting to change.  Catches the
    difference passing unseen (the preset's max_pixels is the authors' training bound, unchecked against the
    released file)."""
    import logging

    from umeval.models.colqwen.encoder import ColQwen25Encoder

    def load(*extra: str) -> list[str]:
        caplog.clear()
        cfg = compose_config(["model=tiny-colqwen2.5", f"model.path={tiny_colqwen}", *extra]).model
        with caplog.at_level(logging.WARNING, logger="umeval.models.colqwen.encoder"):
            ColQwen25Encoder(cfg, cache_dir=cache_dir, device="cpu", weights=False)
        return [r.getMessage() for r in caplog.records]

    assert load() == []  # the tiny preset follows its checkpoint
    (msg,) = load("model.max_pixels=6272")
    assert "preprocessor_config.json" in msg and "'max_pixels': 12544" in msg and "model.max_pixels" in msg
