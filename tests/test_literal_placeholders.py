"""Placeholders the official parsers write for every backbone reach GME and LamRA as literal tokens.

Official code: TIGER-AI-Lab/VLM2Vec at 6e1e1d4.  ``process_input_text`` adds no placeholder for GME/LamRA
(src/model/processor.py:655-659), so umeval strips the one its Qwen2-VL text carries.  But the video-QA parsers
call ``process_query(q, prompt, video_token=VLM_VIDEO_TOKENS[backbone])`` (mvbench_dataset.py:116,
videomme_dataset.py:32, nextqa_dataset.py:33, egoschema_dataset.py:32, activitynetqa_dataset.py:36), and
``VLM_VIDEO_TOKENS`` maps GME and LamRA to ``"<|video_pad|>"`` (processor.py:74-86): the query keeps
``"<|video_pad|> " + prompt + " " + question``.  image_t2i_eval.py:18 turns a query instruction's ``<|image_1|>``
into ``VLM_IMAGE_TOKENS[backbone]`` (``"<|image_pad|>"`` for GME/LamRA, processor.py:59-72); model.py:77 then drops
every ``"<|image_pad|>\\n"`` and nothing else.

The bug these catch: the GME/LamRA text of those queries losing the literal token (and its space).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from umeval_tasks.video import QA_PROMPT

from umeval.core.registry import resolve_tasks
from umeval.loaders import LoadContext, load_task
from umeval.models.gme.prompt import baseline_text, gme
from umeval.testing.fixtures import write_fixture

QA_TASKS = ("MVBench", "Video-MME", "NExTQA", "EgoSchema", "ActivityNetQA")


@pytest.mark.parametrize("task", QA_TASKS)
def test_video_qa_queries_keep_the_literal_video_token_for_gme_and_lamra(task, fixture_root):
    data = load_task(resolve_tasks(task)[0], LoadContext(data_root=fixture_root, allow_hub=False))
    for q in data.queries:
        text = baseline_text(q)
        assert text.startswith(f"<|video_pad|> {QA_PROMPT} "), text[:80]  # process_query, prompt given
        assert text == q.text  # the Qwen2-VL string, as the official parser gives every backbone
    p = gme(data.queries[0], [], [[_frame()] * 3], None)
    assert f"<|vision_start|><|image_pad|><|vision_end|><|video_pad|> {QA_PROMPT} " in p.text


def _frame():
    from PIL import Image

    return Image.new("RGB", (56, 56), (10, 200, 10))


def test_t2i_instruction_placeholder_is_kept_for_gme(tmp_path: Path):
    spec = resolve_tasks("MSCOCO_t2i")[0]
    write_fixture(spec, tmp_path, seed=1)
    path = next((tmp_path / spec.source.hub_id / spec.source.subset).glob("*.parquet"))
    table = pq.read_table(path).to_pylist()
    table[0]["qry_inst"] = "<|image_1|> Find me an everyday image that matches the given caption:"
    table[1]["qry_inst"] = "<|image_1|>\nFind me an everyday image that matches the given caption:"
    import pyarrow as pa

    pq.write_table(pa.Table.from_pylist(table, schema=pq.read_schema(path)), path)
    data = load_task(spec, LoadContext(data_root=tmp_path, allow_hub=False))
    q0, q1, q2 = data.queries[:3]
    cap0, cap1 = table[0]["qry_text"], table[1]["qry_text"]
    # image_t2i_eval.py:18-19: inst (placeholder replaced) + " " + qry_text + "\n", for every backbone
    assert baseline_text(q0) == f"<|image_pad|> Find me an everyday image that matches the given caption: {cap0}\n"
    # model.py:77 drops "<|image_pad|>\n"
    assert baseline_text(q1) == f"Find me an everyday image that matches the given caption: {cap1}\n"
    assert not q2.literal_placeholders and q0.literal_placeholders and q0.key != q2.key


@pytest.mark.parametrize("preset", ["gme-qwen2vl-2b", "lamra-ret-qwen25vl-7b"])
def test_a_literal_video_token_encodes_on_tiny_checkpoints(preset, fixture_root, tiny_model, tiny25, hf_encoder):
    """The literal token reaches the model as one ``<|video_pad|>`` id beside the image (the middle frame), as in the
    official forward (gme_inference.py:71-99: only image tokens get visual features).  Catches a processor or
    model that expands or rejects a video placeholder without video."""
    enc = hf_encoder(preset, tiny25 if preset.startswith("lamra") else tiny_model)
    q = load_task(resolve_tasks("NExTQA")[0], LoadContext(data_root=fixture_root, allow_hub=False)).queries[0]
    batch, _ = enc.prepare([q])
    ids = batch["input_ids"][0].tolist()
    assert ids.count(enc.token_id("<|video_pad|>")) == 1 and batch.get("pixel_values_videos") is None
    assert ids.count(enc.token_id("<|image_pad|>")) > 1  # the middle frame's visual tokens
    vec = enc.embed([q])
    assert vec.shape[0] == 1 and abs(float((vec**2).sum()) - 1.0) < 1e-5
