"""``AwsBurst``: the capacity of one event in AWS and the VPN back to the private cloud.

Shape: one VPC (CIDR from config, never overlapping the private side), one private subnet per
availability zone, one route table whose routes to the private cloud are propagated from the
VPN gateway, a security group that admits only the private CIDRs (SSH) and the load balancer
(application port), one launch template per pool (IMDSv2 required, every volume encrypted,
the golden image, the data disk of the instance type), the instances of every pool, and a
site-to-site VPN: customer gateway (the private cloud's VPN endpoint), virtual private gateway,
VPN connection with static routes to each private CIDR.

Instances, not auto-scaling groups: every host has the name the plan gives it, is validated,
authorized and journalled one by one, and must lose its access before it is destroyed. An ASG
replaces and scales in hosts on its own (new address, never validated, destroyed while still
authorized), which breaks those rules; a burst is a fixed, planned fleet for a few days.

A virtual private gateway, not a transit gateway: one VPC per event, one VPN; a transit
gateway pays off only when several VPCs share the path.

How an instance is launched, read against the Terraform AWS provider that pulumi-aws bridges
(``internal/service/ec2/ec2_instance.go``, ``buildInstanceOpts``): an instance that sets
``associate_public_ip_address`` (even ``false``) gets a network interface in its RunInstances
request, and a network interface together with the launch template's security groups is
refused by EC2 (``InvalidParameterCombination``). So the instance sets only its subnet, its
user data, its instance type and tags; the launch template is the one home of the security
group, the metadata options (IMDSv2) and the block devices, and "no public address" comes
from the subnet (``map_public_ip_on_launch=False``). The instance pins the template version it
was created from (never ``$Default``) and ignores later template versions: a template change
never replaces a running, authorized host; new hosts get the new version.

Each host's gateway is the VPC router of its own subnet (the subnet's first address): the next
hop a host is given must be on its link, and a host in the second zone is not on the first
subnet. The VPC route table (propagated from the VPN gateway) does the rest.

``excludedHosts`` leaves planned hosts out of the program, so `pulumi up` destroys exactly
them (quarantined or failed hosts); every other host keeps its subnet, decided by its place
among all planned hosts, and so its inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

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

SSH_PORT = 22


@dataclass(frozen=True)
class AwsBurstArgs:
    identity: BurstIdentity
    vpc_cidr: str
    private_cidrs: tuple[str, ...]
    availability_zones: tuple[str, ...]
    pools: tuple[PoolArgs, ...]
    image_id: str
    ssh_public_key: str
    customer_gateway_address: str
    gateway_private_address: str
    vpn_psk: pulumi.Input[str]
    lb_cidrs: tuple[str, ...]
    app_port: int = 8080
    ssh_user: str = "burst"
    customer_gateway_bgp_asn: int = 65000
    root_volume_gb: int = 20
    region: str | None = None
    os_distribution: str = "Debian"
    os_major_version: str = "12"
    interface: str = "ens5"
    excluded_hosts: tuple[str, ...] = ()

    def problems(self) -> list[str]:
        out = self.identity.problems()
        out += cidr_problems("vpcCidr", self.vpc_cidr, self.private_cidrs,
                             {"loadBalancerCidrs": self.lb_cidrs})
        out += pool_problems("aws", self.pools)
        out += excluded_problems(self.identity.event, self.pools, self.excluded_hosts)
        if not self.lb_cidrs:
            out.append("loadBalancerCidrs: at least one load-balancer CIDR is needed")
        if not self.availability_zones:
            out.append("availabilityZones: at least one availability zone is needed")
        elif not out:
            try:
                subnets = network.split(self.vpc_cidr, len(self.availability_zones))
            except ValueError as exc:
                out.append(f"vpcCidr: {exc}")
            else:
                total = sum(p.count for p in self.pools)
                per_subnet = -(-total // len(subnets))
                room = network.usable_hosts(subnets[0])
                if per_subnet > room:
                    out.append(f"vpcCidr: {self.vpc_cidr} leaves {room} addresses per subnet, "
                               f"{per_subnet} hosts need one; choose a larger range")
        if not self.image_id.startswith("ami-"):
            out.append(f"imageId: {self.image_id!r} is not an AMI id (ami-...)")
        if not self.ssh_public_key.startswith(("ssh-ed25519 ", "ssh-rsa ", "ecdsa-")):
            out.append("sshPublicKey: not an OpenSSH public key")
        for key, value in (("customerGatewayAddress", self.customer_gateway_address),
                           ("gatewayPrivateAddress", self.gateway_private_address)):
            try:
                network.parse_cidr(f"{value}/32")
            except ValueError:
                out.append(f"{key}: {value!r} is not an IPv4 address")
        if not 1 <= self.app_port <= 65535:
            out.append(f"appPort: {self.app_port} is not a TCP port")
        if not 8 <= self.root_volume_gb <= 1024:
            out.append(f"rootVolumeGb: {self.root_volume_gb} is outside 8..1024")
        return out


class AwsBurst(pulumi.ComponentResource):
    """The whole AWS side of one event. Refuses unusable arguments before creating anything."""

    def __init__(self, name: str, args: AwsBurstArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        problems = args.problems()
        if problems:
            raise StackConfigError("aws_burst", problems)
        super().__init__("hybridburst:aws:Burst", name, None, opts)
        self.args = args
        ident = args.identity
        tags = ident.tags()
        child = pulumi.ResourceOptions(parent=self)
        psk = pulumi.Output.secret(args.vpn_psk).apply(check_psk)

        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc", cidr_block=args.vpc_cidr, enable_dns_support=True,
            enable_dns_hostnames=True, tags=tags, opts=child,
        )
        self.subnet_cidrs = network.split(args.vpc_cidr, len(args.availability_zones))
        self.subnets = [
            aws.ec2.Subnet(
                f"{name}-subnet-{i}", vpc_id=self.vpc.id, cidr_block=cidr, availability_zone=az,
                map_public_ip_on_launch=False, tags=tags, opts=child,
            )
            for i, (az, cidr) in enumerate(zip(args.availability_zones, self.subnet_cidrs,
                                               strict=True))
        ]
        self.route_table = aws.ec2.RouteTable(
            f"{name}-routes", vpc_id=self.vpc.id, tags=tags, opts=child,
        )
        self.route_table_associations = [
            aws.ec2.RouteTableAssociation(
                f"{name}-routes-{i}", route_table_id=self.route_table.id, subnet_id=subnet.id,
                opts=child,
            )
            for i, subnet in enumerate(self.subnets)
        ]

        # The site-to-site VPN to the private cloud.
        self.vpn_gateway = aws.ec2.VpnGateway(
            f"{name}-vgw", vpc_id=self.vpc.id, tags=tags, opts=child,
        )
        # EC2 answers a second request with the same address, ASN and type with the existing
        # customer gateway: two events would share one (and the first `down` would take it
        # from the other). A device name per event makes each event's its own.
        self.customer_gateway = aws.ec2.CustomerGateway(
            f"{name}-cgw", bgp_asn=str(args.customer_gateway_bgp_asn),
            ip_address=args.customer_gateway_address, type="ipsec.1",
            device_name=f"hybridburst-{ident.event}", tags=tags, opts=child,
        )
        self.vpn = aws.ec2.VpnConnection(
            f"{name}-vpn", customer_gateway_id=self.customer_gateway.id,
            vpn_gateway_id=self.vpn_gateway.id, type="ipsec.1", static_routes_only=True,
            tunnel1_preshared_key=psk, tunnel2_preshared_key=psk,
            tunnel1_ike_versions=["ikev2"], tunnel2_ike_versions=["ikev2"],
            tunnel1_startup_action="start", tunnel2_startup_action="start",
            tags=tags, opts=child,
        )
        self.vpn_routes = [
            aws.ec2.VpnConnectionRoute(
                f"{name}-vpn-route-{i}", vpn_connection_id=self.vpn.id,
                destination_cidr_block=cidr, opts=child,
            )
            for i, cidr in enumerate(args.private_cidrs)
        ]
        self.route_propagation = aws.ec2.VpnGatewayRoutePropagation(
            f"{name}-vgw-propagation", vpn_gateway_id=self.vpn_gateway.id,
            route_table_id=self.route_table.id, opts=child,
        )

        # Who may reach the hosts: the private cloud (SSH) and the load balancer (the app).
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-hosts", vpc_id=self.vpc.id,
            description=f"hybridburst {ident.event}: burst hosts", tags=tags, opts=child,
        )
        sg = self.security_group.id
        self.ingress_rules = [
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-ssh-{i}", security_group_id=sg, ip_protocol="tcp", from_port=SSH_PORT,
                to_port=SSH_PORT, cidr_ipv4=cidr, description="SSH from the private cloud",
                tags=tags, opts=child,
            )
            for i, cidr in enumerate(args.private_cidrs)
        ] + [
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-app-{i}", security_group_id=sg, ip_protocol="tcp",
                from_port=args.app_port, to_port=args.app_port, cidr_ipv4=cidr,
                description="application port from the load balancer", tags=tags, opts=child,
            )
            for i, cidr in enumerate(args.lb_cidrs)
        ]
        self.egress_rules = [
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-to-private-{i}", security_group_id=sg, ip_protocol="-1", cidr_ipv4=cidr,
                description="to the private cloud (mirrors, services) over the VPN",
                tags=tags, opts=child,
            )
            for i, cidr in enumerate(args.private_cidrs)
        ]

        # One launch template per pool: the one home of the security group, IMDSv2 and the
        # (encrypted) volumes. The instances of each pool, but not the excluded ones.
        self.launch_templates: dict[str, aws.ec2.LaunchTemplate] = {}
        self.instances: dict[str, list[aws.ec2.Instance]] = {p.name: [] for p in args.pools}
        self.host_records: list[tuple[PlannedHost, int, aws.ec2.Instance]] = []
        for pool in args.pools:
            self.launch_templates[pool.name] = self._launch_template(name, pool, sg, child)
        excluded = set(args.excluded_hosts)
        # Pin the version an instance is created from, and keep it: a later template version
        # (a new image, say) must not replace hosts that are validated and authorized.
        instance_opts = pulumi.ResourceOptions(parent=self, ignore_changes=["launchTemplate"])
        for host in planned_hosts(ident.event, args.pools):
            if host.name in excluded:
                continue
            lt = self.launch_templates[host.pool.name]
            pool_tags = ident.tags(host.pool.name)
            # The subnet follows the host's place among ALL planned hosts.
            subnet_index = host.index % len(self.subnets)
            instance = aws.ec2.Instance(
                host.name,
                launch_template={"id": lt.id, "version": lt.latest_version.apply(str)},
                instance_type=host.pool.instance_type,
                subnet_id=self.subnets[subnet_index].id,
                user_data=userdata.render(host.name, args.ssh_user, args.ssh_public_key),
                # Name: the host, so an instance an interrupted `up` created can be found
                # (and imported into the stack) by its tags.
                volume_tags=pool_tags, tags={**pool_tags, "Name": host.name},
                opts=instance_opts,
            )
            self.instances[host.pool.name].append(instance)
            self.host_records.append((host, subnet_index, instance))

        self.outputs = self._outputs()
        self.register_outputs(self.outputs)

    def _launch_template(self, name: str, pool: PoolArgs, sg: pulumi.Output[str],
                         opts: pulumi.ResourceOptions) -> aws.ec2.LaunchTemplate:
        """IMDSv2 required, the security group, the encrypted root (``/dev/xvda``, the root
        device of Debian's AMIs) and data volumes, and tags for what it launches."""
        ident = self.args.identity
        pool_tags = ident.tags(pool.name)
        data_gb = max(1, catalog.hardware("aws", pool.instance_type).disk_mb // 1024)
        return aws.ec2.LaunchTemplate(
            f"{name}-{pool.name}",
            description=f"hybridburst {ident.event} pool {pool.name}",
            image_id=self.args.image_id, instance_type=pool.instance_type,
            vpc_security_group_ids=[sg], update_default_version=True,
            metadata_options={
                "http_endpoint": "enabled", "http_tokens": "required",
                "http_put_response_hop_limit": 1,
            },
            block_device_mappings=[
                {"device_name": "/dev/xvda", "ebs": {
                    "volume_size": self.args.root_volume_gb, "volume_type": "gp3",
                    "encrypted": "true", "delete_on_termination": "true"}},
                {"device_name": "/dev/sdf", "ebs": {
                    "volume_size": data_gb, "volume_type": "gp3",
                    "encrypted": "true", "delete_on_termination": "true"}},
            ],
            tag_specifications=[
                {"resource_type": kind, "tags": pool_tags}
                for kind in ("instance", "volume", "network-interface")
            ],
            tags=pool_tags, opts=opts,
        )

    def _outputs(self) -> dict[str, Any]:
        args = self.args
        hosts = [
            pulumi.Output.all(instance.id, instance.private_ip, instance.availability_zone).apply(
                lambda v, h=host, c=self.subnet_cidrs[i]: {
                    "name": h.name, "pool": h.pool.name, "instanceType": h.pool.instance_type,
                    "release": h.pool.release, "id": v[0], "address": v[1], "zone": v[2],
                    "subnetCidr": c, "gateway": network.router_address(c),
                }
            )
            for host, i, instance in self.host_records
        ]
        return {
            "provider": "aws",
            "event": args.identity.event,
            "team": args.identity.team,
            "burstExpiry": args.identity.burst_expiry,
            "region": args.region,
            "burstCidr": args.vpc_cidr,
            "privateCidrs": list(args.private_cidrs),
            # Each host's own gateway is in `hosts`; this one (the first subnet's) is kept
            # for readers of older manifests.
            "gatewayBurstAddress": network.router_address(self.subnet_cidrs[0]),
            "gatewayPrivateAddress": args.gateway_private_address,
            "sshUser": args.ssh_user,
            "interface": args.interface,
            "os": {"distribution": args.os_distribution, "majorVersion": args.os_major_version},
            "vpcId": self.vpc.id,
            "vpnConnectionId": self.vpn.id,
            "vpnTunnel1Address": self.vpn.tunnel1_address,
            "vpnTunnel2Address": self.vpn.tunnel2_address,
            "excludedHosts": sorted(args.excluded_hosts),
            "hosts": pulumi.Output.all(*hosts) if hosts else [],
        }
