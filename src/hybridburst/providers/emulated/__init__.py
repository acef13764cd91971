"""The aws and openstack providers on the emulated cloud (``emulated: true`` in the spec).

The providers are the real ones (:class:`AwsProvider`, :class:`OpenStackProvider`): the same
stack configuration, the same Automation API calls, manifest from stack outputs, host keys
from the console, quarantine by a stack update, destroy, reap. What is emulated, and labelled
EMULATED wherever it prints: the ``pulumi`` CLI (:mod:`.engine`, the real programs under
Pulumi's mocks), the instances (:mod:`.cloud`, local-cloud hosts), the console API (the
instance's terminal), and the site configuration an operator would set with
``pulumi config set`` (derived here from the local private cloud).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ...errors import HybridburstError
from ...spec import Fault
from ...workspace import EventDir, state_root
from ..aws import AwsProvider
from ..consoles import EmulatedConsoles
from ..local import topology
from ..local.privateside import PrivateSide
from ..openstack import OpenStackProvider
from ..pulumi_provider import PulumiProvider, host_key_timeout_from_env
from .cloud import EmulatedCloud
from .engine import EmulatedPulumi

#: An address of the documentation range (RFC 5737): the private cloud's VPN endpoint as the
#: burst stack sees it. Nothing ever connects to it.
VPN_ENDPOINT = "198.51.100.10"


def emulated_range(topo: topology.Topology) -> str:
    """The upper half of the local burst network: the emulated VPC (local events' hosts are
    allocated from the bottom)."""
    return str(list(topo.burst_network.subnets(prefixlen_diff=1))[1])


def site_config(provider: str, topo: topology.Topology, region: str | None,
                image_tag: str) -> dict[str, Any]:
    """What an operator sets once per site with `pulumi config set`, derived from the local
    private cloud."""
    lb = topo.private_hosts[topo.host_in("lb")]
    common: dict[str, Any] = {
        "privateCidrs": [topo.private_cidr],
        "gatewayPrivateAddress": topo.gateway_private,
        "loadBalancerCidrs": [f"{lb}/32"],
        "appPort": "8080",
        "sshUser": "admin",
        "interface": "eth0",
        "osDistribution": "Debian",
        "osMajorVersion": "12",
    }
    digest = hashlib.sha256(image_tag.encode()).hexdigest()
    if provider == "aws":
        zone = region or "us-east-1"
        return {**common, "vpcCidr": emulated_range(topo),
                "availabilityZones": [f"{zone}a", f"{zone}b"],
                "imageId": f"ami-{digest[:17]}",
                "customerGatewayAddress": VPN_ENDPOINT}
    return {**common, "burstCidr": emulated_range(topo), "availabilityZones": ["nova"],
            "imageId": f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-8{digest[17:20]}-"
                       f"{digest[20:32]}",
            "externalNetworkId": "00000000-0000-4000-8000-00000000e0e0",
            "privateVpnAddress": VPN_ENDPOINT}


def peering_config(topo: topology.Topology) -> dict[str, Any]:
    return {
        "routerId": "emulated-private-router",
        "localSubnetIds": ["emulated-private-subnet"],
        "serviceRules": [f"emulated-private-services:tcp:{s.port}" for s in topo.services],
    }


class _Emulated(PulumiProvider):
    cloud: EmulatedCloud

    def provision(self, plan: Any, event_dir: EventDir, journal: Any,
                  images: Mapping[str, str] | None = None) -> dict[str, Any]:
        if images:
            # The stack programs take one imageId per site; a per-pool image would go through
            # the stack config (an AMI / Glance id per pool). Not wired yet: say so.
            raise HybridburstError(f"{self.label}: launching pools from baked images is not "
                                   "supported yet (local provider only)")
        doc = super().provision(plan, event_dir, journal)
        # The subnet routers live on the local gateway: a restarted gateway lost them.
        for gateway in sorted({h["gateway"] for h in doc["hosts"] if h.get("gateway")}):
            self.cloud.ensure_router(gateway)
        return doc

    def deprovision(self, event: str, event_dir: EventDir, journal: Any) -> None:
        super().deprovision(event, event_dir, journal)
        if self.cloud.private.remove_if_unused():
            self.say("no event left on the local cloud: private side and networks removed")


class EmulatedAws(_Emulated, AwsProvider):
    pass


class EmulatedOpenStack(_Emulated, OpenStackProvider):
    pass


def emulated_provider(name: str, inventory: Path, *, region: str | None,
                      faults: Iterable[Fault] = (), log: Callable[[str], None] = print
                      ) -> PulumiProvider:
    topo = topology.load(inventory)
    private = PrivateSide(topo, log)
    root = state_root()
    home = root / "emulated-cloud" / name
    cloud = EmulatedCloud(name, private, home, root, {f.host: f for f in faults}, log)
    engine = EmulatedPulumi(home / "stacks", cloud)
    from ..local.image import tag

    cls = EmulatedAws if name == "aws" else EmulatedOpenStack
    provider = cls(
        command_factory=lambda: engine,
        site_config=site_config(name, topo, region, tag()),
        peering_config=peering_config(topo),
        consoles=EmulatedConsoles(cloud.console),
        host_key_timeout=host_key_timeout_from_env(60.0),
        host_key_interval=1.0,
        private_ssh=private.ssh_vars(),
        label=f"EMULATED {name}",
        log=log,
    )
    provider.cloud = cloud
    provider.emulated = True  # type: ignore[attr-defined]
    return provider


__all__ = ["emulated_provider", "emulated_range"]
