"""VLM2Vec-V2 (and GME/LamRA) pixels equal the slow image processor's, which the official code loads.

Official: src/model/processor.py:121-134 (TIGER-AI-Lab/VLM2Vec 6e1e1d4) builds the vendored slow
``Qwen2VLImageProcessor``: smart_resize to multiples of 28 within the bounds
(vlm_backbone/qwen2_vl/image_processing_qwen2_vl.py:303-313, PIL bicubic through ``image_transforms.resize``), rescale
by 1/255, normalise with the CLIP mean/std, then patches ordered (t, h/2, w/2, 2, 2, c, tp, 14, 14) (:326-345).
The reference below restates those steps with PIL and numpy.  The bug this catches: the fast (torchvision)
processor, whose bicubic resampling differs on images the processor resizes (odd sizes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from umeval.core.config import compose_config
from umeval.core.types import Item

MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)  # OPENAI_CLIP_MEAN
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)  # OPENAI_CLIP_STD


def official_pixels(im: Image.Image, lo: int, hi: int) -> np.ndarray:
    from qwen_vl_utils import smart_resize

    h, w = smart_resize(im.height, im.width, factor=28, min_pixels=lo, max_pixels=hi)
    arr = np.asarray(im.convert("RGB").resize((w, h), Image.BICUBIC)).astype(np.float32) / 255.0
    arr = ((arr - MEAN) / STD).transpose(2, 0, 1)[None]  # (1, C, H, W)
    arr = np.concatenate([arr, arr], axis=0)  # one image: repeated to the temporal patch size 2
    gh, gw = h // 14, w // 14
    arr = arr.reshape(1, 2, 3, gh // 2, 2, 14, gw // 2, 2, 14).transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)
    return arr.reshape(gh * gw, 3 * 2 * 14 * 14)


@pytest.mark.parametrize("size", [(157, 101), (77, 333), (1203, 1001)])  # (w, h): odd, thin, above max_pixels
def test_vlm2vec_pixels_equal_the_slow_processor(size, tiny_model: Path, cache_dir: Path, tmp_path: Path):
    from umeval.core.plugins import load_object
    from umeval.models.family import encoder_ref

    cfg = compose_config(["model=vlm2vec-v2", f"model.path={tiny_model}", "model.dtype=float32"])
    enc = load_object(encoder_ref(cfg, "hf"))(cfg.model, cache_dir=cache_dir, device="cpu", num_workers=0,
                                              weights=False)
    rng = np.random.default_rng(sum(size))
    im = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
    path = tmp_path / "odd.png"
    im.save(path)
    batch, _ = enc.prepare([Item(id="q", text="<|image_pad|> Represent the given image.", image=str(path))])
    want = official_pixels(im, int(cfg.model.min_pixels), int(cfg.model.max_pixels))
    got = batch["pixel_values"].numpy()
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-5)
