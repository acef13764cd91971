"""deploy, drain: the storefront on the burst hosts, behind the load balancer, journaled."""

from __future__ import annotations

import argparse
import json

from rich.console import Console

from .. import locks
from ..app import release as app_release
from ..errors import HybridburstError
from ..journal import Journal
from ..runner import RunResult, run_playbook
from ..states import HOLDS_ACCESS, HostState, allowed
from ..workspace import EventDir, state_root
from .fleet import load_event_meta

DEPLOYABLE = {HostState.AUTHORIZED, HostState.BASELINED, HostState.READY}
# Hosts that may be in the load balancer (a deploy from AWX does not journal): draining a
# host that is not a member changes nothing.
DRAINABLE = set(HOLDS_ACCESS)
SERVING = "Record that the host serves from the load balancer"
LEFT = "Record that the host left the load balancer"


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


def deploy(event_dir: EventDir, console: Console, release: str | None = None) -> RunResult:
    journal = Journal(event_dir.journal)
    current = journal.current()
    targets = sorted(h for h, e in current.items() if e.state in DEPLOYABLE)
    if not targets:
        raise HybridburstError(f"{event_dir.root.name}: no authorized host to deploy to")
    hosts = {h["name"]: h for h in json.loads(event_dir.manifest.read_text())["hosts"]}
    versions = sorted({release} if release else {str(hosts[h].get("release") or "") for h in targets})
    if "" in versions:
        raise HybridburstError("a pool has no release: give one with --release")
    artifacts = {v: artifact(v) for v in versions}
    published = run_playbook(event_dir, "publish_release.yml",
                             {"publish_release_artifacts": list(artifacts.values())},
                             limit="lb")
    if published.rc != 0:
        raise HybridburstError(f"publishing {', '.join(versions)} failed; see {published.private_data_dir}")
    # The digest each host must find comes from here, never from the artifact server.
    extravars: dict[str, object] = {
        "deploy_hosts": ",".join(targets),
        "deploy_release_sha256": {v: app_release.sha256(p) for v, p in artifacts.items()}}
    if release:
        extravars["deploy_release"] = release
    run = run_playbook(event_dir, "deploy.yml", extravars, limit=",".join(targets))
    serving = run.tasks_ok.get(SERVING, set())
    for host in targets:
        entry = current[host]
        if host in serving and host not in run.failed:
            version = release or hosts[host].get("release")
            if entry.state is HostState.READY or allowed(entry.state, HostState.READY):
                journal.record(host, HostState.READY, f"release {version} behind the load balancer",
                               {"release": version})
            else:
                console.print(f"[yellow]{host}: serving, but the journal cannot go from "
                              f"{entry.state.value} to ready[/]")
        elif host in run.failed or host in run.unreachable:
            console.print(f"[red]{host}: {run.failed.get(host) or run.unreachable.get(host)}[/]")
        else:
            console.print(f"[yellow]{host}: not deployed (the rollout stopped before its batch)[/]")
    return run


def drain(event_dir: EventDir, console: Console, hosts: list[str] | None = None,
          timeout: int = 60) -> RunResult:
    journal = Journal(event_dir.journal)
    current = journal.current()
    targets = hosts or sorted(h for h, e in current.items() if e.state in DRAINABLE)
    if not targets:
        return RunResult("drain.yml", "nothing to do", 0, event_dir.artifacts)
    run = run_playbook(event_dir, "drain.yml",
                       {"drain_hosts": ",".join(targets), "drain_timeout": timeout},
                       limit=",".join(targets))
    left = run.tasks_ok.get(LEFT, set())
    for host in targets:
        entry = current.get(host)
        if host in left and entry and entry.state is not HostState.DRAINING \
                and allowed(entry.state, HostState.DRAINING):
            journal.record(host, HostState.DRAINING, "out of the load balancer")
        elif host not in left:
            console.print(f"[red]{host}: not drained: {run.failed.get(host, 'see the run')}[/]")
    return run


def cmd_deploy(args: argparse.Namespace, console: Console) -> int:
    event_dir = EventDir.of(args.event)
    load_event_meta(event_dir)
    run = deploy(event_dir, console, args.release)
    changed = sum((run.stats.get("changed") or {}).values())
    console.print(f"{args.event}: deploy {'done' if run.rc == 0 else 'stopped'} "
                  f"({changed} change(s)); runner artifacts: {run.private_data_dir}")
    return 0 if run.rc == 0 else 1


def cmd_drain(args: argparse.Namespace, console: Console) -> int:
    event_dir = EventDir.of(args.event)
    load_event_meta(event_dir)
    run = drain(event_dir, console, args.host, args.timeout)
    console.print(f"{args.event}: drained {', '.join(args.host) if args.host else 'all serving hosts'}")
    return 0 if run.rc == 0 else 1
