"""The reaper against moto's in-process EC2: expired and destroyed events go, in
dependency order with the VPC last; live events and untagged resources stay. (Hosts that may
hold access to the private network: tests/costs/test_costs_reaper_access.py.)"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from rich.console import Console

from hybridburst.costs import commands, reaper
from hybridburst.errors import HybridburstError
from hybridburst.journal import Journal
from hybridburst.states import HostState
from hybridburst.workspace import EventDir
from tests.costs.costs_helpers import at

REGION = "us-east-1"
NOW = at("2026-11-13T00:00:00")
PAST = "2026-11-12T12:00:00Z"
FUTURE = "2026-11-20T00:00:00Z"
DELETES = ("Terminate", "Release", "Delete", "Detach", "Disassociate", "Revoke")


@pytest.fixture
def ec2(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("ec2", region_name=REGION)


def _tags(kind: str, event: str | None, expiry: str | None) -> list[dict[str, Any]]:
    if event is None:
        return [{"ResourceType": kind, "Tags": [{"Key": "Name", "Value": "not ours"}]}]
    tags = [{"Key": reaper.TAG_EVENT, "Value": event}, {"Key": reaper.TAG_TEAM, "Value": "shop"},
            {"Key": reaper.TAG_POOL, "Value": "web"}]
    if expiry is not None:
        tags.append({"Key": reaper.TAG_EXPIRY, "Value": expiry})
    return [{"ResourceType": kind, "Tags": tags}]


def build_event(ec2: Any, event: str | None, expiry: str | None, net: int) -> dict[str, str]:
    """What the aws_burst stack creates for one event, tagged (or not, for event None)."""
    t = lambda kind: _tags(kind, event, expiry)  # noqa: E731
    ids: dict[str, str] = {}
    ids["vpc"] = ec2.create_vpc(CidrBlock=f"10.{net}.0.0/16", TagSpecifications=t("vpc"))[
        "Vpc"]["VpcId"]
    ids["subnet"] = ec2.create_subnet(VpcId=ids["vpc"], CidrBlock=f"10.{net}.1.0/24",
                                      TagSpecifications=t("subnet"))["Subnet"]["SubnetId"]
    ids["igw"] = ec2.create_internet_gateway(TagSpecifications=t("internet-gateway"))[
        "InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=ids["igw"], VpcId=ids["vpc"])
    ids["rtb"] = ec2.create_route_table(VpcId=ids["vpc"], TagSpecifications=t("route-table"))[
        "RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=ids["rtb"], DestinationCidrBlock="0.0.0.0/0",
                     GatewayId=ids["igw"])
    ec2.associate_route_table(RouteTableId=ids["rtb"], SubnetId=ids["subnet"])
    ids["sg_lb"] = ec2.create_security_group(
        GroupName=f"lb-{net}", Description="lb", VpcId=ids["vpc"],
        TagSpecifications=t("security-group"))["GroupId"]
    ids["sg_web"] = ec2.create_security_group(
        GroupName=f"web-{net}", Description="web", VpcId=ids["vpc"],
        TagSpecifications=t("security-group"))["GroupId"]
    # web admits the load balancer's group: groups that refer to each other
    ec2.authorize_security_group_ingress(GroupId=ids["sg_web"], IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
        "UserIdGroupPairs": [{"GroupId": ids["sg_lb"]}]}])
    ids["instance"] = ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="c6i.large",
        SubnetId=ids["subnet"], SecurityGroupIds=[ids["sg_web"]],
        TagSpecifications=t("instance"))["Instances"][0]["InstanceId"]
    ids["eip"] = ec2.allocate_address(Domain="vpc", TagSpecifications=t("elastic-ip"))[
        "AllocationId"]
    ec2.associate_address(AllocationId=ids["eip"], InstanceId=ids["instance"])
    ids["vgw"] = ec2.create_vpn_gateway(Type="ipsec.1", TagSpecifications=t("vpn-gateway"))[
        "VpnGateway"]["VpnGatewayId"]
    ec2.attach_vpn_gateway(VpnGatewayId=ids["vgw"], VpcId=ids["vpc"])
    ids["cgw"] = ec2.create_customer_gateway(
        BgpAsn=65000, PublicIp=f"198.51.100.{net}", Type="ipsec.1",
        TagSpecifications=t("customer-gateway"))["CustomerGateway"]["CustomerGatewayId"]
    ids["vpn"] = ec2.create_vpn_connection(
        Type="ipsec.1", CustomerGatewayId=ids["cgw"], VpnGatewayId=ids["vgw"],
        Options={"StaticRoutesOnly": True}, TagSpecifications=t("vpn-connection"))[
        "VpnConnection"]["VpnConnectionId"]
    return ids


def journal(event: str, ids: dict[str, str], *states: HostState) -> None:
    """The event's journal: its one host launched as ``ids["instance"]``, then ``states``."""
    book = Journal(EventDir.of(event).journal)
    host = f"{event}-web-01"
    book.record(host, HostState.LAUNCHED, f"aws: {ids['instance']}", at=at("2026-11-11T00:00:00"))
    for state in states:
        book.record(host, state, at=at("2026-11-12T00:00:00"))


