"""The official sizes of the MMEB-V2 tasks, from the table shipped beside this module (``mmeb_v2_sizes.tsv``).

Per task: the number of queries scored in the official v2.0.1 run of VLM2Vec-V2.0-Qwen2VL-2B (``num_data`` in its
score file; 83,530 in all) and a note on the candidates each query ranks (a per-query list of about 1,000 for
image tasks, a shared corpus or label set for video and visual-document tasks).  ``umeval list tasks`` shows them.
"""

from __future__ import annotations

import csv
import functools
from importlib import resources
from typing import NamedTuple


class OfficialSize(NamedTuple):
    queries: int
    candidates: str


@functools.cache
def official_sizes() -> dict[str, OfficialSize]:
    """Task name -> its official size; read once."""
    text = resources.files("umeval.data").joinpath("mmeb_v2_sizes.tsv").read_text(encoding="utf-8")
    rows = csv.DictReader(text.splitlines(), delimiter="\t")
    return {r["task"]: OfficialSize(int(r["queries_official_run"]), r["candidates_note"]) for r in rows}
