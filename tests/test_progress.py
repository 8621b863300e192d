"""Progress everywhere: timestamped lines while a redirected run runs, escaped [disc]/[gen] labels on a
terminal, bars that stay where an error stopped them, and the vLLM engine-start line."""

from __future__ import annotations

import io
import re
import sys
import types

import pytest
from fakes import FakeEncoder
from rich.console import Console

from umeval.core.config import compose_config
from umeval.run.progress import Progress, note
from umeval.run.runner import run

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ umeval: ")


def _cfg(tmp_path, *extra):
    return compose_config(["task=mini", "model=tiny-qwen2vl", "mode=both", f"output_dir={tmp_path / 'out'}",
                           f"cache_dir={tmp_path / 'cache'}", *extra])


def test_redirected_run_prints_timestamped_lines_while_it_runs(tmp_path, monkeypatch):
    """Catches live bars drawn into a log (nothing readable until the end) and lines held back until the run
    ends: when the second task starts encoding, the first task's line is already written."""
    monkeypatch.setenv("UMEVAL_PROGRESS_INTERVAL", "0")  # a line at every advance, besides each task end
    out = io.StringIO()
    console = Console(file=out, force_terminal=False)
    seen_at_call: dict[str, str] = {}

    class Spy(FakeEncoder):
        def embed(self, items, *, task=None, role="query", advance=None):  # type: ignore[no-untyped-def]
            seen_at_call.setdefault(f"{task}/disc", out.getvalue())
            return super().embed(items, task=task, role=role, advance=advance)

        def generate_embed(self, items, **kw):  # type: ignore[no-untyped-def]
            seen_at_call.setdefault(f"{kw['task']}/gen", out.getvalue())
            return super().generate_embed(items, **kw)

    run(_cfg(tmp_path), encoder_factory=Spy, console=console)
    lines = out.getvalue().splitlines()
    assert lines and all(STAMP.match(line) for line in lines), lines[:3]
    assert lines[0].endswith("umeval: 6 task(s) to evaluate")
    assert "task 1/6 done: Mini-ImageCLS [disc] (" in seen_at_call["Mini-ImageCLS/gen"]
    assert "task 6/6 done: Mini-VisDoc [gen]" in out.getvalue()
    assert re.search(r"umeval: Mini-T2V \[gen\] queries \d+/8 \(\d+%\), elapsed ", out.getvalue())  # 8 captions
    assert "\x1b[" not in out.getvalue()  # no terminal control codes in a log


def test_terminal_labels_keep_their_brackets(tmp_path):
    """rich reads "[disc]" as markup and drops it, so mode=both showed one label twice."""
    out = io.StringIO()
    run(_cfg(tmp_path), encoder_factory=FakeEncoder, console=Console(file=out, force_terminal=True, width=150))
    text = out.getvalue()
    assert "Mini-T2V [disc] queries" in text and "Mini-T2V [gen] candidates" in text
    assert "suite: 6/6 tasks" in text


@pytest.mark.parametrize("live", [True, False])
def test_a_bar_stays_where_an_error_stopped_it(live):
    """The bar used to be set to full in a finally block, so a crash showed 10/10 done."""
    p = Progress(console=Console(file=io.StringIO(), force_terminal=live), live=live)
    with p, pytest.raises(RuntimeError), p.task("T [disc] queries", 10) as advance:
        advance(3)
        raise RuntimeError("encoder died")
    if live:
        assert p._p.tasks[0].completed == 3
    assert p.items_done == 3


def test_note_goes_through_the_active_progress_or_stderr(capsys):
    out = io.StringIO()
    with Progress(console=Console(file=out, force_terminal=False)):
        note("starting [gen] engine")
    assert STAMP.match(out.getvalue()) and out.getvalue().endswith("umeval: starting [gen] engine\n")
    note("alone")
    assert STAMP.match(capsys.readouterr().err)


def test_vllm_engine_start_is_announced(monkeypatch):
    """The first 40-odd seconds of a vLLM run showed a bar stuck at 0 with no word of an engine starting."""
    from umeval.encoders.vllm_backend import VllmEncoder

    order: list[str] = []
    fake = types.ModuleType("vllm")
    fake.LLM = lambda **kw: order.append("LLM") or object()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vllm", fake)
    monkeypatch.setattr("umeval.run.progress.note", lambda text: order.append(text))
    enc = VllmEncoder.__new__(VllmEncoder)
    enc._gen = enc._pool = None
    enc.cfg = types.SimpleNamespace(name="ume-r1-2b")
    enc._engine_kwargs = lambda runner: {}  # type: ignore[method-assign]
    enc._engine("generate")
    assert order == ["starting vLLM generate engine for ume-r1-2b (this takes about a minute)", "LLM"]
