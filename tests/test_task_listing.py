"""``umeval list tasks``: official sizes (package data), main metric and citations of every task."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from umeval.cli import main
from umeval.commands.listing import task_rows
from umeval.core.registry import discover_tasks

ROOT = Path(__file__).resolve().parents[1]


def test_every_mmeb_v2_task_has_its_official_size_and_citations():
    """Catches a task renamed away from its row of the sizes table (no size shown), a task without citations, and
    an image task that does not cite MMEB V1; the 78 official query counts add up to the 83,530 of the official
    v2.0.1 run."""
    rows = [r for r in task_rows() if r["benchmark"] == "MMEB-V2"]
    assert len(rows) == 78
    assert not [r["name"] for r in rows if r["queries"] is None or not r["candidates"]]
    assert sum(r["queries"] for r in rows) == 83530
    assert all(r["citation"][0].startswith("Meng et al., VLM2Vec-V2") for r in rows)
    image = [r for r in rows if r["modality"] == "image"]
    assert all(r["citation"][1].startswith("Jiang et al., VLM2Vec:") and len(r["citation"]) == 3 for r in image)
    assert all(r["source"] == r["citation"][-1] for r in rows)
    by = {r["name"]: r for r in rows}
    assert by["MSR-VTT"]["queries"] == 1000 and by["MSR-VTT"]["main_metric"] == "hit@1"
    assert by["ViDoRe_tatdqa"]["queries"] == 1646 and by["ViDoRe_tatdqa"]["main_metric"] == "ndcg_linear@5"


def test_citations_are_not_hashed_into_fingerprints():
    """Catches the citation put into ``TaskSpec.summary()``, which the setup fingerprint hashes: fixing a typo in
    a citation would mark every finished result stale."""
    spec = next(s for _, s in discover_tasks().items() if s.name == "ImageNet-1K")
    assert spec.citation and "citation" not in spec.summary()


def test_list_tasks_shows_sizes_and_sources(capsys):
    assert main(["list", "tasks", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {"queries", "candidates", "citation", "source", "main_metric"} <= set(rows[0])
    assert main(["list", "tasks"]) == 0
    out = capsys.readouterr().out
    assert "8564" in out and "Xiao et al., NExT-QA" in out  # NExTQA: its official query count and its paper


def test_the_sizes_table_ships_as_package_data():
    """Catches a wheel without the table (``umeval list tasks`` would fail after pip install)."""
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "*.tsv" in conf["tool"]["setuptools"]["package-data"]["umeval.data"]
    assert (ROOT / "umeval" / "data" / "mmeb_v2_sizes.tsv").is_file()
