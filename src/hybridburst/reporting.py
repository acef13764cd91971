"""What an operator sees while a burst runs: progress bars per step with host counts, or, with
--json, one JSON object per line for CI and AWX."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .journal import now


class Reporter:
    def __init__(self, console: Console, as_json: bool = False) -> None:
        self.console = console
        self.as_json = as_json
        self._progress: Progress | None = None
        self._task: Any = None

    def emit(self, kind: str, **data: Any) -> None:
        if self.as_json:
            sys.stdout.write(json.dumps({"time": now().isoformat(), "type": kind, **data},
                                        default=str) + "\n")
            sys.stdout.flush()

    def say(self, message: str) -> None:
        if self.as_json:
            self.emit("message", message=message)
        elif self._progress is not None:
            self._progress.console.print(message)
        else:
            self.console.print(message)

    @contextmanager
    def step(self, name: str, total: int) -> Iterator[Reporter]:
        self.emit("step_started", step=name, hosts=total)
        if self.as_json:
            yield self
            self.emit("step_finished", step=name)
            return
        with Progress(TextColumn("[bold]{task.description:<10}"), BarColumn(),
                      MofNCompleteColumn(), TextColumn("hosts"), TimeElapsedColumn(),
                      console=self.console, transient=False) as progress:
            self._progress = progress
            self._task = progress.add_task(name, total=total)
            try:
                yield self
            finally:
                self._progress = None

    def advance(self, host: str, state: str, reason: str = "") -> None:
        self.emit("host", host=host, state=state, reason=reason)
        if self._progress is not None:
            self._progress.advance(self._task)
