"""Count the items and official queries the GME/LamRA trailing-space rule touches (docs/adding-a-model.md).

Usage: `.venv/bin/python docs/scripts/count_bare_instruction.py <empty folder> [sizes.tsv]` (default
../shared/data/mmeb_v2_sizes.tsv, the task sizes of the official run); it loads every
MMEB-V2 fixture with the loaders' `compose` instrumented (a media item composed with no text) and weights each task
by its official query count.
"""
import csv
import sys
from pathlib import Path

import umeval.loaders.beir as beir
import umeval.loaders.mmeb_image as mmeb
import umeval.loaders.video as video
from umeval.core.registry import discover_tasks
from umeval.loaders import LoadContext, load_task
from umeval.loaders import text as T
from umeval.testing.fixtures import write_fixture

recorded: set[str] = set()
real = T.compose
def spy(instruction, text=None, *, image=False, video=False):
    out = real(instruction, text, image=image, video=video)
    if (image or video) and not text:
        recorded.add(out.replace(" \n", "\n").rstrip())
    return out
for m in (beir, video, mmeb):
    m.compose = spy

sizes = {r["task"]: int(r["queries_official_run"]) for r in csv.DictReader(open(sys.argv[2] if len(sys.argv) > 2 else "../shared/data/mmeb_v2_sizes.tsv"), delimiter="\t")}
root = Path(sys.argv[1]); root.mkdir(exist_ok=True)
tot_q = tot = 0
rows = []
for name, spec in discover_tasks().items():
    if spec.source.generated:
        continue
    write_fixture(spec, root, seed=1)
    recorded.clear()
    data = load_task(spec, LoadContext(data_root=root, allow_hub=False))
    hit = lambda it: it.text.rstrip() in recorded
    q_aff = [hit(q) for q in data.queries]
    c_aff = {c.id for c in data.candidates if hit(c)}
    if data.pools is None:
        per_q = [a or bool(c_aff) for a in q_aff]
    else:
        per_q = [a or any(data.candidates[j].id in c_aff for j in pool) for a, pool in zip(q_aff, data.pools)]
    frac = sum(per_q) / len(per_q)
    n = round(frac * sizes.get(name, 0))
    tot_q += n; tot += sizes.get(name, 0)
    side = ("queries" if any(q_aff) else "") + ("+" if any(q_aff) and c_aff else "") + ("candidates" if c_aff else "")
    rows.append((name, side or "-", f"{frac:.2f}", n, sizes.get(name, 0)))
for r in rows:
    print(*r, sep="\t")
print("TOTAL affected queries", tot_q, "of", tot, "tasks affected", sum(1 for r in rows if r[3]))
