"""The openstack provider: ``pulumi_stacks/openstack_burst`` (network, instances, VPNaaS) plus
the private cloud's end of the VPN (``pulumi_stacks/private_peering``), through the Automation
API."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import HybridburstError
from ..infra import tags
from ..plan import Plan
from .consoles import Consoles, OpenStackConsoles
from .pulumi_driver import ConfigInput
from .pulumi_provider import PulumiProvider


class OpenStackProvider(PulumiProvider):
    name = "openstack"
    burst_stack = "openstack_burst"

    def burst_config(self, plan: Plan, public_key: str, at: dt.datetime,
                     current: Mapping[str, str] | None = None) -> dict[str, ConfigInput]:
        values = super().burst_config(plan, public_key, at, current)
        if plan.spec.region:
            values["openstack:region"] = plan.spec.region
            values["region"] = plan.spec.region
        return values

    def consoles(self, plan_region: str | None) -> Consoles:
        return OpenStackConsoles(cloud=os.environ.get("OS_CLOUD"), region=plan_region)

    def find_pending(self, event: str, region: str | None
                     ) -> Callable[[str, str, str], str | None] | None:
        """A server an interrupted `up` was creating: found by its name (the host) and the
        event in its metadata, so the next `up` imports it instead of booting a second one."""

        def find(urn: str, typ: str, name: str) -> str | None:
            if typ != "openstack:compute/instance:Instance":
                return None
            conn = OpenStackConsoles(cloud=os.environ.get("OS_CLOUD"), region=region)
            servers = [srv for srv in conn.connection().compute.servers(name=f"^{name}$")
                       if (getattr(srv, "metadata", None) or {}).get(tags.EVENT) == event]
            if len(servers) > 1:
                raise HybridburstError(f"{len(servers)} servers are named {name} in {event}: "
                                       f"{', '.join(sorted(str(x.id) for x in servers))}")
            return str(servers[0].id) if servers else None

        return find

    @staticmethod
    def peer_addresses(outputs: Mapping[str, Any]) -> list[str]:
        return [str(a) for a in outputs["vpnPeerAddresses"] if a]
