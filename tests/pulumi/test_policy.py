"""The policy validators: each catches its violation in a deliberately bad program, and the
real stacks pass them all."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_openstack as openstack
import pytest
from google.protobuf import json_format, struct_pb2
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

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
    aws.ec2.Instance(  # IMDSv2 and volumes from its launch template: clean
        "templated-instance", launch_template={"id": "lt-0123456789abcdef0", "version": "1"},
        instance_type="c6i.large", tags={**GOOD_TAGS, tags.POOL: "web"})
    aws.ec2.Instance(  # its own options override the template's
        "templated-imdsv1-instance",
        launch_template={"id": "lt-0123456789abcdef0", "version": "1"},
        metadata_options={"http_tokens": "optional"}, tags={**GOOD_TAGS, tags.POOL: "web"})
    aws.ec2.Instance(
        "no-pool-instance", ami="ami-0123456789abcdef0", instance_type="c6i.large",
        metadata_options={"http_tokens": "required"}, root_block_device={"encrypted": True},
        tags=GOOD_TAGS)
    osg = openstack.networking.SecGroup("os-sg", tags=tags.tag_strings(GOOD_TAGS))
    openstack.networking.SecGroup(
        "os-misspelt-sg", tags=["hybridburst:event=double11", "hybridburst:team"])
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


CAUGHT = [
    ("open-sg", "no-open-ingress"),
    ("open-rule", "no-open-ingress"),
    ("open-rule-v6", "no-open-ingress"),
    ("os-open-rule", "no-open-ingress"),
    ("os-open-prefix", "no-open-ingress"),
    ("imdsv1-instance", "imdsv2-required"),
    ("templated-imdsv1-instance", "imdsv2-required"),
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
    ("os-misspelt-sg", "required-tags"),
    ("overlap-vpc", "no-private-overlap"),
    ("overlap-subnet", "no-private-overlap"),
    ("os-overlap-subnet", "no-private-overlap"),
]

@pytest.mark.parametrize(("resource", "policy_name"), CAUGHT)
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
    assert "templated-instance" not in {v.resource for v in violations}


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


# -- Through CrossGuard's own classes ----------------------------------------------------------
# The engine sends a resource's inputs as a protobuf Struct; the pack turns them into plain
# values (deserialize_properties) wrapped in read-only Mapping/Sequence proxies
# (unknown_checking_proxy) and hands them to each policy in a ResourceValidationArgs. These
# helpers take the same path with the recorded inputs of a mock run.

OPTIONS = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def crossguard_props(inputs: dict[str, Any]) -> Any:
    struct = struct_pb2.Struct()
    json_format.ParseDict(inputs, struct)
    return unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(struct)))


def crossguard_check(resources: Iterable[mocking.Registered],
                     private: list[str]) -> list[tuple[str, str, str]]:
    """(policy, resource, message) of every violation the pack's policies report."""
    policies = policy.crossguard_policies()
    out: list[tuple[str, str, str]] = []
    for r in resources:
        props = crossguard_props(r.inputs)
        for pol in policies:
            config = {"privateCidrs": private} if pol.name == "no-private-overlap" else None
            args = ResourceValidationArgs(r.typ, props, f"urn:pulumi:test::hb::{r.typ}::{r.name}",
                                          r.name, OPTIONS, None, config)
            pol.validate(args, lambda message, urn=None, p=pol.name, n=r.name:
                         out.append((p, n, message)))
    return out


@pytest.fixture(scope="module")
def crossguard_violations() -> list[tuple[str, str, str]]:
    _, mocks = mocking.run_program(bad_program, project="bad")
    return crossguard_check(mocks.resources, PRIVATE)


def test_the_pack_is_every_validator_as_a_crossguard_policy() -> None:
    policies = policy.crossguard_policies()
    assert all(isinstance(p, ResourceValidationPolicy) for p in policies)
    assert [p.name for p in policies] == list(policy.validators())


@pytest.mark.parametrize(("resource", "policy_name"), CAUGHT)
def test_each_violation_is_caught_through_crossguard(
        crossguard_violations: list[tuple[str, str, str]], resource: str,
        policy_name: str) -> None:
    assert (policy_name, resource) in {(p, r) for p, r, _ in crossguard_violations}


def test_crossguard_reports_what_the_validators_report(
        violations: list[policy.Violation],
        crossguard_violations: list[tuple[str, str, str]]) -> None:
    """Same resources, same findings: the proxies change nothing (clean ones stay clean)."""
    assert sorted(crossguard_violations) == sorted(
        (v.policy, v.resource, v.message) for v in violations)


@pytest.mark.parametrize(("stack", "private"), [
    ("aws_burst", ["10.0.0.0/12", "172.16.5.0/24"]),
    ("openstack_burst", ["10.0.0.0/12"]),
    ("private_peering", []),
])
def test_the_real_stacks_pass_every_policy_through_crossguard(
        stack: str, private: list[str], aws_config: dict[str, Any],
        openstack_config: dict[str, Any], peering_config: dict[str, Any]) -> None:
    config = {"aws_burst": aws_config, "openstack_burst": openstack_config,
              "private_peering": peering_config}[stack]
    _, mocks = run(stack, config)
    assert crossguard_check(mocks.resources, private) == []


def test_openstack_tags_read_from_a_crossguard_sequence() -> None:
    props = crossguard_props({"tags": tags.tag_strings(GOOD_TAGS)})
    assert not isinstance(props["tags"], list)  # a read-only Sequence proxy
    assert policy.required_tags("openstack:networking/network:Network", props) == []
    assert policy.required_tags("openstack:networking/network:Network",
                                crossguard_props({"tags": ["hybridburst:team=t"]})) == [
        "missing tag hybridburst:event", "missing tag hybridburst:burst-expiry"]


def test_an_instance_template_unknown_during_preview_does_not_stop_the_checks() -> None:
    """During a preview a new template's id is unknown; reading it from a proxy raises."""
    props = crossguard_props({"launchTemplate": {"id": UNKNOWN_STRING_VALUE, "version": "1"},
                              "tags": {**GOOD_TAGS, tags.POOL: "web"}})
    assert policy.imdsv2_required(policy.AWS_INSTANCE, props) == []
    assert policy.volumes_encrypted(policy.AWS_INSTANCE, props) == []
