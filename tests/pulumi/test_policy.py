"""The policy validators: each catches its violation in a deliberately bad program, and the
real stacks pass them all."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_openstack as openstack
import pytest

from hybridburst.infra import mocking, policy, tags
from tests.pulumi.conftest import run

GOOD_TAGS = tags.burst_tags("double11", "storefront", "2025-11-14T06:00:00Z")
PRIVATE = ["10.0.0.0/12"]


def bad_program() -> dict[str, Any]:
    """One resource per violation, named after the policy it breaks."""
    vpc = aws.ec2.Vpc("overlap-vpc", cidr_block="10.1.0.0/16", tags=GOOD_TAGS)
    aws.ec2.Subnet("overlap-subnet", vpc_id=vpc.id, cidr_block="10.1.0.0/24", tags=GOOD_TAGS)
    sg = aws.ec2.SecurityGroup("open-sg", vpc_id=vpc.id, tags=GOOD_TAGS, ingress=[{
        "protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_blocks": ["0.0.0.0/0"]}])
    aws.vpc.SecurityGroupIngressRule(
        "open-rule", security_group_id=sg.id, ip_protocol="tcp", from_port=443, to_port=443,
        cidr_ipv4="0.0.0.0/0", tags=GOOD_TAGS)
    aws.vpc.SecurityGroupIngressRule(
        "open-rule-v6", security_group_id=sg.id, ip_protocol="-1", cidr_ipv6="::/0",
        tags=GOOD_TAGS)
    aws.ec2.Instance(
        "imdsv1-instance", ami="ami-0123456789abcdef0", instance_type="c6i.large",
        metadata_options={"http_tokens": "optional"},
        root_block_device={"encrypted": True}, tags={**GOOD_TAGS, tags.POOL: "web"})
    aws.ec2.Instance(
        "unencrypted-instance", ami="ami-0123456789abcdef0", instance_type="c6i.large",
        metadata_options={"http_tokens": "required"},
        root_block_device={"encrypted": False},
        ebs_block_devices=[{"device_name": "/dev/sdf", "volume_size": 50}],
        tags={**GOOD_TAGS, tags.POOL: "web"})
    aws.ec2.LaunchTemplate(
        "loose-template", image_id="ami-0123456789abcdef0",
        block_device_mappings=[{"device_name": "/dev/sdf", "ebs": {"volume_size": 50}}],
        tags={**GOOD_TAGS, tags.POOL: "web"})
    aws.ebs.Volume("plain-volume", availability_zone="a", size=10, tags=GOOD_TAGS)
    aws.ec2.VpnGateway("untagged-vgw", vpc_id=vpc.id)
    aws.ec2.CustomerGateway("misspelt-tags-cgw", bgp_asn="65000", ip_address="198.51.100.1",
                            type="ipsec.1",
                            tags={"hybridburst:Event": "x", tags.TEAM: "t",
                                  tags.BURST_EXPIRY: "next tuesday"})
    aws.ec2.Instance(
        "no-pool-instance", ami="ami-0123456789abcdef0", instance_type="c6i.large",
        metadata_options={"http_tokens": "required"}, root_block_device={"encrypted": True},
        tags=GOOD_TAGS)
    osg = openstack.networking.SecGroup("os-sg", tags=tags.tag_strings(GOOD_TAGS))
    openstack.networking.SecGroupRule(
        "os-open-rule", security_group_id=osg.id, direction="ingress", ethertype="IPv4",
        protocol="tcp", port_range_min=22, port_range_max=22)
    openstack.networking.SecGroupRule(
        "os-open-prefix", security_group_id=osg.id, direction="ingress", ethertype="IPv4",
        remote_ip_prefix="0.0.0.0/0")
    net = openstack.networking.Network("os-untagged-net")
    openstack.networking.Subnet("os-overlap-subnet", network_id=net.id, cidr="10.2.0.0/24",
                                tags=tags.tag_strings(GOOD_TAGS))
    openstack.compute.Instance(
        "os-plain-volume-instance", flavor_name="s3.large.2",
        block_devices=[{"source_type": "image", "uuid": "img", "destination_type": "volume",
                        "volume_size": 20, "volume_type": "standard", "boot_index": 0}],
        tags=tags.tag_strings({**GOOD_TAGS, tags.POOL: "web"}),
        metadata={**GOOD_TAGS, tags.POOL: "web"})
    return {}


@pytest.fixture(scope="module")
def violations() -> list[policy.Violation]:
    _, mocks = mocking.run_program(bad_program, project="bad")
    return policy.check(((r.typ, r.name, r.inputs) for r in mocks.resources), PRIVATE)


def found(violations: list[policy.Violation], name: str) -> set[str]:
    return {v.policy for v in violations if v.resource == name}


@pytest.mark.parametrize(("resource", "policy_name"), [
    ("open-sg", "no-open-ingress"),
    ("open-rule", "no-open-ingress"),
    ("open-rule-v6", "no-open-ingress"),
    ("os-open-rule", "no-open-ingress"),
    ("os-open-prefix", "no-open-ingress"),
    ("imdsv1-instance", "imdsv2-required"),
    ("loose-template", "imdsv2-required"),
    ("unencrypted-instance", "volumes-encrypted"),
    ("loose-template", "volumes-encrypted"),
    ("plain-volume", "volumes-encrypted"),
    ("os-plain-volume-instance", "volumes-encrypted"),
    ("untagged-vgw", "required-tags"),
    ("misspelt-tags-cgw", "required-tags"),
    ("no-pool-instance", "required-tags"),
    ("loose-template", "required-tags"),
    ("os-untagged-net", "required-tags"),
    ("overlap-vpc", "no-private-overlap"),
    ("overlap-subnet", "no-private-overlap"),
    ("os-overlap-subnet", "no-private-overlap"),
])
def test_each_violation_is_caught(violations: list[policy.Violation], resource: str,
                                  policy_name: str) -> None:
    assert policy_name in found(violations, resource), [str(v) for v in violations]


def test_messages_say_what_is_wrong(violations: list[policy.Violation]) -> None:
    messages = {(v.resource, v.message) for v in violations}
    assert ("misspelt-tags-cgw", "missing tag hybridburst:event") in messages
    assert any(r == "misspelt-tags-cgw" and "burst-expiry" in m and "ISO 8601" in m
               for r, m in messages)
    assert ("no-pool-instance", "missing tag hybridburst:pool") in messages
    assert ("open-rule", "ingress from 0.0.0.0/0") in messages
    assert ("overlap-vpc", "10.1.0.0/16 overlaps the private cloud's 10.0.0.0/12") in messages
    assert any(r == "loose-template" and "tagSpecifications" in m for r, m in messages)
    assert "os-sg" not in {v.resource for v in violations}  # a clean resource stays clean


@pytest.mark.parametrize(("stack", "private"), [
    ("aws_burst", ["10.0.0.0/12", "172.16.5.0/24"]),
    ("openstack_burst", ["10.0.0.0/12"]),
    ("private_peering", []),
])
def test_the_real_stacks_pass_every_policy(stack: str, private: list[str],
                                           aws_config: dict[str, Any],
                                           openstack_config: dict[str, Any],
                                           peering_config: dict[str, Any]) -> None:
    config = {"aws_burst": aws_config, "openstack_burst": openstack_config,
              "private_peering": peering_config}[stack]
    _, mocks = run(stack, config)
    assert policy.check(((r.typ, r.name, r.inputs) for r in mocks.resources), private) == []


def test_validators_directly() -> None:
    rule = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
    assert policy.no_open_ingress(rule, {"cidrIpv4": "10.0.0.0/8"}) == []
    assert policy.no_open_ingress(rule, {"cidrIpv4": "0.0.0.0/0"}) == ["ingress from 0.0.0.0/0"]
    os_rule = "openstack:networking/secGroupRule:SecGroupRule"
    assert policy.no_open_ingress(os_rule, {"direction": "egress"}) == []
    assert policy.no_open_ingress(os_rule, {"direction": "ingress", "remoteGroupId": "g"}) == []
    assert policy.imdsv2_required(policy.AWS_INSTANCE, {}) != []
    assert policy.imdsv2_required(policy.AWS_INSTANCE,
                                  {"metadataOptions": {"httpEndpoint": "disabled"}}) == []
    assert policy.volumes_encrypted(policy.AWS_INSTANCE, {}) == [
        "root volume not encrypted (rootBlockDevice.encrypted)"]
    assert policy.required_tags("aws:ec2/vpnConnectionRoute:VpnConnectionRoute", {}) == []
    overlap = policy.no_private_overlap(["192.168.0.0/16"])
    assert overlap("aws:ec2/vpc:Vpc", {"cidrBlock": "192.168.4.0/22"}) != []
    assert overlap("aws:ec2/vpc:Vpc", {"cidrBlock": "10.0.0.0/16"}) == []
    assert overlap("aws:ec2/vpc:Vpc", {"cidrBlock": pulumi.UNKNOWN}) == []
