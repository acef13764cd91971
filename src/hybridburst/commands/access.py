"""authorize, revoke, reconcile-access: parse, call the access stages, print."""

from __future__ import annotations

import argparse

from rich.console import Console

from .. import locks
from ..stages import access
from ..stages.result import StageResult
from ..workspace import EventDir, load_event_meta


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("authorize", help="let the validated hosts of an event into the private network")
    p.add_argument("event")
    p.set_defaults(func=cmd_authorize, locks_event=locks.event_argument)
    p = sub.add_parser("revoke", help="take hosts of an event out of the private network")
    p.add_argument("event")
    p.add_argument("--host", action="append", help="only this host (repeatable)")
    p.set_defaults(func=cmd_revoke, locks_event=locks.event_argument)
    p = sub.add_parser("reconcile-access",
                       help="make the gateway's allow set hold exactly the event's hosts that "
                            "hold access (after a gateway restart or drift)")
    p.add_argument("event", help="an event whose inventory reaches the gateway")
    p.set_defaults(func=cmd_reconcile, locks_event=locks.event_argument)


def print_refused(result: StageResult, console: Console) -> None:
    for host, why in sorted(result.problems.items()):
        console.print(f"[red]{host}: not authorized: {why}[/]")
    for host, why in sorted(result.untouched.items()):
        console.print(f"[yellow]{host}: not authorized: {why}[/]")


def cmd_authorize(args: argparse.Namespace, console: Console) -> int:
    event_dir = EventDir.of(args.event)
    load_event_meta(event_dir)
    result = access.authorize(event_dir)
    print_refused(result, console)
    return 0 if not result.problems and not result.untouched else 1


def cmd_revoke(args: argparse.Namespace, console: Console) -> int:
    event_dir = EventDir.of(args.event)
    load_event_meta(event_dir)
    result = access.revoke(event_dir, args.host)
    for host, why in sorted(result.untouched.items()):
        console.print(f"[red]{host}: not revoked: {why}[/]")
    console.print(f"{args.event}: revoked {', '.join(args.host) if args.host else 'all hosts'}")
    return 1 if result.untouched else 0


def cmd_reconcile(args: argparse.Namespace, console: Console) -> int:
    event_dir = EventDir.of(args.event)
    load_event_meta(event_dir)
    result = access.reconcile(event_dir)
    console.print(f"{args.event}: allow set reconciled: {len(result.ok)} host(s) hold access; "
                  "other events' entries untouched")
    return 0
