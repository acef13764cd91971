"""Money: ``Decimal`` all the way, never ``float``.

Rounding rule (the one every figure of hybridburst follows):

* Quantities are exact: billed time is a whole number of seconds (see ``BillingRule``) and a
  price is the Decimal written in the price list (``"0.0850000000"`` per hour).
* A *line item* is one kind of usage at one price: the hosts of one pool (one instance type),
  or one VPN connection. Its amount is ``hourly price x billed seconds / 3600`` computed
  exactly, then rounded **once** to the currency's minor unit (cents for USD, EUR, CNY; whole
  yen for JPY) with ``ROUND_HALF_UP`` (0.005 becomes 0.01), as a bill rounds its line items.
* Every subtotal (per pool, team, instance type) and the total are sums of rounded line items,
  so a report always adds up to the cent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

# ISO 4217 minor units for currencies that do not have two decimals.
_MINOR_UNITS = {
    "BHD": 3, "CLP": 0, "IQD": 3, "ISK": 0, "JOD": 3, "JPY": 0, "KRW": 0, "KWD": 3, "LYD": 3,
    "OMR": 3, "PYG": 0, "TND": 3, "UGX": 0, "VND": 0, "XAF": 0, "XOF": 0,
}
SECONDS_PER_HOUR = Decimal(3600)
ZERO = Decimal(0)


def minor_units(currency: str) -> int:
    """Number of decimals of ``currency`` (2 unless ISO 4217 says otherwise)."""
    return _MINOR_UNITS.get(currency.upper(), 2)


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round to the currency's minor unit, half up (2.675 -> 2.68; 0.004999 -> 0.00)."""
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


def format_money(amount: Decimal | None, currency: str, *, sign: bool = False) -> str:
    if amount is None:
        return "-"
    digits = minor_units(currency)
    text = f"{amount:+,.{digits}f}" if sign else f"{amount:,.{digits}f}"
    return f"{text} {currency}"


def format_rate(rate: Decimal, currency: str) -> str:
    """A unit price with all its significant digits (0.085 USD, 0.10 USD, 15 JPY)."""
    digits = max(minor_units(currency), -int(rate.normalize().as_tuple().exponent))
    return f"{rate:,.{digits}f} {currency}"


def to_decimal(value: object, what: str) -> Decimal:
    """A price from YAML or JSON (str, int or float) as an exact Decimal."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError(f"{what}: {value!r} is not a number")
    try:
        result = Decimal(str(value))
    except ArithmeticError as exc:
        raise ValueError(f"{what}: {value!r} is not a number") from exc
    if not result.is_finite() or result < 0:
        raise ValueError(f"{what}: {value!r} is not a price")
    return result


@dataclass(frozen=True)
class BillingRule:
    """How a provider turns a launch..destroy interval into billed seconds.

    AWS bills Linux on-demand instances per second with a 60-second minimum per interval:
    ``BillingRule(minimum_seconds=60, increment_seconds=1)``. A provider billing started
    hours would be ``BillingRule(3600, 3600)``. A partial increment counts as a whole one.
    """

    minimum_seconds: int = 60
    increment_seconds: int = 1

    def __post_init__(self) -> None:
        if self.minimum_seconds < 0 or self.increment_seconds < 1:
            raise ValueError(f"bad billing rule {self}")

    def billed_seconds(self, start: dt.datetime, end: dt.datetime) -> int:
        micros = max(0, (end - start) // dt.timedelta(microseconds=1))
        seconds = -(-micros // 1_000_000)  # a started second is a billed second
        increments = -(-seconds // self.increment_seconds)
        return max(self.minimum_seconds, increments * self.increment_seconds)


def cost(hourly: Decimal, seconds: int) -> Decimal:
    """Exact (unrounded) cost of ``seconds`` at ``hourly``."""
    return hourly * seconds / SECONDS_PER_HOUR


def hours(seconds: int) -> Decimal:
    """Seconds as hours, to the second (3 decimals are not enough: 1 s = 0.000278 h)."""
    return (Decimal(seconds) / SECONDS_PER_HOUR).quantize(Decimal("0.000001"))
