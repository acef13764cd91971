"""hybridburst validate EVENT: check every launched host against the manifest."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from .. import locks, spec
from ..atomic import write_atomic
from ..errors import HybridburstError
from ..journal import Journal
from ..runner import keep_last, run_playbook
from ..states import HostState
from ..workspace import EventDir
from .fleet import load_event_meta

REVALIDATABLE = {HostState.LAUNCHED, HostState.VALIDATED, HostState.QUARANTINED, HostState.REVOKED}


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("validate", help="check each host against the inventory; quarantine misfits")
    p.add_argument("event")
    p.set_defaults(func=cmd_validate, locks_event=locks.event_argument)


def min_healthy_shares(event_dir: EventDir) -> dict[str, float]:
    """Per pool, the share of hosts that must validate (spec; default all)."""
    meta = load_event_meta(event_dir)
    path = Path(meta["spec"])
    if not path.exists():
        return {}
    return {p.name: p.min_healthy_share for p in spec.load(path).pools}


def validate(event_dir: EventDir, console: Console, hosts: list[str] | None = None) -> dict[str, Any]:
    """Run validate.yml on ``hosts`` (default: every host that may be validated), journal
    each verdict, return the report of this run."""
    journal = Journal(event_dir.journal)
    current = journal.current()
    targets = sorted(h for h, e in current.items() if e.state in REVALIDATABLE
                     and (hosts is None or h in hosts))
    if not targets:
        raise HybridburstError(f"{event_dir.root.name}: no launched host to validate")
    run_dir = report_dir(event_dir)
    run = run_playbook(event_dir, "validate.yml",
                       {"validate_report_dir": str(run_dir), "validate_hosts": ",".join(targets)},
                       limit=",".join([*targets, "localhost"]))
    if not (run_dir / "validation.json").exists():
        raise HybridburstError(
            f"validate.yml wrote no report (status {run.status}); see {run.private_data_dir}")
    report = json.loads((run_dir / "validation.json").read_text())
    merge_report(event_dir.root / "validation", report, (run_dir / "validation.txt").read_text())
    for record in report["hosts"]:
        host = record["host"]
        if current.get(host) is None or current[host].state not in REVALIDATABLE:
            continue
        state = HostState.VALIDATED if record["verdict"] == "validated" else HostState.QUARANTINED
        reason = "; ".join(record["reasons"]) or "matches the inventory"
        journal.record(host, state, reason, {"checks": record["checks"],
                                             "launched_at": record.get("launched_at")})
    return report


def merge_report(folder: Path, report: dict[str, Any], summary: str) -> None:
    """The event's report holds the latest verdict of every host (a run may cover a part)."""
    path = folder / "validation.json"
    records: dict[str, Any] = {}
    if path.exists():
        records = {r["host"]: r for r in json.loads(path.read_text())["hosts"]}
    records.update({r["host"]: r for r in report["hosts"]})
    merged = sorted(records.values(), key=lambda r: r["host"])
    document = {"version": 1, "hosts": merged,
                "validated": sum(r["verdict"] == "validated" for r in merged),
                "quarantined": sum(r["verdict"] == "quarantined" for r in merged)}
    write_atomic(path, json.dumps(document, indent=2) + "\n")
    write_atomic(folder / "validation.txt", summary)


def report_dir(event_dir: EventDir) -> Path:
    """A folder of this run's own: a concurrent run never writes over its report."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    run_dir = event_dir.root / "validation" / "runs" / f"{stamp}-{os.getpid()}"
    run_dir.mkdir(parents=True)
    keep_last(run_dir.parent)
    return run_dir


def healthy_enough(report: dict[str, Any], pools: dict[str, str],
                   shares: dict[str, float]) -> list[str]:
    """Pools below their minimum healthy share, as messages (empty: good enough)."""
    short = []
    for pool in sorted(set(pools.values())):
        members = [r for r in report["hosts"] if pools.get(r["host"]) == pool]
        good = sum(r["verdict"] == "validated" for r in members)
        need = math.ceil(shares.get(pool, 1.0) * len(members) - 1e-9)
        if good < need:
            short.append(f"pool {pool}: {good}/{len(members)} validated, {need} needed")
    return short


def cmd_validate(args: argparse.Namespace, console: Console) -> int:
    event_dir = EventDir.of(args.event)
    report = validate(event_dir, console)
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
    short = healthy_enough(report, pools, min_healthy_shares(event_dir))
    for line in short:
        console.print(f"[red]{line}[/]")
    return 1 if short else 0
