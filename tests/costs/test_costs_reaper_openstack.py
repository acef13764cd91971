"""The OpenStack reaper over a fake openstacksdk Connection: the event's leftovers go in
dependency order, by the same tags and rules as on AWS; nothing else is touched."""

from __future__ import annotations

import argparse
import io
import sys
from typing import Any

import pytest
from rich.console import Console

from hybridburst.costs import commands, reaper_openstack
from hybridburst.costs.access_book import FORCE_OPTION
from hybridburst.errors import HybridburstError
from hybridburst.journal import Journal
from hybridburst.states import HostState
from hybridburst.workspace import EventDir
from tests.costs.costs_helpers import at
from tests.costs.fake_openstack import Cloud
from tests.costs.test_costs_reaper import FUTURE, NOW, PAST

S = HostState
DELETE_ORDER = ["delete_server", "delete_vpn_ipsec_site_connection", "delete_vpn_service",
                "delete_vpn_endpoint_group", "delete_vpn_ike_policy", "delete_vpn_ipsec_policy",
                "remove_interface_from_router", "delete_router", "delete_port", "delete_subnet",
                "delete_security_group", "delete_network"]


def journal(event: str, servers: list[Any], *states: HostState) -> None:
    """Every server of the event launched (by its ID), then through ``states``."""
    book = Journal(EventDir.of(event).journal)
    for server in servers:
        book.record(server.name, S.LAUNCHED, f"openstack: {server.id}",
                    at=at("2026-11-11T00:00:00"))
        for state in states:
            book.record(server.name, state, at=at("2026-11-12T00:00:00"))


def reap(cloud: Cloud, **kwargs: Any) -> Any:
    return reaper_openstack.reap(cloud.conn, "test-cloud", now=NOW, destroyed=set(), delay=0,
                                 attempts=2, **kwargs)


def test_expired_event_goes_in_dependency_order_and_the_rest_stays() -> None:
    cloud = Cloud()
    old = cloud.event("old", PAST, servers=2)
    journal("old", old["servers"], S.REVOKED)
    live = cloud.event("live", FUTURE)
    foreign = cloud.event(None, None)

    report = reap(cloud)

    assert report.failed == [], report.failed
    assert [i for i in cloud.ids(old) if cloud.exists(i)] == []
    assert all(cloud.exists(i) for i in cloud.ids(live) | cloud.ids(foreign))
    assert {o.resource.id for o in report.outcomes if o.action == "deleted"} == cloud.ids(old)
    names = [name for name, _ in cloud.log]
    assert names == sorted(names, key=DELETE_ORDER.index), names
    assert names.count("delete_server") == 2 and names[-1] == "delete_network"
    touched = {obj_id for _, obj_id in cloud.log}
    assert not touched & (cloud.ids(live) | cloud.ids(foreign))
    assert {o.resource.event for o in report.kept()} == {"live"}


def test_a_policy_another_site_connection_uses_stays() -> None:
    cloud = Cloud()
    shared = cloud.add("ike_policy", name="company-ike")
    old = cloud.event("old", PAST, ike=shared)
    journal("old", old["servers"], S.REVOKED)
    foreign = cloud.event(None, None, ike=shared)

    report = reap(cloud)

    assert report.failed == []
    assert cloud.exists(shared.id) and all(cloud.exists(i) for i in cloud.ids(foreign))
    assert not any(cloud.exists(i) for i in cloud.ids(old) - {shared.id})


def test_a_server_that_holds_access_stays_with_its_network() -> None:
    cloud = Cloud()
    old = cloud.event("old", PAST, servers=2)
    ready, quarantined = old["servers"]
    journal("old", [ready], S.VALIDATED, S.AUTHORIZED, S.BASELINED, S.READY)
    journal("old", [quarantined], S.QUARANTINED)

    report = reap(cloud)

    assert cloud.exists(ready.id) and not cloud.exists(quarantined.id)
    assert report.failed == []
    [held] = [o for o in report.skipped() if o.resource.kind == "server"]
    assert held.detail == ("host old-web-01 may still hold access to the private network "
                           "(journal: ready); revoke first (`hybridburst revoke old`), then "
                           "reap again")
    kept = {k: cloud.exists(old[k].id) for k in ("network", "subnet", "router", "interface", "sg",
                                                  "vpn", "site", "ike", "ipsec", "local", "peer")}
    assert all(kept.values()), kept
    assert [name for name, _ in cloud.log] == ["delete_server"]


