"""What live commands hold of the local cloud before a container shows it: burst addresses
they allocated but have not started a host at yet, and the private side they use.

Written and read under the machine lock (``locks.machine()``). A reservation lasts as long as
the process that made it: once it ends (done, failed or killed) its hosts' containers and
manifests hold their addresses, and what it never launched is free again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ... import locks
from ...atomic import write_atomic


def _path() -> Path:
    return locks.local_cloud_dir() / "reservations.json"


def _live() -> list[dict[str, Any]]:
    try:
        entries = json.loads(_path().read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(entries, list):
        return []
    return [e for e in entries if isinstance(e, dict) and isinstance(e.get("pid"), int)
            and locks.alive(e["pid"], e.get("started"))]


def _add(entries: list[dict[str, Any]]) -> None:
    me = locks.Holder.me()
    mine = [{"pid": me.pid, "started": me.started, "command": me.command, "since": me.since, **e}
            for e in entries]
    write_atomic(_path(), json.dumps(_live() + mine, indent=1) + "\n")


def reserve(addresses: Iterable[str], event: str) -> None:
    """Hold ``addresses`` for this process's hosts of ``event`` (under the machine lock)."""
    _add([{"address": a, "event": event} for a in addresses])


def use_private_side() -> None:
    """This process uses the private side: another event's `down` must not remove it."""
    if not any(e["pid"] == os.getpid() and e.get("address") is None for e in _live()):
        _add([{"address": None, "event": None}])


def reserved_addresses() -> set[str]:
    return {str(e["address"]) for e in _live() if e.get("address")}


def other_users() -> list[dict[str, Any]]:
    """Live processes other than this one that hold something of the local cloud."""
    return [e for e in _live() if e["pid"] != os.getpid()]