def alive(ec2: Any, ids: dict[str, str]) -> dict[str, bool]:
    """Which of an event's resources still exist (not terminated, not deleted)."""
    state = ec2.describe_instances(InstanceIds=[ids["instance"]])["Reservations"][0][
        "Instances"][0]["State"]["Name"]
    vpcs = {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]}
    subnets = {s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]}
    groups = {g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]}
    tables = {r["RouteTableId"] for r in ec2.describe_route_tables()["RouteTables"]}
    igws = {g["InternetGatewayId"] for g in ec2.describe_internet_gateways()["InternetGateways"]}
    eips = {a["AllocationId"] for a in ec2.describe_addresses()["Addresses"]}
    vpns = {c["VpnConnectionId"] for c in ec2.describe_vpn_connections()["VpnConnections"]
            if c["State"] != "deleted"}
    vgws = {g["VpnGatewayId"] for g in ec2.describe_vpn_gateways()["VpnGateways"]
            if g["State"] != "deleted"}
    cgws = {g["CustomerGatewayId"] for g in ec2.describe_customer_gateways()["CustomerGateways"]
            if g["State"] != "deleted"}
    return {
        "instance": state not in ("terminated", "shutting-down"),
        "vpc": ids["vpc"] in vpcs, "subnet": ids["subnet"] in subnets,
        "sg_lb": ids["sg_lb"] in groups, "sg_web": ids["sg_web"] in groups,
        "rtb": ids["rtb"] in tables, "igw": ids["igw"] in igws, "eip": ids["eip"] in eips,
        "vpn": ids["vpn"] in vpns, "vgw": ids["vgw"] in vgws, "cgw": ids["cgw"] in cgws,
    }


def record_calls(ec2: Any) -> list[tuple[str, dict[str, Any]]]:
    calls: list[tuple[str, dict[str, Any]]] = []

    def hook(model: Any, params: dict[str, Any], **_: Any) -> None:
        calls.append((model.name, params))

    ec2.meta.events.register("before-parameter-build.ec2", hook)
    return calls


def test_expired_event_goes_in_dependency_order_and_the_rest_stays(ec2: Any) -> None:
    old = build_event(ec2, "old", PAST, 1)
    journal("old", old, HostState.REVOKED)
    live = build_event(ec2, "live", FUTURE, 2)
    untagged = build_event(ec2, None, None, 3)
    calls = record_calls(ec2)

    report = reaper.reap(ec2, REGION, now=NOW, destroyed=set(), delay=0.01, attempts=3)

    assert report.failed == []
    assert not any(alive(ec2, old).values()), alive(ec2, old)
    assert all(alive(ec2, live).values()), alive(ec2, live)
    assert all(alive(ec2, untagged).values()), alive(ec2, untagged)
    deleted = {o.resource.id for o in report.outcomes if o.action == "deleted"}
    assert deleted == set(old.values())
    assert {o.resource.event for o in report.kept()} == {"live"}

    mutations = [(name, params) for name, params in calls if name.startswith(DELETES)]
    names = [name for name, _ in mutations]
    assert names[0] == "TerminateInstances"
    assert names[-1] == "DeleteVpc" and names.count("DeleteVpc") == 1
    assert mutations[-1][1] == {"VpcId": old["vpc"]}
    order = ["TerminateInstances", "ReleaseAddress", "DeleteVpnConnection", "DeleteVpnGateway",
             "DeleteCustomerGateway", "DeleteSecurityGroup", "DeleteSubnet", "DeleteRouteTable",
             "DeleteInternetGateway", "DeleteVpc"]
    positions = [max(i for i, n in enumerate(names) if n == op) for op in order]
    assert positions == sorted(positions), names
    assert names.index("DetachVpnGateway") < names.index("DeleteVpnGateway")
    assert names.index("DetachInternetGateway") < names.index("DeleteInternetGateway")
    # nothing of another event, nor anything untagged, was ever named in a mutating call
    foreign = set(live.values()) | set(untagged.values())
    assert not any(foreign & {str(v) for p in (params,) for v in _flat(p)}
                   for _, params in mutations)


