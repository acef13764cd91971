"""provision, deprovision, status: capacity and what the journal says of it."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from .. import locks, manifest, providers, spec
from ..atomic import write_atomic
from ..errors import HybridburstError, InputError
from ..journal import Journal
from ..plan import make_plan
from ..states import HOLDS_ACCESS, HostState
from ..workspace import EventDir


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


def save_event_meta(event_dir: EventDir, event_spec: spec.EventSpec) -> None:
    event_dir.root.mkdir(parents=True, exist_ok=True)
    meta = {
        "event": event_spec.event,
        "team": event_spec.team,
        "provider": event_spec.provider,
        "emulated": event_spec.emulated,
        "region": event_spec.region,
        "spec": str(Path(event_spec.source).resolve()),
        "private_inventory": str(event_spec.private_inventory)
        if event_spec.private_inventory else None,
    }
    write_atomic(event_dir.root / "event.json", json.dumps(meta, indent=2) + "\n")
    # The spec as it was used, loadable from the event directory (settlement reads it).
    text = Path(event_spec.source).read_text()
    data = yaml.safe_load(text)
    if event_spec.private_inventory:
        data["private_inventory"] = str(event_spec.private_inventory)
    write_atomic(
        event_dir.spec_copy,
        f"# copy of {Path(event_spec.source).resolve()} as used for this event\n"
        + yaml.safe_dump(data, sort_keys=False))


def write_inventory_config(event_dir: EventDir) -> None:
    """The event's inventory source for ansible-inventory, ansible-playbook and the runner."""
    write_atomic(
        event_dir.inventory_config,
        "# Inventory of this event's fleet: ansible-inventory -i THIS_FILE --graph\n"
        "plugin: hybridburst.platform.fleet\n"
        f"manifest: {event_dir.manifest}\n"
    )


def load_event_meta(event_dir: EventDir) -> dict[str, Any]:
    path = event_dir.root / "event.json"
    if not path.exists():
        raise HybridburstError(f"no event {event_dir.root.name!r} in {event_dir.root.parent}")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(str(path), None, "not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise InputError(str(path), exc.lineno, f"not valid JSON: {exc.msg}") from exc
    if not isinstance(meta, dict) or not isinstance(meta.get("provider"), str):
        raise InputError(str(path), 1, "not an event record (an object with a provider)")
    return meta


def provider_for(meta: dict[str, Any], console: Console,
                 log: Callable[[str], None] | None = None) -> providers.Provider:
    inventory = Path(meta["private_inventory"]) if meta.get("private_inventory") else None
    return providers.get(meta["provider"], inventory, log=log or (lambda m: console.print(m)),
                         emulated=bool(meta.get("emulated")), region=meta.get("region"))


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
    if holding:
        from .access import revoke  # access is always revoked before a host is destroyed

        console.print(f"revoking {len(holding)} host(s) before destroying them")
        revoke(event_dir, console)
    provider_for(meta, console).deprovision(args.event, event_dir, journal)
    console.print(f"{args.event}: deprovisioned")
    return 0


def status_rows(event_dir: EventDir) -> list[dict[str, Any]]:
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
