"""The openstack provider: ``pulumi_stacks/openstack_burst`` (network, instances, VPNaaS) plus
the private cloud's end of the VPN (``pulumi_stacks/private_peering``), through the Automation
API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from ..plan import Plan
from .pulumi_driver import ConfigInput
from .pulumi_provider import PulumiProvider


class OpenStackProvider(PulumiProvider):
    name = "openstack"
    burst_stack = "openstack_burst"

    def burst_config(self, plan: Plan, public_key: str, at: dt.datetime) -> dict[str, ConfigInput]:
        values = super().burst_config(plan, public_key, at)
        if plan.spec.region:
            values["openstack:region"] = plan.spec.region
            values["region"] = plan.spec.region
        return values

    @staticmethod
    def peer_addresses(outputs: Mapping[str, Any]) -> list[str]:
        return [str(a) for a in outputs["vpnPeerAddresses"] if a]
