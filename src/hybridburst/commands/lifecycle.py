"""plan, up, down: the whole burst in one command each."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .. import lifecycle, locks, spec
from ..plan import make_plan
from ..reporting import Reporter


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("plan", help="what an event spec will create, and what it will cost")
    p.add_argument("spec", type=Path)
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("up", help="burst: provision, validate, authorize, baseline, deploy")
    p.add_argument("spec", type=Path)
    p.add_argument("--over-budget-ok", action="store_true",
                   help="go ahead even when the estimate exceeds the spec's budget")
    p.add_argument("--json", action="store_true", help="JSON lines of events on stdout (CI, AWX)")
    p.add_argument("--converge", action="store_true",
                   help="no baked images: launch from the plain host image and apply the whole "
                        "baseline on every host (default on the local cloud: bake each pool's "
                        "image when stale, launch from it, verify each host)")
    p.set_defaults(func=cmd_up, locks_event=locks.event_of_spec)

    p = sub.add_parser("down", help="give back: drain, revoke, deprovision, settle")
    p.add_argument("event")
    p.add_argument("--json", action="store_true", help="JSON lines of events on stdout")
    p.add_argument("--provider", choices=("local", "aws", "openstack"),
                   help="with no local state of the event: where to look for what still runs")
    p.add_argument("--region", help="with --provider aws/openstack: the region to look in")
    p.add_argument("--cloud", help="with --provider openstack: the clouds.yaml entry")
    p.set_defaults(func=cmd_down, locks_event=locks.event_argument)


def cmd_plan(args: argparse.Namespace, console: Console) -> int:
    from ..costs import check_budget, estimate
    from ..costs.report import render_estimate

    event_spec = spec.load(args.spec)
    plan = make_plan(event_spec)
    table = Table(title=f"{plan.event} ({event_spec.team}) on {event_spec.provider}: "
                        f"{len(plan.hosts)} host(s)")
    for column in ("host", "pool", "instance type", "cpus", "memory MiB", "disk MiB", "release"):
        table.add_column(column)
    for h in plan.hosts:
        table.add_row(h.name, h.pool, h.instance_type, str(h.hardware.cpus),
                      str(h.hardware.memory_mb), str(h.hardware.disk_mb), h.release or "")
    console.print(table)
    est = estimate(plan)
    render_estimate(est, console)
    check = check_budget(est, event_spec.budget, event_spec.currency)
    console.print(check.message)
    return 0


def cmd_up(args: argparse.Namespace, console: Console) -> int:
    reporter = Reporter(console, as_json=args.json)
    return lifecycle.up(args.spec, console, reporter, over_budget_ok=args.over_budget_ok,
                        converge=args.converge)


def cmd_down(args: argparse.Namespace, console: Console) -> int:
    reporter = Reporter(console, as_json=args.json)
    return lifecycle.down(args.event, console, reporter, provider_name=args.provider,
                          region=args.region, cloud=args.cloud)
