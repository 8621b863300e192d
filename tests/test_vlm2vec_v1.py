"""VLM2Vec-V1 (Qwen2-VL 2B/7B) as the official eval runs it: golden inputs, an end-to-end tiny run, references.

Facts, from TIGER-AI-Lab/VLM2Vec at 6e1e1d42d4cba85ae4db4d3f7a25cba2465d1e16:
experiments/public/eval/eval_vlm2vecv1_8gpu.sh runs both checkpoints with backbone ``qwen2_vl``, ``--pooling eos
--normalize true --resize_use_processor false --image_resolution high``.  With those, the eval collator resizes
every image and frame whose parser gives a resolution to 1344 x 1344 (eval_collator.py:162-163;
base_eval_dataset.py:39 ``"high": (1344, 1344)``) and the processor then applies resize_min/max_pixels
3,136..1,003,520 (src/arguments.py:45-46; processor.py:121-134 passes them whatever resize_use_processor says).
The video-QA parsers give their query frames the resolution None (activitynetqa_dataset.py:65,
egoschema_dataset.py:62, mvbench_dataset.py:147, nextqa_dataset.py:63, videomme_dataset.py:61): no resize there.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from umeval.core.config import compose_config
from umeval.core.types import Item

REF = Path(__file__).resolve().parents[1] / "umeval" / "models" / "vlm2vec" / "reference"
#: image_cls_dataset.py:17-20 for the Qwen2-VL backbone: the text V1 receives as it is (process_input_text).
IMAGE_QUERY = "<|image_pad|>\nRepresent the given image for classification\n"


@pytest.fixture(scope="module")
def encoders(tiny_model, cache_dir):  # type: ignore[no-untyped-def]
    from umeval.encoders.qwen2vl import Qwen2VLEncoder

    return {p: Qwen2VLEncoder(compose_config([f"model={p}", f"model.path={tiny_model}"]).model, cache_dir=cache_dir,
                              num_workers=0, weights=False)
            for p in ("vlm2vec-v1-qwen2vl-2b", "vlm2vec-v2")}


@pytest.fixture(scope="module")
def files(tmp_path_factory):  # type: ignore[no-untyped-def]
    d = tmp_path_factory.mktemp("v1-media")
    Image.new("RGB", (300, 120), (10, 200, 30)).save(d / "wide.png")
    frames = []
    for i in range(2):
        p = d / f"f{i}.png"
        Image.new("RGB", (224, 112), (i * 90, 20, 20)).save(p)
        frames.append(str(p))
    return {"wide": str(d / "wide.png"), "frames": tuple(frames)}


def test_v1_image_is_square_1344_then_980_by_the_processor(encoders, files):
    """A 300x120 image reaches the V1 processor as 1344x1344 (aspect not kept) and becomes 980x980, i.e. a
    70x70 patch grid, 1,225 visual tokens: 1344^2 = 1,806,336 px is over 1,003,520, so smart_resize scales by
    sqrt(1,806,336 / 1,003,520) and floors to 35 x 28 = 980 per side.  V2 keeps the aspect (its processor
    alone resizes: 300x120 rounds to 308x112, a 22x8 grid).  Catches the V1 resize missing (V1 scored like V2),
    done after the processor, or keeping the aspect."""
    item = Item(id="q", text=IMAGE_QUERY, image=files["wide"])
    v1, v2 = encoders["vlm2vec-v1-qwen2vl-2b"], encoders["vlm2vec-v2"]
    p1 = v1.build_prompt(item, task="ImageNet-1K")
    assert p1.text == IMAGE_QUERY  # the text is V2's: no chat template, placeholder bare
    assert [im.size for im in p1.images] == [(1344, 1344)]
    enc, _ = v1.prepare([item], task="ImageNet-1K")
    assert enc["image_grid_thw"].tolist() == [[1, 70, 70]]
    enc2, _ = v2.prepare([item], task="ImageNet-1K")
    assert enc2["image_grid_thw"].tolist() == [[1, 8, 22]]


def test_v1_frames_resized_except_video_qa_queries(encoders, files):
    """Video retrieval candidates (MSR-VTT, parser msrvtt_dataset.py:36 gives the "high" resolution) get
    1344x1344 frames; a Video-MME query keeps its 224x112 frames (videomme_dataset.py:61 gives None).  Catches
    the video-QA exception being lost (every frame upscaled 12x in pixels) or applied to every video."""
    v1 = encoders["vlm2vec-v1-qwen2vl-2b"]
    cand = Item(id="c", text="<|video_pad|> Understand the content of the provided video.", video=files["frames"])
    assert {f.size for f in v1.build_prompt(cand, task="MSR-VTT", role="candidate").videos[0]} == {(1344, 1344)}
    q = Item(id="q", text="<|video_pad|> Given a video and a question, select ... Question:  Why?",
             video=files["frames"])
    assert {f.size for f in v1.build_prompt(q, task="Video-MME").videos[0]} == {(224, 112)}
    assert {f.size for f in v1.build_prompt(q).videos[0]} == {(1344, 1344)}  # no task known: the general rule


def test_v1_presets_declare_the_official_run():
    """Both presets: family vlm2vec, format vlm2vec-v1, the eval's pixel bounds, 8 frames, disc only, the hub ids
    the official script names.  Catches a preset drifting to V2's format or to another checkpoint."""
    for size in ("2b", "7b"):
        m = compose_config([f"model=vlm2vec-v1-qwen2vl-{size}"]).model
        assert (m.family, m.prompt, m.min_pixels, m.max_pixels, m.num_frames, list(m.modes)) == \
            ("vlm2vec", "vlm2vec-v1", 3136, 1003520, 8, ["disc"])
        assert m.path == f"TIGER-Lab/VLM2Vec-Qwen2VL-{size.upper()}"
        assert m.formats["query"] == m.formats["candidate"] == "umeval.models.vlm2vec.prompt:vlm2vec_v1"


