"""aws_burst under Pulumi mocks: the resource graph and the outputs."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections import Counter
from typing import Any

from hybridburst import manifest
from hybridburst.infra import fleet, policy, tags, userdata
from tests.pulumi.conftest import run

# How the engine marks a secret value (pulumi.runtime.rpc).
SECRET_SIG, SECRET_VALUE = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"
TAG_KEYS = {tags.EVENT, tags.TEAM, tags.BURST_EXPIRY}


def test_stack_builds_with_instances_per_pool(aws_config: dict[str, Any]) -> None:
    def check(outputs: dict[str, Any]) -> None:
        pools = Counter(h["pool"] for h in outputs["hosts"])
        assert pools == {"web": 4, "api": 2}

    _, mocks = run("aws_burst", aws_config, check=check)
    instances = mocks.of_type("aws:ec2/instance:Instance")
    per_pool = Counter(r.inputs["tags"][tags.POOL] for r in instances)
    assert per_pool == {"web": 4, "api": 2}
    assert sorted(r.name for r in instances) == [
        "double11-api-01", "double11-api-02",
        "double11-web-01", "double11-web-02", "double11-web-03", "double11-web-04",
    ]
    types = {r.inputs["tags"][tags.POOL]: r.inputs["instanceType"] for r in instances}
    assert types == {"web": "c6i.large", "api": "m6i.large"}
    assert len(mocks.of_type("aws:ec2/launchTemplate:LaunchTemplate")) == 2


def test_subnets_span_the_zones_inside_the_vpc(aws_config: dict[str, Any]) -> None:
    _, mocks = run("aws_burst", aws_config)
    (vpc,) = mocks.of_type("aws:ec2/vpc:Vpc")
    assert vpc.inputs["cidrBlock"] == "10.200.0.0/16"
    subnets = mocks.of_type("aws:ec2/subnet:Subnet")
    assert sorted(s.inputs["availabilityZone"] for s in subnets) == aws_config["availabilityZones"]
    nets = [ipaddress.ip_network(s.inputs["cidrBlock"]) for s in subnets]
    assert all(n.subnet_of(ipaddress.ip_network("10.200.0.0/16")) for n in nets)
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1:])
    assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in subnets)
    # Hosts are spread over the subnets.
    used = Counter(r.inputs["subnetId"] for r in mocks.of_type("aws:ec2/instance:Instance"))
    assert len(used) == 3 and max(used.values()) - min(used.values()) <= 1


def test_security_group_admits_only_private_cidrs_and_the_load_balancer(
        aws_config: dict[str, Any]) -> None:
    _, mocks = run("aws_burst", aws_config)
    (sg,) = mocks.of_type("aws:ec2/securityGroup:SecurityGroup")
    assert not sg.inputs.get("ingress")
    rules = mocks.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    seen = {(r.inputs["cidrIpv4"], r.inputs["ipProtocol"], r.inputs["fromPort"],
             r.inputs["toPort"]) for r in rules}
    assert seen == {
        ("10.0.0.0/12", "tcp", 22, 22),
        ("172.16.5.0/24", "tcp", 22, 22),
        ("10.0.10.0/24", "tcp", 8443, 8443),
    }
    assert all(r.inputs["securityGroupId"] == sg.id for r in rules)
    egress = mocks.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
    assert {r.inputs["cidrIpv4"] for r in egress} == {"10.0.0.0/12", "172.16.5.0/24"}
    for inst in mocks.of_type("aws:ec2/instance:Instance"):
        assert inst.inputs["vpcSecurityGroupIds"] == [sg.id]
        assert inst.inputs["associatePublicIpAddress"] is False


def test_vpn_routes_and_propagation(aws_config: dict[str, Any]) -> None:
    outputs, mocks = run("aws_burst", aws_config)
    (vpn,) = mocks.of_type("aws:ec2/vpnConnection:VpnConnection")
    (vgw,) = mocks.of_type("aws:ec2/vpnGateway:VpnGateway")
    (cgw,) = mocks.of_type("aws:ec2/customerGateway:CustomerGateway")
    (vpc,) = mocks.of_type("aws:ec2/vpc:Vpc")
    assert vgw.inputs["vpcId"] == vpc.id
    assert cgw.inputs["ipAddress"] == "198.51.100.10" and cgw.inputs["type"] == "ipsec.1"
    assert vpn.inputs["staticRoutesOnly"] is True
    assert vpn.inputs["customerGatewayId"] == cgw.id and vpn.inputs["vpnGatewayId"] == vgw.id
    for key in ("tunnel1PresharedKey", "tunnel2PresharedKey"):  # secret, with the right value
        assert vpn.inputs[key] == {SECRET_SIG: SECRET_VALUE, "value": aws_config["vpnPsk"]}
    routes = mocks.of_type("aws:ec2/vpnConnectionRoute:VpnConnectionRoute")
    assert sorted(r.inputs["destinationCidrBlock"] for r in routes) == \
        sorted(aws_config["privateCidrs"])
    assert all(r.inputs["vpnConnectionId"] == vpn.id for r in routes)
    (table,) = mocks.of_type("aws:ec2/routeTable:RouteTable")
    (prop,) = mocks.of_type("aws:ec2/vpnGatewayRoutePropagation:VpnGatewayRoutePropagation")
    assert prop.inputs == {"routeTableId": table.id, "vpnGatewayId": vgw.id}
    assocs = mocks.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")
    subnet_ids = {s.id for s in mocks.of_type("aws:ec2/subnet:Subnet")}
    assert {a.inputs["subnetId"] for a in assocs} == subnet_ids
    assert all(a.inputs["routeTableId"] == table.id for a in assocs)
    assert not table.inputs.get("routes")  # nothing to the internet
    assert outputs["vpnTunnel1Address"] == vpn.state["tunnel1Address"]
    assert outputs["vpnTunnel2Address"] == vpn.state["tunnel2Address"]


def test_launch_template_requires_imdsv2_and_encrypts_every_volume(
        aws_config: dict[str, Any]) -> None:
    _, mocks = run("aws_burst", aws_config)
    for lt in mocks.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        assert lt.inputs["metadataOptions"]["httpTokens"] == "required"
        assert lt.inputs["imageId"] == "ami-0123456789abcdef0"
        devices = lt.inputs["blockDeviceMappings"]
        assert len(devices) == 2
        assert all(d["ebs"]["encrypted"] == "true" for d in devices)
        data = next(d for d in devices if d["deviceName"] == "/dev/sdf")
        assert data["ebs"]["volumeSize"] == 50  # catalog: 51200 MB
    for inst in mocks.of_type("aws:ec2/instance:Instance"):
        assert inst.inputs["metadataOptions"]["httpTokens"] == "required"
        assert inst.inputs["rootBlockDevice"]["encrypted"] is True


def test_user_data_installs_the_fleet_key_and_publishes_host_keys(
        aws_config: dict[str, Any]) -> None:
    _, mocks = run("aws_burst", aws_config)
    inst = mocks.by_name("double11-web-02")
    data = inst.inputs["userData"]
    assert data.startswith("#cloud-config\n")
    assert aws_config["sshPublicKey"] in data
    assert 'hostname: "double11-web-02"' in data
    assert "HYBRIDBURST HOST KEYS double11-web-02" in data
    console = ("noise\n-----BEGIN HYBRIDBURST HOST KEYS double11-web-02-----\n"
               "ssh-ed25519 AAAAkey root@x\necdsa-sha2-nistp256 AAAAe root@x\n"
               "-----END HYBRIDBURST HOST KEYS double11-web-02-----\n")
    assert userdata.host_keys_from_console(console, "double11-web-02") == [
        "ssh-ed25519 AAAAkey", "ecdsa-sha2-nistp256 AAAAe"]
    assert userdata.host_keys_from_console(console, "double11-web-01") == []


def test_every_taggable_resource_carries_the_burst_tags(aws_config: dict[str, Any]) -> None:
    _, mocks = run("aws_burst", aws_config)
    taggable = [r for r in mocks.resources if policy.taggable(r.typ)]
    assert {r.typ for r in taggable} >= {
        "aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/instance:Instance",
        "aws:ec2/vpnConnection:VpnConnection", "aws:ec2/securityGroup:SecurityGroup",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    }
    expected = {tags.EVENT: "double11", tags.TEAM: "storefront",
                tags.BURST_EXPIRY: "2025-11-14T06:00:00Z"}
    for r in taggable:
        got = r.inputs.get("tags")
        assert got is not None, f"{r.typ} {r.name} has no tags"
        pooled = r.typ in policy.POOLED
        assert set(got) == TAG_KEYS | ({tags.POOL} if pooled else set()), (r.typ, got)
        assert {k: got[k] for k in expected} == expected
    for lt in mocks.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        pool = lt.inputs["tags"][tags.POOL]
        kinds = {s["resourceType"]: s["tags"] for s in lt.inputs["tagSpecifications"]}
        assert set(kinds) == {"instance", "volume", "network-interface"}
        assert all(t[tags.POOL] == pool for t in kinds.values())
    for inst in mocks.of_type("aws:ec2/instance:Instance"):
        assert inst.inputs["volumeTags"] == inst.inputs["tags"]


def test_outputs_resolve_into_a_valid_fleet_manifest(aws_config: dict[str, Any]) -> None:
    outputs, mocks = run("aws_burst", aws_config)
    written = dt.datetime(2025, 11, 10, 8, 0, tzinfo=dt.UTC)
    doc = fleet.build_manifest(outputs, private_key_file="/state/ssh/id_ed25519",
                               known_hosts_file="/state/ssh/known_hosts", written_at=written)
    assert manifest.check(doc, "test") is doc
    assert doc["provider"] == "aws" and doc["event"] == "double11"
    assert doc["network"] == {
        "private_cidrs": ["10.0.0.0/12", "172.16.5.0/24"], "burst_cidr": "10.200.0.0/16",
        "gateway": {"private_address": "10.0.0.1", "burst_address": "10.200.0.1"},
    }
    addresses = {r.name: r.state["privateIp"] for r in mocks.of_type("aws:ec2/instance:Instance")}
    assert {h["name"]: h["address"] for h in doc["hosts"]} == addresses
    web = next(h for h in doc["hosts"] if h["name"] == "double11-web-01")
    assert web["expected"]["cpus"] == 2 and web["expected"]["memory_mb"] == 4096
    assert web["expected"]["disk_mb"] == 51200 and web["expected"]["interface"] == "ens5"
    assert web["expected"]["os"] == {"distribution": "Debian", "major_version": "12"}
    assert web["release"] == "2025.11.1" and web["provider_id"].startswith("i-")
    assert web["tags"][tags.POOL] == "web"
    assert web["launched_at"] == written.isoformat()
