"""deploy, drain: parse, call the deploy and drain stages, print."""

from __future__ import annotations

import argparse

from rich.console import Console

from .. import locks
from ..stages import deploy as stage
from ..workspace import EventDir, load_event_meta


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("deploy", help="roll the storefront out to the authorized hosts of an event")
    p.add_argument("event")
    p.add_argument("--release", help="release for every host (default: each pool's release)")
    p.set_defaults(func=cmd_deploy, locks_event=locks.event_argument)
    p = sub.add_parser("drain", help="take hosts of an event out of the load balancer, no request lost")
    p.add_argument("event")
    p.add_argument("--host", action="append", help="only this host (repeatable)")
    p.add_argument("--timeout", type=int, default=60, help="seconds a host may take to drain")
    p.set_defaults(func=cmd_drain, locks_event=locks.event_argument)


def cmd_deploy(args: argparse.Namespace, console: Console) -> int:
    event_dir = EventDir.of(args.event)
    load_event_meta(event_dir)
    result = stage.deploy(event_dir, args.release)
    for host, why in sorted(result.problems.items()):
        console.print(f"[red]{host}: {why}[/]")
    for host, why in sorted(result.untouched.items()):
        console.print(f"[yellow]{host}: {why}[/]")
    console.print(f"{args.event}: deploy {'done' if result.rc == 0 else 'stopped'} "
                  f"({result.changed} change(s)); runner artifacts: {result.private_data_dir}")
    return 0 if result.rc == 0 else 1


def cmd_drain(args: argparse.Namespace, console: Console) -> int:
    event_dir = EventDir.of(args.event)
    load_event_meta(event_dir)
    result = stage.drain(event_dir, args.host, args.timeout)
    for host, why in sorted(result.problems.items()):
        console.print(f"[red]{host}: not drained: {why}[/]")
    console.print(f"{args.event}: drained {', '.join(args.host) if args.host else 'all serving hosts'}")
    return 0 if result.rc == 0 else 1
