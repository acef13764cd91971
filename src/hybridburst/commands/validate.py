"""hybridburst validate EVENT: parse, call the validate stage, print the verdicts."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from .. import locks
from ..journal import Journal
from ..stages import health, validate
from ..states import HostState
from ..workspace import EventDir


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("validate", help="check each host against the inventory; quarantine misfits")
    p.add_argument("event")
    p.set_defaults(func=cmd_validate, locks_event=locks.event_argument)


def cmd_validate(args: argparse.Namespace, console: Console) -> int:
    event_dir = EventDir.of(args.event)
    report = validate.validate(event_dir).report
    pools = {e.host: e.data.get("pool", "") for e in Journal(event_dir.journal).entries()
             if e.state is HostState.LAUNCHED}
    table = Table(title=f"{args.event}: {report['validated']} validated, "
                        f"{report['quarantined']} quarantined")
    for column in ("host", "verdict", "reasons"):
        table.add_column(column)
    for r in report["hosts"]:
        style = "green" if r["verdict"] == "validated" else "red"
        table.add_row(r["host"], f"[{style}]{r['verdict']}[/]", "; ".join(r["reasons"]))
    console.print(table)
    console.print(f"report: {event_dir.root / 'validation' / 'validation.json'}", soft_wrap=True)
    # The pools of this validation's hosts against their minimum healthy share.
    counts: dict[str, tuple[int, int]] = {}
    for r in report["hosts"]:
        good, total = counts.get(pools.get(r["host"], ""), (0, 0))
        counts[pools.get(r["host"], "")] = (good + (r["verdict"] == "validated"), total + 1)
    short = health.short_pools(dict(sorted(counts.items())), health.event_shares(event_dir),
                               what="validated")
    for line in short:
        console.print(f"[red]{line}[/]")
    return 1 if short else 0
