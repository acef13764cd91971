"""`down` with no local state: the event's resources looked up by their tags (moto for AWS, the
fake Connection for OpenStack), and what the operator is told."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from hybridburst.costs.access_book import FORCE_OPTION
from hybridburst.costs.lookup import find_event_resources, leftover_report
from hybridburst.errors import HybridburstError, InputError
from tests.costs.fake_openstack import Cloud
from tests.costs.test_costs_reaper import FUTURE, PAST, REGION, build_event
from tests.costs.test_costs_reaper import ec2 as ec2  # the moto fixture
from tests.costs.test_costs_reaper_access import launch_template


def test_only_the_asked_events_resources_are_listed_with_their_state(ec2: Any) -> None:
    a = build_event(ec2, "double11", FUTURE, 1)
    lt = launch_template(ec2, "double11-web", "double11", FUTURE)
    b = build_event(ec2, "six18", PAST, 2)
    launch_template(ec2, "six18-web", "six18", PAST)
    build_event(ec2, None, None, 3)
    ec2.stop_instances(InstanceIds=[a["instance"]])

    found = find_event_resources("double11", "aws", region=REGION)

    assert {f.id for f in found} == set(a.values()) | {lt}
    assert not {f.id for f in found} & set(b.values())
    [host] = [f for f in found if f.is_host]
    assert (host.kind, host.id, host.state, host.provider, host.region) == (
        "instance", a["instance"], "stopped", "aws", REGION)
    assert found[0] is host  # hosts first, then in deletion order
    [template] = [f for f in found if f.kind == "launch-template"]
    assert template.name == "double11-web" and template.state == "exists"
    assert {f.kind for f in found} >= {"vpc", "subnet", "security-group", "vpn-connection",
                                       "customer-gateway", "elastic-ip"}
    assert all(f.tags["hybridburst:event"] == "double11" for f in found)

    ec2.start_instances(InstanceIds=[a["instance"]])
    [host] = [f for f in find_event_resources("double11", "aws", ec2=ec2) if f.is_host]
    assert host.state == "running"


def test_nothing_left_is_an_empty_list(ec2: Any) -> None:
    build_event(ec2, "six18", PAST, 4)
    assert find_event_resources("double11", "aws", region=REGION) == []
    assert leftover_report("double11", "aws", [], region=REGION) == []


def test_the_operator_is_told_what_runs_and_how_to_remove_it(ec2: Any) -> None:
    a = build_event(ec2, "double11", FUTURE, 5)
    found = find_event_resources("double11", "aws", region=REGION)

    lines = leftover_report("double11", "aws", found, region=REGION)

    text = "\n".join(lines)
    assert lines[0] == (f"double11: no local state here, but {len(found)} resource(s) tagged "
                        "hybridburst:event=double11 still exist in aws us-east-1, 1 of them "
                        "host(s) that may still run and bill:")
    assert f"  instance {a['instance']}: running" in lines
    assert f"  vpc {a['vpc']}: available" in lines
    reap = f"hybridburst reap --provider aws --region {REGION} --event double11 {FORCE_OPTION}"
    assert f"  {reap} --dry-run" in lines and f"  {reap}" in lines
    assert "revoke them at the private gateway first" in text
    assert "cd pulumi_stacks/aws_burst && pulumi destroy --stack double11" in text


def test_openstack_lookup_through_the_connection() -> None:
    cloud = Cloud()
    mine = cloud.event("double11", FUTURE, servers=2)
    other = cloud.event("six18", PAST)
    mine["servers"][1].status = "SHUTOFF"

    found = find_event_resources("double11", "openstack", conn=cloud.conn, cloud="burst")

    ids = {f.id for f in found}
    assert ids == cloud.ids(mine) - {mine["dhcp"].id}
    assert not ids & cloud.ids(other)
    hosts = [(f.kind, f.name, f.state) for f in found if f.is_host]
    assert hosts == [("server", "double11-web-01", "running"),
                     ("server", "double11-web-02", "stopped")]
    assert {f.kind for f in found} == {
        "server", "network", "subnet", "router", "router-interface", "port", "security-group",
        "vpn-service", "vpn-site-connection", "vpn-endpoint-group", "vpn-ike-policy",
        "vpn-ipsec-policy"}
    lines = leftover_report("double11", "openstack", found, cloud="burst")
    assert lines[0].endswith("still exist in openstack burst, 2 of them host(s) that may still "
                             "run and bill:")
    assert (f"  hybridburst reap --provider openstack --cloud burst --event double11 "
            f"{FORCE_OPTION}") in lines
    assert cloud.log == []  # looking changes nothing


def test_bad_provider_or_no_region_is_a_clear_input_error() -> None:
    with pytest.raises(InputError, match="cannot look resources up by tag on provider 'local'"):
        find_event_resources("double11", "local")
    with pytest.raises(InputError, match="no AWS region"):
        find_event_resources("double11", "aws")


def test_a_cloud_that_refuses_the_listing_is_a_clear_error() -> None:
    def refuse(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "UnauthorizedOperation",
                                     "Message": "not allowed"}}, "DescribeInstances")

    ec2 = SimpleNamespace(can_paginate=lambda _: False, describe_instances=refuse)
    with pytest.raises(HybridburstError, match="aws us-east-1: cannot list the tagged resources: "
                                               r".*UnauthorizedOperation"):
        find_event_resources("double11", "aws", region=REGION, ec2=ec2)

    def unauthorized(**_: Any) -> Any:
        raise RuntimeError("The request you have made requires authentication. (HTTP 401)")

    conn = SimpleNamespace(compute=SimpleNamespace(servers=unauthorized))
    with pytest.raises(HybridburstError, match="openstack burst: cannot list the tagged "
                                               r"resources: .*HTTP 401"):
        find_event_resources("double11", "openstack", conn=conn, cloud="burst")
