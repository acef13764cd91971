"""The estimate: what a plan costs over its event window, before anything is created.

Every planned host is assumed to run the whole window (launch at window start, destroyed at
window end), billed by the provider's rule; an AWS event also keeps its VPN connection(s)
for the window. Money follows ``money``: each line item rounded once, half up, to the
currency's minor unit; totals are sums of line items. Without a window the estimate gives
the cost of one hour (``per_hour_only``) and no total.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from ..errors import InputError
from ..plan import Plan
from ..spec import EventSpec
from .money import ZERO, cost, format_money, round_money
from .prices import Price, PriceCatalog, PriceError, PriceSource, load_catalog

COMPUTE = "compute"
NETWORK = "network"
NETWORK_POOL = "(network)"


@dataclass(frozen=True, order=True)
class LineKey:
    """What a line item is about. One pool has one instance type, so (team, pool) with
    the kind identifies a line; instance type, provider and region describe it."""

    team: str
    pool: str
    kind: str
    instance_type: str
    provider: str
    region: str | None


@dataclass(frozen=True)
class Line:
    key: LineKey
    units: int  # hosts, or VPN connections
    billed_seconds: int  # summed over the units
    hourly: Decimal  # price of one unit-hour
    currency: str
    exact: Decimal  # unrounded
    amount: Decimal  # rounded once: the figure every total adds up

    @classmethod
    def of(cls, key: LineKey, units: int, billed_seconds: int, price: Price) -> Line:
        exact = cost(price.hourly, billed_seconds)
        return cls(key, units, billed_seconds, price.hourly, price.currency, exact,
                   round_money(exact, price.currency))


def resolve_region(provider: str, region: str | None) -> str | None:
    """An AWS event's region: the spec's, else the usual AWS environment variables."""
    if region or provider != "aws":
        return region
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise PriceError("aws event without a region: set `region` in the event spec "
                         "(or AWS_REGION) so its prices can be looked up")
    return region


def single_currency(lines: list[Line], fallback: str = "USD") -> str:
    currencies = {line.currency for line in lines}
    if len(currencies) > 1:
        raise PriceError(f"prices in several currencies ({', '.join(sorted(currencies))}) "
                         "cannot be added up; configure one currency per provider")
    return currencies.pop() if currencies else fallback


def subtotal(lines: list[Line], key: Callable[[Line], str]) -> dict[str, Decimal]:
    """Sum of rounded line amounts per key, in first-seen order."""
    out: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for line in lines:
        out[key(line)] += line.amount
    return dict(out)


@dataclass(frozen=True)
class Estimate:
    event: str
    team: str
    provider: str
    region: str | None
    currency: str
    window_start: dt.datetime | None
    window_end: dt.datetime | None
    lines: tuple[Line, ...]  # for the window, or for one hour when per_hour_only
    sources: tuple[PriceSource, ...]

    @property
    def per_hour_only(self) -> bool:
        return self.window_start is None or self.window_end is None

    @property
    def window_seconds(self) -> int | None:
        if self.window_start is None or self.window_end is None:
            return None
        return int((self.window_end - self.window_start).total_seconds())

    @property
    def total(self) -> Decimal | None:
        """The estimate for the window (None without a window)."""
        return None if self.per_hour_only else sum((ln.amount for ln in self.lines), ZERO)

    @property
    def hourly(self) -> Decimal:
        """What the whole event costs per hour while everything runs (rounded)."""
        exact = sum((ln.hourly * ln.units for ln in self.lines), ZERO)
        return round_money(exact, self.currency)

    def by_pool(self) -> dict[str, Decimal]:
        return subtotal(list(self.lines), lambda ln: ln.key.pool)

    def by_team(self) -> dict[str, Decimal]:
        return subtotal(list(self.lines), lambda ln: ln.key.team)

    def by_instance_type(self) -> dict[str, Decimal]:
        return subtotal(list(self.lines), lambda ln: ln.key.instance_type)

    def summary(self) -> str:
        """One line for `hybridburst plan`."""
        rate = format_money(self.hourly, self.currency)
        if self.total is None:
            return f"estimate: {rate} per hour (no window in the spec, so no total)"
        hours = Decimal(self.window_seconds or 0) / 3600
        return (f"estimate: {format_money(self.total, self.currency)} for the "
                f"{hours.normalize():f} h window ({rate} per hour)")

    def as_json(self) -> dict[str, object]:
        return {
            "event": self.event,
            "team": self.team,
            "provider": self.provider,
            "region": self.region,
            "currency": self.currency,
            "window": None if self.per_hour_only else {
                "start": self.window_start.isoformat() if self.window_start else None,
                "end": self.window_end.isoformat() if self.window_end else None,
                "seconds": self.window_seconds,
            },
            "hourly": str(self.hourly),
            "total": None if self.total is None else str(self.total),
            "lines": [
                {
                    "team": ln.key.team, "pool": ln.key.pool, "kind": ln.key.kind,
                    "instance_type": ln.key.instance_type, "provider": ln.key.provider,
                    "region": ln.key.region, "units": ln.units,
                    "billed_seconds": ln.billed_seconds, "hourly": str(ln.hourly),
                    "amount": str(ln.amount),
                }
                for ln in self.lines
            ],
            "price_sources": [s.describe() for s in self.sources],
        }


def estimate(plan: Plan, prices: PriceCatalog | None = None) -> Estimate:
    """The cost of ``plan`` over its spec's window (or per hour without one)."""
    prices = prices or load_catalog()
    spec = plan.spec
    region = resolve_region(spec.provider, spec.region)
    rule = prices.rule(spec.provider)
    if spec.window_start is not None and spec.window_end is not None:
        seconds = rule.billed_seconds(spec.window_start, spec.window_end)
    else:
        seconds = 3600
    hosts: dict[tuple[str, str], int] = {}
    for host in plan.hosts:
        hosts[(host.pool, host.instance_type)] = hosts.get((host.pool, host.instance_type), 0) + 1
    lines: list[Line] = []
    missing: list[str] = []
    for (pool, instance_type), count in hosts.items():
        try:
            price = prices.instance_price(spec.provider, region, instance_type)
        except PriceError as exc:
            missing.append(str(exc))
            continue
        key = LineKey(spec.team, pool, COMPUTE, instance_type, spec.provider, region)
        lines.append(Line.of(key, count, count * seconds, price))
    if missing:
        raise PriceError("\n".join(missing))
    network = prices.network_price(spec.provider, region)
    if network is not None:
        price, units = network
        key = LineKey(spec.team, NETWORK_POOL, NETWORK, price.item, spec.provider, region)
        lines.append(Line.of(key, units, units * seconds, price))
    return Estimate(
        event=spec.event,
        team=spec.team,
        provider=spec.provider,
        region=region,
        currency=single_currency(lines, spec.currency),
        window_start=spec.window_start,
        window_end=spec.window_end,
        lines=tuple(lines),
        sources=tuple(prices.sources),
    )


