"""CLI: ``settle``, ``reap`` and ``prices``. Add ``hybridburst.costs.commands`` to
``cli.COMMAND_MODULES``; each handler is ``func(args, console) -> exit status``."""

from __future__ import annotations

import argparse
import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..errors import HybridburstError, InputError
from ..journal import now
from . import reaper_openstack
from .access_book import FORCE_OPTION, AccessBook
from .money import format_rate
from .prices import load_catalog, prices_dir, refresh
from .reaper import ORDER, ReapReport, destroyed_events, reap
from .report import FORMATS, render, render_table
from .settlement import settle_event


def _time(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from exc
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a time zone (e.g. Z)")
    return moment


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "settle", help="actual cost of an event against its estimate",
        description="Settle an event: usage from its journal (per-second billing, 60 s minimum "
                    "per host, quarantined hosts billed until destroyed) priced from the "
                    "catalog, against the estimate of its spec, per team, pool and instance type.")
    p.add_argument("event", metavar="EVENT")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--output", "-o", type=Path, metavar="FILE", help="write here, not stdout")
    p.add_argument("--as-of", type=_time, metavar="TIME",
                   help="settle as of this ISO 8601 time (default: now); hosts not destroyed "
                        "are billed up to it")
    p.add_argument("--spec", type=Path, metavar="FILE",
                   help="event spec for the estimate (default: the copy in the event directory)")
    p.set_defaults(func=cmd_settle)

    p = subparsers.add_parser(
        "reap", help="delete cloud resources of expired or destroyed events",
        description="Find AWS (or OpenStack) resources tagged hybridburst:event whose "
                    "hybridburst:burst-expiry has passed, or whose event the journal calls "
                    "destroyed, or of an event named with --event, and delete them in "
                    "dependency order (hosts first, the network last). Untagged resources "
                    "and live events are never touched. A host that may still hold access to "
                    "the private network (its journal says authorized, baselined, ready or "
                    "draining, or failed after that) is skipped with what it runs in: revoke it "
                    "first. A host of an "
                    "event without a journal here is skipped too, unless "
                    f"{FORCE_OPTION}.")
    p.add_argument("--provider", choices=("aws", "openstack"), default="aws",
                   help="where to look (default: aws)")
    p.add_argument("--dry-run", action="store_true", help="list what would be deleted, only")
    p.add_argument("--region", action="append", metavar="R",
                   help="region (repeatable; aws default: AWS_REGION / the AWS config; "
                        "openstack default: the cloud's)")
    p.add_argument("--cloud", metavar="NAME",
                   help="openstack: the clouds.yaml entry (default: OS_CLOUD / OS_* variables)")
    p.add_argument("--event", action="append", metavar="EVENT",
                   help="reap this event now, whatever its expiry (repeatable); only its "
                        "resources are looked at")
    p.add_argument(FORCE_OPTION, action="store_true",
                   help="also delete hosts of events without a journal here (their access to "
                        "the private network is unknown: revoke them at the gateway first)")
    p.set_defaults(func=cmd_reap)

    p = subparsers.add_parser("prices", help="show or refresh the price catalog")
    sub = p.add_subparsers(dest="prices_command", required=True, metavar="ACTION")
    show = sub.add_parser("show", help="the prices in use and where they come from")
    show.add_argument("--provider", choices=("aws", "openstack", "local"))
    show.add_argument("--region")
    show.set_defaults(func=cmd_prices_show)
    ref = sub.add_parser(
        "refresh", help="extract our prices from downloaded AWS price list offer files",
        description=f"Writes trimmed offer files to $HYBRIDBURST_PRICES_DIR "
                    f"(now {prices_dir()}); they replace the shipped ones.")
    ref.add_argument("files", nargs="+", type=Path, metavar="OFFER_FILE")
    ref.add_argument("--region", action="append", metavar="R", help="keep only these regions")
    ref.add_argument("--dir", type=Path, help="write here instead of the prices directory")
    ref.set_defaults(func=cmd_prices_refresh)


def cmd_settle(args: argparse.Namespace, console: Console) -> int:
    settlement = settle_event(args.event, as_of=args.as_of, spec_path=args.spec)
    if args.format == "table":
        if args.output:
            with args.output.open("w", encoding="utf-8") as handle:
                render_table(settlement, Console(file=handle, width=120, color_system=None))
            console.print(f"wrote {args.output}")
        else:
            render_table(settlement, console)
        return 0
    text = render(settlement, args.format)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        console.print(f"wrote {args.output}")
    else:
        console.file.write(text)
    return 0


