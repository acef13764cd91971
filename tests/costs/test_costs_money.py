"""Money and billed time: exact decimals, half-up rounding, the 60-second minimum."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from hybridburst.costs.money import (
    BillingRule,
    cost,
    format_money,
    format_rate,
    hours,
    minor_units,
    round_money,
    to_decimal,
)
from tests.costs.costs_helpers import at

T0 = at("2026-11-11T00:00:00")


@pytest.mark.parametrize(("amount", "currency", "expected"), [
    ("0.005", "USD", "0.01"),      # half up, not half even (which gives 0.00)
    ("0.015", "USD", "0.02"),
    ("0.025", "USD", "0.03"),      # half even would give 0.02
    ("2.675", "USD", "2.68"),      # exact decimal: no binary float surprise (2.67)
    ("0.0049999", "USD", "0.00"),
    ("1234.5", "JPY", "1235"),     # no minor unit
    ("0.0005", "KWD", "0.001"),    # three decimals
    ("7.125", "CNY", "7.13"),
])
def test_round_money_half_up_to_the_minor_unit(amount: str, currency: str, expected: str) -> None:
    rounded = round_money(Decimal(amount), currency)
    assert str(rounded) == expected


def test_minor_units_and_formatting() -> None:
    assert (minor_units("USD"), minor_units("JPY"), minor_units("BHD")) == (2, 0, 3)
    assert format_money(Decimal("1234.5"), "USD") == "1,234.50 USD"
    assert format_money(Decimal("-0.25"), "EUR", sign=True) == "-0.25 EUR"
    assert format_money(Decimal("3"), "JPY", sign=True) == "+3 JPY"
    assert format_money(None, "USD") == "-"
    assert format_rate(Decimal("0.0850000000"), "USD") == "0.085 USD"
    assert format_rate(Decimal("0.1"), "USD") == "0.10 USD"
    assert format_rate(Decimal("15"), "JPY") == "15 JPY"


@pytest.mark.parametrize(("duration", "billed"), [
    (dt.timedelta(seconds=0), 60),                         # minimum even when instant
    (dt.timedelta(seconds=10), 60),                        # 60-second minimum
    (dt.timedelta(seconds=59, microseconds=999999), 60),
    (dt.timedelta(seconds=60), 60),
    (dt.timedelta(seconds=60, microseconds=1), 61),        # a started second is billed
    (dt.timedelta(seconds=61), 61),
    (dt.timedelta(hours=1, minutes=30, seconds=15, microseconds=200000), 5416),  # partial hour
    (dt.timedelta(days=2), 172800),
    (dt.timedelta(seconds=-5), 60),                        # clock skew: still the minimum
])
def test_aws_linux_billing(duration: dt.timedelta, billed: int) -> None:
    assert BillingRule(60, 1).billed_seconds(T0, T0 + duration) == billed


def test_hourly_billing_rule_counts_started_hours() -> None:
    rule = BillingRule(minimum_seconds=3600, increment_seconds=3600)
    assert rule.billed_seconds(T0, T0 + dt.timedelta(minutes=5)) == 3600
    assert rule.billed_seconds(T0, T0 + dt.timedelta(minutes=61)) == 7200
    with pytest.raises(ValueError):
        BillingRule(60, 0)


def test_cost_is_exact_until_rounded() -> None:
    # c6i.large in us-east-1 for 1 h 30 min 16 s: 0.085 * 5416 / 3600
    exact = cost(Decimal("0.085"), 5416)
    assert exact == Decimal("0.085") * 5416 / 3600
    assert str(exact)[:12] == "0.1278777777"
    assert round_money(exact, "USD") == Decimal("0.13")
    assert cost(Decimal("0.085"), 60) == Decimal("0.085") / 60  # the 60 s minimum's price
    assert hours(5416) == Decimal("1.504444")


@pytest.mark.parametrize("bad", ["abc", "-1", "NaN", True, None, [1]])
def test_to_decimal_refuses_what_is_not_a_price(bad: object) -> None:
    with pytest.raises(ValueError):
        to_decimal(bad, "x")


def test_to_decimal_keeps_the_written_digits() -> None:
    assert to_decimal(0.1, "x") == Decimal("0.1")  # not 0.1000000000000000055...
    assert to_decimal("0.0850000000", "x") == Decimal("0.085")
