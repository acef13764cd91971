"""``OpenStackBurst``: the capacity of one event on an OpenStack public cloud.

The same shape as :mod:`.aws_burst`: a network and subnet for the event (CIDR from config,
never overlapping the private side), a router (external gateway for the VPN), a security group
admitting only the private CIDRs (SSH) and the load balancer (application port), the instances
of every pool booted from the golden image onto volumes of an encrypted volume type (root and
data disk), and VPNaaS to the private cloud (IKE and IPsec policies, VPN service, endpoint
groups, one site connection).

The router does not set ``enable_snat``: Neutron's default policy makes
``external_gateway_info:enable_snat`` admin-only (``neutron/conf/policies/router.py``), so
even ``false`` is refused with 403 for a normal tenant. The router therefore keeps the cloud's
SNAT default; what keeps the hosts off the internet is the security group, whose egress admits
only the private CIDRs and DNS (TCP and UDP 53) to the burst subnet itself, where Neutron's
DHCP port answers DNS (the default rules are deleted).

Every host's gateway is the subnet's gateway (one subnet). ``excludedHosts`` leaves planned
hosts out, so `pulumi up` destroys exactly them; the others keep their zone, decided by their
place among all planned hosts.

Neutron tags are plain strings, so every tag is written ``key=value``; compute instances also
carry the tags as metadata (key to value), which the reaper reads the same way as AWS tags.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_openstack as openstack

from .. import catalog
from . import network, userdata
from .common import (
    BurstIdentity,
    PlannedHost,
    PoolArgs,
    StackConfigError,
    check_psk,
    cidr_problems,
    excluded_problems,
    planned_hosts,
    pool_problems,
)
from .tags import tag_strings

SSH_PORT = 22
DNS_PORT = 53
IKE = {"auth_algorithm": "sha256", "encryption_algorithm": "aes-256", "pfs": "group14"}


@dataclass(frozen=True)
class OpenStackBurstArgs:
    identity: BurstIdentity
    burst_cidr: str
    private_cidrs: tuple[str, ...]
    pools: tuple[PoolArgs, ...]
    image_id: str
    external_network_id: str
    ssh_public_key: str
    private_vpn_address: str
    gateway_private_address: str
    vpn_psk: pulumi.Input[str]
    lb_cidrs: tuple[str, ...]
    app_port: int = 8080
    ssh_user: str = "burst"
    root_volume_gb: int = 20
    volume_type: str = "encrypted"
    availability_zones: tuple[str, ...] = ()
    region: str | None = None
    os_distribution: str = "Debian"
    os_major_version: str = "12"
    interface: str = "ens3"
    excluded_hosts: tuple[str, ...] = ()

    def problems(self) -> list[str]:
        out = self.identity.problems()
        out += cidr_problems("burstCidr", self.burst_cidr, self.private_cidrs,
                             {"loadBalancerCidrs": self.lb_cidrs})
        out += pool_problems("openstack", self.pools)
        out += excluded_problems(self.identity.event, self.pools, self.excluded_hosts)
        if not self.lb_cidrs:
            out.append("loadBalancerCidrs: at least one load-balancer CIDR is needed")
        if not out:
            total = sum(p.count for p in self.pools)
            room = network.usable_hosts(self.burst_cidr, reserved=3)
            if total > room:
                out.append(f"burstCidr: {self.burst_cidr} has room for {room} hosts, "
                           f"the pools need {total}")
        for key, value in (("privateVpnAddress", self.private_vpn_address),
                           ("gatewayPrivateAddress", self.gateway_private_address)):
            try:
                network.parse_cidr(f"{value}/32")
            except ValueError:
                out.append(f"{key}: {value!r} is not an IPv4 address")
        if not self.ssh_public_key.startswith(("ssh-ed25519 ", "ssh-rsa ", "ecdsa-")):
            out.append("sshPublicKey: not an OpenSSH public key")
        if not self.volume_type:
            out.append("volumeType: an encrypted volume type is needed")
        if not 1 <= self.app_port <= 65535:
            out.append(f"appPort: {self.app_port} is not a TCP port")
        return out


class OpenStackBurst(pulumi.ComponentResource):
    def __init__(self, name: str, args: OpenStackBurstArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        problems = args.problems()
        if problems:
            raise StackConfigError("openstack_burst", problems)
        super().__init__("hybridburst:openstack:Burst", name, None, opts)
        self.args = args
        ident = args.identity
        tags = tag_strings(ident.tags())
        child = pulumi.ResourceOptions(parent=self)
        psk = pulumi.Output.secret(args.vpn_psk).apply(check_psk)
        prefix = f"{ident.event}-burst"

        self.network = openstack.networking.Network(
            f"{name}-net", name=prefix, admin_state_up=True, tags=tags, opts=child,
        )
        self.subnet = openstack.networking.Subnet(
            f"{name}-subnet", name=prefix, network_id=self.network.id, cidr=args.burst_cidr,
            ip_version=4, gateway_ip=network.router_address(args.burst_cidr), enable_dhcp=True,
            tags=tags, opts=child,
        )
        # No enable_snat: admin-only in Neutron's default policy (403 even for false).
        self.router = openstack.networking.Router(
            f"{name}-router", name=prefix, external_network_id=args.external_network_id,
            tags=tags, opts=child,
        )
        self.router_interface = openstack.networking.RouterInterface(
            f"{name}-router-if", router_id=self.router.id, subnet_id=self.subnet.id, opts=child,
        )

        self.security_group = openstack.networking.SecGroup(
            f"{name}-hosts", name=f"{prefix}-hosts", delete_default_rules=True,
            description=f"hybridburst {ident.event}: burst hosts", tags=tags, opts=child,
        )
        sg = self.security_group.id
        self.rules = [
            openstack.networking.SecGroupRule(
                f"{name}-ssh-{i}", security_group_id=sg, direction="ingress", ethertype="IPv4",
                protocol="tcp", port_range_min=SSH_PORT, port_range_max=SSH_PORT,
                remote_ip_prefix=cidr, description="SSH from the private cloud", opts=child,
            )
            for i, cidr in enumerate(args.private_cidrs)
        ] + [
            openstack.networking.SecGroupRule(
                f"{name}-app-{i}", security_group_id=sg, direction="ingress", ethertype="IPv4",
                protocol="tcp", port_range_min=args.app_port, port_range_max=args.app_port,
                remote_ip_prefix=cidr, description="application port from the load balancer",
                opts=child,
            )
            for i, cidr in enumerate(args.lb_cidrs)
        ] + [
            openstack.networking.SecGroupRule(
                f"{name}-to-private-{i}", security_group_id=sg, direction="egress",
                ethertype="IPv4", remote_ip_prefix=cidr,
                description="to the private cloud over the VPN", opts=child,
            )
            for i, cidr in enumerate(args.private_cidrs)
        ] + [
            openstack.networking.SecGroupRule(
                f"{name}-dns-{proto}", security_group_id=sg, direction="egress",
                ethertype="IPv4", protocol=proto, port_range_min=DNS_PORT,
                port_range_max=DNS_PORT, remote_ip_prefix=args.burst_cidr,
                description="DNS to the subnet's DHCP/DNS port", opts=child,
            )
            for proto in ("udp", "tcp")
        ]

        # VPNaaS to the private cloud.
        self.ike_policy = openstack.vpnaas.IkePolicy(
            f"{name}-ike", name=f"{prefix}-ike", ike_version="v2", **IKE, opts=child,
        )
        self.ipsec_policy = openstack.vpnaas.IpSecPolicy(
            f"{name}-ipsec", name=f"{prefix}-ipsec", transform_protocol="esp",
            encapsulation_mode="tunnel", **IKE, opts=child,
        )
        self.vpn_service = openstack.vpnaas.Service(
            f"{name}-vpn", name=f"{prefix}-vpn", router_id=self.router.id,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.router_interface]),
        )
        self.local_endpoints = openstack.vpnaas.EndpointGroup(
            f"{name}-local", name=f"{prefix}-local", type="subnet", endpoints=[self.subnet.id],
            opts=child,
        )
        self.peer_endpoints = openstack.vpnaas.EndpointGroup(
            f"{name}-peer", name=f"{prefix}-private", type="cidr",
            endpoints=list(args.private_cidrs), opts=child,
        )
        self.site_connection = openstack.vpnaas.SiteConnection(
            f"{name}-to-private", name=f"{prefix}-to-private",
            peer_address=args.private_vpn_address, peer_id=args.private_vpn_address, psk=psk,
            ikepolicy_id=self.ike_policy.id, ipsecpolicy_id=self.ipsec_policy.id,
            vpnservice_id=self.vpn_service.id, local_ep_group_id=self.local_endpoints.id,
            peer_ep_group_id=self.peer_endpoints.id, initiator="bi-directional",
            dpds=[{"action": "restart", "interval": 10, "timeout": 30}], opts=child,
        )

        # The instances of each pool, but not the excluded ones.
        self.instances: dict[str, list[openstack.compute.Instance]] = {
            p.name: [] for p in args.pools}
        self.host_records: list[tuple[PlannedHost, openstack.compute.Instance]] = []
        boot_opts = pulumi.ResourceOptions(
            parent=self, depends_on=[self.subnet, self.router_interface],
        )
        excluded = set(args.excluded_hosts)
        for host in planned_hosts(ident.event, args.pools):
            if host.name in excluded:
                continue
            instance = self._instance(host, boot_opts)
            self.instances[host.pool.name].append(instance)
            self.host_records.append((host, instance))

        self.outputs = self._outputs()
        self.register_outputs(self.outputs)

    def _instance(self, host: PlannedHost,
                  opts: pulumi.ResourceOptions) -> openstack.compute.Instance:
        """One host booted from the golden image onto encrypted volumes; its zone follows its
        place among all planned hosts."""
        args = self.args
        pool = host.pool
        pool_tags = args.identity.tags(pool.name)
        hardware = catalog.hardware("openstack", pool.instance_type)
        zones = args.availability_zones
        return openstack.compute.Instance(
            host.name, name=host.name, flavor_name=pool.instance_type,
            networks=[{"uuid": self.network.id}],
            security_groups=[self.security_group.name],
            block_devices=[
                {"uuid": args.image_id, "source_type": "image",
                 "destination_type": "volume", "volume_size": args.root_volume_gb,
                 "volume_type": args.volume_type, "boot_index": 0,
                 "delete_on_termination": True},
                {"source_type": "blank", "destination_type": "volume",
                 "volume_size": max(1, hardware.disk_mb // 1024),
                 "volume_type": args.volume_type, "boot_index": -1,
                 "delete_on_termination": True},
            ],
            user_data=userdata.render(host.name, args.ssh_user, args.ssh_public_key),
            config_drive=True,
            availability_zone=zones[host.index % len(zones)] if zones else None,
            metadata=pool_tags, tags=tag_strings(pool_tags), opts=opts,
        )

    def _outputs(self) -> dict[str, Any]:
        args = self.args
        gateway = network.router_address(args.burst_cidr)
        hosts = [
            pulumi.Output.all(instance.id, instance.access_ip_v4).apply(
                lambda v, h=host: {
                    "name": h.name, "pool": h.pool.name, "instanceType": h.pool.instance_type,
                    "release": h.pool.release, "id": v[0], "address": v[1],
                    "subnetCidr": args.burst_cidr, "gateway": gateway,
                }
            )
            for host, instance in self.host_records
        ]
        return {
            "provider": "openstack",
            "event": args.identity.event,
            "team": args.identity.team,
            "burstExpiry": args.identity.burst_expiry,
            "region": args.region,
            "burstCidr": args.burst_cidr,
            "privateCidrs": list(args.private_cidrs),
            "gatewayBurstAddress": gateway,
            "gatewayPrivateAddress": args.gateway_private_address,
            "sshUser": args.ssh_user,
            "interface": args.interface,
            "os": {"distribution": args.os_distribution, "majorVersion": args.os_major_version},
            "networkId": self.network.id,
            "vpnPeerAddresses": [self.router.external_fixed_ips.apply(
                lambda ips: ips[0].ip_address if ips else None)],
            "excludedHosts": sorted(args.excluded_hosts),
            "hosts": pulumi.Output.all(*hosts) if hosts else [],
        }
