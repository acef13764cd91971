"""Unusable stack configuration fails before any resource, with every problem named."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pytest
import yaml

from hybridburst.errors import HybridburstError
from hybridburst.infra import config, mocking, programs
from hybridburst.infra.common import StackConfigError
from tests.pulumi.conftest import STACKS, run


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
    # The spec's name rules, anchored: a trailing newline is no name.
    ("event", "d11\n", "event: 'd11\\n' is not a valid event name"),
    ("team", "shop\n", "team: 'shop\\n' is not a valid team name"),
    ("pools", ["web\n:2:c6i.large"], "pools[0]"),
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


# -- Pulumi.yaml against the config code -------------------------------------------------------

ARGS: dict[str, Callable[[], Any]] = {
    "aws_burst": config.aws_burst_args,
    "openstack_burst": config.openstack_burst_args,
}
PYTHON_TYPES = {"string": str, "integer": int, "boolean": bool, "array": list}


def _declared(stack: str) -> dict[str, dict[str, Any]]:
    project = yaml.safe_load((STACKS / stack / "Pulumi.yaml").read_text())
    assert project["name"] == programs.PROJECTS[stack]
    return project["config"]


def _problems(stack: str, values: dict[str, Any]) -> list[str]:
    """Every problem the config code and the component's checks find, no resource made."""
    found: list[str] = []

    def program() -> dict[str, Any]:
        try:
            found.extend(ARGS[stack]().problems())
        except StackConfigError as exc:
            found.extend(exc.problems)
        return {}

    mocking.run_program(program, project=programs.PROJECTS[stack], config=values,
                        secret_keys=["vpnPsk"])
    return found


def _base(stack: str, aws_config: dict[str, Any],
          openstack_config: dict[str, Any]) -> dict[str, Any]:
    if stack == "aws_burst":  # a real AWS stack always has its provider's region
        return {**aws_config, "aws:region": "ap-southeast-1"}
    return dict(openstack_config)


@pytest.mark.parametrize("stack", sorted(ARGS))
def test_pulumi_yaml_declarations_are_well_formed(stack: str) -> None:
    for key, spec in _declared(stack).items():
        assert spec["type"] in PYTHON_TYPES, key
        assert spec.get("description"), key
        if spec["type"] == "array":
            assert spec["items"] == {"type": "string"}, key
        if "default" in spec:
            default = spec["default"]
            assert isinstance(default, PYTHON_TYPES[spec["type"]]), (key, default)
            assert not (spec["type"] == "integer" and isinstance(default, bool)), key


@pytest.mark.parametrize("stack", sorted(ARGS))
def test_pulumi_yaml_requires_exactly_what_the_config_code_requires(
        stack: str, aws_config: dict[str, Any], openstack_config: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Pulumi refuses to run without a key declared with no default: such a key must be one
    the code requires, and a key the code does without must have a default that it accepts
    (the CLI passes the declared default). The code reads no undeclared key of its project."""
    declared = _declared(stack)
    base = _base(stack, aws_config, openstack_config)
    project = programs.PROJECTS[stack]
    read: set[str] = set()
    real_get = pulumi.Config.get

    def spy(self: pulumi.Config, key: str, *args: Any, **kwargs: Any) -> Any:
        if self.name == project:
            read.add(key)
        return real_get(self, key, *args, **kwargs)

    monkeypatch.setattr(pulumi.Config, "get", spy)
    assert _problems(stack, base) == []
    assert read == set(declared), (read ^ set(declared))
    monkeypatch.undo()

    required, wrong = set(), []
    for key, spec in declared.items():
        values = {k: v for k, v in base.items() if k != key}
        if "default" in spec:
            values[key] = spec["default"]
            if problems := _problems(stack, values):
                wrong.append((key, problems))
        elif any(p.startswith(f"{key}:") for p in _problems(stack, values)):
            required.add(key)
    assert wrong == []  # a declared default the code refuses
    assert required == {k for k, spec in declared.items() if "default" not in spec}
