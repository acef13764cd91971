"""provision, deprovision, status: capacity and what the journal says of it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .. import locks, providers, spec
from ..journal import Journal
from ..plan import make_plan
from ..stages import access
from ..stages.capacity import provider_for
from ..stages.status import status_rows
from ..states import HOLDS_ACCESS, HostState
from ..workspace import EventDir, load_event_meta, save_event_meta, write_inventory_config


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("provision", help="create the capacity of an event spec, write the manifest")
    p.add_argument("spec", type=Path)
    p.set_defaults(func=cmd_provision, locks_event=locks.event_of_spec)

    p = sub.add_parser("deprovision", help="destroy everything of an event (twice is fine)")
    p.add_argument("event")
    p.set_defaults(func=cmd_deprovision, locks_event=locks.event_argument)

    p = sub.add_parser("status", help="every host of an event, its state, since when and why")
    p.add_argument("event")
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")
    p.set_defaults(func=cmd_status)


def cmd_provision(args: argparse.Namespace, console: Console) -> int:
    event_spec = spec.load(args.spec)
    plan = make_plan(event_spec)
    event_dir = EventDir.of(event_spec.event)
    provider = providers.get(event_spec.provider, event_spec.private_inventory,
                             log=lambda m: console.print(m), emulated=event_spec.emulated,
                             region=event_spec.region, faults=event_spec.faults)
    save_event_meta(event_dir, event_spec)
    data = provider.provision(plan, event_dir, Journal(event_dir.journal))
    write_inventory_config(event_dir)
    console.print(f"{len(data['hosts'])}/{len(plan.hosts)} host(s) of {plan.event} launched; "
                  f"manifest: {event_dir.manifest}")
    return 0 if len(data["hosts"]) == len(plan.hosts) else 1


def cmd_deprovision(args: argparse.Namespace, console: Console) -> int:
    event_dir = EventDir.of(args.event)
    if not (event_dir.root / "event.json").exists():
        console.print(f"nothing to deprovision for {args.event}")
        return 0
    meta = load_event_meta(event_dir)
    journal = Journal(event_dir.journal)
    # FAILED hosts may have failed after they were authorized: revoke them too.
    holding = sorted(h for h, e in journal.current().items()
                     if e.state in HOLDS_ACCESS or e.state is HostState.FAILED)
    if holding:  # access is always revoked before a host is destroyed
        console.print(f"revoking {len(holding)} host(s) before destroying them")
        access.revoke(event_dir)
    provider_for(meta, console.print).deprovision(args.event, event_dir, journal)
    console.print(f"{args.event}: deprovisioned")
    return 0


def cmd_status(args: argparse.Namespace, console: Console) -> int:
    event_dir = EventDir.of(args.event)
    meta = load_event_meta(event_dir)
    rows = status_rows(event_dir)
    emulated = bool(meta.get("emulated"))
    if args.json:
        console.print_json(json.dumps({"event": args.event, "provider": meta.get("provider"),
                                       "emulated": emulated, "hosts": rows}))
        return 0
    where = f"EMULATED {meta.get('provider')}" if emulated else meta.get("provider", "?")
    table = Table(title=f"{args.event} ({where}): {len(rows)} host(s)")
    for column in ("host", "address", "pool", "instance_type", "state", "since", "reason"):
        table.add_column(column)
    for r in rows:
        table.add_row(*(str(r.get(c, "")) for c in
                        ("host", "address", "pool", "instance_type", "state", "since", "reason")))
    console.print(table)
    return 0
