"""Settlement: the actual cost of an event (from its journal) against its estimate.

Actual line items group the billed intervals of ``usage`` by team, pool and instance type;
each line is priced once and rounded once (see ``money``), like the estimate's, so estimate
and actual compare line by line and every subtotal adds up.

The journal records hosts, not the network: an AWS event's VPN connection is taken to live
from the event's first launch to its last destroy (or ``as_of``), which is when the burst
stack exists around its hosts.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from .. import manifest as manifest_mod
from .. import spec as spec_mod
from ..errors import HybridburstError, InputError
from ..journal import Entry, Journal, now
from ..plan import make_plan
from ..workspace import EventDir
from .estimate import (
    COMPUTE,
    NETWORK,
    NETWORK_POOL,
    Estimate,
    Line,
    LineKey,
    estimate,
    resolve_region,
    single_currency,
)
from .money import ZERO, round_money
from .prices import PriceCatalog, PriceSource, load_catalog
from .usage import HostUsage, host_usage

GROUPS: dict[str, Callable[[LineKey], str]] = {
    "team": lambda k: k.team,
    "pool": lambda k: k.pool,
    "instance_type": lambda k: k.instance_type,
}


@dataclass(frozen=True)
class Row:
    """One team, pool or instance type: estimate against actual."""

    name: str
    units_estimated: int  # hosts (VPN connections for a network-only row)
    units_actual: int
    seconds_estimated: int
    seconds_actual: int
    estimate: Decimal | None
    actual: Decimal
    quarantined: int  # hosts quarantined at some point

    @property
    def difference(self) -> Decimal | None:
        return None if self.estimate is None else self.actual - self.estimate


@dataclass(frozen=True)
class Settlement:
    event: str
    team: str
    provider: str
    region: str | None
    currency: str
    as_of: dt.datetime
    usage: tuple[HostUsage, ...]
    lines: tuple[Line, ...]  # actual line items
    estimate: Estimate | None
    estimate_note: str | None = None  # why there is no estimate
    budget: Decimal | None = None
    budget_currency: str | None = None
    sources: tuple[PriceSource, ...] = field(default_factory=tuple)

    @property
    def actual_total(self) -> Decimal:
        return sum((ln.amount for ln in self.lines), ZERO)

    @property
    def estimate_total(self) -> Decimal | None:
        return self.estimate.total if self.estimate else None

    @property
    def difference(self) -> Decimal | None:
        est = self.estimate_total
        return None if est is None else self.actual_total - est

    @property
    def running(self) -> list[HostUsage]:
        return [u for u in self.usage if u.running]

    def rows(self, group: str) -> list[Row]:
        """Estimate against actual per ``team``, ``pool`` or ``instance_type``."""
        name_of = GROUPS[group]
        has_total = self.estimate is not None and self.estimate.total is not None
        estimated = list(self.estimate.lines) if self.estimate and has_total else []
        names: list[str] = []
        for line in [*estimated, *self.lines]:
            if name_of(line.key) not in names:
                names.append(name_of(line.key))
        rows = []
        for name in names:
            est = [ln for ln in estimated if name_of(ln.key) == name]
            act = [ln for ln in self.lines if name_of(ln.key) == name]
            counted_kind = COMPUTE if any(ln.key.kind == COMPUTE for ln in est + act) else NETWORK
            hosts = {u.host for u in self.usage if u.quarantined and _usage_in(u, group, name)}
            rows.append(Row(
                name=name,
                units_estimated=sum(ln.units for ln in est if ln.key.kind == counted_kind),
                units_actual=sum(ln.units for ln in act if ln.key.kind == counted_kind),
                seconds_estimated=sum(ln.billed_seconds for ln in est
                                      if ln.key.kind == counted_kind),
                seconds_actual=sum(ln.billed_seconds for ln in act if ln.key.kind == counted_kind),
                estimate=sum((ln.amount for ln in est), ZERO) if has_total else None,
                actual=sum((ln.amount for ln in act), ZERO),
                quarantined=len(hosts),
            ))
        return rows

    def timeline(self) -> list[tuple[dt.datetime, dt.datetime, dict[str, int]]]:
        """Billed hosts per pool over time: (from, to, {pool: hosts}) segments."""
        points = sorted({u.launched for u in self.usage} | {u.end for u in self.usage})
        segments = []
        for start, end in itertools.pairwise(points):
            counts: dict[str, int] = {}
            for u in self.usage:
                if u.launched <= start < u.end:
                    counts[u.pool] = counts.get(u.pool, 0) + 1
            segments.append((start, end, counts))
        return segments

    def pools(self) -> list[str]:
        seen: list[str] = []
        for u in self.usage:
            if u.pool not in seen:
                seen.append(u.pool)
        if self.estimate:
            for ln in self.estimate.lines:
                if ln.key.kind == COMPUTE and ln.key.pool not in seen:
                    seen.append(ln.key.pool)
        return seen


def _usage_in(u: HostUsage, group: str, name: str) -> bool:
    return {"team": u.team, "pool": u.pool, "instance_type": u.instance_type}[group] == name


def actual_lines(
    usage: Iterable[HostUsage], prices: PriceCatalog, *, team: str
) -> list[Line]:
    """Price the billed intervals: one line per (team, pool, instance type, provider,
    region), plus the event network (AWS VPN) from first launch to last end."""
    grouped: dict[LineKey, list[HostUsage]] = {}
    for u in usage:
        key = LineKey(u.team, u.pool, COMPUTE, u.instance_type, u.provider, u.region)
        grouped.setdefault(key, []).append(u)
    lines = []
    for key, items in grouped.items():
        price = prices.instance_price(key.provider, key.region, key.instance_type)
        lines.append(Line.of(key, len({u.host for u in items}),
                             sum(u.billed_seconds for u in items), price))
    by_place: dict[tuple[str, str | None], list[HostUsage]] = {}
    for u in usage:
        by_place.setdefault((u.provider, u.region), []).append(u)
    for (provider, region), items in by_place.items():
        network = prices.network_price(provider, region)
        if network is None:
            continue
        price, units = network
        start = min(u.launched for u in items)
        end = max(u.end for u in items)
        seconds = prices.rule(provider).billed_seconds(start, end)
        key = LineKey(team, NETWORK_POOL, NETWORK, price.item, provider, region)
        lines.append(Line.of(key, units, units * seconds, price))
    return lines


def settle(
    entries: Iterable[Entry],
    *,
    event: str,
    team: str,
    provider: str,
    region: str | None,
    as_of: dt.datetime,
    prices: PriceCatalog,
    estimate: Estimate | None = None,
    estimate_note: str | None = None,
    budget: Decimal | None = None,
    budget_currency: str | None = None,
) -> Settlement:
    usage = host_usage(entries, as_of=as_of, rules=prices.billing, event=event, team=team,
                       provider=provider, region=region)
    lines = actual_lines(usage, prices, team=team)
    fallback = estimate.currency if estimate else "USD"
    currency = single_currency(lines, fallback)
    if estimate is not None and estimate.currency != currency:
        estimate, estimate_note = None, (
            f"the estimate is in {estimate.currency}, the actual in {currency}")
    return Settlement(
        event=event, team=team, provider=provider, region=region, currency=currency,
        as_of=as_of, usage=tuple(usage), lines=tuple(lines), estimate=estimate,
        estimate_note=estimate_note, budget=budget, budget_currency=budget_currency,
        sources=tuple(prices.sources),
    )


def settle_event(
    event: str,
    *,
    event_dir: EventDir | None = None,
    as_of: dt.datetime | None = None,
    prices: PriceCatalog | None = None,
    spec_path: Path | None = None,
) -> Settlement:
    """Settle an event from its directory: the journal for the actual, the spec (the copy
    `up` keeps, or ``spec_path``) for the estimate, the manifest for provider and region."""
    event_dir = event_dir or EventDir.of(event)
    prices = prices or load_catalog()
    if not event_dir.journal.is_file():
        raise InputError(str(event_dir.journal), None, f"no journal for event {event!r}")
    entries = list(Journal(event_dir.journal).entries())
    as_of = as_of or now()

    spec: spec_mod.EventSpec | None = None
    est: Estimate | None = None
    note: str | None = None
    spec_file = spec_path or event_dir.spec_copy
    if spec_file.is_file():
        try:
            spec = spec_mod.load(spec_file)
            est = estimate(make_plan(spec), prices)
        except InputError as exc:
            if spec_path is not None or spec is not None:  # the operator's file: file:line
                raise
            note = f"no estimate: {exc}"
        except HybridburstError as exc:
            note = f"no estimate: {exc}"
    else:
        note = f"no estimate: no event spec at {spec_file}"
    if spec_path is not None and spec is None:
        raise InputError(str(spec_path), None, note or "cannot read the spec")

    doc = manifest_mod.read(event_dir.manifest) if event_dir.manifest.is_file() else {}
    launched = [e.data for e in entries if e.data.get("instance_type")]
    provider = (
        (spec.provider if spec else None) or doc.get("provider")
        or next((str(d["provider"]) for d in launched if d.get("provider")), None)
    )
    if provider is None:
        raise InputError(str(event_dir.root), None,
                         f"cannot tell the provider of event {event!r}: "
                         "no spec copy, no manifest, and the journal does not say")
    region = (spec.region if spec else None) or doc.get("region")
    if provider == "aws" and region is None:
        region = est.region if est else resolve_region(provider, None)
    team = (
        (spec.team if spec else None) or doc.get("team")
        or next((str(d["team"]) for d in launched if d.get("team")), "unknown")
    )
    budget = (round_money(Decimal(str(spec.budget)), spec.currency)
              if spec and spec.budget is not None else None)
    return settle(
        entries, event=event, team=team, provider=provider, region=region, as_of=as_of,
        prices=prices, estimate=est, estimate_note=note, budget=budget,
        budget_currency=spec.currency if spec else None,
    )
