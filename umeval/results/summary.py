"""The tables ``umeval run`` and ``umeval launch`` print at their end, and their exit code.

Apart from :mod:`umeval.cli` so that the commands it dispatches to (``launch``, ``show``) can print the same
tables without importing the CLI that imports them.
"""

from __future__ import annotations

import math
import sys
from typing import Any

from rich.console import Console
from rich.table import Table


def failed_exit(failed: list[str]) -> int:
    """1 when any task of the command failed (keep_going=true records failures and goes on), else 0."""
    if not failed:
        return 0
    print(f"error: {len(failed)} task(s) failed: {', '.join(failed)}; their errors are in the leaderboard's "
          "error column and in tasks/<task>/<mode>/scores.json", file=sys.stderr)
    return 1


def print_sampling(board: Any, console: Console) -> None:
    """pass@k of the gen mode per roll-up (meta-category, modality, All): the mean over samples is pass@1."""
    if board.empty:
        return
    rows = board[(board["level"] != "task") & board["metric"].str.startswith("pass@")]
    if rows.empty:
        return
    ks = sorted(set(rows["metric"]), key=lambda m: int(m[5:]))
    table = Table(title="gen sampling: pass@k (pass@1 = mean over samples, the gen headline)")
    for c in ("level", "name", "mode", *ks):
        table.add_column(c, justify="right" if c.startswith("pass@") else "left")
    for (level, name, mode), g in rows.groupby(["level", "name", "mode"], sort=False):
        vals = g.set_index("metric")["value"]
        status = "" if (g["status"] == "ok").all() else " (incomplete)"
        table.add_row(level, f"{name}{status}", mode, *[_fmt(vals.get(k)) for k in ks])
    console.print(table)


def _fmt(v: Any) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.1f}"


def print_summary(board: Any, console: Console) -> None:
    """Main scores (x100) per task and roll-up, one column per mode, with deltas against disc."""
    if board.empty:
        return
    main = board[board["is_main"]]
    modes = list(dict.fromkeys(main["mode"]))
    table = Table(title=f"umeval: {', '.join(dict.fromkeys(main['model']))}")
    for c in ("level", "name", "metric"):
        table.add_column(c, overflow="fold")
    for m in modes:
        table.add_column(m, justify="right")
        if m != modes[0]:
            table.add_column(f"{m}-{modes[0]}", justify="right")
    table.add_column("queries", justify="right")
    table.add_column("ties", justify="right")
    keyed = main.set_index(["level", "name", "mode"])
    for (level, name), g in main.groupby(["level", "name"], sort=False):
        cells = [level, str(name), str(g["metric"].iloc[0])]
        base = keyed["value"].get((level, name, modes[0]))
        for m in modes:
            v = keyed["value"].get((level, name, m))
            cells.append(_fmt(v))
            if m != modes[0]:
                cells.append("-" if v is None or base is None else f"{100 * (v - base):+.1f}")
        first = g.iloc[0]
        cells += [str(first["n_queries"]), str(first["n_tied"])]
        if (g["status"] != "ok").any():
            cells[1] += f" ({'; '.join(sorted(set(g['status'])))})"
        table.add_row(*cells)
    console.print(table)
