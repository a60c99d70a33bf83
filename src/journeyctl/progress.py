"""Progress of long runs on stderr: the stage of the work, buckets done, events processed.

Silent in the library; on the command line shown only when stderr is a terminal and
``--quiet`` is not given (``progress_display``), so pipes, files and CI logs never see it. The display appears
only once a run has lasted ``DELAY_S``: short runs print nothing.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress

DELAY_S = 1.5


class Progress:
    """Receives progress; this base class shows nothing (the library default)."""

    def stage(self, text: str, *, total: int | None = None) -> None:
        """A new stage of the work begins; ``total`` steps when it has countable steps."""

    def advance(self, steps: int = 1, *, events: int = 0) -> None:
        """``steps`` steps of the stage are done, having processed ``events`` more events."""


class RichDisplay(Progress):
    """A one-line Rich progress display on ``console`` (stderr), shown after ``DELAY_S``."""

    def __init__(self, console: Console) -> None:
        self._events = 0
        self._bar = RichProgress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[events]:,} events"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._task = self._bar.add_task("starting", total=None, events=0)
        self._timer = threading.Timer(DELAY_S, self._bar.start)
        self._timer.daemon = True
        self._timer.start()

    def stage(self, text: str, *, total: int | None = None) -> None:
        self._bar.reset(self._task, description=text, total=total, events=self._events)

    def advance(self, steps: int = 1, *, events: int = 0) -> None:
        self._events += events
        self._bar.update(self._task, advance=steps, events=self._events)

    def snapshot(self) -> tuple[str, int, int | None, int]:
        """(stage, steps done, total steps, events processed): what the line shows."""
        task = self._bar.tasks[0]
        total = None if task.total is None else int(task.total)
        return task.description, int(task.completed), total, self._events

    def close(self) -> None:
        self._timer.cancel()
        self._bar.stop()


@contextmanager
def progress_display(*, quiet: bool) -> Iterator[Progress]:
    """A Rich display on stderr when stderr is a terminal and not ``quiet``, else the silent
    ``Progress``."""
    if quiet or not sys.stderr.isatty():
        yield Progress()
        return
    display = RichDisplay(Console(stderr=True))
    try:
        yield display
    finally:
        display.close()
