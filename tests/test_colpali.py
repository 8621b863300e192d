"""ColPali-v1.3: golden inputs derived by hand from the official code, an end-to-end run of the tiny random ColPali
with its scores recomputed independently, the reference file, and the files the family touched.

Official code: TIGER-AI-Lab/VLM2Vec at 6e1e1d42d4cba85ae4db4d3f7a25cba2465d1e16 (paths below are in it), with
transformers 4.52.3 (its requirements.txt pin) for ``PaliGemmaProcessor``.
"""

from __future__ import annotations

import ast
import io
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from _code_names import code_names
from _late_interaction import assert_maxsim_ranking, run_mini_visdoc
from PIL import Image

from umeval.core.config import compose_config
from umeval.core.types import Item
from umeval.models.colpali.prompt import colpali

ROOT = Path(__file__).resolve().parents[1]
PAD10 = "<pad>" * 10
# A stand-in processor: what the prompt reads from the checkpoint's (tokens of PaliGemma's tokenizer).
PROC = SimpleNamespace(tokenizer=SimpleNamespace(bos_token="<bos>", pad_token="<pad>"), image_seq_length=3)


def _img(colour: tuple[int, int, int], size: tuple[int, int] = (32, 24), mode: str = "RGB") -> Image.Image:
    return Image.new("RGB", size, colour).convert(mode)


def test_text_items_get_the_query_template():
    """processing_colpali.py:57-66: ``<bos>`` + "Query: " + text + 10 pad tokens + "\\n"; the text is the parser's
    ``instruction + " " + text`` (processor.py:663-665, no ColPali branch).  Catches a missing augmentation
    buffer, transformers' "Question: " prefix (its own ColPaliProcessor) instead of the official "Query: ", a
    stripped text."""
    q = Item(id="q", text="Find a document image that matches the given query: what is revenue?")
    assert colpali(q, [], [], PROC).text == (
        "<bos>Query: Find a document image that matches the given query: what is revenue?" + PAD10 + "\n")
    # The visual-document parser with the empty prompts of the ColPali runs: "" + " " + query (two spaces).
    assert colpali(Item(id="v", text=" what is revenue?"), [], [], PROC).text == (
        "<bos>Query:  what is revenue?" + PAD10 + "\n")
    # A class label or caption candidate goes through the same template (ColPali_process_fn has one path).
    p = colpali(Item(id="c", text="golden retriever"), [], [], PROC)
    assert p.text == "<bos>Query: golden retriever" + PAD10 + "\n" and p.images == []


def test_items_with_media_are_pages_and_lose_their_text():
    """processor.py:527-529: an item with an image goes through ``process_images`` alone (its text is never
    used); processing_colpali.py:35 keeps the first image of the item's list (a video's first frame); the
    4.52.3 ``PaliGemmaProcessor`` makes "<image>"*N + "<bos>" + "<bos>Describe the image." + "\\n".  Catches the
    question of a VQA query reaching ColPali, the middle frame (GME's rule) instead of the first, a page
    prompt without the processor's inserted ``<bos>``."""
    page = "<image>" * 3 + "<bos><bos>Describe the image.\n"
    vqa = Item(id="q", text="<|image_pad|>\nRepresent the given image with the following question: what colour?\n")
    red, blue = _img((255, 0, 0)), _img((0, 0, 255))
    p = colpali(vqa, [red], [], PROC)
    assert p.text == page and len(p.images) == 1 and p.images[0].getpixel((0, 0)) == (255, 0, 0)
    p = colpali(Item(id="v", text="<|video_pad|> a video"), [], [[blue, red, red]], PROC)
    assert p.text == page and p.images[0].getpixel((0, 0)) == (0, 0, 255)
    p = colpali(Item(id="m", text="two images"), [red, blue], [], PROC)
    assert p.images[0].getpixel((0, 0)) == (255, 0, 0)


def test_page_images_are_rgb_and_tiny_sides_stretched():
    """processing_colpali.py:35-38: RGB, and an image with a side under 5 px resized to a square of its long side.
    Catches a grey page reaching the processor in mode L and a 3-px-high crop not stretched."""
    p = colpali(Item(id="g", text="x"), [_img((9, 9, 9), (40, 3), "L")], [], PROC)
    assert p.images[0].mode == "RGB" and p.images[0].size == (40, 40)
    assert colpali(Item(id="n", text="x"), [_img((9, 9, 9), (40, 5))], [], PROC).images[0].size == (40, 5)


@pytest.fixture(scope="module")
def tiny_colpali(cache_dir: Path) -> Path:
    from umeval.models.colpali.tiny import ensure

    return ensure(cache_dir)


def _own_matrix(model, proc, text: str, image: Image.Image | None) -> np.ndarray:  # type: ignore[no-untyped-def]
    """One item alone through the model: every position's token vector (no padding)."""
    enc = proc.tokenizer([text], return_tensors="pt")
    kw = {"pixel_values": proc.image_processor([image], return_tensors="pt")["pixel_values"]} if image else {}
    return model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], **kw).embeddings[0].numpy()


