"""Progress for long work: a rich bar on a terminal, plain log lines elsewhere.

CI jobs and cluster schedulers capture stderr into a file, where a live bar is
either invisible or a mess of control codes; there a line such as
``convert a.czi: 40/120 planes (33%), 12 s left`` is printed every
:data:`PLAIN_INTERVAL` seconds instead (and a last line at 100 % when any line
was printed). Library functions draw no progress unless asked: they take a
callback, and commands pass :meth:`ProgressReporter.update` (or a wrapper of it);
``render_png(..., progress=True)`` draws through this reporter too.

Usage::

    with ProgressReporter(enabled=not quiet) as report:
        for done in range(1, total + 1):
            ...
            report.update(f"convert {name}", done, total)
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

#: Seconds between two plain progress lines of the same task.
PLAIN_INTERVAL = 10.0


def _eta(seconds: float) -> str:
    if seconds < 90:
        return f"{max(0, round(seconds))} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


class _PlainTask:
    """Timing of one labelled task in plain mode."""

    def __init__(self, now: float) -> None:
        self.start = now
        self.last = now
        self.printed = False


class ProgressReporter:
    """Report ``done / total`` per labelled task, on a terminal or as log lines.

    Parameters
    ----------
    enabled
        False reports nothing (``--quiet``).
    unit
        What is counted, for plain lines (``"planes"``).
    stream
        Where to report; default ``sys.stderr`` at the time of entering.
    interval
        Seconds between plain lines of a task; default :data:`PLAIN_INTERVAL`.
    terminal
        Force the bar (True) or plain lines (False); default: the stream's ``isatty()``.
    """

    def __init__(
        self,
        *,
        enabled: bool = True,
        unit: str = "planes",
        stream: TextIO | None = None,
        interval: float | None = None,
        terminal: bool | None = None,
    ) -> None:
        self.enabled = enabled
        self.unit = unit
        self._stream = stream
        self._interval = interval
        self._terminal = terminal
        self._bar: Any = None
        self._bar_tasks: dict[str, Any] = {}
        self._plain: dict[str, _PlainTask] = {}

    def __enter__(self) -> ProgressReporter:
        if self._stream is None:
            self._stream = sys.stderr
        if self._interval is None:
            self._interval = PLAIN_INTERVAL
        if self._terminal is None:
            isatty = getattr(self._stream, "isatty", None)
            self._terminal = bool(isatty and isatty())
        if self.enabled and self._terminal:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                transient=True,
                console=Console(file=self._stream),
            )
            self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None

    def update(self, label: str, done: int, total: int) -> None:
        """Task ``label`` has ``done`` of ``total`` items finished."""
        if not self.enabled:
            return
        if self._bar is not None:
            task = self._bar_tasks.get(label)
            if task is None:
                task = self._bar_tasks[label] = self._bar.add_task(label, total=total)
            self._bar.update(task, completed=done, total=total)
            return
        now = time.monotonic()
        state = self._plain.get(label)
        if state is None:
            state = self._plain[label] = _PlainTask(now)
        finished = done >= total
        due = now - state.last >= (self._interval or 0.0)
        if not (due or (finished and state.printed)):
            return
        state.last, state.printed = now, True
        pct = 100 * done // max(total, 1)
        line = f"{label}: {done}/{total} {self.unit} ({pct}%)"
        if not finished and done > 0:
            line += f", {_eta((now - state.start) * (total - done) / done)} left"
        if finished:
            del self._plain[label]  # a task that restarts under the same label starts afresh
        assert self._stream is not None
        print(line, file=self._stream, flush=True)