def _flat(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _flat(v)
    elif isinstance(value, list):
        for v in value:
            yield from _flat(v)
    else:
        yield value


def test_dry_run_lists_in_order_and_changes_nothing(ec2: Any) -> None:
    old = build_event(ec2, "old", PAST, 1)
    journal("old", old, HostState.REVOKED)
    build_event(ec2, "live", FUTURE, 2)
    calls = record_calls(ec2)

    report = reaper.reap(ec2, REGION, now=NOW, destroyed=set(), dry_run=True)

    assert [c for c, _ in calls if c.startswith(DELETES)] == []
    assert all(alive(ec2, old).values())
    listed = report.acted()
    assert {o.action for o in listed} == {"would delete"}
    assert {o.resource.id for o in listed} == set(old.values())
    kinds = [o.resource.kind for o in listed]
    assert kinds == sorted(kinds, key=reaper.ORDER.index)
    assert kinds[0] == "instance" and kinds[-1] == "vpc"


def test_event_destroyed_per_journal_goes_before_its_expiry(ec2: Any, isolated: Any) -> None:
    done = build_event(ec2, "done", FUTURE, 4)
    live = build_event(ec2, "live", FUTURE, 5)
    journal = Journal(EventDir.of("done").journal)
    journal.record("done-web-01", HostState.LAUNCHED, at=at("2026-11-11T00:00:00"),
                   data={"pool": "web", "instance_type": "c6i.large", "team": "shop",
                         "event": "done"})
    journal.record("done-web-01", HostState.DESTROYED, at=at("2026-11-12T00:00:00"))
    half = Journal(EventDir.of("live").journal)
    half.record("live-web-01", HostState.LAUNCHED, at=at("2026-11-11T00:00:00"))
    half.record("live-web-02", HostState.LAUNCHED, at=at("2026-11-11T00:00:00"))
    half.record("live-web-02", HostState.DESTROYED, at=at("2026-11-12T00:00:00"))

    destroyed = reaper.destroyed_events()
    assert destroyed == {"done"}
    report = reaper.reap(ec2, REGION, now=NOW, destroyed=destroyed, delay=0.01, attempts=3)

    assert report.failed == []
    assert not any(alive(ec2, done).values())
    assert all(alive(ec2, live).values())
    assert {o.reason for o in report.acted()} == {"event done is destroyed per its journal"}


def test_a_blocked_vpc_is_reported_and_the_rest_still_goes(ec2: Any) -> None:
    old = build_event(ec2, "old", PAST, 6)
    journal("old", old, HostState.REVOKED)
    # someone put an untagged subnet into the event's VPC: the VPC cannot go, the subnet stays
    stray = ec2.create_subnet(VpcId=old["vpc"], CidrBlock="10.6.9.0/24")["Subnet"]["SubnetId"]

    report = reaper.reap(ec2, REGION, now=NOW, destroyed=set(), delay=0.01, attempts=2)

    assert [(o.resource.kind, o.resource.id) for o in report.failed] == [("vpc", old["vpc"])]
    assert "DependencyViolation" in report.failed[0].detail
    left = alive(ec2, old)
    assert left.pop("vpc") is True
    assert not any(left.values()), left
    assert stray in {s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]}


def test_unreadable_or_missing_expiry_is_left_alone(ec2: Any) -> None:
    bad = build_event(ec2, "odd", "next tuesday", 7)
    none = build_event(ec2, "plain", None, 8)

    report = reaper.reap(ec2, REGION, now=NOW, destroyed=set())

    assert report.acted() == []
    assert all(alive(ec2, bad).values()) and all(alive(ec2, none).values())
    reasons = {o.resource.event: o.reason for o in report.kept()}
    assert reasons["odd"] == "unreadable hybridburst:burst-expiry 'next tuesday'"
    assert reasons["plain"].startswith("no hybridburst:burst-expiry tag")


def test_expiry_parsing() -> None:
    assert reaper.parse_expiry("2026-11-12T12:00:00Z") == at("2026-11-12T12:00:00")
    assert reaper.parse_expiry("2026-11-12T20:00:00+08:00") == at("2026-11-12T12:00:00")
    assert reaper.parse_expiry("2026-11-12T12:00:00") == at("2026-11-12T12:00:00")  # UTC
    res = reaper.Resource(REGION, "vpc", "vpc-1", {reaper.TAG_EVENT: "e",
                                                   reaper.TAG_EXPIRY: "2026-11-13T00:00:00Z"})
    assert reaper.reason_to_reap(res, now=NOW, destroyed=set()) is not None  # at the second
    assert reaper.reason_to_reap(res, now=NOW - dt.timedelta(seconds=1), destroyed=set()) is None
    untagged = reaper.Resource(REGION, "vpc", "vpc-2", {reaper.TAG_EXPIRY: PAST})
    assert reaper.reason_to_reap(untagged, now=NOW, destroyed={"e"}) is None


def test_reap_command_dry_run_and_real(ec2: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    old = build_event(ec2, "old", PAST, 9)
    journal("old", old, HostState.REVOKED)
    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers())

    out = io.StringIO()
    args = parser.parse_args(["reap", "--dry-run", "--region", REGION])
    assert args.func(args, Console(file=out, width=200)) == 0
    text = out.getvalue()
    assert "would delete" in text and old["vpc"] in text and old["instance"] in text
    assert all(alive(ec2, old).values())

    monkeypatch.setenv("AWS_REGION", REGION)
    args = parser.parse_args(["reap"])
    out = io.StringIO()
    assert args.func(args, Console(file=out, width=200)) == 0
    assert not any(alive(ec2, old).values())

    stray_vpc = build_event(ec2, "old", PAST, 10)
    ec2.create_subnet(VpcId=stray_vpc["vpc"], CidrBlock="10.10.9.0/24")
    monkeypatch.setattr(reaper, "_RETRYABLE", set())  # fail fast
    with pytest.raises(HybridburstError, match="1 resource"):
        args.func(args, Console(file=io.StringIO(), width=200))
