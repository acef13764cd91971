"""Stack configuration to component arguments, with every problem named at once.

The programs under ``pulumi_stacks/`` call these; so do the tests. A missing required key or a
value of the wrong shape becomes one :class:`StackConfigError` naming each key and what to do,
before any resource is registered.
"""

from __future__ import annotations

import json
import re

import pulumi

from .aws_burst import AwsBurstArgs
from .common import BurstIdentity, PoolArgs, StackConfigError
from .openstack_burst import OpenStackBurstArgs
from .private_peering import PrivatePeeringArgs, ServiceRule

_POOL = re.compile(
    r"^(?P<name>[^:]+):(?P<count>[0-9]+):(?P<type>[^:]+)(?::(?P<release>.+))?$"
)
_RULE = re.compile(r"^(?P<sg>[^:]+):(?P<proto>tcp|udp):(?P<low>[0-9]+)(?:-(?P<high>[0-9]+))?$")


class ConfigReader:
    """``pulumi.Config`` that collects problems instead of failing at the first."""

    def __init__(self, stack: str, config: pulumi.Config | None = None) -> None:
        self.stack = stack
        self.config = config or pulumi.Config()
        self.problems: list[str] = []

    def _missing(self, key: str, example: str) -> None:
        self.problems.append(
            f"{key}: missing required value; set it with `pulumi config set {key} {example}`"
        )

    def string(self, key: str, example: str, default: str | None = None) -> str:
        value = self.config.get(key)
        if value is None or value == "":
            if default is not None:
                return default
            self._missing(key, example)
            return ""
        return value

    def optional(self, key: str) -> str | None:
        return self.config.get(key) or None

    def integer(self, key: str, default: int) -> int:
        value = self.config.get(key)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            self.problems.append(f"{key}: {value!r} is not an integer")
            return default

    def strings(self, key: str, example: str, required: bool = True,
                default: tuple[str, ...] = ()) -> tuple[str, ...]:
        raw = self.config.get(key)
        if raw is None or raw == "":
            if required and not default:
                self.problems.append(
                    f"{key}: missing required list; set it with "
                    f"`pulumi config set --path '{key}[0]' {example}`"
                )
            return default
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problems.append(f"{key}: must be a list of strings (got {raw!r})")
            return default
        return tuple(value)

    def secret(self, key: str, example: str) -> pulumi.Output[str]:
        if self.config.get(key) is None:
            self.problems.append(
                f"{key}: missing required secret; set it with `pulumi config set --secret {key} "
                f"{example}`"
            )
            return pulumi.Output.secret("")
        return self.config.require_secret(key)

    def identity(self) -> BurstIdentity:
        return BurstIdentity(
            event=self.string("event", "double11"),
            team=self.string("team", "storefront"),
            burst_expiry=self.string("burstExpiry", "2025-11-14T06:00:00Z"),
        )

    def pools(self) -> tuple[PoolArgs, ...]:
        pools = []
        for i, text in enumerate(self.strings("pools", "web:3:c6i.large:2025.11.1")):
            match = _POOL.match(text)
            if not match:
                self.problems.append(
                    f"pools[{i}]: {text!r} is not NAME:COUNT:INSTANCE_TYPE[:RELEASE]"
                )
                continue
            pools.append(PoolArgs(match["name"], int(match["count"]), match["type"],
                                  match["release"]))
        return tuple(pools)

    def done(self) -> None:
        if self.problems:
            raise StackConfigError(self.stack, self.problems)


