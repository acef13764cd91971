"""authorize, revoke, reconcile-access: access to the private network, journaled."""

from __future__ import annotations

import argparse

from rich.console import Console

from .. import locks
from ..errors import HybridburstError
from ..journal import Journal
from ..runner import RunResult, run_playbook
from ..states import HOLDS_ACCESS, HostState
from ..workspace import EventDir
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
                       help="make the gateway's allow set hold exactly the event's hosts that "
                            "hold access (after a gateway restart or drift)")
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


def event_access(event_dir: EventDir) -> tuple[list[str], list[str]]:
    """(allowed, owned) addresses of one event: those of its hosts the journal says hold
    access, and those of all its hosts not destroyed (a live host's address is its own, on
    the whole machine, whatever state directory another event lives in)."""
    from .. import manifest as manifest_mod

    addresses = {h["name"]: h["address"] for h in manifest_mod.read(event_dir.manifest)["hosts"]}
    current = Journal(event_dir.journal).current()
    allowed = sorted(addresses[h] for h, e in current.items()
                     if e.state in HOLDS_ACCESS and h in addresses)
    owned = sorted(a for h, a in addresses.items()
                   if h not in current or current[h].state is not HostState.DESTROYED)
    return allowed, owned


def reconcile(event_dir: EventDir, console: Console) -> RunResult:
    """Make the gateway's allow set hold exactly this event's hosts that hold access (the
    journal's), bound to what the gateway sees; other events' entries are left alone."""
    with locks.machine():
        allowed, owned = event_access(event_dir)
        run = run_playbook(event_dir, "reconcile_access.yml",
                           {"private_access_reconcile_allowed": allowed,
                            "private_access_reconcile_owned": owned}, limit="gateway")
    event = event_dir.root.name
    if run.rc != 0:
        why = "; ".join([*run.failed.values(), *run.unreachable.values()]) or f"status {run.status}"
        raise HybridburstError(f"{event}: reconcile-access failed: {why} "
                               f"(runner artifacts: {run.private_data_dir})")
    console.print(f"{event}: allow set reconciled: {len(allowed)} host(s) hold access; "
                  "other events' entries untouched")
    return run


def cmd_reconcile(args: argparse.Namespace, console: Console) -> int:
    event_dir = EventDir.of(args.event)
    load_event_meta(event_dir)
    reconcile(event_dir, console)
    return 0
