"""The aws provider: ``pulumi_stacks/aws_burst`` (VPC, instances, VPN) plus the private
cloud's end of the VPN (``pulumi_stacks/private_peering``), through the Automation API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from ..plan import Plan
from .consoles import AwsConsoles, Consoles
from .pulumi_driver import ConfigInput
from .pulumi_provider import PulumiProvider


class AwsProvider(PulumiProvider):
    name = "aws"
    burst_stack = "aws_burst"

    def burst_config(self, plan: Plan, public_key: str, at: dt.datetime,
                     current: Mapping[str, str] | None = None) -> dict[str, ConfigInput]:
        values = super().burst_config(plan, public_key, at, current)
        if plan.spec.region:
            values["aws:region"] = plan.spec.region
            values["region"] = plan.spec.region
        return values

    def consoles(self, plan_region: str | None) -> Consoles:
        return AwsConsoles(plan_region or self.env_vars.get("AWS_REGION"))

    @staticmethod
    def peer_addresses(outputs: Mapping[str, Any]) -> list[str]:
        """Both tunnels of the AWS VPN connection: one site connection each."""
        return [str(outputs["vpnTunnel1Address"]), str(outputs["vpnTunnel2Address"])]
