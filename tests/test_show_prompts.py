"""``umeval prompts`` on every task's fixture, for the three prompt formats, and its command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from umeval.commands.prompts import prompt_rows
from umeval.core.config import compose_config
from umeval.core.registry import task_groups

KEYS = {"task", "role", "item_id", "text", "n_images", "n_videos", "image_sizes", "visual_tokens", "input_tokens",
        "pool_token"}


@pytest.fixture(scope="module")
def data_root(fixture_root: Path) -> Path:
    return fixture_root


@pytest.mark.parametrize("preset", ["ume-r1-2b", "vlm2vec-v2", "tiny-qwen2vl"])
def test_prompts_runs_on_all_78_tasks(preset, data_root, tiny_model, cache_dir):
    """Bug caught: a task family or a format whose items the command (or the encoder's preparation) cannot
    render, e.g. a video task under VLM2Vec or a visdoc page under UME-R1."""
    from umeval.encoders.qwen2vl import Qwen2VLEncoder

    cfg = compose_config(["task=all", f"model={preset}", f"model.path={tiny_model}", f"data_root={data_root}",
                          f"cache_dir={cache_dir}", "limit=1", "hub=false"])
    encoder = Qwen2VLEncoder(cfg.model, cache_dir=cache_dir, num_workers=0, weights=False)
    rows = prompt_rows(cfg, encoder=encoder)
    assert {r["task"] for r in rows} == set(task_groups()["all"]) and len(task_groups()["all"]) == 78
    for task in {r["task"] for r in rows}:
        assert sorted(r["role"] for r in rows if r["task"] == task) == ["candidate", "query"], task
    for r in rows:
        assert KEYS <= set(r), r["task"]
        assert r["visual_tokens"] < r["input_tokens"]
        assert len(r["image_sizes"]) == r["n_images"] and len(r["video_frames"]) == r["n_videos"]
        if preset == "vlm2vec-v2":
            assert r["pool_index"] == r["input_tokens"] - 1 and "<|vision_start|>" not in r["text"]
        else:  # UME-R1 format: <disc_emb> is read; text-only items get the 56x56 blank image (4 tokens)
            assert r["pool_token"] == "<disc_emb>"
            if r["n_videos"] == 0 and r["image_sizes"] == [[56, 56]]:
                assert r["visual_tokens"] == 4


def test_prompts_command_line_json_and_text(data_root, tiny_model, cache_dir, capsys):
    """Bug caught: the CLI entry (COMMANDS line, ``--json`` flag, overrides) not wired to the module."""
    from umeval.cli import main

    args = ["prompts", "task=ImageNet-1K", "model=vlm2vec-v2", f"model.path={tiny_model}", f"data_root={data_root}",
            f"cache_dir={cache_dir}", "limit=1", "hub=false"]
    assert main([*args, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["role"] for r in rows] == ["query", "candidate"] and KEYS <= set(rows[0])
    assert rows[0]["n_images"] == 1 and rows[0]["visual_tokens"] > 0
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("== ImageNet-1K query ") and json.dumps(rows[0]["text"]) in out
