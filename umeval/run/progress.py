"""Progress that works everywhere: live bars on a terminal, timestamped lines in logs; a no-op when disabled.

On a terminal: one suite line (tasks done of total, items done, elapsed, ETA) above the bars of the work in
flight, drawn by rich.  Labels are escaped, so ``[disc]``/``[gen]`` show as written (rich would read them as
markup and print nothing).  When the output is not a terminal (a file, a pipe, a batch job's log), no live
display is drawn; instead a plain line with a UTC timestamp is written at most every ``interval`` seconds
while work advances, at each task end and for each note, and flushed at once, so a job's log shows where it
is while it runs::

    2026-11-27T15:40:03Z umeval: Mini-T2V [disc] queries 3/6 (50%), elapsed 0:00:12
    2026-11-27T15:40:09Z umeval: task 2/6 done: Mini-T2V [disc] (14 items done; elapsed 0:00:18, eta 0:00:36)

A bar whose work raised is left where it stopped (it never jumps to full before an error).  :func:`note`
prints a one-off line (e.g. "starting vLLM engine") through whichever progress is active, or to stderr.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.progress import Progress as _RichProgress

#: Seconds between two plain progress lines (env UMEVAL_PROGRESS_INTERVAL overrides it).
DEFAULT_INTERVAL = 30.0

_active: list[Progress] = []


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _clock(seconds: float) -> str:
    return str(timedelta(seconds=int(max(0.0, seconds))))


def note(text: str) -> None:
    """A one-line message shown above the live bars, or as a timestamped line off a terminal."""
    if _active and _active[-1].enabled:
        _active[-1].note(text)
    else:
        print(f"{_stamp()} umeval: {text}", file=sys.stderr, flush=True)


class Progress:
    def __init__(self, enabled: bool = True, console: Console | None = None, *, interval: float | None = None,
                 live: bool | None = None) -> None:
        self.enabled = enabled
        self.console = console or Console(stderr=True)
        self.live = self.console.is_terminal if live is None else live
        env = os.environ.get("UMEVAL_PROGRESS_INTERVAL")
        self.interval = interval if interval is not None else float(env) if env else DEFAULT_INTERVAL
        self.start = time.monotonic()
        self.tasks_total = 0
        self.tasks_done = 0
        self.items_done = 0
        self._last_line = 0.0
        self._suite: Any = None
        self._p = _RichProgress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("eta"), TimeRemainingColumn(), console=self.console, transient=False,
            disable=not (enabled and self.live),
        )

    # ------------------------------------------------------------ context

    def __enter__(self) -> Progress:
        self.start = self._last_line = time.monotonic()
        if self.enabled and self.live:
            self._p.__enter__()
        _active.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self in _active:
            _active.remove(self)
        if self.enabled and self.live:
            self._p.__exit__(*exc)

    # ------------------------------------------------------------ plain lines

    def _line(self, text: str) -> None:
        stream: IO[str] = self.console.file
        stream.write(f"{_stamp()} umeval: {text}\n")
        stream.flush()
        self._last_line = time.monotonic()

    def note(self, text: str) -> None:
        if not self.enabled:
            return
        if self.live:
            self._p.console.print(escape(text))
        else:
            self._line(text)

    # ------------------------------------------------------------ suite

    def _suite_text(self) -> str:
        elapsed = time.monotonic() - self.start
        eta = (elapsed / self.tasks_done * (self.tasks_total - self.tasks_done)) if self.tasks_done else None
        return (f"{self.items_done} items done; elapsed {_clock(elapsed)}"
                + (f", eta {_clock(eta)}" if eta is not None else ""))

    def suite(self, total: int) -> None:
        """Announce the number of (task, mode) units the run will evaluate."""
        self.tasks_total = total
        if not self.enabled:
            return
        if self.live:
            self._suite = self._p.add_task(escape(f"suite: 0/{total} tasks"), total=max(total, 1))
        else:
            self._line(f"{total} task(s) to evaluate")

    def task_done(self, label: str, ok: bool = True) -> None:
        """One (task, mode) unit finished (or failed, with ``ok=False``)."""
        self.tasks_done += 1
        if not self.enabled:
            return
        what = "done" if ok else "FAILED"
        if self.live:
            if self._suite is not None:
                self._p.update(self._suite, completed=self.tasks_done,
                               description=escape(f"suite: {self.tasks_done}/{self.tasks_total} tasks, "
                                                  f"{self.items_done} items"))
            if not ok:
                self._p.console.print(escape(f"{label}: {what}"))
        else:
            self._line(f"task {self.tasks_done}/{self.tasks_total} {what}: {label} ({self._suite_text()})")

    # ------------------------------------------------------------ units of work

    @contextmanager
    def task(self, description: str, total: int) -> Iterator[Callable[[int], None]]:
        """A bar for ``total`` items; yields ``advance(n)``.  On success the bar ends full; on error it stays."""
        if not self.enabled:
            yield lambda n: None
            return
        done = 0
        if self.live:
            tid = self._p.add_task(escape(description), total=total)

            def advance(n: int) -> None:
                nonlocal done
                done += n
                self.items_done += n
                self._p.advance(tid, n)

            yield advance
            self._p.update(tid, completed=total)  # not reached when the work raised
            return

        def advance_plain(n: int) -> None:
            nonlocal done
            done += n
            self.items_done += n
            if time.monotonic() - self._last_line >= self.interval:
                pct = f" ({100 * done / total:.0f}%)" if total else ""
                self._line(f"{description} {done}/{total}{pct}, elapsed {_clock(time.monotonic() - self.start)}")

        yield advance_plain
