"""authorize, revoke, reconcile-access: access to the private network, journaled.

The gateway's allow set is shared by every event: each stage changes it and journals the
change under the machine lock, so a reconcile never sees the one without the other. The
playbooks say which hosts the gateway took in or let go as data (the private_access role's
``set_stats``: ``private_access_admitted``, ``private_access_revoked``)."""

from __future__ import annotations

from .. import locks
from .. import manifest as manifest_mod
from ..errors import HybridburstError
from ..journal import Journal
from ..runner import PlaybookRunner, run_playbook
from ..states import HOLDS_ACCESS, HostState
from ..workspace import EventDir
from .result import StageResult

ADMITTED = "private_access_admitted"
REVOKED = "private_access_revoked"
# States from which a revoked host is journaled REVOKED.
REVOCABLE = (*HOLDS_ACCESS, HostState.LAUNCHED, HostState.VALIDATED, HostState.QUARANTINED,
             HostState.FAILED)


def authorize(event_dir: EventDir, hosts: list[str] | None = None,
              runner: PlaybookRunner = run_playbook) -> StageResult:
    """Authorize the validated hosts (or ``hosts``); journal those the gateway now admits."""
    journal = Journal(event_dir.journal)
    current = journal.current()
    targets = hosts or sorted(h for h, e in current.items()
                              if e.state in (HostState.VALIDATED, *HOLDS_ACCESS))
    if not targets:
        raise HybridburstError(f"{event_dir.root.name}: no validated host to authorize")
    result = StageResult("authorize")
    with locks.machine():
        run = runner(event_dir, "authorize.yml", {"authorize_hosts": ",".join(targets)},
                     limit=",".join(targets))
        result.runs.append(run)
        admitted = run.hosts(ADMITTED)
        for host in targets:
            if host in run.unreachable:
                result.unreachable[host] = run.unreachable[host]
            elif host in run.failed:
                result.failed[host] = run.failed[host]
            elif host in admitted:
                entry = current.get(host)
                if entry and entry.state is HostState.VALIDATED:
                    journal.record(host, HostState.AUTHORIZED, "in the gateway's allow set")
                result.ok[host] = "in the gateway's allow set"
            else:
                result.untouched[host] = "the gateway did not admit it"
    return result


def revoke(event_dir: EventDir, hosts: list[str] | None = None,
           runner: PlaybookRunner = run_playbook) -> StageResult:
    """Revoke access; ``hosts`` defaults to every host of the event not yet destroyed.

    Only the gateway's change decides: host-side cleanup may meet hosts that are gone."""
    journal = Journal(event_dir.journal)
    current = journal.current()
    targets = hosts or sorted(h for h, e in current.items()
                              if e.state not in (HostState.DESTROYED, HostState.REQUESTED))
    result = StageResult("revoke")
    if not targets:
        return result
    with locks.machine():
        run = runner(event_dir, "revoke.yml", {"revoke_hosts": ",".join(targets)},
                     limit=",".join([*targets, "gateway"]))
        result.runs.append(run)
        revoked = run.hosts(REVOKED)
        if not revoked:
            raise HybridburstError("revocation failed on the gateway: access may still be "
                                   f"open; see {run.private_data_dir}")
        # A host the inventory does not hold (its launch failed before it got an address)
        # has no entry at the gateway to remove.
        listed = _manifest_names(event_dir)
        for host in targets:
            if host not in revoked and host in listed:
                result.untouched[host] = "the gateway's change did not cover it"
                continue
            entry = current.get(host)
            if entry and entry.state in REVOCABLE:
                journal.record(host, HostState.REVOKED, "out of the gateway's allow set")
            cleanup = run.failed.get(host) or run.unreachable.get(host)
            result.ok[host] = "out of the gateway's allow set" + (
                f" (host-side cleanup: {cleanup})" if cleanup else "")
    return result


def _manifest_names(event_dir: EventDir) -> set[str]:
    if not event_dir.manifest.exists():
        return set()
    return {h["name"] for h in manifest_mod.read(event_dir.manifest)["hosts"]}


def event_access(event_dir: EventDir) -> tuple[list[str], list[str]]:
    """(allowed, owned) addresses of one event: those of its hosts the journal says hold
    access, and those of all its hosts not destroyed (a live host's address is its own, on
    the whole machine, whatever state directory another event lives in)."""
    addresses = {h["name"]: h["address"] for h in manifest_mod.read(event_dir.manifest)["hosts"]}
    current = Journal(event_dir.journal).current()
    allowed = sorted(addresses[h] for h, e in current.items()
                     if e.state in HOLDS_ACCESS and h in addresses)
    owned = sorted(a for h, a in addresses.items()
                   if h not in current or current[h].state is not HostState.DESTROYED)
    return allowed, owned


def reconcile(event_dir: EventDir, runner: PlaybookRunner = run_playbook) -> StageResult:
    """Make the gateway's allow set hold exactly this event's hosts that hold access (the
    journal's), bound to what the gateway sees; other events' entries are left alone.
    ``ok``: the hosts that hold access."""
    result = StageResult("reconcile-access")
    with locks.machine():
        allowed, owned = event_access(event_dir)
        run = runner(event_dir, "reconcile_access.yml",
                     {"private_access_reconcile_allowed": allowed,
                      "private_access_reconcile_owned": owned}, limit="gateway")
        result.runs.append(run)
    if run.rc != 0:
        why = "; ".join([*run.failed.values(), *run.unreachable.values()]) or f"status {run.status}"
        raise HybridburstError(f"{event_dir.root.name}: reconcile-access failed: {why} "
                               f"(runner artifacts: {run.private_data_dir})")
    current = Journal(event_dir.journal).current()
    result.ok = {h: "holds access" for h, e in sorted(current.items()) if e.state in HOLDS_ACCESS}
    return result