def aws_burst_args(config: pulumi.Config | None = None) -> AwsBurstArgs:
    read = ConfigReader("aws_burst", config)
    aws_config = pulumi.Config("aws")
    region = read.optional("region") or aws_config.get("region")
    identity = read.identity()
    zones = read.strings("availabilityZones", "us-east-1a", required=False)
    if not zones:
        if region:
            zones = (f"{region}a", f"{region}b")
        else:
            read.problems.append(
                "availabilityZones: missing; set aws:region (zones default to <region>a and "
                "<region>b) or `pulumi config set --path 'availabilityZones[0]' us-east-1a`"
            )
    args = AwsBurstArgs(
        identity=identity,
        region=region,
        vpc_cidr=read.string("vpcCidr", "10.200.0.0/16"),
        private_cidrs=read.strings("privateCidrs", "10.0.0.0/12"),
        availability_zones=zones,
        pools=read.pools(),
        image_id=read.string("imageId", "ami-0123456789abcdef0"),
        ssh_public_key=read.string("sshPublicKey", '"$(cat ~/.ssh/id_ed25519.pub)"'),
        ssh_user=read.string("sshUser", "burst", default="burst"),
        customer_gateway_address=read.string("customerGatewayAddress", "198.51.100.10"),
        customer_gateway_bgp_asn=read.integer("customerGatewayBgpAsn", 65000),
        gateway_private_address=read.string("gatewayPrivateAddress", "10.0.0.1"),
        vpn_psk=read.secret("vpnPsk", "<8-64 characters>"),
        lb_cidrs=read.strings("loadBalancerCidrs", "10.0.10.0/24"),
        app_port=read.integer("appPort", 8080),
        root_volume_gb=read.integer("rootVolumeGb", 20),
        os_distribution=read.string("osDistribution", "Debian", default="Debian"),
        os_major_version=read.string("osMajorVersion", "12", default="12"),
        interface=read.string("interface", "ens5", default="ens5"),
        excluded_hosts=read.strings("excludedHosts", "double11-web-02", required=False),
    )
    read.done()
    return args


def openstack_burst_args(config: pulumi.Config | None = None) -> OpenStackBurstArgs:
    read = ConfigReader("openstack_burst", config)
    args = OpenStackBurstArgs(
        identity=read.identity(),
        region=read.optional("region") or pulumi.Config("openstack").get("region"),
        burst_cidr=read.string("burstCidr", "10.210.0.0/20"),
        private_cidrs=read.strings("privateCidrs", "10.0.0.0/12"),
        pools=read.pools(),
        image_id=read.string("imageId", "<glance image id>"),
        external_network_id=read.string("externalNetworkId", "<external network id>"),
        ssh_public_key=read.string("sshPublicKey", '"$(cat ~/.ssh/id_ed25519.pub)"'),
        ssh_user=read.string("sshUser", "burst", default="burst"),
        private_vpn_address=read.string("privateVpnAddress", "198.51.100.10"),
        gateway_private_address=read.string("gatewayPrivateAddress", "10.0.0.1"),
        vpn_psk=read.secret("vpnPsk", "<8-64 characters>"),
        lb_cidrs=read.strings("loadBalancerCidrs", "10.0.10.0/24"),
        app_port=read.integer("appPort", 8080),
        root_volume_gb=read.integer("rootVolumeGb", 20),
        volume_type=read.string("volumeType", "encrypted", default="encrypted"),
        availability_zones=read.strings("availabilityZones", "nova", required=False),
        os_distribution=read.string("osDistribution", "Debian", default="Debian"),
        os_major_version=read.string("osMajorVersion", "12", default="12"),
        interface=read.string("interface", "ens3", default="ens3"),
        excluded_hosts=read.strings("excludedHosts", "double11-web-02", required=False),
    )
    read.done()
    return args


def private_peering_args(config: pulumi.Config | None = None) -> PrivatePeeringArgs:
    read = ConfigReader("private_peering", config)
    rules = []
    for i, text in enumerate(read.strings("serviceRules", "<security-group-id>:tcp:443")):
        match = _RULE.match(text)
        if not match:
            read.problems.append(
                f"serviceRules[{i}]: {text!r} is not SECURITY_GROUP_ID:tcp|udp:PORT[-PORT]"
            )
            continue
        low = int(match["low"])
        rules.append(ServiceRule(match["sg"], match["proto"], low, int(match["high"] or low)))
    args = PrivatePeeringArgs(
        identity=read.identity(),
        router_id=read.string("routerId", "<private router id>"),
        local_subnet_ids=read.strings("localSubnetIds", "<private subnet id>"),
        burst_cidr=read.string("burstCidr", "10.200.0.0/16"),
        peer_addresses=read.strings("peerAddresses", "<tunnel 1 outside address>"),
        vpn_psk=read.secret("vpnPsk", "<the same key as the burst stack>"),
        service_rules=tuple(rules),
        mtu=read.integer("mtu", 1400),
    )
    read.done()
    return args

