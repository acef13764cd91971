"""openstack_burst and private_peering under Pulumi mocks."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from typing import Any

import pytest

from hybridburst import manifest
from hybridburst.infra import fleet, mocking, policy, tags
from hybridburst.infra.aws_burst import AwsBurst
from hybridburst.infra.common import BurstIdentity, StackConfigError
from hybridburst.infra.config import aws_burst_args
from hybridburst.infra.private_peering import PrivatePeering, PrivatePeeringArgs, ServiceRule
from tests.pulumi.conftest import run

EXPECTED = {tags.EVENT: "double11", tags.TEAM: "storefront",
            tags.BURST_EXPIRY: "2025-11-14T06:00:00Z"}


def test_openstack_stack_builds_with_instances_per_pool(
        openstack_config: dict[str, Any]) -> None:
    outputs, mocks = run("openstack_burst", openstack_config)
    instances = mocks.of_type("openstack:compute/instance:Instance")
    assert Counter(r.inputs["metadata"][tags.POOL] for r in instances) == {"web": 3, "cache": 1}
    assert {r.inputs["flavorName"] for r in instances} == {"s3.large.2", "s3.xlarge.2"}
    assert Counter(r.inputs["availabilityZone"] for r in instances) == {"az1": 2, "az2": 2}
    (net,) = mocks.of_type("openstack:networking/network:Network")
    (subnet,) = mocks.of_type("openstack:networking/subnet:Subnet")
    (router,) = mocks.of_type("openstack:networking/router:Router")
    assert subnet.inputs["cidr"] == "10.210.0.0/20" and subnet.inputs["networkId"] == net.id
    # enable_snat is admin-only in Neutron's default policy: even false is a 403.
    assert "enableSnat" not in router.inputs
    assert router.inputs["externalNetworkId"] == openstack_config["externalNetworkId"]
    (iface,) = mocks.of_type("openstack:networking/routerInterface:RouterInterface")
    assert iface.inputs == {"routerId": router.id, "subnetId": subnet.id}
    for inst in instances:
        assert inst.inputs["networks"] == [{"uuid": net.id}]
        devices = inst.inputs["blockDevices"]
        assert [d["sourceType"] for d in devices] == ["image", "blank"]
        assert all(d["volumeType"] == "encrypted" and d["destinationType"] == "volume"
                   for d in devices)
    assert len(outputs["hosts"]) == 4


def test_openstack_security_group_rules(openstack_config: dict[str, Any]) -> None:
    _, mocks = run("openstack_burst", openstack_config)
    (sg,) = mocks.of_type("openstack:networking/secGroup:SecGroup")
    assert sg.inputs["deleteDefaultRules"] is True  # no default egress-anywhere
    rules = mocks.of_type("openstack:networking/secGroupRule:SecGroupRule")
    seen = {(r.inputs["direction"], r.inputs["remoteIpPrefix"], r.inputs.get("protocol"),
             r.inputs.get("portRangeMin")) for r in rules}
    assert seen == {
        ("ingress", "10.0.0.0/12", "tcp", 22),
        ("ingress", "10.0.10.0/24", "tcp", 8080),
        ("egress", "10.0.0.0/12", None, None),
        # DNS from the subnet's own DHCP/DNS port, nothing else outside the private cloud.
        ("egress", "10.210.0.0/20", "udp", 53),
        ("egress", "10.210.0.0/20", "tcp", 53),
    }
    dns = [r for r in rules if r.inputs.get("portRangeMin") == 53]
    assert all(r.inputs["portRangeMax"] == 53 and r.inputs["ethertype"] == "IPv4" for r in dns)
    assert all(r.inputs["securityGroupId"] == sg.id for r in rules)


def test_openstack_tags_on_every_taggable_resource(openstack_config: dict[str, Any]) -> None:
    _, mocks = run("openstack_burst", openstack_config)
    taggable = [r for r in mocks.resources if policy.taggable(r.typ)]
    assert {r.typ.split(":")[1] for r in taggable} >= {
        "networking/network", "networking/subnet", "networking/router",
        "networking/secGroup", "compute/instance"}
    for r in taggable:
        got = tags.parse_tag_strings(r.inputs.get("tags") or [])
        pooled = r.typ in policy.POOLED
        assert set(got) == set(EXPECTED) | ({tags.POOL} if pooled else set()), (r.typ, got)
        assert {k: got[k] for k in EXPECTED} == EXPECTED
        if r.typ == policy.OS_INSTANCE:
            assert r.inputs["metadata"] == got


def test_openstack_vpn_to_the_private_cloud(openstack_config: dict[str, Any]) -> None:
    outputs, mocks = run("openstack_burst", openstack_config)
    (conn,) = mocks.of_type("openstack:vpnaas/siteConnection:SiteConnection")
    (service,) = mocks.of_type("openstack:vpnaas/service:Service")
    groups = {g.inputs["type"]: g for g in mocks.of_type("openstack:vpnaas/endpointGroup:EndpointGroup")}
    (router,) = mocks.of_type("openstack:networking/router:Router")
    assert service.inputs["routerId"] == router.id
    assert groups["cidr"].inputs["endpoints"] == ["10.0.0.0/12"]
    assert conn.inputs["peerAddress"] == "198.51.100.10"
    assert conn.inputs["peerEpGroupId"] == groups["cidr"].id
    assert conn.inputs["localEpGroupId"] == groups["subnet"].id
    assert conn.inputs["psk"]["value"] == openstack_config["vpnPsk"]
    assert outputs["vpnPeerAddresses"] == [router.state["externalFixedIps"][0]["ipAddress"]]


def test_openstack_outputs_resolve_into_a_valid_manifest(
        openstack_config: dict[str, Any]) -> None:
    outputs, mocks = run("openstack_burst", openstack_config)
    doc = fleet.build_manifest(outputs, private_key_file="/k", known_hosts_file="/kh",
                               written_at=dt.datetime(2025, 11, 10, tzinfo=dt.UTC))
    manifest.check(doc, "test")
    addresses = {r.name: r.state["accessIpV4"]
                 for r in mocks.of_type("openstack:compute/instance:Instance")}
    assert {h["name"]: h["address"] for h in doc["hosts"]} == addresses
    assert all(a.startswith("10.210.") for a in addresses.values())
    cache = next(h for h in doc["hosts"] if h["pool"] == "cache")
    assert cache["expected"]["cpus"] == 4 and cache["expected"]["interface"] == "ens3"
    assert doc["network"]["gateway"]["burst_address"] == "10.210.0.1"
    # One subnet: its gateway is every host's own.
    assert {h["gateway"] for h in doc["hosts"]} == {"10.210.0.1"}
    assert {h["subnetCidr"] for h in outputs["hosts"]} == {"10.210.0.0/20"}


def test_openstack_excluded_hosts_are_left_out_and_the_others_keep_their_inputs(
        openstack_config: dict[str, Any]) -> None:
    """Zones follow each host's place among all planned hosts, so leaving web-01 out moves
    nobody: web-02 stays in az2, web-03 in az1, cache-01 in az2."""
    _, full = run("openstack_burst", openstack_config)
    outputs, fewer = run("openstack_burst",
                         {**openstack_config, "excludedHosts": ["double11-web-01"]})

    def inputs(mocks: Any) -> dict[str, str]:
        return {r.name: json.dumps(r.inputs, sort_keys=True)
                for r in mocks.of_type("openstack:compute/instance:Instance")}

    before, after = inputs(full), inputs(fewer)
    assert set(before) - set(after) == {"double11-web-01"}
    assert after == {name: value for name, value in before.items() if name != "double11-web-01"}
    zones = {r.name: r.inputs["availabilityZone"]
             for r in fewer.of_type("openstack:compute/instance:Instance")}
    assert zones == {"double11-web-02": "az2", "double11-web-03": "az1",
                     "double11-cache-01": "az2"}
    assert [h["name"] for h in outputs["hosts"]] == [
        "double11-web-02", "double11-web-03", "double11-cache-01"]
    assert outputs["excludedHosts"] == ["double11-web-01"]


def test_openstack_excluding_an_unknown_host_is_refused(
        openstack_config: dict[str, Any]) -> None:
    openstack_config["excludedHosts"] = ["double11-web-7"]
    with pytest.raises(StackConfigError, match=r"excludedHosts: double11-web-7 is not a host "
                                               r"of this stack"):
        run("openstack_burst", openstack_config)


def test_private_peering_service_rules_admit_only_the_burst_cidr(
        peering_config: dict[str, Any]) -> None:
    _, mocks = run("private_peering", peering_config)
    rules = mocks.of_type("openstack:networking/secGroupRule:SecGroupRule")
    assert {(r.inputs["securityGroupId"], r.inputs["protocol"], r.inputs["portRangeMin"],
             r.inputs["portRangeMax"]) for r in rules} == {
        ("sg-db", "tcp", 5432, 5432), ("sg-cache", "tcp", 6379, 6379),
        ("sg-mirror", "tcp", 443, 444)}
    assert {(r.inputs["direction"], r.inputs["remoteIpPrefix"]) for r in rules} == {
        ("ingress", "10.200.0.0/16")}
    local = next(g for g in mocks.of_type("openstack:vpnaas/endpointGroup:EndpointGroup")
                 if g.inputs["type"] == "subnet")
    assert local.inputs["endpoints"] == ["subnet-private-1", "subnet-private-2"]
    (service,) = mocks.of_type("openstack:vpnaas/service:Service")
    assert service.inputs["routerId"] == "router-private-1"


def test_two_site_connections_match_the_two_aws_tunnels(
        aws_config: dict[str, Any], peering_config: dict[str, Any]) -> None:
    """Both ends in one program: the peering's peers are the AWS VPN's tunnel outputs."""

    def program() -> dict[str, Any]:
        burst = AwsBurst("burst", aws_burst_args())
        peering = PrivatePeering("peering", PrivatePeeringArgs(
            identity=BurstIdentity("double11", "storefront", "2025-11-14T06:00:00Z"),
            router_id="router-private-1", local_subnet_ids=("subnet-private-1",),
            burst_cidr=aws_config["vpcCidr"],
            peer_addresses=[burst.vpn.tunnel1_address, burst.vpn.tunnel2_address],
            vpn_psk=aws_config["vpnPsk"],
            service_rules=(ServiceRule("sg-db", "tcp", 5432, 5432),),
        ))
        return {"aws": burst.outputs, "peering": peering.outputs}

    def check(outputs: dict[str, Any]) -> None:
        assert len(outputs["peering"]["siteConnectionIds"]) == 2

    outputs, mocks = mocking.run_program(
        program, project="hybridburst-aws-burst", config=aws_config, secret_keys=["vpnPsk"],
        check=check)
    (vpn,) = mocks.of_type("aws:ec2/vpnConnection:VpnConnection")
    conns = sorted(mocks.of_type("openstack:vpnaas/siteConnection:SiteConnection"),
                   key=lambda c: c.name)  # registered as their inputs resolve: any order
    assert [c.name for c in conns] == ["peering-tunnel-1", "peering-tunnel-2"]
    tunnels = [vpn.state["tunnel1Address"], vpn.state["tunnel2Address"]]
    assert len(set(tunnels)) == 2
    assert [c.inputs["peerAddress"] for c in conns] == tunnels
    assert [c.inputs["peerId"] for c in conns] == tunnels
    assert [outputs["aws"]["vpnTunnel1Address"], outputs["aws"]["vpnTunnel2Address"]] == tunnels
    (peer_group,) = [g for g in mocks.of_type("openstack:vpnaas/endpointGroup:EndpointGroup")
                     if g.inputs["type"] == "cidr"]
    assert peer_group.inputs["endpoints"] == ["10.200.0.0/16"]
    for conn in conns:
        assert conn.inputs["peerEpGroupId"] == peer_group.id
        assert conn.inputs["psk"]["value"] == aws_config["vpnPsk"]
        assert conn.inputs["dpds"][0]["action"] == "restart"