def test_no_journal_means_unknown_access_unless_forced() -> None:
    cloud = Cloud()
    orphan = cloud.event("orphan", PAST)

    report = reap(cloud)

    assert cloud.log == []
    assert {o.resource.id for o in report.skipped()} == cloud.ids(orphan) - {
        orphan["dhcp"].id}
    [server] = [o for o in report.skipped() if o.resource.kind == "server"]
    assert "unknown" in server.detail and FORCE_OPTION in server.detail

    report = reap(cloud, force_unknown_access=True)

    assert report.failed == [] and report.skipped() == []
    assert not any(cloud.exists(i) for i in cloud.ids(orphan))


def test_dry_run_changes_nothing() -> None:
    cloud = Cloud()
    old = cloud.event("old", PAST)
    journal("old", old["servers"], S.REVOKED)

    report = reap(cloud, dry_run=True)

    assert cloud.log == []
    listed = [o.resource.kind for o in report.acted()]
    assert {o.action for o in report.acted()} == {"would delete"}
    assert listed == sorted(listed, key=reaper_openstack.ORDER.index)
    assert listed[0] == "server" and listed[-1] == "network"


def test_a_blocked_network_is_reported_and_the_rest_still_goes() -> None:
    cloud = Cloud()
    old = cloud.event("old", PAST)
    journal("old", old["servers"], S.REVOKED)
    stray = cloud.add("port", network_id=old["network"].id, device_id="", device_owner="",
                      fixed_ips=[], status="DOWN")  # untagged: someone else's, never touched

    report = reap(cloud)

    assert [(o.resource.kind, o.resource.id) for o in report.failed] == [
        ("network", old["network"].id)]
    assert "in use" in report.failed[0].detail
    assert cloud.exists(stray.id)
    assert not any(cloud.exists(i) for i in cloud.ids(old) - {old["network"].id})


def _command(argv: list[str]) -> tuple[argparse.Namespace, io.StringIO]:
    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers())
    return parser.parse_args(["reap", "--provider", "openstack", *argv]), io.StringIO()


def test_reap_command_on_openstack(monkeypatch: pytest.MonkeyPatch) -> None:
    cloud = Cloud()
    old = cloud.event("old", PAST)
    journal("old", old["servers"], S.REVOKED)
    asked: list[tuple[str | None, str | None]] = []

    def connect(name: str | None, region: str | None) -> Any:
        asked.append((name, region))
        return cloud.conn

    monkeypatch.setattr(reaper_openstack, "connect", connect)
    args, out = _command(["--cloud", "burst", "--dry-run"])
    assert args.func(args, Console(file=out, width=300)) == 0
    assert "burst: would delete" in out.getvalue() and old["network"].id in out.getvalue()
    assert cloud.log == [] and asked == [("burst", None)]

    args, out = _command(["--cloud", "burst", "--region", "RegionOne"])
    assert args.func(args, Console(file=out, width=300)) == 0
    assert not any(cloud.exists(i) for i in cloud.ids(old))
    assert asked[-1] == ("burst", "RegionOne")


def test_missing_openstacksdk_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openstack", None)  # import openstack -> ImportError
    args, out = _command([])
    with pytest.raises(HybridburstError, match="needs openstacksdk, which is not installed"):
        args.func(args, Console(file=out, width=300))


def test_cloud_is_only_for_openstack() -> None:
    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers())
    args = parser.parse_args(["reap", "--cloud", "burst", "--region", "us-east-1"])
    with pytest.raises(HybridburstError, match="--cloud is for --provider openstack"):
        args.func(args, Console(file=io.StringIO()))
