"""Unusable stack configuration fails before any resource, with every problem named."""

from __future__ import annotations

from typing import Any

import pytest

from hybridburst.errors import HybridburstError
from hybridburst.infra.common import StackConfigError
from tests.pulumi.conftest import run


def test_vpc_overlapping_the_private_side_is_refused(aws_config: dict[str, Any]) -> None:
    aws_config["vpcCidr"] = "10.8.0.0/16"  # inside 10.0.0.0/12
    with pytest.raises(StackConfigError) as err:
        run("aws_burst", aws_config)
    message = str(err.value)
    assert "vpcCidr: 10.8.0.0/16 overlaps the private cloud's 10.0.0.0/12" in message
    assert isinstance(err.value, HybridburstError)


def test_nothing_is_registered_when_the_config_is_refused(aws_config: dict[str, Any]) -> None:
    from hybridburst.infra import mocking

    aws_config["vpcCidr"] = "172.16.0.0/16"  # overlaps 172.16.5.0/24
    mocks = mocking.RecordingMocks()
    with pytest.raises(StackConfigError, match=r"overlaps the private cloud's 172\.16\.5\.0/24"):
        run("aws_burst", aws_config, mocks=mocks)
    assert mocks.resources == []


def test_openstack_burst_cidr_overlap_is_refused(openstack_config: dict[str, Any]) -> None:
    openstack_config["burstCidr"] = "10.0.0.0/8"
    with pytest.raises(StackConfigError, match=r"burstCidr: 10\.0\.0\.0/8 overlaps"):
        run("openstack_burst", openstack_config)


def test_missing_required_values_are_all_named(aws_config: dict[str, Any]) -> None:
    for key in ("imageId", "customerGatewayAddress", "vpnPsk", "privateCidrs"):
        del aws_config[key]
    with pytest.raises(StackConfigError) as err:
        run("aws_burst", aws_config)
    message = str(err.value)
    assert "imageId: missing required value; set it with `pulumi config set imageId" in message
    assert "customerGatewayAddress: missing required value" in message
    assert "vpnPsk: missing required secret; set it with `pulumi config set --secret vpnPsk" \
        in message
    assert "privateCidrs: missing required list" in message
    assert message.startswith("aws_burst: the stack configuration is not usable:")


def test_peering_missing_values(peering_config: dict[str, Any]) -> None:
    del peering_config["routerId"]
    del peering_config["peerAddresses"]
    with pytest.raises(StackConfigError) as err:
        run("private_peering", peering_config)
    assert "routerId: missing required value" in str(err.value)
    assert "peerAddresses: missing required list" in str(err.value)


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("pools", ["web:three:c6i.large"], "pools[0]: 'web:three:c6i.large' is not NAME:COUNT"),
    ("pools", ["web:2:t2.micro"], "pools[0]: unknown aws instance type 't2.micro'"),
    ("pools", ["web:2:c6i.large", "web:1:m6i.large"], "pools[1]: duplicate pool name 'web'"),
    ("burstExpiry", "2025-11-14 06:00", "burstExpiry: '2025-11-14 06:00' is not an ISO 8601 UTC"),
    ("loadBalancerCidrs", ["0.0.0.0/0"], "loadBalancerCidrs[0]: 0.0.0.0/0 admits the whole"),
    ("vpcCidr", "10.200.0.0/27", "too small"),
    ("privateCidrs", ["10.0.0.1/12"], "privateCidrs[0]: '10.0.0.1/12' is not an IPv4 network"),
    ("appPort", "http", "appPort: 'http' is not an integer"),
    ("imageId", "debian-12", "imageId: 'debian-12' is not an AMI id"),
])
def test_bad_values_fail_clearly(aws_config: dict[str, Any], key: str, value: Any,
                                 expected: str) -> None:
    aws_config[key] = value
    with pytest.raises(StackConfigError) as err:
        run("aws_burst", aws_config)
    assert expected in str(err.value)


def test_too_many_hosts_for_the_vpc(aws_config: dict[str, Any]) -> None:
    aws_config["vpcCidr"] = "10.200.0.0/24"
    aws_config["availabilityZones"] = ["a1", "a2", "a3", "a4"]  # four /26: 59 usable each
    aws_config["pools"] = ["web:236:c6i.large"]  # 59 per subnet: fits
    run("aws_burst", aws_config)
    aws_config["pools"] = ["web:237:c6i.large"]
    with pytest.raises(StackConfigError, match="leaves 59 addresses per subnet, 60 hosts need"):
        run("aws_burst", aws_config)


def test_a_malformed_pre_shared_key_fails_without_showing_it(
        aws_config: dict[str, Any]) -> None:
    aws_config["vpnPsk"] = "0short"
    with pytest.raises(StackConfigError) as err:
        run("aws_burst", aws_config)
    assert "vpnPsk: the pre-shared key must be 8-64 characters" in str(err.value)
    assert "0short" not in str(err.value)
