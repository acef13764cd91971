"""Settlement from a synthetic journal (written with journal.Journal) against the estimate
of the event's spec: exact figures per team, pool and instance type, and the outputs."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from hybridburst.costs import commands, load_catalog, report, settle, settle_event
from hybridburst.errors import InputError
from hybridburst.journal import Journal
from hybridburst.states import HostState as S
from hybridburst.workspace import EventDir
from tests.costs.costs_helpers import at, write_spec

SPEC = """
event: d11
team: shop
provider: aws
region: us-east-1
window: {start: "2026-11-11T10:00:00Z", end: "2026-11-11T14:00:00Z"}
budget: {amount: 1.20, currency: USD}
pools:
  - {name: web, count: 2, instance_type: c6i.large}
  - {name: api, count: 1, instance_type: m6i.large}
"""
AS_OF = at("2026-11-11T15:00:00")


def launched(pool: str, instance_type: str, team: str = "shop") -> dict[str, Any]:
    return {"pool": pool, "instance_type": instance_type, "team": team, "event": "d11",
            "provider_id": "i-0123"}


def write_journal(path: Path) -> Journal:
    """The event as it happened (times in UTC on 2026-11-11)."""
    j = Journal(path)
    day = "2026-11-11T"

    def go(host: str, steps: list[tuple[S, str]], data: dict[str, Any] | None = None) -> None:
        for state, time in steps:
            j.record(host, state, reason="test", at=at(day + time),
                     data=data if state is S.LAUNCHED else None)

    web, api = launched("web", "c6i.large"), launched("api", "m6i.large")
    # served the whole sale: 3 h 30 min
    go("d11-web-01", [(S.LAUNCHED, "10:00:00"), (S.VALIDATED, "10:02:00"),
                      (S.AUTHORIZED, "10:03:00"), (S.BASELINED, "10:05:00"),
                      (S.READY, "10:06:00"), (S.DRAINING, "13:20:00"), (S.REVOKED, "13:25:00"),
                      (S.DESTROYED, "13:30:00")], web)
    # wrong hardware: quarantined, never used, but billed until destroyed an hour later
    go("d11-web-02", [(S.LAUNCHED, "10:00:05"), (S.QUARANTINED, "10:03:00"),
                      (S.DESTROYED, "11:00:05")], web)
    # failed at boot and destroyed after 30 s: billed the 60-second minimum
    go("d11-web-03", [(S.LAUNCHED, "10:05:00"), (S.FAILED, "10:05:10"),
                      (S.DESTROYED, "10:05:30")], web)
    # destroyed 20 min 0.5 s after the window: 15,601 billed seconds
    go("d11-api-01", [(S.LAUNCHED, "10:00:00"), (S.VALIDATED, "10:01:00"),
                      (S.AUTHORIZED, "10:01:30"), (S.BASELINED, "10:01:45"),
                      (S.READY, "10:02:00"),
                      (S.DRAINING, "14:10:00"), (S.REVOKED, "14:15:00")], api)
    j.record("d11-api-01", S.DESTROYED, at=at(day + "14:20:00.500000"))
    # never launched (quota): costs nothing
    go("d11-api-02", [(S.REQUESTED, "10:00:00"), (S.FAILED, "10:01:00"),
                      (S.DESTROYED, "10:02:00")])
    # launched late and never destroyed: billed up to the settlement time, and flagged
    go("d11-api-03", [(S.LAUNCHED, "12:00:00"), (S.VALIDATED, "12:01:00")], api)
    # after the settlement time: not part of it
    go("d11-api-04", [(S.LAUNCHED, "15:30:00")], api)
    return j


@pytest.fixture
def event_dir(isolated: Path) -> EventDir:
    d = EventDir.of("d11")
    write_spec(d.spec_copy, SPEC)
    write_journal(d.journal)
    return d


def test_usage_follows_the_journal_timestamps(event_dir: EventDir) -> None:
    s = settle_event("d11", as_of=AS_OF)
    billed = {u.host: (u.billed_seconds, u.quarantined, u.failed, u.running) for u in s.usage}
    assert billed == {
        "d11-web-01": (12600, False, False, False),
        "d11-api-01": (15601, False, False, False),
        "d11-web-02": (3600, True, False, False),
        "d11-web-03": (60, False, True, False),
        "d11-api-03": (10800, False, False, True),
    }
    assert [u.host for u in s.running] == ["d11-api-03"]
    assert s.usage[0].launched == at("2026-11-11T10:00:00")


def test_settlement_exact_figures(event_dir: EventDir) -> None:
    s = settle_event("d11", as_of=AS_OF)
    assert (s.provider, s.region, s.team, s.currency) == ("aws", "us-east-1", "shop", "USD")
    lines = {ln.key.pool: (ln.units, ln.billed_seconds, str(ln.amount)) for ln in s.lines}
    assert lines == {
        "web": (3, 16260, "0.38"),         # 16,260 s x 0.085 / 3600 = 0.38392
        "api": (2, 26401, "0.70"),         # 26,401 s x 0.096 / 3600 = 0.70403
        "(network)": (1, 18000, "0.25"),   # VPN 10:00 to 15:00 (a host still runs)
    }
    assert s.estimate is not None and s.estimate_total == Decimal("1.26")
    assert s.actual_total == Decimal("1.33") and s.difference == Decimal("0.07")
    assert s.budget == Decimal("1.2")

    pools = {r.name: r for r in s.rows("pool")}
    assert (pools["web"].estimate, pools["web"].actual, pools["web"].difference) == (
        Decimal("0.68"), Decimal("0.38"), Decimal("-0.30"))
    assert (pools["web"].units_estimated, pools["web"].units_actual) == (2, 3)
    assert (pools["web"].seconds_estimated, pools["web"].seconds_actual) == (28800, 16260)
    assert pools["web"].quarantined == 1
    assert (pools["api"].estimate, pools["api"].actual) == (Decimal("0.38"), Decimal("0.70"))
    assert (pools["(network)"].units_actual, pools["(network)"].actual) == (1, Decimal("0.25"))

    types = {r.name: (r.estimate, r.actual) for r in s.rows("instance_type")}
    assert types == {"c6i.large": (Decimal("0.68"), Decimal("0.38")),
                     "m6i.large": (Decimal("0.38"), Decimal("0.70")),
                     "vpn-connection": (Decimal("0.20"), Decimal("0.25"))}
    (team,) = s.rows("team")
    assert (team.name, team.estimate, team.actual, team.units_actual) == (
        "shop", Decimal("1.26"), Decimal("1.33"), 5)
    # every grouping adds up to the event total
    for group in ("team", "pool", "instance_type"):
        assert sum(r.actual for r in s.rows(group)) == s.actual_total


def test_timeline_counts_billed_hosts_per_pool(event_dir: EventDir) -> None:
    s = settle_event("d11", as_of=AS_OF)
    segments = {start.strftime("%H:%M:%S"): counts for start, _, counts in s.timeline()}
    assert segments["10:00:00"] == {"web": 1, "api": 1}
    assert segments["10:05:00"] == {"web": 3, "api": 1}
    assert segments["12:00:00"] == {"web": 1, "api": 2}
    assert segments["14:20:00"] == {"api": 1}
    assert s.timeline()[-1][1] == AS_OF


def test_sixty_second_minimum_and_teams_in_money() -> None:
    # 100 hosts of another team that each lived 10 s: 100 x 60 s of m6i.xlarge
    # (0.32 USD), not 100 x 10 s (0.05 USD)
    entries = []
    from hybridburst.journal import Entry

    for i in range(100):
        t = at("2026-11-11T10:00:00") + dt.timedelta(seconds=i)
        data = launched("burst", "m6i.xlarge", team="search")
        entries.append(Entry(t, f"h{i}", S.LAUNCHED, None, "", data))
        entries.append(Entry(t + dt.timedelta(seconds=10), f"h{i}", S.DESTROYED, S.LAUNCHED,
                             "", {}))
    entries.append(Entry(at("2026-11-11T10:00:00"), "w1", S.LAUNCHED, None, "",
                         launched("web", "c6i.large")))
    entries.append(Entry(at("2026-11-11T11:00:00"), "w1", S.DESTROYED, S.LAUNCHED, "", {}))
    s = settle(entries, event="d11", team="shop", provider="aws", region="us-east-1",
               as_of=AS_OF, prices=load_catalog())
    teams = {r.name: (r.units_actual, r.seconds_actual, r.actual) for r in s.rows("team")}
    assert teams == {
        "search": (100, 6000, Decimal("0.32")),
        # the web host's hour plus the event's VPN from 10:00:00 to 11:00:00
        "shop": (1, 3600, Decimal("0.14")),  # 0.085 -> 0.09, VPN 0.05
    }
    assert s.estimate is None and s.difference is None
    (row,) = [r for r in s.rows("pool") if r.name == "burst"]
    assert row.estimate is None and row.difference is None


def test_json_csv_and_table(event_dir: EventDir, tmp_path: Path) -> None:
    s = settle_event("d11", as_of=AS_OF)
    doc = json.loads(report.to_json(s))
    assert doc["totals"] == {"estimate": "1.26", "actual": "1.33", "difference": "0.07",
                             "budget": "1.20", "budget_currency": "USD"}
    assert doc["still_running"] == ["d11-api-03"]
    assert [r["name"] for r in doc["by_pool"]] == ["web", "api", "(network)"]
    assert doc["by_pool"][0]["hours_actual"] == "4.516667"
    assert doc["estimate"]["total"] == "1.26"
    assert "2024-06-01" in " ".join(doc["price_sources"])

    rows = list(csv.DictReader(io.StringIO(report.to_csv(s))))
    assert [(r["group"], r["name"]) for r in rows] == [
        ("team", "shop"), ("pool", "web"), ("pool", "api"), ("pool", "(network)"),
        ("instance_type", "c6i.large"), ("instance_type", "m6i.large"),
        ("instance_type", "vpn-connection"), ("event", "d11")]
    total = rows[-1]
    assert (total["units_estimated"], total["units_actual"]) == ("3", "5")
    assert (total["estimate"], total["actual"], total["difference"]) == ("1.26", "1.33", "0.07")
    assert sum(Decimal(r["actual"]) for r in rows if r["group"] == "pool") == Decimal("1.33")

    out = io.StringIO()
    report.render_table(s, Console(file=out, width=160, color_system=None))
    text = out.getvalue()
    assert "OVER BUDGET" in text and "1.33 USD" in text and "+0.07 USD" in text
    assert "web (1 quarantined)" in text
    assert "1 host(s) not destroyed" in text and "d11-api-03" in text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hybridburst")
    commands.register(parser.add_subparsers(dest="command", required=True))
    return parser


def test_settle_command_formats(event_dir: EventDir, tmp_path: Path) -> None:
    parser = _parser()
    for fmt in ("json", "csv", "html", "table"):
        target = tmp_path / f"out.{fmt}"
        args = parser.parse_args(["settle", "d11", "--as-of", "2026-11-11T15:00:00Z",
                                  "--format", fmt, "--output", str(target)])
        out = io.StringIO()
        assert args.func(args, Console(file=out)) == 0
        assert f"wrote {target}" in out.getvalue()
        assert "1.33" in target.read_text()
    out = io.StringIO()
    args = parser.parse_args(["settle", "d11", "--as-of", "2026-11-11T15:00:00Z",
                              "--format", "json"])
    assert args.func(args, Console(file=out)) == 0
    assert json.loads(out.getvalue())["totals"]["actual"] == "1.33"
    with pytest.raises(SystemExit):
        parser.parse_args(["settle", "d11", "--as-of", "yesterday"])


def test_settle_without_spec_or_journal(isolated: Path) -> None:
    with pytest.raises(InputError, match="no journal for event 'nope'"):
        settle_event("nope")
    d = EventDir.of("bare")
    j = Journal(d.journal)
    j.record("bare-web-01", S.LAUNCHED, at=at("2026-11-11T10:00:00"),
             data={**launched("web", "local.small"), "provider": "local"})
    s = settle_event("bare", as_of=at("2026-11-11T12:00:00"))
    assert s.estimate is None and s.estimate_note is not None
    assert "no event spec" in s.estimate_note
    assert (s.provider, s.actual_total) == ("local", Decimal("0.02"))  # 2 h x 0.01
    d2 = EventDir.of("anon")
    Journal(d2.journal).record("x", S.LAUNCHED, data=launched("web", "local.small"))
    with pytest.raises(InputError, match="cannot tell the provider"):
        settle_event("anon")


def test_settle_with_an_explicit_spec_file(event_dir: EventDir, tmp_path: Path) -> None:
    other = write_spec(tmp_path / "other.yml", SPEC.replace("count: 2", "count: 4"))
    s = settle_event("d11", as_of=AS_OF, spec_path=other)
    assert s.estimate_total == Decimal("1.94")  # 4 web 1.36 + api 0.38 + VPN 0.20
    with pytest.raises(InputError):
        settle_event("d11", as_of=AS_OF, spec_path=tmp_path / "missing.yml")
