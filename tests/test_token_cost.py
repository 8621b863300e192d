"""Token cost declared by each family (umeval.models.cost), and ``umeval estimate`` counting exact tokens."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest
from PIL import Image

from umeval.core.types import Item
from umeval.models.cost import QWEN2VL_COST, Qwen2VLCost, qwen_vl_utils_resize, smart_resize

PKG = Path(__file__).resolve().parents[1] / "umeval"
SIDES = [1, 10, 27, 28, 29, 55, 100, 333, 640, 1700, 2200, 4000]
BOUNDS = [(784, 50176), (784, 2359296), (3136, 12845056), (56 * 56, 28 * 28 * 1280)]


def test_resize_arithmetic_matches_the_libraries():
    """Bug caught: our copy of the resize drifting from transformers' or qwen-vl-utils' (then shard costs, engine
    sizes and `estimate` count tokens the model never sees); e.g. a side rounded up to 28 before the minimum
    check, which qwen-vl-utils does and transformers does not."""
    from qwen_vl_utils.vision_process import smart_resize as qvu
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize as hf

    for h, w in itertools.product(SIDES, SIDES):
        if max(h, w) / min(h, w) > 200:
            continue
        for lo, hi in BOUNDS:
            assert smart_resize(h, w, 28, lo, hi) == tuple(hf(h, w, 28, lo, hi)), (h, w, lo, hi)
            assert qwen_vl_utils_resize(h, w, 28, lo, hi) == tuple(qvu(h, w, 28, lo, hi)), (h, w, lo, hi)


def test_families_declare_their_cost():
    """Bug caught: one family's preprocessing applied to all (UME-R1's qwen-vl-utils pre-resize and blank image
    for text-only items, VLM2Vec's 56x56 rule for small images) or a family without a cost."""
    from umeval.models.family import get_family

    ume, vlm = get_family("ume-r1").token_cost, get_family("vlm2vec").token_cost
    # 100 x 60 under UME-R1 (tiny preset bounds 784..50176): qwen-vl-utils rounds to 112 x 56 (6,272 px >= 3,136),
    # the processor keeps it: 4 x 2 blocks of 28 px = 8 tokens.
    assert ume.image_tokens((100, 60), 784, 50176) == 8
    # 20 x 20: the processor alone rounds to one 28 x 28 block; VLM2Vec first makes it 56 x 56 (4 tokens).
    assert QWEN2VL_COST.image_tokens((20, 20), 784, 2359296) == 1
    assert vlm.image_tokens((20, 20), 784, 2359296) == 4
    # A text-only item: UME-R1 feeds a blank 28 x 28 image, which qwen-vl-utils makes 56 x 56 (4 tokens).
    assert ume.item_visual_tokens(Item(id="t", text="x"), 784, 50176) == 4
    assert QWEN2VL_COST.item_visual_tokens(Item(id="t", text="x"), 784, 50176) == 0
    # A video of 3 frames: padded to 4, merged in pairs: 2 x the frame's tokens.
    assert QWEN2VL_COST.video_tokens((56, 56), 3, 784, 50176) == 2 * 4
    assert isinstance(get_family("gme").token_cost, Qwen2VLCost)  # the default


def test_the_engine_does_no_patch_arithmetic():
    """Issue 20: the engine names no backbone's patch arithmetic.  Catches `28 * 28` or a division by 784 (pixels
    per Qwen2-VL token) in any module outside umeval/models/ (shard balancing, batching and engine sizing ask the
    family's cost)."""
    offenders = []
    for path in PKG.rglob("*.py"):
        if path.relative_to(PKG).parts[0] == "models":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.BinOp):
                consts = [n.value for n in (node.left, node.right) if isinstance(n, ast.Constant)]
                if consts == [28, 28] or (784 in consts and isinstance(node.op, (ast.FloorDiv, ast.Div))):
                    offenders.append(f"{path.relative_to(PKG)}:{node.lineno}")
    assert not offenders, offenders


@pytest.fixture(scope="module")
def tiny_counter(tmp_path_factory):  # type: ignore[no-untyped-def]
    from umeval.commands.estimate import PromptCounter
    from umeval.core.config import compose_config

    cache = tmp_path_factory.mktemp("cache")
    cfg = compose_config(["model=tiny-qwen2vl", f"cache_dir={cache}"])
    return PromptCounter(cfg, cache)


def test_estimate_counts_exact_prompt_tokens(tiny_counter, tmp_path):
    """Bug caught: `estimate` counting tokens other than those the processor produces (an approximate text
    count, visual tokens by another rule, a placeholder counted twice).  Checked against the processor's own
    input_ids, item by item, and by hand for one tiny image (8 visual tokens, see above)."""
    from umeval.commands.prompts import item_inputs

    assert tiny_counter.exact
    img = tmp_path / "tiny.png"
    Image.new("RGB", (100, 60), (200, 10, 10)).save(img)
    frames = []
    for i in range(3):
        f = tmp_path / f"f{i}.png"
        Image.new("RGB", (56, 56), (i * 60, 0, 0)).save(f)
        frames.append(str(f))
    items = [Item(id="i", text="a red square", instruction="Represent the image", image=str(img)),
             Item(id="t", text="a caption about cats"),
             Item(id="v", text="what happens?", instruction="Watch", video=tuple(frames))]
    for it in items:
        real = item_inputs(tiny_counter.encoder, it, task="x", role="query")
        prompt, visual = tiny_counter.count(it, "query")
        assert (prompt, visual) == (real["input_tokens"], real["visual_tokens"]), it.id
    assert tiny_counter.count(items[0], "query")[1] == 8


def test_estimate_on_the_fixtures_and_without_data(tmp_path):
    """Bug caught: `estimate` loading weights, losing tasks, or silently inventing counts when data is missing
    (it must say 'official sizes' and use the official query counts)."""
    from umeval.commands.estimate import estimate
    from umeval.core.config import compose_config
    from umeval.core.registry import resolve_tasks
    from umeval.testing.fixtures import write_fixture

    (spec,) = resolve_tasks("Mini-ImageCLS")
    write_fixture(spec, tmp_path / "data", seed=0)  # the selftest fixture; ImageNet-1K has no data here
    cfg = compose_config(["task=[Mini-ImageCLS,ImageNet-1K]", "model=tiny-qwen2vl", "mode=gen", "gen.samples=2",
                          f"cache_dir={tmp_path}", f"data_root={tmp_path / 'data'}"])
    est = estimate(cfg)
    by = {t["task"]: t for t in est["tasks"]}
    mini, imnet = by["Mini-ImageCLS [gen]"], by["ImageNet-1K [gen]"]
    assert mini["source"] == "data" and imnet["source"] == "official sizes"
    assert imnet["queries"] == 1000  # mmeb_v2_sizes.tsv
    assert mini["items"] == 2 * mini["queries"] + mini["candidates"]  # queries draw 2 traces, candidates 1
    assert mini["gen_tokens"] == mini["items"] * 400
    assert est["total"]["items"] == mini["items"] + imnet["items"]
