"""hybridburst baseline EVENT: bring the authorized hosts to the production baseline."""

from __future__ import annotations

import argparse

from rich.console import Console

from .. import locks
from ..errors import HybridburstError
from ..journal import Journal
from ..runner import RunResult, run_playbook
from ..states import HostState
from ..workspace import EventDir
from .fleet import load_event_meta

TARGET_STATES = (HostState.AUTHORIZED, HostState.BASELINED, HostState.READY)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("baseline", help="apply the production baseline to the authorized hosts")
    p.add_argument("event")
    p.set_defaults(func=cmd_baseline, locks_event=locks.event_argument)


def baseline(event_dir: EventDir, console: Console,
             hosts: list[str] | None = None) -> tuple[RunResult, dict[str, str]]:
    """Run baseline.yml; journal AUTHORIZED → BASELINED, failures → FAILED (with the reason).
    Returns the run and the failed hosts with their reasons."""
    journal = Journal(event_dir.journal)
    current = journal.current()
    targets = hosts or sorted(h for h, e in current.items() if e.state in TARGET_STATES)
    if not targets:
        raise HybridburstError(f"{event_dir.root.name}: no authorized host to baseline")
    run = run_playbook(event_dir, "baseline.yml", limit=",".join(targets))
    failed = {**run.failed, **run.unreachable}
    for host in targets:
        if host in failed:
            console.print(f"[red]{host}: baseline failed: {failed[host]}[/]")
            journal.record(host, HostState.FAILED, f"baseline: {failed[host]}")
        elif host in run.ok and current[host].state is HostState.AUTHORIZED:
            journal.record(host, HostState.BASELINED, "production baseline applied")
    return run, failed


def cmd_baseline(args: argparse.Namespace, console: Console) -> int:
    event_dir = EventDir.of(args.event)
    load_event_meta(event_dir)
    _, failed = baseline(event_dir, console)
    return 1 if failed else 0
