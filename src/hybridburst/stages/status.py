"""Where each host of an event stands: the journal's state, with the manifest's facts."""

from __future__ import annotations

from typing import Any

from .. import manifest
from ..journal import Journal
from ..workspace import EventDir


def status_rows(event_dir: EventDir) -> list[dict[str, Any]]:
    """One row per host of the journal: its state, since when, why, and its manifest facts."""
    hosts: dict[str, dict[str, Any]] = {}
    if event_dir.manifest.exists():
        for h in manifest.read(event_dir.manifest)["hosts"]:
            hosts[h["name"]] = {"address": h["address"], "pool": h["pool"],
                                "instance_type": h["instance_type"]}
    rows = []
    for name, entry in Journal(event_dir.journal).current().items():
        rows.append({"host": name, "state": entry.state.value, "since": entry.time.isoformat(),
                     "reason": entry.reason, **hosts.get(name, {})})
    return rows
