"""The aws provider: ``pulumi_stacks/aws_burst`` (VPC, instances, VPN) plus the private
cloud's end of the VPN (``pulumi_stacks/private_peering``), through the Automation API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import HybridburstError
from ..infra import tags
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

    def find_pending(self, event: str, region: str | None
                     ) -> Callable[[str, str, str], str | None] | None:
        """An instance an interrupted `up` was creating: found by its tags (event and Name,
        the host), so the next `up` imports it instead of launching a second one. Other kinds
        are cleared (the reaper finds a tagged leftover by its event)."""

        def find(urn: str, typ: str, name: str) -> str | None:
            if typ != "aws:ec2/instance:Instance":
                return None
            import boto3

            ec2 = boto3.client("ec2", region_name=region or self.env_vars.get("AWS_REGION"))
            reply = ec2.describe_instances(Filters=[
                {"Name": f"tag:{tags.EVENT}", "Values": [event]},
                {"Name": "tag:Name", "Values": [name]},
                {"Name": "instance-state-name",
                 "Values": ["pending", "running", "stopping", "stopped"]},
            ])
            ids = [i["InstanceId"] for r in reply.get("Reservations", [])
                   for i in r.get("Instances", [])]
            if len(ids) > 1:  # never guess: the operator decides (the error says how)
                raise HybridburstError(f"{len(ids)} instances are tagged as {name} of {event}: "
                                       f"{', '.join(sorted(ids))}")
            return ids[0] if ids else None

        return find

    @staticmethod
    def peer_addresses(outputs: Mapping[str, Any]) -> list[str]:
        """Both tunnels of the AWS VPN connection: one site connection each."""
        return [str(outputs["vpnTunnel1Address"]), str(outputs["vpnTunnel2Address"])]
