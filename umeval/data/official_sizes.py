"""The official sizes of the MMEB-V2 tasks, from the tables shipped beside this module.

``mmeb_v2_sizes.tsv``: per task, the number of queries scored in the official v2.0.1 run of VLM2Vec-V2.0-Qwen2VL-2B
(``num_data`` in its score file; 83,530 in all) and a note on the candidates each query ranks (a per-query list of
about 1,000 for image tasks, a shared corpus or label set for video and visual-document tasks).
``variants.tsv``: other copies of a task's data umeval recognises by their query count (MomentSeeker 1,800).
``umeval list tasks`` and ``umeval data status`` read them.
"""

from __future__ import annotations

import csv
import functools
from importlib import resources
from typing import NamedTuple


class OfficialSize(NamedTuple):
    task: str
    queries: int
    candidates: str
    variants: dict[int, str]  # query count -> what that copy is


@functools.cache
def official_sizes() -> dict[str, OfficialSize]:
    """Task name -> its official size; read once."""
    base = resources.files("umeval.data")
    variants: dict[str, dict[int, str]] = {}
    for row in csv.DictReader((base / "variants.tsv").read_text(encoding="utf-8").splitlines(), delimiter="\t"):
        variants.setdefault(row["task"], {})[int(row["queries"])] = row["variant"]
    rows = csv.DictReader((base / "mmeb_v2_sizes.tsv").read_text(encoding="utf-8").splitlines(), delimiter="\t")
    return {r["task"]: OfficialSize(r["task"], int(r["queries_official_run"]), r["candidates_note"],
                                    variants.get(r["task"], {})) for r in rows}