# ---------------------------------------------------------------- budget


class OverBudget(InputError):
    """The plan's estimate exceeds the spec's budget (exit status 2, nothing touched)."""


@dataclass(frozen=True)
class BudgetCheck:
    ok: bool
    budget: Decimal | None
    total: Decimal | None
    currency: str
    message: str


def check_budget(est: Estimate, budget: float | Decimal | None, currency: str) -> BudgetCheck:
    """Compare an estimate with a budget. Not ok when over budget, or when it cannot be
    told (no window, so no total; or the budget in another currency than the prices)."""
    if budget is None:
        return BudgetCheck(True, None, est.total, est.currency, "no budget set")
    amount = Decimal(str(budget))
    shown = format_money(amount, currency)
    if est.total is None:
        return BudgetCheck(False, amount, None, currency,
                           f"budget {shown} cannot be checked: the spec has no window, "
                           "so the estimate has no total")
    if currency != est.currency:
        return BudgetCheck(False, amount, est.total, currency,
                           f"budget is in {currency} but prices are in {est.currency}: "
                           "cannot compare without an exchange rate")
    total = format_money(est.total, est.currency)
    share = (est.total / amount * 100).quantize(Decimal("0.1"))
    if est.total > amount:
        return BudgetCheck(False, amount, est.total, currency,
                           f"estimate {total} exceeds the budget of {shown} ({share}%)")
    return BudgetCheck(True, amount, est.total, currency,
                       f"estimate {total} is within the budget of {shown} ({share}%)")


def enforce_budget(est: Estimate, spec: EventSpec, *, over_budget_ok: bool = False) -> BudgetCheck:
    """For `hybridburst up`: raise OverBudget unless within budget or ``over_budget_ok``."""
    result = check_budget(est, spec.budget, spec.currency)
    if not result.ok and not over_budget_ok:
        raise OverBudget(spec.source, None,
                         f"{result.message}; refusing to go ahead (pass --over-budget-ok to "
                         "accept the cost)")
    return result
