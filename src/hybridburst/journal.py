"""The journal: an append-only record of every host's state transitions.

One JSON object per line, fsynced on every append, so a crash loses at most the line
being written (a torn last line is ignored on read). Secrets never go in here.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import HybridburstError
from .states import HostState, allowed


@dataclass(frozen=True)
class Entry:
    time: dt.datetime
    host: str
    state: HostState
    previous: HostState | None
    reason: str
    data: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "time": self.time.isoformat(),
            "host": self.host,
            "state": self.state.value,
            "previous": self.previous.value if self.previous else None,
            "reason": self.reason,
            "data": self.data,
        }


class InvalidTransition(HybridburstError):
    pass


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path

    def entries(self) -> Iterator[Entry]:
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as handle:
            for line in handle:
                try:
                    raw = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a torn last line after a crash
                yield Entry(
                    time=dt.datetime.fromisoformat(raw["time"]),
                    host=raw["host"],
                    state=HostState(raw["state"]),
                    previous=HostState(raw["previous"]) if raw.get("previous") else None,
                    reason=raw.get("reason", ""),
                    data=raw.get("data", {}),
                )

    def current(self) -> dict[str, Entry]:
        """The latest entry of every host, in first-seen order."""
        latest: dict[str, Entry] = {}
        for entry in self.entries():
            latest[entry.host] = entry
        return latest

    def state_of(self, host: str) -> HostState | None:
        entry = self.current().get(host)
        return entry.state if entry else None

    def record(
        self,
        host: str,
        state: HostState,
        reason: str = "",
        data: dict[str, Any] | None = None,
        *,
        at: dt.datetime | None = None,
    ) -> Entry:
        previous = self.state_of(host)
        if not allowed(previous, state):
            raise InvalidTransition(
                f"{host}: cannot go from {previous.value if previous else 'nothing'} to {state.value}"
            )
        entry = Entry(at or now(), host, state, previous, reason, data or {})
        self._append([entry])
        return entry

    def record_many(self, entries: Iterable[tuple[str, HostState, str]]) -> None:
        current = {h: e.state for h, e in self.current().items()}
        batch = []
        for host, state, reason in entries:
            previous = current.get(host)
            if not allowed(previous, state):
                raise InvalidTransition(f"{host}: cannot go from {previous} to {state.value}")
            batch.append(Entry(now(), host, state, previous, reason, {}))
            current[host] = state
        self._append(batch)

    def _append(self, entries: list[Entry]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = "".join(json.dumps(e.as_json(), sort_keys=True) + "\n" for e in entries)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                payload = "\n" + payload  # close a line torn by a crash
            os.write(fd, payload.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
