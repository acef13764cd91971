"""validate: check each launched host against the manifest; journal each verdict."""

from __future__ import annotations

import ast
import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import write_atomic
from ..errors import HybridburstError
from ..journal import Journal
from ..runner import PlaybookRunner, keep_last, run_playbook
from ..states import HostState
from ..workspace import EventDir
from .result import StageResult

REVALIDATABLE = {HostState.LAUNCHED, HostState.VALIDATED, HostState.QUARANTINED, HostState.REVOKED}


@dataclass
class Validation(StageResult):
    """``ok``: validated hosts; ``failed``: quarantined hosts (with the reasons);
    ``report``: this run's validation report (one record per host, unreachable ones too)."""

    report: dict[str, Any] = field(default_factory=dict)


def validate(event_dir: EventDir, hosts: list[str] | None = None,
             runner: PlaybookRunner = run_playbook) -> Validation:
    """Run validate.yml on ``hosts`` (default: every host that may be validated), journal
    each verdict, merge it into the event's report."""
    journal = Journal(event_dir.journal)
    current = journal.current()
    targets = sorted(h for h, e in current.items() if e.state in REVALIDATABLE
                     and (hosts is None or h in hosts))
    if not targets:
        raise HybridburstError(f"{event_dir.root.name}: no launched host to validate")
    run_dir = report_dir(event_dir)
    run = runner(event_dir, "validate.yml",
                 {"validate_report_dir": str(run_dir), "validate_hosts": ",".join(targets)},
                 limit=",".join([*targets, "localhost"]))
    report = _data(run.outcome.get("validate_report"))
    if not isinstance(report, dict) or not isinstance(report.get("hosts"), list):
        raise HybridburstError(
            f"validate.yml handed back no report (status {run.status}); see {run.private_data_dir}")
    merge_report(event_dir.root / "validation", report, str(run.outcome.get("validate_summary", "")))
    result = Validation("validate", runs=[run], report=report)
    for record in report["hosts"]:
        host = record["host"]
        if current.get(host) is None or current[host].state not in REVALIDATABLE:
            continue
        validated = record["verdict"] == "validated"
        reason = "; ".join(record["reasons"]) or "matches the inventory"
        journal.record(host, HostState.VALIDATED if validated else HostState.QUARANTINED, reason,
                       {"checks": record["checks"], "launched_at": record.get("launched_at")})
        (result.ok if validated else result.failed)[host] = reason
    return result


def _data(value: Any) -> Any:
    """set_stats data as Python data (a template's result may come back as its text)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            try:
                return ast.literal_eval(value)
            except (ValueError, SyntaxError):
                return None
    return value


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
    """A folder of this run's own for the playbook's report files (kept for people to read;
    the stage takes the report from the run's set_stats): runs never write over each other."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    run_dir = event_dir.root / "validation" / "runs" / f"{stamp}-{os.getpid()}"
    run_dir.mkdir(parents=True)
    keep_last(run_dir.parent)
    return run_dir
