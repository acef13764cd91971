"""deploy, drain: the storefront on the burst hosts, behind the load balancer, journaled.

Fresh hosts (they serve no traffic yet) get the release in one batch; hosts that serve
(READY) change release in canary batches (one host, then halves), so a release that fails
its health check stops on one serving host. The playbooks say which hosts serve or left as
data (set_stats ``deploy_serving``, ``drain_left``)."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from ..app import release as app_release
from ..errors import HybridburstError
from ..journal import Journal
from ..runner import PlaybookRunner, RunResult, run_playbook
from ..states import HOLDS_ACCESS, HostState, allowed
from ..workspace import EventDir, state_root
from .result import StageResult

DEPLOYABLE = {HostState.AUTHORIZED, HostState.BASELINED, HostState.READY}
# Hosts that may be in the load balancer (a deploy from AWX does not journal): draining a
# host that is not a member changes nothing.
DRAINABLE = set(HOLDS_ACCESS)
SERVING = "deploy_serving"  # deploy.yml's set_stats: host -> the release it serves
LEFT = "drain_left"  # drain.yml's set_stats: the hosts out of the load balancer
FRESH_SERIAL = "100%"  # no traffic to protect: one batch
CANARY_SERIAL: list[int | str] = [1, "50%"]  # serving hosts: one first, then halves


def artifact(version: str) -> str:
    """The artifact of ``version``: the one in the state directory's releases/ (a CI build or
    a test's), else built from this package's storefront source."""
    path = state_root() / "releases" / app_release.artifact_name(version)
    if not path.exists():
        try:
            app_release.build(version, path.parent)
        except ValueError as exc:
            raise HybridburstError(str(exc)) from exc
    return str(path)


def serial_for(states: list[HostState]) -> str | list[int | str]:
    """The rollout's batches for hosts in ``states``: one batch when none serves yet."""
    return CANARY_SERIAL if HostState.READY in states else FRESH_SERIAL


def deploy(event_dir: EventDir, release: str | None = None, hosts: list[str] | None = None,
           runner: PlaybookRunner = run_playbook,
           from_image: Collection[str] = ()) -> StageResult:
    """Publish the release(s) and roll them out to the deployable hosts (or ``hosts``):
    the fresh ones first in one batch, then the serving ones in canary batches (not when
    the release failed on a fresh host). Journal READY for each host that serves.
    ``from_image``: fresh hosts launched from their pool's current baked image, which holds
    their pool's release: unless ``release`` says another, they only join the load balancer
    (its health check must pass), nothing is installed on them."""
    journal = Journal(event_dir.journal)
    current = journal.current()
    targets = sorted(h for h, e in current.items() if e.state in DEPLOYABLE
                     and (hosts is None or h in hosts))
    if not targets:
        raise HybridburstError(f"{event_dir.root.name}: no authorized host to deploy to")
    manifest = {h["name"]: h for h in json.loads(event_dir.manifest.read_text())["hosts"]}
    versions = sorted({release} if release else
                      {str(manifest[h].get("release") or "") for h in targets})
    if "" in versions:
        raise HybridburstError("a pool has no release: give one with --release")
    artifacts = {v: artifact(v) for v in versions}
    result = StageResult("deploy")
    fresh = [h for h in targets if current[h].state is not HostState.READY]
    serving = [h for h in targets if current[h].state is HostState.READY]
    baked = [] if release else sorted(set(fresh) & set(from_image))
    if set(targets) - set(baked):  # a host downloads the release: publish it first
        published = runner(event_dir, "publish_release.yml",
                           {"publish_release_artifacts": list(artifacts.values())}, limit="lb")
        result.runs.append(published)
        if published.rc != 0:
            raise HybridburstError(f"publishing {', '.join(versions)} failed; "
                                   f"see {published.private_data_dir}")
    # The digest each host must find comes from here, never from the artifact server.
    extravars: dict[str, Any] = {
        "deploy_release_sha256": {v: app_release.sha256(p) for v, p in artifacts.items()}}
    if release:
        extravars["deploy_release"] = release
    for group in (fresh, serving):
        if not group:
            continue
        if result.failed:
            for host in group:
                result.untouched[host] = "not deployed (the release failed on a fresh host)"
            continue
        run = runner(event_dir, "deploy.yml",
                     {**extravars, "deploy_hosts": ",".join(group),
                      "deploy_serial": serial_for([current[h].state for h in group]),
                      **({"deploy_from_image": ",".join(b)}
                         if (b := [h for h in group if h in baked]) else {})},
                     limit=",".join(group))
        result.runs.append(run)
        _record_deploy(journal, current, run, group, release, manifest, result)
    return result


def _record_deploy(journal: Journal, current: dict[str, Any], run: RunResult, group: list[str],
                   release: str | None, manifest: dict[str, Any], result: StageResult) -> None:
    serves = run.hosts(SERVING)
    for host in group:
        entry = current[host]
        if host in run.unreachable:
            result.unreachable[host] = run.unreachable[host]
        elif host in run.failed:
            result.failed[host] = run.failed[host]
        elif host in serves:
            version = release or manifest[host].get("release")
            if entry.state is HostState.READY or allowed(entry.state, HostState.READY):
                journal.record(host, HostState.READY,
                               f"release {version} behind the load balancer",
                               {"release": version})
                result.ok[host] = f"serves release {version}"
            else:
                result.untouched[host] = (f"serving, but the journal cannot go from "
                                          f"{entry.state.value} to ready")
        else:
            result.untouched[host] = "not deployed (the rollout stopped before its batch)"


def drain(event_dir: EventDir, hosts: list[str] | None = None, timeout: int = 60,
          runner: PlaybookRunner = run_playbook) -> StageResult:
    """Take hosts (default: all that may be in the load balancer) out of the load balancer,
    no request lost; journal DRAINING for each that left."""
    journal = Journal(event_dir.journal)
    current = journal.current()
    targets = hosts or sorted(h for h, e in current.items() if e.state in DRAINABLE)
    result = StageResult("drain")
    if not targets:
        return result
    run = runner(event_dir, "drain.yml",
                 {"drain_hosts": ",".join(targets), "drain_timeout": timeout},
                 limit=",".join(targets))
    result.runs.append(run)
    left = run.hosts(LEFT)
    for host in targets:
        entry = current.get(host)
        if host in left:
            if entry and entry.state is not HostState.DRAINING \
                    and allowed(entry.state, HostState.DRAINING):
                journal.record(host, HostState.DRAINING, "out of the load balancer")
            result.ok[host] = "out of the load balancer"
        elif host in run.unreachable:
            result.unreachable[host] = run.unreachable[host]
        else:
            result.failed[host] = run.failed.get(host, "see the run")
    return result