def test_end_to_end_tiny_scores_recomputed_independently(tiny_colpali, cache_dir, tmp_path):
    """``umeval run model=tiny-colpali task=Mini-VisDoc``: every query's top-5 and its ndcg_linear@5 equal what an
    independent computation gives: inputs written here from the official facts, each item alone through
    ``ColPaliForRetrieval``, MaxSim by a per-pair loop, a stable sort, nDCG by its formula.  Catches a batch
    leaking padding into an item's tokens, dropped query-augmentation tokens (pad ids that are real positions),
    a page prompt or pixels off the official ones, and any store or scorer error on the late-interaction path."""
    import torch
    from transformers import AutoProcessor, ColPaliForRetrieval


    row, data = run_mini_visdoc("tiny-colpali", tmp_path / "out", cache_dir)
    proc = AutoProcessor.from_pretrained(tiny_colpali)
    model = ColPaliForRetrieval.from_pretrained(tiny_colpali, dtype=torch.float32).eval()
    with torch.no_grad():
        qs = [_own_matrix(model, proc, f"<bos>Query: {q.text}{PAD10}\n", None) for q in data.queries]
        pages = []
        for c in data.candidates:
            im = Image.open(c.image if isinstance(c.image, str) else io.BytesIO(c.image)).convert("RGB")
            pages.append(_own_matrix(model, proc, "<image>" * 4 + "<bos><bos>Describe the image.\n", im))
    assert all(len(q) == len(proc.tokenizer(f"<bos>Query: {x.text}{PAD10}\n")["input_ids"])
               for q, x in zip(qs, data.queries))
    assert_maxsim_ranking(tmp_path / "out", "tiny-colpali", row, data, qs, pages)


def test_reference_pairs_all_78_tasks():
    """The converted official score files (v2.1 page-fixed where it has the task, else v2.0.1) pair every MMEB-V2
    task with its main metric.  Catches a '-fixed' key or a modality lost in the conversion."""
    from umeval.results.reference import load_reference

    ref = load_reference(ROOT / "umeval" / "models" / "colpali" / "reference" / "colpali-v1.3.json")
    assert len(ref) == 78
    assert ref[("ViDoRe_arxivqa", "disc")][1] == pytest.approx(0.8333, abs=5e-5)  # hand-read from v2.1's file
    assert ref[("ImageNet-1K", "disc")][1] == 0.423


# The files the ColPali family added: its folder, its presets, its tests.  Nothing else names it.
COLPALI_FILES = {
    "umeval/models/colpali/__init__.py", "umeval/models/colpali/prompt.py", "umeval/models/colpali/encoder.py",
    "umeval/models/colpali/tiny.py", "umeval/models/colpali/reference/colpali-v1.3.json",
    "conf/model/colpali-v1.3.yaml", "conf/model/tiny-colpali.yaml", "tests/test_colpali.py",
}


def test_the_colpali_family_is_its_folder_presets_and_tests():
    """Every file of the family lies under umeval/models/colpali/, conf/model/ or tests/, and no other module of
    the package (the generic late-interaction store, scorer and runner included) names it in code; the bench
    names colpali-engine only as the official scoring it times (and the ColQwen2.5 family, by the same authors, as its
    source).  Catches a family branch in the engine."""
    allowed = ("umeval/models/colpali/", "conf/model/", "tests/")
    assert all(f.startswith(allowed) and (ROOT / f).exists() for f in COLPALI_FILES)
    word = re.compile(r"(^|[^a-z])(colpali|paligemma)([^a-z]|$)", re.IGNORECASE)
    offenders = []
    for path in (ROOT / "umeval").rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        # ColQwen2.5 is the same authors' family: it cites colpali-engine and extends the late-interaction encoder.
        if rel.startswith(("umeval/models/colpali/", "umeval/models/colqwen/", "umeval/bench/")):
            continue
        names = code_names(ast.parse(path.read_text()), docstrings=True)
        offenders += [f"{rel}: {s[:60]!r}" for s in names if word.search(s)]
    assert not offenders, offenders
    presets = {p.relative_to(ROOT).as_posix() for p in (ROOT / "conf" / "model").glob("*.yaml")
               if re.search(r"^family: colpali$", p.read_text(), re.MULTILINE)}
    assert presets == {f for f in COLPALI_FILES if f.startswith("conf/")}


def test_umeval_prompts_renders_an_image_a_video_and_a_visual_document_task(tiny_colpali, cache_dir):
    """``umeval prompts model=tiny-colpali`` on the mini image, video and visual-document tasks.  Catches the
    command assuming Qwen2-VL inputs (a grid, a patch size) for a family that describes its own inputs."""
    from umeval.commands.prompts import prompt_rows

    cfg = compose_config(["task=[Mini-ImageCLS,Mini-T2V,Mini-VisDoc]", "model=tiny-colpali", f"cache_dir={cache_dir}",
                          "limit=1", "hub=false"])
    rows = {(r["task"], r["role"]): r for r in prompt_rows(cfg)}
    page = "<image>" * 4 + "<bos><bos>Describe the image.\n"
    assert rows[("Mini-ImageCLS", "query")]["text"] == page  # the image query's instruction is not used
    assert rows[("Mini-T2V", "candidate")]["text"] == page and rows[("Mini-T2V", "candidate")]["n_images"] == 1
    assert rows[("Mini-VisDoc", "query")]["text"].startswith("<bos>Query: Find a document image")
    assert rows[("Mini-VisDoc", "candidate")]["visual_tokens"] == 4
