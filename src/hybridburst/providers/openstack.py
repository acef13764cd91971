"""The openstack provider: ``pulumi_stacks/openstack_burst`` (network, instances, VPNaaS) plus
the private cloud's end of the VPN (``pulumi_stacks/private_peering``), through the Automation
API."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from typing import Any

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

    @staticmethod
    def peer_addresses(outputs: Mapping[str, Any]) -> list[str]:
        return [str(a) for a in outputs["vpnPeerAddresses"] if a]
