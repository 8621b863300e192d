"""What reaches the model, per prompt format: texts, pixel sizes and visual-token counts (processor only).

Items are built by hand as the MMEB loaders write them (``instruction=""``, the official parser's text in
``text``).  The three formats run on the tiny checkpoint's processor, whose ``preprocessor_config.json`` declares
Qwen2-VL-2B's own bounds (3,136..12,845,056 pixels) so that a backend that lets them win is caught.

Expected sizes are worked out by hand from the reference code: qwen-vl-utils 0.0.11 ``smart_resize``
(vision_process.py:60-86: sides rounded to multiples of 28, scaled down below ``max_pixels`` with floor, up above
``min_pixels`` with ceil), ``fetch_image`` bounds 3,136..12,845,056 (27-28, 134-143), then the processor's bounds.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from umeval.commands.prompts import item_inputs
from umeval.core.errors import DataError
from umeval.core.types import Item
from umeval.models.ume_r1.prompt import DISC_TOKEN, UME_R1_GEN_PROMPT

PRESETS = ("ume-r1-2b", "vlm2vec-v2", "tiny-qwen2vl")


@pytest.fixture(scope="module")
def encoders(tiny_model, cache_dir):  # type: ignore[no-untyped-def]
    """Processor-only encoders: each preset's format, bounds and instruction set on the tiny checkpoint."""
    from umeval.core.config import compose_config
    from umeval.encoders.qwen2vl import Qwen2VLEncoder

    return {p: Qwen2VLEncoder(compose_config([f"model={p}", f"model.path={tiny_model}"]).model,
                              cache_dir=cache_dir, num_workers=0, weights=False) for p in PRESETS}


@pytest.fixture(scope="module")
def files(tmp_path_factory):  # type: ignore[no-untyped-def]
    d = tmp_path_factory.mktemp("formats")
    rng = np.random.default_rng(3)

    def save(name: str, w: int, h: int, mode: str = "RGB") -> str:
        arr = rng.integers(0, 255, (h, w, len(mode)), dtype=np.uint8)
        Image.fromarray(arr, mode=mode).save(d / name)
        return str(d / name)

    out = {"small": save("small.png", 30, 20), "photo": save("photo.jpg", 640, 480),
           "page": save("page.png", 2000, 2800), "frames": tuple(save(f"f{i}.jpg", 640, 480) for i in range(4))}
    Image.new("RGBA", (64, 64), (255, 0, 0, 0)).save(d / "clear.png")  # fully transparent red
    out["clear"] = str(d / "clear.png")
    return out


def show(enc, item):  # type: ignore[no-untyped-def]
    return item_inputs(enc, item, task="T", role="query")


@pytest.mark.parametrize("preset", ["ume-r1-2b", "tiny-qwen2vl"])
def test_text_only_ume_r1_item_has_4_visual_tokens(encoders, preset):
    """Bug caught: the blank 28x28 image fed to the processor as is (1 visual token); the authors pass it through
    qwen-vl-utils ``fetch_image``, whose 3,136-pixel minimum makes it 56x56 (eval_collator.py:282-298)."""
    r = show(encoders[preset], Item(id="t", text="Find a document image that matches the given query: revenue\n"))
    assert (r["n_images"], r["image_sizes"], r["visual_tokens"]) == (1, [[56, 56]], 4)
    assert r["pool_token"] == DISC_TOKEN
    body = "Find a document image that matches the given query: revenue"  # stripped (eval_collator.py:294)
    assert f"<|vision_start|><|image_pad|><|vision_end|>{body}\n{DISC_TOKEN}\n{UME_R1_GEN_PROMPT}<|im_end|>" \
        in r["text"]


def test_small_real_image_gets_fetch_image_minimum_for_ume_r1_and_56x56_for_vlm2vec(encoders, files):
    """Bugs caught: a 30x20 image left to the processor's 784-pixel minimum (28x28, 1 token) under UME-R1, and
    VLM2Vec's rule for a side under 28 pixels (resize to 56x56, processor.py:329-332) not applied."""
    item = Item(id="s", text="<|image_pad|>\nRepresent the given image for classification\n", image=files["small"])
    # 30x20 -> 28x28 = 784 < 3136 -> beta = sqrt(3136/600) -> ceil(20b/28)=2, ceil(30b/28)=3 -> 84x56 -> 3x2 tokens
    r = show(encoders["ume-r1-2b"], item)
    assert (r["image_sizes"], r["visual_tokens"]) == ([[84, 56]], 6)
    r = show(encoders["vlm2vec-v2"], item)
    assert (r["image_sizes"], r["visual_tokens"]) == ([[56, 56]], 4)


