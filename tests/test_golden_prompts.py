"""Golden model inputs: the exact rendered string and visual-token count per family shape and prompt format.

The expectations in ``tests/golden/prompts.json`` were written by hand from the official code, not produced by
umeval; each case names its parser (TIGER-AI-Lab/VLM2Vec ``src/data/eval_dataset/*.py``) and the file's
``_about`` cites the rules: UME-R1 ``eval_collator.py:217-298`` (placeholder removed, text stripped, image or
video part first, blank image for text-only), ``:21`` and ``:320-323`` (prompt and chat template), qwen-vl-utils
0.0.11 ``vision_process.py:98-146, 433-447`` (media), VLM2Vec ``src/model/processor.py:302-374`` (text as it
is) and ``src/arguments.py:45-46`` (bounds).  The items follow the loader interface: ``instruction=""`` and the
official parser's text in ``text``.

Bug caught: any change in what a model receives (a stripped or unstripped newline, a placeholder layout, the
chat template, a pixel bound) fails here with the case, the format and the first differing character.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from umeval.commands.prompts import item_inputs
from umeval.core.types import Item

GOLDEN = json.loads((Path(__file__).parent / "golden" / "prompts.json").read_text())
CASES = [(c["case"], fmt) for c in GOLDEN["cases"] for fmt in c["expect"]]


def first_difference(expected: str, got: str) -> str:
    """Where two strings part, with a little context on each side (empty when they are equal)."""
    if expected == got:
        return ""
    i = next((k for k, (a, b) in enumerate(zip(expected, got)) if a != b), min(len(expected), len(got)))
    return (f"first difference at character {i}: expected {expected[max(0, i - 20): i + 20]!r}, "
            f"got {got[max(0, i - 20): i + 20]!r} (lengths {len(expected)} and {len(got)})")


def test_first_difference_names_the_character():
    assert first_difference("abc\n", "abc\n") == ""
    assert "character 3" in first_difference("abc\n", "abc") and "'abc\\n'" in first_difference("abc\n", "abc")


@pytest.fixture(scope="module")
def encoders(tiny_model, cache_dir):  # type: ignore[no-untyped-def]
    from umeval.core.config import compose_config
    from umeval.encoders.qwen2vl import Qwen2VLEncoder

    presets = {fmt for _, fmt in CASES}
    return {p: Qwen2VLEncoder(compose_config([f"model={p}", f"model.path={tiny_model}"]).model,
                              cache_dir=cache_dir, num_workers=0, weights=False) for p in sorted(presets)}


@pytest.fixture(scope="module")
def media(tmp_path_factory):  # type: ignore[no-untyped-def]
    d = tmp_path_factory.mktemp("golden-media")
    rng = np.random.default_rng(0)
    sizes = GOLDEN["media"]

    def save(name: str, w: int, h: int) -> str:
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(d / name)
        return str(d / name)

    n, fw, fh = sizes["frames"]
    return {"photo": {"image": save("photo.jpg", *sizes["photo"])},
            "page": {"image": save("page.png", *sizes["page"])},
            "video": {"video": tuple(save(f"frame{i}.jpg", fw, fh) for i in range(n))},
            "none": {}}


@pytest.mark.parametrize(("case", "fmt"), CASES, ids=[f"{c}-{f}" for c, f in CASES])
def test_rendered_input_matches_golden(case, fmt, encoders, media):
    spec = next(c for c in GOLDEN["cases"] if c["case"] == case)
    item = Item(id=case, text=spec["item"]["text"], **media[spec["item"]["media"]])
    got = item_inputs(encoders[fmt], item, task=spec["family"], role=spec["role"])
    want = spec["expect"][fmt]
    diff = first_difference(want["text"], got["text"])
    assert not diff, f"{case} ({spec['family']}, {fmt}): rendered text changed; {diff}"
    for key in ("image_sizes", "video_frames", "visual_tokens"):
        if key in want:
            assert got[key] == want[key], f"{case} ({fmt}): {key} {got[key]} != golden {want[key]}"
