"""aws_burst under Pulumi mocks: the resource graph and the outputs."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from hybridburst import manifest
from hybridburst.infra import fleet, policy, tags, userdata
from hybridburst.infra.common import StackConfigError
from tests.conftest import BIN, REPO
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


def test_instances_launch_with_no_network_interface_and_one_home_for_security_groups(
        aws_config: dict[str, Any]) -> None:
    """The Terraform AWS provider turns an instance's associate_public_ip_address (even
    false) into a network interface in RunInstances, and EC2 refuses a network interface
    beside the launch template's security groups (InvalidParameterCombination). The
    instance sets its subnet only; the template holds the security group, IMDSv2 and the
    volumes; the subnet keeps public addresses off."""
    _, mocks = run("aws_burst", aws_config)
    (sg,) = mocks.of_type("aws:ec2/securityGroup:SecurityGroup")
    templates = {lt.id: lt for lt in mocks.of_type("aws:ec2/launchTemplate:LaunchTemplate")}
    subnets = {s.id: s for s in mocks.of_type("aws:ec2/subnet:Subnet")}
    for lt in templates.values():
        assert lt.inputs["vpcSecurityGroupIds"] == [sg.id]
        assert not lt.inputs.get("networkInterfaces")
    for inst in mocks.of_type("aws:ec2/instance:Instance"):
        for key in ("associatePublicIpAddress", "vpcSecurityGroupIds", "securityGroups",
                    "networkInterfaces", "metadataOptions", "rootBlockDevice",
                    "ebsBlockDevices", "privateIp"):
            assert key not in inst.inputs, (inst.name, key)
        assert inst.inputs["launchTemplate"]["id"] in templates
        assert subnets[inst.inputs["subnetId"]].inputs["mapPublicIpOnLaunch"] is False


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
        root = next(d for d in devices if d["deviceName"] == "/dev/xvda")
        assert root["ebs"]["volumeSize"] == 20


def test_instances_pin_the_template_version_and_two_runs_give_identical_inputs(
        aws_config: dict[str, Any]) -> None:
    """The same configuration twice: not one byte of any instance's inputs differs, and
    each names the template version it was made from (never "$Default")."""
    _, first = run("aws_burst", aws_config)
    _, second = run("aws_burst", aws_config)

    def inputs(mocks: Any) -> dict[str, str]:
        return {r.name: json.dumps(r.inputs, sort_keys=True)
                for r in mocks.of_type("aws:ec2/instance:Instance")}

    assert inputs(first) == inputs(second)
    versions = {lt.id: str(lt.state["latestVersion"])
                for lt in first.of_type("aws:ec2/launchTemplate:LaunchTemplate")}
    for inst in first.of_type("aws:ec2/instance:Instance"):
        template = inst.inputs["launchTemplate"]
        assert template["version"] == versions[template["id"]] == "1", inst.name


def test_each_host_gets_the_router_of_its_own_subnet(aws_config: dict[str, Any],
                                                     tmp_path: Path) -> None:
    """Hosts in three zones: each host's next hop is on its own link, in the outputs, the
    manifest and the inventory plugin's host variables."""
    outputs, mocks = run("aws_burst", aws_config)
    subnets = {s.id: s.inputs["cidrBlock"] for s in mocks.of_type("aws:ec2/subnet:Subnet")}
    own = {r.name: subnets[r.inputs["subnetId"]]
           for r in mocks.of_type("aws:ec2/instance:Instance")}
    for host in outputs["hosts"]:
        assert host["subnetCidr"] == own[host["name"]]
        assert ipaddress.ip_address(host["address"]) in ipaddress.ip_network(host["subnetCidr"])
        assert host["gateway"] == str(ipaddress.ip_network(host["subnetCidr"])[1])
    gateways = {h["name"]: h["gateway"] for h in outputs["hosts"]}
    assert len(set(gateways.values())) == 3  # three zones, three routers

    doc = fleet.build_manifest(outputs, private_key_file="/k", known_hosts_file="/kh",
                               written_at=dt.datetime(2025, 11, 10, tzinfo=dt.UTC))
    assert {h["name"]: h["gateway"] for h in doc["hosts"]} == gateways
    path = tmp_path / doc["event"] / "manifest.json"  # in its event's directory
    manifest.write(path, doc)
    source = tmp_path / "double11.fleet.yml"
    source.write_text(f"plugin: hybridburst.platform.fleet\nmanifest: {path}\n")
    proc = subprocess.run([str(BIN / "ansible-inventory"), "-i", str(source), "--list"],
                          capture_output=True, text=True, check=False, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    hostvars = json.loads(proc.stdout)["_meta"]["hostvars"]
    seen = {name: _plain(v["hybridburst_gateway_burst_address"]) for name, v in hostvars.items()}
    assert seen == gateways


def _plain(value: Any) -> Any:
    """ansible-inventory marks values from the manifest as unsafe."""
    return value["__ansible_unsafe"] if isinstance(value, dict) else value


def test_two_events_get_their_own_customer_gateway(aws_config: dict[str, Any]) -> None:
    """EC2 hands back the existing customer gateway for the same address, ASN and type;
    a device name per event keeps two events' gateways apart."""
    names = []
    for event in ("double11", "festival618"):
        _, mocks = run("aws_burst", {**aws_config, "event": event})
        (cgw,) = mocks.of_type("aws:ec2/customerGateway:CustomerGateway")
        assert cgw.inputs["ipAddress"] == aws_config["customerGatewayAddress"]
        names.append(cgw.inputs["deviceName"])
    assert names == ["hybridburst-double11", "hybridburst-festival618"]


def test_excluded_hosts_are_left_out_and_the_others_keep_their_inputs(
        aws_config: dict[str, Any]) -> None:
    """Leaving hosts out (quarantined, failed) destroys exactly them: every other host keeps
    its subnet and its inputs, byte for byte."""
    _, full = run("aws_burst", aws_config)
    out = ["double11-web-02", "double11-api-01"]
    outputs, fewer = run("aws_burst", {**aws_config, "excludedHosts": out})

    def inputs(mocks: Any) -> dict[str, str]:
        return {r.name: json.dumps(r.inputs, sort_keys=True)
                for r in mocks.of_type("aws:ec2/instance:Instance")}

    before, after = inputs(full), inputs(fewer)
    assert sorted(set(before) - set(after)) == sorted(out)
    assert after == {name: value for name, value in before.items() if name not in out}
    assert sorted(h["name"] for h in outputs["hosts"]) == sorted(set(before) - set(out))
    assert outputs["excludedHosts"] == sorted(out)
    # Everything but the instances stays as it was.
    others = {(r.typ, r.name): r.inputs for r in full.resources
              if r.typ != "aws:ec2/instance:Instance"}
    assert {(r.typ, r.name): r.inputs for r in fewer.resources
            if r.typ != "aws:ec2/instance:Instance"} == others


def test_excluding_a_host_the_plan_does_not_have_is_refused(aws_config: dict[str, Any]) -> None:
    aws_config["excludedHosts"] = ["double11-web-02", "double11-web-09", "double11-db-01"]
    with pytest.raises(StackConfigError) as err:
        run("aws_burst", aws_config)
    assert ("excludedHosts: double11-db-01, double11-web-09 are not a host of this stack"
            in str(err.value))


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
        named = {"Name"} if r.typ == "aws:ec2/instance:Instance" else set()
        assert set(got) == TAG_KEYS | ({tags.POOL} if pooled else set()) | named, (r.typ, got)
        assert {k: got[k] for k in expected} == expected
    for lt in mocks.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        pool = lt.inputs["tags"][tags.POOL]
        kinds = {s["resourceType"]: s["tags"] for s in lt.inputs["tagSpecifications"]}
        assert set(kinds) == {"instance", "volume", "network-interface"}
        assert all(t[tags.POOL] == pool for t in kinds.values())
    for inst in mocks.of_type("aws:ec2/instance:Instance"):
        # Name: the host, how an interrupted `up`'s instance is found and imported.
        assert inst.inputs["tags"]["Name"] == inst.name
        assert inst.inputs["volumeTags"] == {k: v for k, v in inst.inputs["tags"].items()
                                             if k != "Name"}


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