def test_vlm2vec_imagenet_query_is_the_official_text(encoders, files):
    """Bugs caught: ``<|vision_start|>`` wrapping, a space after the placeholder, the loader's final "\\n" dropped
    (VLM2Vec ``Qwen2_VL_process_fn`` passes the parser's text to the processor unchanged, processor.py:333)."""
    text = "<|image_pad|>\nRepresent the given image for classification\n"
    r = show(encoders["vlm2vec-v2"], Item(id="q", text=text, image=files["photo"]))
    assert r["text"] == text and r["text"].endswith("\n") and "<|vision_start|>" not in r["text"]
    assert r["pool_token"] == "\n"  # the last token is read
    # 640x480 -> 644x476 (rounded to 28s; inside 3136..1003520) -> 46x34 patches -> 391 tokens
    assert (r["image_sizes"], r["visual_tokens"]) == ([[644, 476]], 391)
    assert r["input_tokens"] == len(encoders["vlm2vec-v2"].tokenizer(text)["input_ids"]) - 1 + 391


def test_vlm2vec_text_only_item_has_no_media(encoders):
    r = show(encoders["vlm2vec-v2"], Item(id="c", text="tench"))
    assert (r["text"], r["n_images"], r["visual_tokens"]) == ("tench", 0, 0)


def test_checkpoint_pixel_bounds_do_not_override_the_preset(encoders, files):
    """Bug caught (issue 11 item 14): bounds given only to ``from_pretrained`` lose to a checkpoint's top-level
    min_pixels/max_pixels.  The tiny checkpoint declares 3,136..12,845,056 and the processor loads them; the tiny
    preset's 50,176 must still hold for images and video frames."""
    enc = encoders["tiny-qwen2vl"]
    assert enc.processor.image_processor.size.longest_edge == 12845056  # the override the call-time bounds beat
    page = Item(id="p", text="<|image_pad|> Understand the content of the provided document image.\n",
                image=files["page"])
    # 2000x2800 -> fetch_image 1988x2800 -> processor max 50176: beta = sqrt(1988*2800/50176) = 10.53
    # -> floor(2800/b/28)=9, floor(1988/b/28)=6 -> 168x252 -> 12x18 patches -> 54 tokens (not 7,100)
    r = show(enc, page)
    assert (r["image_sizes"], r["visual_tokens"]) == ([[168, 252]], 54)
    video = Item(id="v", text="<|video_pad|> Understand the content of the provided video.", video=files["frames"])
    # each 640x480 frame -> fetch_image 644x476 -> max 50176 -> 252x168; 4 frames -> 2 temporal patches
    r = show(enc, video)
    assert (r["video_frames"], r["visual_tokens"]) == ([[4, 252, 168]], 2 * 18 * 12 // 4)


def test_video_frames_get_the_image_bounds_without_a_whole_video_cap(encoders, files, monkeypatch):
    """Bug caught (item 15): leaving the per-frame cap to transformers' default, which its own warning says
    becomes a whole-video budget in v5.22.  Both reference pipelines resize each frame alone within the image
    bounds (their Qwen2-VL *image* processor handles videos; processing_qwen2_vl.py).  With a budget of 10 tokens
    the capped path would shrink every frame to about 3,528 pixels; the reference path keeps 644x476."""
    enc = encoders["vlm2vec-v2"]
    monkeypatch.setattr(enc.processor.video_processor, "max_video_tokens", 10)
    video = Item(id="v", text="<|video_pad|> Recognize the category of the video content.", video=files["frames"])
    r = show(enc, video)
    assert (r["video_frames"], r["visual_tokens"]) == ([[4, 644, 476]], 2 * 46 * 34 // 4)
    r = show(encoders["ume-r1-2b"], video)  # fetch_video: each frame by fetch_image, then 784..2,359,296
    assert (r["video_frames"], r["visual_tokens"]) == ([[4, 644, 476]], 2 * 46 * 34 // 4)


def test_ume_r1_pastes_transparent_images_on_white(encoders, files):
    """Bug caught: converting to RGB before qwen-vl-utils (PIL drops alpha, giving red); its ``to_rgb`` pastes
    RGBA on white (vision_process.py:89-95).  VLM2Vec's processor converts with PIL, so red there."""
    item = Item(id="a", text="<|image_pad|>\nRepresent the given image\n", image=files["clear"])
    ume = encoders["ume-r1-2b"].build_prompt(item)
    assert ume.images[0].getpixel((5, 5)) == (255, 255, 255)
    vlm = encoders["vlm2vec-v2"].build_prompt(item)
    assert vlm.images[0].getpixel((5, 5)) == (255, 0, 0)


def test_vlm2vec_text_without_placeholder_for_its_image_is_a_data_error(encoders, files):
    """Bug caught: an image silently dropped or misplaced when the loader's text lacks the placeholder."""
    with pytest.raises(DataError, match="0 <|image_pad|> for 1 media"):
        encoders["vlm2vec-v2"].build_prompt(Item(id="x", text="Represent the image", image=files["photo"],
                                                 source=("rows.parquet", 3)))


def test_items_with_a_separate_instruction_keep_the_old_join(encoders, files):
    """Hand-built items (instruction apart) still join instruction and text with one space."""
    item = Item(id="o", text="a dog", instruction="Find an image:", image=files["photo"])
    assert encoders["vlm2vec-v2"].build_prompt(item).text == "<|image_pad|> Find an image: a dog"
    assert f"<|vision_end|>Find an image: a dog\n{DISC_TOKEN}" in encoders["ume-r1-2b"].build_prompt(item).text
