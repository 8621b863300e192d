"""`umeval show` prints, from disk, the same table `umeval run` printed at its end."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from _fake_results import fake_run
from rich.console import Console

from umeval.cli import print_summary
from umeval.export import load_results, render
from umeval.show import boards


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
    assert "Mini-VisDoc" in _text(rebuilt) and "+26.8" in _text(rebuilt)


def test_show_cli(finished):
    out, _ = finished
    r = subprocess.run([sys.executable, "-m", "umeval.cli", "show", str(out / "tiny-qwen2vl")], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    assert "│ overall  │ All           │ main          │ 23.7 │ 32.7 │" in r.stdout
    r = subprocess.run([sys.executable, "-m", "umeval.cli", "show", str(out), "-f", "markdown"], capture_output=True,
                       text=True)
    assert r.returncode == 0 and r.stdout == render(load_results([out]), "markdown")