def _regions(given: list[str] | None) -> list[str]:
    if given:
        return given
    import boto3

    region = os.environ.get("AWS_REGION") or boto3.session.Session().region_name
    if not region:
        raise InputError("reap", None, "no AWS region: pass --region or set AWS_REGION")
    return [region]


def _reports(args: argparse.Namespace) -> Iterator[tuple[str, ReapReport, tuple[str, ...]]]:
    """Reap where asked; yields (where, report, deletion order) per region or cloud."""
    options: dict[str, Any] = {
        "now": now(), "destroyed": destroyed_events(), "dry_run": args.dry_run,
        "force_unknown_access": args.force_unknown_access,
        "named": frozenset(args.event or ()), "access": AccessBook(),
    }
    if args.provider == "openstack":
        for region in args.region or [None]:
            conn = reaper_openstack.connect(args.cloud, region)
            label = " ".join(x for x in (args.cloud or "openstack", region) if x)
            yield label, reaper_openstack.reap(conn, label, **options), reaper_openstack.ORDER
        return
    import boto3

    for region in _regions(args.region):
        ec2 = boto3.client("ec2", region_name=region)
        yield region, reap(ec2, region, **options), ORDER


def _print_skipped(console: Console, where: str, report: ReapReport) -> None:
    """One line per host left for its access, then what it keeps (the resources it runs in)."""
    skipped = report.skipped()
    for outcome in (o for o in skipped if not o.held_by):
        res = outcome.resource
        console.print(Text(f"{where}: skipped {res.kind} {res.id} of event {res.event}: "
                           f"{outcome.detail}", style="yellow"), soft_wrap=True)
        kept = [o.resource for o in skipped if o.held_by == res.id]
        if kept:
            console.print(f"  kept with it ({len(kept)}): "
                          + ", ".join(f"{r.kind} {r.id}" for r in kept), soft_wrap=True)


def cmd_reap(args: argparse.Namespace, console: Console) -> int:
    if args.cloud and args.provider != "openstack":
        raise InputError("reap", None, "--cloud is for --provider openstack")
    failed = hosts = kept_with = 0
    for where, report, order in _reports(args):
        acted = report.acted()
        table = Table(title=f"{where}: {'would delete' if args.dry_run else 'reaped'}",
                      title_justify="left")
        for column in ("order", "kind", "id", "event", "why", "result"):
            table.add_column(column)
        for outcome in acted:
            res = outcome.resource
            result = Text(outcome.action, style="red" if outcome.action == "failed" else "")
            if outcome.detail:
                result.append(f": {outcome.detail}")
            table.add_row(str(order.index(res.kind) + 1), res.kind, res.id, res.event or "",
                          outcome.reason, result)
        if acted:
            console.print(table)
        else:
            console.print(f"{where}: nothing to reap")
        _print_skipped(console, where, report)
        hosts += sum(1 for o in report.skipped() if not o.held_by)
        kept_with += sum(1 for o in report.skipped() if o.held_by)
        kept = report.kept()
        if kept:
            events = sorted({o.resource.event or "" for o in kept})
            console.print(f"{where}: left alone {len(kept)} resource(s) of live event(s): "
                          f"{', '.join(events)}")
        failed += len(report.failed)
    if failed:
        raise HybridburstError(f"{failed} resource(s) could not be deleted (see above); "
                               "rerun `hybridburst reap` once what blocks them is gone")
    if hosts and not args.dry_run:
        console.print(f"{hosts} host(s) skipped, and {kept_with} resource(s) they run in, "
                      "because they may still hold access to the private network (see above); "
                      "revoke, then reap again")
        return 1
    return 0


def cmd_prices_show(args: argparse.Namespace, console: Console) -> int:
    cat = load_catalog()
    table = Table(title="prices per hour", title_justify="left")
    for column in ("provider", "region", "item", "per hour", "source"):
        table.add_column(column, justify="right" if column == "per hour" else "left")
    for price in cat.rows():
        if args.provider and price.provider != args.provider:
            continue
        if args.region and price.region not in (None, args.region):
            continue
        table.add_row(price.provider, price.region or "any", price.item,
                      format_rate(price.hourly, price.currency), price.source)
    console.print(table)
    for src in cat.sources:
        console.print(f"source: {src.describe()}", soft_wrap=True)
    for provider, rule in sorted(cat.billing.items()):
        console.print(f"billing {provider}: per {rule.increment_seconds} s, "
                      f"minimum {rule.minimum_seconds} s per launch..destroy interval")
    return 0


def cmd_prices_refresh(args: argparse.Namespace, console: Console) -> int:
    written = refresh(args.files, args.dir, args.region)
    for path in written:
        console.print(f"wrote {path}", soft_wrap=True)
    return 0
