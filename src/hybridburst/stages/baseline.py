"""baseline: bring the authorized hosts to the production baseline, journaled."""

from __future__ import annotations

from ..errors import HybridburstError
from ..journal import Journal
from ..runner import PlaybookRunner, run_playbook
from ..states import HostState
from ..workspace import EventDir
from .result import StageResult

TARGET_STATES = (HostState.AUTHORIZED, HostState.BASELINED, HostState.READY)
APPLIED = "baseline_applied"  # baseline.yml's set_stats: the hosts that took the whole role


def baseline(event_dir: EventDir, hosts: list[str] | None = None,
             runner: PlaybookRunner = run_playbook) -> StageResult:
    """Run baseline.yml; journal AUTHORIZED -> BASELINED, failures -> FAILED (with the
    reason)."""
    journal = Journal(event_dir.journal)
    current = journal.current()
    targets = hosts or sorted(h for h, e in current.items() if e.state in TARGET_STATES)
    if not targets:
        raise HybridburstError(f"{event_dir.root.name}: no authorized host to baseline")
    run = runner(event_dir, "baseline.yml", limit=",".join(targets))
    result = StageResult("baseline", runs=[run])
    applied = run.hosts(APPLIED)
    for host in targets:
        if host in run.unreachable or host in run.failed:
            why = run.unreachable.get(host) or run.failed[host]
            (result.unreachable if host in run.unreachable else result.failed)[host] = why
            journal.record(host, HostState.FAILED, f"baseline: {why}")
        elif host in applied:
            if current[host].state is HostState.AUTHORIZED:
                journal.record(host, HostState.BASELINED, "production baseline applied")
            result.ok[host] = "production baseline applied"
        else:
            result.untouched[host] = "the baseline run did not reach it"
    return result
