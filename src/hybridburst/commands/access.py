"""authorize, revoke, reconcile-access: access to the private network, journaled."""

from __future__ import annotations

import argparse

from rich.console import Console

from .. import locks
from ..errors import HybridburstError
from ..journal import Journal
from ..runner import RunResult, run_playbook
from ..states import HOLDS_ACCESS, HostState
from ..workspace import EventDir, state_root
from .fleet import load_event_meta


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("authorize", help="let the validated hosts of an event into the private network")
    p.add_argument("event")
    p.set_defaults(func=cmd_authorize, locks_event=locks.event_argument)
    p = sub.add_parser("revoke", help="take hosts of an event out of the private network")
    p.add_argument("event")
    p.add_argument("--host", action="append", help="only this host (repeatable)")
    p.set_defaults(func=cmd_revoke, locks_event=locks.event_argument)
    p = sub.add_parser("reconcile-access",
                       help="drop gateway entries that no validated, live burst host owns")
    p.add_argument("event", help="an event whose inventory reaches the gateway")
    p.set_defaults(func=cmd_reconcile, locks_event=locks.event_argument)


GATEWAY_ADD = "Put the validated hosts in the gateway's allow set (one atomic change)"
GATEWAY_REMOVE = "Take the hosts out of the gateway's allow set (one atomic change)"


def authorize(event_dir: EventDir, console: Console, hosts: list[str] | None = None) -> RunResult:
    """Authorize the validated hosts (or ``hosts``); journal those the gateway now admits."""
    journal = Journal(event_dir.journal)
    current = journal.current()
    targets = hosts or sorted(h for h, e in current.items()
                              if e.state in (HostState.VALIDATED, *HOLDS_ACCESS))
    if not targets:
        raise HybridburstError(f"{event_dir.root.name}: no validated host to authorize")
    # The allow set is shared by every event: change it and journal the change under the
    # machine lock, so a reconcile never sees the one without the other.
    with locks.machine():
        run = run_playbook(event_dir, "authorize.yml", {"authorize_hosts": ",".join(targets)},
                           limit=",".join(targets))
        refused = {**run.failed, **run.unreachable}
        admitted = run.task_succeeded(GATEWAY_ADD)
        for host in targets:
            if host in refused:
                console.print(f"[red]{host}: not authorized: {refused[host]}[/]")
                continue
            entry = current.get(host)
            if admitted and entry and entry.state is HostState.VALIDATED:
                journal.record(host, HostState.AUTHORIZED, "in the gateway's allow set")
    return run


def revoke(event_dir: EventDir, console: Console, hosts: list[str] | None = None) -> RunResult:
    """Revoke access; ``hosts`` defaults to every host of the event not yet destroyed.

    Only the gateway's change decides: host-side cleanup may meet hosts that are gone."""
    journal = Journal(event_dir.journal)
    current = journal.current()
    targets = hosts or sorted(h for h, e in current.items()
                              if e.state not in (HostState.DESTROYED, HostState.REQUESTED))
    if not targets:
        return RunResult("revoke.yml", "nothing to do", 0, event_dir.artifacts)
    with locks.machine():
        run = run_playbook(event_dir, "revoke.yml", {"revoke_hosts": ",".join(targets)},
                           limit=",".join([*targets, "gateway"]))
        if not run.task_succeeded(GATEWAY_REMOVE):
            raise HybridburstError("revocation failed on the gateway: access may still be "
                                   f"open; see {run.private_data_dir}")
        for host in targets:
            entry = current.get(host)
            if entry and entry.state in (*HOLDS_ACCESS, HostState.LAUNCHED, HostState.VALIDATED,
                                         HostState.QUARANTINED, HostState.FAILED):
                journal.record(host, HostState.REVOKED, "out of the gateway's allow set")
    return run


def cmd_authorize(args: argparse.Namespace, console: Console) -> int:
    event_dir = EventDir.of(args.event)
    load_event_meta(event_dir)
    run = authorize(event_dir, console)
    return 0 if not run.failed and not run.unreachable else 1


def cmd_revoke(args: argparse.Namespace, console: Console) -> int:
    event_dir = EventDir.of(args.event)
    load_event_meta(event_dir)
    revoke(event_dir, console, args.host)
    console.print(f"{args.event}: revoked {', '.join(args.host) if args.host else 'all hosts'}")
    return 0


def allowed_addresses() -> list[str]:
    """Addresses that may hold access: hosts of every event the journals say hold it."""
    import json

    allowed = []
    for event_root in sorted((state_root() / "events").glob("*")):
        event_dir = EventDir(event_root)
        if not event_dir.manifest.exists():
            continue
        addresses = {h["name"]: h["address"]
                     for h in json.loads(event_dir.manifest.read_text())["hosts"]}
        for host, entry in Journal(event_dir.journal).current().items():
            if entry.state in HOLDS_ACCESS and host in addresses:
                allowed.append(addresses[host])
    return sorted(allowed)


def cmd_reconcile(args: argparse.Namespace, console: Console) -> int:
    event_dir = EventDir.of(args.event)
    load_event_meta(event_dir)
    with locks.machine():
        allowed = allowed_addresses()
        run = run_playbook(event_dir, "reconcile_access.yml",
                           {"private_access_reconcile_allowed": allowed}, limit="gateway")
    if run.rc != 0:
        raise HybridburstError(f"reconcile failed; see {run.private_data_dir}")
    console.print(f"allow set reconciled: {len(allowed)} address(es) may hold access")
    return 0
