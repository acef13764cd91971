"""Verify, don't converge: the baseline role's own probe (one task per host, read-only) on
hosts launched from a baked image; only the hosts that differ get the full role."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..errors import HybridburstError
from ..journal import Journal
from ..runner import run_playbook
from ..states import HostState
from ..workspace import EventDir
from .bake import expected_sha256

VERIFIABLE = (HostState.AUTHORIZED, HostState.BASELINED, HostState.READY)


def probe(event_dir: EventDir, hosts: Iterable[str], *, expected: dict[str, str] | None = None,
          snapshot: bool = False) -> dict[str, dict[str, Any]]:
    """Run playbooks/verify_baseline.yml on ``hosts``; per host the probe's verdict
    (``differences``, ``checked``, ``not_applied``, with ``snapshot`` also ``observed``).
    A host whose probe did not run has one difference saying why."""
    targets = sorted(hosts)
    if not targets:
        return {}
    stats: dict[str, Any] = {}

    def on_event(event: dict[str, Any]) -> None:
        if event.get("event") == "playbook_on_stats":
            stats.update(event.get("event_data", {}).get("artifact_data") or {})

    run = run_playbook(event_dir, "verify_baseline.yml",
                       {"verify_hosts": ",".join(targets),
                        "baseline_probe_expected_sha256": expected or {},
                        "baseline_probe_snapshot": snapshot},
                       limit=",".join(targets), on_event=on_event)
    verdicts = stats.get("baseline_probe") or {}
    out: dict[str, dict[str, Any]] = {}
    for host in targets:
        if host in verdicts:
            out[host] = verdicts[host]
        else:
            why = run.failed.get(host) or run.unreachable.get(host) or f"no verdict ({run.status})"
            out[host] = {"differences": [f"probe did not run: {why}"], "checked": 0,
                         "not_applied": [], "observed": {}, "probe_failed": True}
    return out


def verify(event_dir: EventDir, hosts: Iterable[str], digest: str) -> dict[str, list[str]]:
    """{host: [differences]} against the image ``digest`` (empty list: at the baseline)."""
    verdicts = probe(event_dir, hosts, expected=expected_sha256(digest))
    return {h: list(v["differences"]) for h, v in verdicts.items()}


def _summary(differences: list[str], limit: int = 4) -> str:
    more = f" (+{len(differences) - limit} more)" if len(differences) > limit else ""
    return "; ".join(differences[:limit]) + more


def verify_then_converge(event_dir: EventDir, hosts: Iterable[str], digest: str,
                         console: Any = None) -> dict[str, str]:
    """Verify ``hosts`` (AUTHORIZED, launched from the image ``digest``) in one task each;
    run the full baseline role only on those that differ. Journals AUTHORIZED -> BASELINED
    with the verdict ("baseline verified against image <digest12>", or "drift: ...;
    converged"); a host whose converge failed goes to FAILED. Returns the failed hosts with
    their reasons."""
    journal = Journal(event_dir.journal)
    current = journal.current()
    targets = sorted(h for h in hosts if h in current and current[h].state in VERIFIABLE)
    if not targets:
        raise HybridburstError(f"{event_dir.root.name}: no authorized host to verify")
    found = verify(event_dir, targets, digest)
    short = digest[:12]
    clean = [h for h in targets if not found[h]]
    drifted = {h: d for h, d in found.items() if d}
    for host in clean:
        if current[host].state is HostState.AUTHORIZED:
            journal.record(host, HostState.BASELINED, f"baseline verified against image {short}",
                           {"image": digest, "verified": True})
    failed: dict[str, str] = {}
    if drifted:
        run = run_playbook(event_dir, "baseline.yml", limit=",".join(sorted(drifted)))
        failed = {h: m for h, m in {**run.failed, **run.unreachable}.items() if h in drifted}
        for host, differences in drifted.items():
            if host in failed:
                journal.record(host, HostState.FAILED,
                               f"drift: {_summary(differences)}; baseline failed: {failed[host]}")
                if console is not None:
                    console.print(f"[red]{host}: baseline failed: {failed[host]}[/]")
            elif host in run.ok and current[host].state is HostState.AUTHORIZED:
                journal.record(host, HostState.BASELINED,
                               f"drift from image {short}: {_summary(differences)}; converged",
                               {"image": digest, "verified": False, "differences": differences})
    return failed
