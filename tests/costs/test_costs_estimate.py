"""The estimate of a plan over its window, and the budget check of `plan` / `up`."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from hybridburst import spec as spec_mod
from hybridburst.costs import (
    OverBudget,
    PriceError,
    check_budget,
    enforce_budget,
    estimate,
    load_catalog,
    prices,
)
from hybridburst.plan import Plan, make_plan
from tests.costs.costs_helpers import write_spec

AWS_SPEC = """
event: d11
team: shop
provider: aws
region: us-east-1
window: {start: "2026-11-10T16:00:00Z", end: "2026-11-12T04:00:00Z"}
budget: {amount: 30, currency: USD}
pools:
  - {name: web, count: 3, instance_type: c6i.large}
  - {name: api, count: 2, instance_type: m6i.xlarge}
  - {name: cache, count: 1, instance_type: r6i.large}
"""


def plan_of(tmp_path: Path, body: str, name: str = "spec.yml") -> Plan:
    return make_plan(spec_mod.load(write_spec(tmp_path / name, body)))


def test_multi_pool_aws_estimate_exact_figures(tmp_path: Path) -> None:
    est = estimate(plan_of(tmp_path, AWS_SPEC))
    # a 36-hour window: 129,600 billed seconds per host
    assert est.window_seconds == 129600
    lines = {(ln.key.pool, ln.key.instance_type): ln for ln in est.lines}
    assert {k: (ln.units, ln.billed_seconds, str(ln.amount)) for k, ln in lines.items()} == {
        ("web", "c6i.large"): (3, 388800, "9.18"),         # 3 x 36 h x 0.085
        ("api", "m6i.xlarge"): (2, 259200, "13.82"),       # 2 x 36 h x 0.192 = 13.824
        ("cache", "r6i.large"): (1, 129600, "4.54"),       # 36 h x 0.126 = 4.536
        ("(network)", "vpn-connection"): (1, 129600, "1.80"),  # 36 h x 0.05
    }
    assert lines[("api", "m6i.xlarge")].exact == Decimal("13.824")
    assert est.total == Decimal("29.34")
    assert est.by_pool() == {"web": Decimal("9.18"), "api": Decimal("13.82"),
                             "cache": Decimal("4.54"), "(network)": Decimal("1.80")}
    assert est.by_team() == {"shop": Decimal("29.34")}
    # per hour: 3 x 0.085 + 2 x 0.192 + 0.126 + 0.05 = 0.815, half up
    assert est.hourly == Decimal("0.82")
    assert est.currency == "USD" and est.region == "us-east-1"
    assert est.summary() == "estimate: 29.34 USD for the 36 h window (0.82 USD per hour)"
    assert est.as_json()["total"] == "29.34"


def test_line_items_round_once_and_totals_add_them_up(tmp_path: Path) -> None:
    # half an hour of local.small (0.01/h) is 0.005 per pool: each line rounds half up to
    # 0.01, and the total is the sum of the lines (0.02), not the rounded sum (0.01).
    est = estimate(plan_of(tmp_path, """
        event: tiny
        team: shop
        provider: local
        window: {start: "2026-11-11T00:00:00Z", end: "2026-11-11T00:30:00Z"}
        pools:
          - {name: a, count: 1, instance_type: local.small}
          - {name: b, count: 1, instance_type: local.small}
        """))
    assert [(ln.exact, ln.amount) for ln in est.lines] == [
        (Decimal("0.005"), Decimal("0.01")), (Decimal("0.005"), Decimal("0.01"))]
    assert est.total == Decimal("0.02")
    assert est.hourly == Decimal("0.02")


def test_short_window_is_billed_the_minimum_and_jpy_has_no_cents(tmp_path: Path) -> None:
    directory = prices.prices_dir()
    directory.mkdir(parents=True)
    (directory / "rates.yml").write_text(
        "local:\n  currency: JPY\n  instance_types: {local.large: '15'}\n")
    est = estimate(plan_of(tmp_path, """
        event: blink
        team: shop
        provider: local
        window: {start: "2026-11-11T00:00:00Z", end: "2026-11-11T00:00:20Z"}
        budget: {amount: 1, currency: JPY}
        pools: [{name: a, count: 3, instance_type: local.large}]
        """))
    # 20 s window, billed 60 s per host: 3 x 60 s x 15 JPY/h = 0.75 JPY -> 1 JPY
    (line,) = est.lines
    assert (line.billed_seconds, line.exact, line.amount) == (180, Decimal("0.75"), Decimal("1"))
    assert est.currency == "JPY" and est.total == Decimal("1")


def test_no_window_gives_an_hourly_rate_and_no_total(tmp_path: Path) -> None:
    est = estimate(plan_of(tmp_path, """
        event: open
        team: shop
        provider: openstack
        pools: [{name: web, count: 4, instance_type: s3.large.2}]
        """))
    assert est.per_hour_only and est.total is None
    assert est.hourly == Decimal("0.24")  # 4 x 0.06
    assert est.summary() == "estimate: 0.24 USD per hour (no window in the spec, so no total)"


def test_region_comes_from_the_spec_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = AWS_SPEC.replace("region: us-east-1\n", "")
    plan = plan_of(tmp_path, body)
    with pytest.raises(PriceError, match="aws event without a region"):
        estimate(plan)
    monkeypatch.setenv("AWS_REGION", "ap-northeast-1")
    est = estimate(plan)
    assert est.region == "ap-northeast-1"
    # Tokyo: 36 h x (3 x 0.107 + 2 x 0.248 + 0.152 + 0.048) = 36.612 exactly, but the
    # lines round to 11.56 + 17.86 + 5.47 + 1.73, and the total is their sum
    assert est.total == Decimal("36.62")
    tokyo = {ln.key.pool: ln.amount for ln in est.lines}
    assert tokyo == {"web": Decimal("11.56"), "api": Decimal("17.86"),
                     "cache": Decimal("5.47"), "(network)": Decimal("1.73")}


def test_unpriced_region_fails_with_all_missing_prices(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, AWS_SPEC.replace("us-east-1", "sa-east-1"))
    with pytest.raises(PriceError) as info:
        estimate(plan)
    assert str(info.value).count("no aws price for") == 3


def test_budget_check(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, AWS_SPEC)
    est = estimate(plan, load_catalog())
    ok = enforce_budget(est, plan.spec)
    assert ok.ok and ok.message == "estimate 29.34 USD is within the budget of 30.00 USD (97.8%)"

    tight = plan_of(tmp_path, AWS_SPEC.replace("amount: 30", "amount: 29.33"), "tight.yml")
    with pytest.raises(OverBudget) as info:
        enforce_budget(est, tight.spec)
    assert info.value.exit_status == 2
    assert str(info.value) == (
        f"{tight.spec.source}: estimate 29.34 USD exceeds the budget of 29.33 USD (100.0%); "
        "refusing to go ahead (pass --over-budget-ok to accept the cost)")
    accepted = enforce_budget(est, tight.spec, over_budget_ok=True)
    assert not accepted.ok and accepted.total == Decimal("29.34")

    assert check_budget(est, Decimal("29.34"), "USD").ok  # exactly the budget is within it
    assert check_budget(est, None, "USD").ok
    other = check_budget(est, 30, "EUR")
    assert not other.ok and "budget is in EUR but prices are in USD" in other.message


def test_budget_without_window_cannot_be_checked(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, """
        event: open
        team: shop
        provider: local
        budget: {amount: 100}
        pools: [{name: web, count: 1, instance_type: local.small}]
        """)
    result = check_budget(estimate(plan), plan.spec.budget, plan.spec.currency)
    assert not result.ok and "no window" in result.message
    with pytest.raises(OverBudget):
        enforce_budget(estimate(plan), plan.spec)


def test_render_estimate_for_plan(tmp_path: Path) -> None:
    import io

    from rich.console import Console

    from hybridburst.costs.report import render_estimate

    out = io.StringIO()
    render_estimate(estimate(plan_of(tmp_path, AWS_SPEC)), Console(file=out, width=140))
    text = out.getvalue()
    assert "Estimate for d11 (aws us-east-1, 36.00 h)" in text
    assert "13.82 USD" in text and "29.34 USD" in text and "0.192" in text
    assert "estimate: 29.34 USD for the 36 h window (0.82 USD per hour)" in text
    assert "published 2024-06-01T00:00:00Z" in text


def test_price_sources_never_wrap(tmp_path: Path) -> None:
    """A checkout under a long path must not split the source line (CI clones deep)."""
    import io

    from rich.console import Console

    from hybridburst.costs.report import render_estimate

    est = estimate(plan_of(tmp_path, AWS_SPEC))
    out = io.StringIO()
    render_estimate(est, Console(file=out, width=40))
    lines = [ln for ln in out.getvalue().splitlines() if ln.startswith("Prices: ")]
    assert len(lines) == len(est.sources) >= 1
    for src, line in zip(est.sources, lines, strict=True):
        assert line == f"Prices: {src.describe()}"
        assert line.endswith(f"({src.path})")
