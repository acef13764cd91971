"""hybridburst baseline EVENT: parse, call the baseline stage, print."""

from __future__ import annotations

import argparse

from rich.console import Console

from .. import locks
from ..stages import baseline
from ..workspace import EventDir, load_event_meta


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("baseline", help="apply the production baseline to the authorized hosts")
    p.add_argument("event")
    p.set_defaults(func=cmd_baseline, locks_event=locks.event_argument)


def cmd_baseline(args: argparse.Namespace, console: Console) -> int:
    event_dir = EventDir.of(args.event)
    load_event_meta(event_dir)
    result = baseline.baseline(event_dir)
    for host, why in sorted(result.problems.items()):
        console.print(f"[red]{host}: baseline failed: {why}[/]")
    for host, why in sorted(result.untouched.items()):
        console.print(f"[yellow]{host}: {why}[/]")
    return 1 if result.problems or result.untouched else 0
