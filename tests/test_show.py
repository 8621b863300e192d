"""`umeval show` prints, from disk, the same table `umeval run` printed at its end."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from _fake_results import fake_run
from rich.console import Console

from umeval.cli import print_summary
from umeval.commands.export import load_results, render
from umeval.commands.show import boards


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("show")
    return tmp / "out", fake_run(tmp / "out", tmp / "cache")


def _text(board) -> str:  # type: ignore[no-untyped-def]
    buf = io.StringIO()
    print_summary(board, Console(file=buf, width=200))
    return buf.getvalue()


def test_show_equals_the_run_table(finished):
    """Catches a leaderboard rebuilt differently from the run's (roll-ups, expected task counts, statuses)."""
    out, summary = finished
    rebuilt = boards(load_results([out]))["tiny-qwen2vl"]
    cols = ["level", "name", "mode", "metric", "value", "n_tasks", "n_tasks_expected", "status", "n_queries",
            "n_tied"]
    assert rebuilt[cols].equals(summary.leaderboard[cols])
    assert _text(rebuilt) == _text(summary.leaderboard)
    main = summary.leaderboard[summary.leaderboard["is_main"] & (summary.leaderboard["name"] == "Mini-VisDoc")]
    by_mode = main.set_index("mode")["value"]
    assert "Mini-VisDoc" in _text(rebuilt) and f"{100 * (by_mode['gen'] - by_mode['disc']):+.1f}" in _text(rebuilt)


def _overall_cells(text: str) -> list[str]:
    line = next(ln for ln in text.splitlines() if ln.startswith("│ overall"))
    return [c.strip() for c in line.split("│")]


def test_show_cli(finished):
    out, summary = finished
    r = subprocess.run([sys.executable, "-m", "umeval.cli", "show", str(out / "tiny-qwen2vl")], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    # The overall row the command prints has the cells of the run's own table (widths may differ).
    assert _overall_cells(r.stdout) == _overall_cells(_text(summary.leaderboard))
    r = subprocess.run([sys.executable, "-m", "umeval.cli", "show", str(out), "-f", "markdown"], capture_output=True,
                       text=True)
    assert r.returncode == 0 and r.stdout == render(load_results([out]), "markdown")