def test_v1_end_to_end_tiny(tiny_model, cache_dir, tmp_path):
    """``umeval run task=Mini-ImageCLS model=vlm2vec-v1-qwen2vl-2b model.path=<tiny Qwen2-VL>`` finishes with
    status ok and unit vectors; random weights, so the score is only a rate.  Catches the V1 format failing
    inside the runner (e.g. the task not reaching it)."""
    from umeval.run.runner import run

    cfg = compose_config(["task=Mini-ImageCLS", "model=vlm2vec-v1-qwen2vl-2b", f"model.path={tiny_model}",
                          "model.dtype=float32", f"output_dir={tmp_path / 'out'}", f"cache_dir={cache_dir}",
                          "progress=false", "backend=hf", "device=cpu", "batch_size=4", "num_workers=0"])
    (row,) = run(cfg).scores
    assert row["status"] == "ok", row
    assert 0.0 <= row["metrics"][row["main_metric"]] <= 1.0


def test_v1_references_pair_every_task():
    """The converted official score files pair the 78 MMEB-V2 tasks (MomentSeeker_1k8 left out), with the
    published numbers as they are: ImageNet-1K hit@1 0.775 (2B) and 0.802 (7B) in
    all_scores/v2.1-baselines-visdoc-page-fixed/VLM2Vec-V1-Qwen2VL-{2B,7B}.json; the page-level tasks from the
    fixed file under their export key, the doc-level ones from v2.0.1.  Catches a dropped or mis-keyed task."""
    from umeval.commands.compare import load_side

    for size, imagenet in (("2B", 0.775), ("7B", 0.802)):
        ref = REF / f"VLM2Vec-V1-Qwen2VL-{size}.json"
        side = load_side(ref)
        assert len(side) == 78 and side[("ImageNet-1K", "disc")].mean == imagenet
        doc = json.loads(ref.read_text())["tasks"]
        assert side[("ViDoSeek-page", "disc")].mean == doc["ViDoSeek-page-fixed"]["ndcg_linear@5"]
        assert "v2.0.1" in doc["ViDoSeek-doc"]["file"] and "page-fixed" in doc["ViDoSeek-page-fixed"]["file"]


def test_model_cards_come_from_the_family():
    """``umeval export`` metadata for a preset is its family's card (name, backbone, size, dimension, date, URL).
    Catches a preset without a card (GME/LamRA had none when cards lived in export.py)."""
    from umeval.commands.export import model_metadata

    meta = model_metadata("vlm2vec-v1-qwen2vl-7b")
    assert (meta["model_name"], meta["model_backbone"], meta["embedding_dimension"]) == \
        ("VLM2Vec-V1-Qwen2VL-7B", "Qwen2-VL-7B-Instruct", 3584)
    assert meta["url"] == "https://huggingface.co/TIGER-Lab/VLM2Vec-Qwen2VL-7B"
    for preset in ("gme-qwen2vl-2b", "lamra-ret", "ume-r1-2b", "vlm2vec-v2"):
        assert model_metadata(preset)["url"], preset
    np.testing.assert_equal(model_metadata("no-such-preset")["url"], None)


def test_a_checkpoint_published_as_a_lora_adapter_loads_with_its_adapter(tiny_model, tmp_path):
    """The official eval loads the V1 checkpoints by ``from_pretrained(model_name)``, which (with peft installed)
    applies a LoRA adapter a hub repo holds in place of full weights (its demo loads the same repos with
    ``lora=True``).  A folder holding only ``adapter_config.json``, the adapter weights and the processor files
    must load through the encoder users run, with the adapter applied.  Catches a peft too old for transformers'
    adapter integration (peft 0.18 with transformers 5.19: ModuleNotFoundError at load), peft missing, and an
    adapter silently ignored (the base model's vectors)."""
    import torch
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from umeval.encoders.qwen2vl import Qwen2VLEncoder

    torch.manual_seed(0)
    base = AutoModelForImageTextToText.from_pretrained(tiny_model)
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    adapter = tmp_path / "adapter"
    get_peft_model(base, lora).save_pretrained(adapter)
    AutoProcessor.from_pretrained(tiny_model).save_pretrained(adapter)
    assert not (adapter / "config.json").exists() and (adapter / "adapter_config.json").is_file()
    items = [Item(id="q", text="<|im_start|>user\nred apple<|im_end|>\n"), Item(id="c", text="a red apple")]
    vecs = {}
    for name, path in (("base", tiny_model), ("adapter", adapter)):
        cfg = compose_config(["model=vlm2vec-v1-qwen2vl-2b", f"model.path={path}"]).model
        vecs[name] = Qwen2VLEncoder(cfg, cache_dir=tmp_path / "cache", num_workers=0).embed(items, task="T")
    assert np.abs(vecs["base"] - vecs["adapter"]).max() > 1e-2  # the adapter changed the vectors
    # ... into what PEFT's own model gives: the last hidden state at the last token, L2-normalised.
    ref = PeftModel.from_pretrained(AutoModelForImageTextToText.from_pretrained(tiny_model), str(adapter)).eval()
    proc = AutoProcessor.from_pretrained(adapter)
    with torch.no_grad():
        h = ref(**proc(text=[items[1].text], return_tensors="pt"), output_hidden_states=True).hidden_states[-1][0, -1]
    np.testing.assert_allclose(vecs["adapter"][1], (h / h.norm()).numpy(), atol=1e-5)
