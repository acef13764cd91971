"""``PrivatePeering``: the private cloud's (OpenStack) end of the path to a burst.

VPNaaS on the private router: IKE and IPsec policies, a VPN service, endpoint groups (the
private subnets; the burst CIDR) and one site connection per remote tunnel endpoint (two for
AWS, whose VPN connection always has two tunnels; one for an OpenStack burst). Plus
security-group rules on the private services that admit the burst CIDR to exactly the ports the
burst hosts need, nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_openstack as openstack

from . import network
from .common import BurstIdentity, StackConfigError, check_psk

IKE = {"auth_algorithm": "sha256", "encryption_algorithm": "aes-256", "pfs": "group14"}


@dataclass(frozen=True)
class ServiceRule:
    """Admit the burst CIDR to ``protocol`` ports ``low..high`` of one security group."""

    security_group_id: str
    protocol: str
    port_min: int
    port_max: int


@dataclass(frozen=True)
class PrivatePeeringArgs:
    identity: BurstIdentity
    router_id: str
    local_subnet_ids: tuple[str, ...]
    burst_cidr: str
    peer_addresses: Sequence[pulumi.Input[str]]
    vpn_psk: pulumi.Input[str]
    service_rules: tuple[ServiceRule, ...]
    mtu: int = 1400

    def problems(self) -> list[str]:
        out = self.identity.problems()
        try:
            net = network.parse_cidr(self.burst_cidr)
            if net.prefixlen == 0:
                out.append("burstCidr: 0.0.0.0/0 would admit the whole internet")
        except ValueError as exc:
            out.append(f"burstCidr: {exc}")
        if not self.local_subnet_ids:
            out.append("localSubnetIds: at least one private subnet is needed")
        if not self.peer_addresses:
            out.append("peerAddresses: at least one tunnel address of the burst side is needed")
        for i, address in enumerate(self.peer_addresses):
            if isinstance(address, str):
                try:
                    network.parse_cidr(f"{address}/32")
                except ValueError:
                    out.append(f"peerAddresses[{i}]: {address!r} is not an IPv4 address")
        for i, rule in enumerate(self.service_rules):
            if not 1 <= rule.port_min <= rule.port_max <= 65535:
                out.append(f"serviceRules[{i}]: port range {rule.port_min}-{rule.port_max}")
        if not 576 <= self.mtu <= 9000:
            out.append(f"mtu: {self.mtu} is outside 576..9000")
        return out


class PrivatePeering(pulumi.ComponentResource):
    def __init__(self, name: str, args: PrivatePeeringArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        problems = args.problems()
        if problems:
            raise StackConfigError("private_peering", problems)
        super().__init__("hybridburst:openstack:PrivatePeering", name, None, opts)
        self.args = args
        event = args.identity.event
        child = pulumi.ResourceOptions(parent=self)
        psk = pulumi.Output.secret(args.vpn_psk).apply(check_psk)
        prefix = f"{event}-burst"

        self.ike_policy = openstack.vpnaas.IkePolicy(
            f"{name}-ike", name=f"{prefix}-ike", ike_version="v2", **IKE, opts=child,
        )
        self.ipsec_policy = openstack.vpnaas.IpSecPolicy(
            f"{name}-ipsec", name=f"{prefix}-ipsec", transform_protocol="esp",
            encapsulation_mode="tunnel", **IKE, opts=child,
        )
        self.vpn_service = openstack.vpnaas.Service(
            f"{name}-vpn", name=f"{prefix}-vpn", router_id=args.router_id,
            description=f"hybridburst {event}: VPN to the burst capacity", opts=child,
        )
        self.local_endpoints = openstack.vpnaas.EndpointGroup(
            f"{name}-local", name=f"{prefix}-private", type="subnet",
            endpoints=list(args.local_subnet_ids), opts=child,
        )
        self.peer_endpoints = openstack.vpnaas.EndpointGroup(
            f"{name}-peer", name=f"{prefix}-burst", type="cidr", endpoints=[args.burst_cidr],
            opts=child,
        )
        self.site_connections = [
            openstack.vpnaas.SiteConnection(
                f"{name}-tunnel-{i}", name=f"{prefix}-tunnel-{i}", peer_address=address,
                peer_id=address, psk=psk, ikepolicy_id=self.ike_policy.id,
                ipsecpolicy_id=self.ipsec_policy.id, vpnservice_id=self.vpn_service.id,
                local_ep_group_id=self.local_endpoints.id,
                peer_ep_group_id=self.peer_endpoints.id, initiator="bi-directional",
                mtu=args.mtu, dpds=[{"action": "restart", "interval": 10, "timeout": 30}],
                opts=child,
            )
            for i, address in enumerate(args.peer_addresses, start=1)
        ]
        self.service_rules = [
            openstack.networking.SecGroupRule(
                f"{name}-service-{i}", security_group_id=rule.security_group_id,
                direction="ingress", ethertype="IPv4", protocol=rule.protocol,
                port_range_min=rule.port_min, port_range_max=rule.port_max,
                remote_ip_prefix=args.burst_cidr,
                description=f"hybridburst {event}: burst hosts to this service", opts=child,
            )
            for i, rule in enumerate(args.service_rules)
        ]
        self.outputs: dict[str, Any] = {
            "event": event,
            "burstCidr": args.burst_cidr,
            "vpnServiceId": self.vpn_service.id,
            "vpnPublicAddress": self.vpn_service.external_v4_ip,
            "siteConnectionIds": [c.id for c in self.site_connections],
        }
        self.register_outputs(self.outputs)
