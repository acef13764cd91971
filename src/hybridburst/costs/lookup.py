"""What of an event still exists in the cloud, found by its tags, for when no local state is left.

``hybridburst down EVENT`` on a machine without the event's state cannot say "nothing to give
back": the capacity may still run and bill. :func:`find_event_resources` asks the provider for
everything tagged ``hybridburst:event=EVENT`` (the kinds the reaper knows), and
:func:`leftover_report` says what still runs and how to remove it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ..errors import InputError
from . import reaper, reaper_openstack
from .access_book import FORCE_OPTION

PROVIDERS = ("aws", "openstack")
STACKS = {"aws": "aws_burst", "openstack": "openstack_burst"}
_SERVER_STATES = {"ACTIVE": "running", "SHUTOFF": "stopped", "SUSPENDED": "stopped",
                  "PAUSED": "stopped", "SHELVED": "stopped", "SHELVED_OFFLOADED": "stopped",
                  "BUILD": "pending", "REBUILD": "pending", "ERROR": "error",
                  "DELETED": "deleted", "SOFT_DELETED": "deleted"}


@dataclass(frozen=True)
class Found:
    """One resource of the event that still exists."""

    provider: str
    region: str | None
    kind: str  # the reaper's kinds: instance, launch-template, vpc, ... / server, network, ...
    id: str
    name: str
    state: str  # instances: running, stopped, pending, stopping, ...; others: theirs or "exists"
    tags: dict[str, str]

    @property
    def is_host(self) -> bool:
        return self.kind in ("instance", "server")

    def line(self) -> str:
        name = f" ({self.name})" if self.name and self.name != self.id else ""
        return f"{self.kind} {self.id}{name}: {self.state}"


def find_event_resources(
    event: str,
    provider: str,
    *,
    region: str | None = None,
    cloud: str | None = None,
    ec2: Any = None,
    conn: Any = None,
) -> list[Found]:
    """What tagged ``hybridburst:event=event`` still exists, hosts first (deletion order).

    aws: one region (``region``, else AWS_REGION / the AWS config), through ``ec2`` (a boto3
    EC2 client) or a new one. openstack: through ``conn`` (an openstacksdk Connection) or
    ``openstack.connect(cloud=cloud, region_name=region)``. Raises ``InputError`` for another
    provider or no AWS region, ``HybridburstError`` when openstacksdk is missing or the cloud
    refuses the listing (credentials, permissions).
    """
    if provider == "aws":
        if ec2 is None:
            region = region or _default_region()
            import boto3

            ec2 = boto3.client("ec2", region_name=region)
        else:
            region = region or ec2.meta.region_name
        return [_aws(r) for r in reaper.discover_checked(ec2, str(region), event=event)]
    if provider == "openstack":
        if conn is None:
            conn = reaper_openstack.connect(cloud, region)
        label = cloud or region or "openstack"
        return [_openstack(r, region)
                for r in reaper_openstack.discover_checked(conn, label, event=event)]
    raise InputError("down", None, f"cannot look resources up by tag on provider {provider!r}; "
                                   f"known: {', '.join(PROVIDERS)}")


def _default_region() -> str:
    import boto3

    region = os.environ.get("AWS_REGION") or boto3.session.Session().region_name
    if not region:
        raise InputError("down", None, "no AWS region to look in: pass a region or set AWS_REGION")
    return region


def _aws(res: reaper.Resource) -> Found:
    raw = res.raw
    state = raw.get("State")
    if isinstance(state, dict):  # instances: {"Code": 16, "Name": "running"}
        state = state.get("Name")
    name = res.tags.get("Name") or raw.get("LaunchTemplateName") or raw.get("GroupName") or ""
    return Found("aws", res.region, res.kind, res.id, str(name), str(state or "exists"), res.tags)


def _openstack(res: reaper.Resource, region: str | None) -> Found:
    raw = res.raw
    if res.kind == "router-interface":
        raw = raw["port"]
    status = str(reaper_openstack._attr(raw, "status") or "")
    state = (_SERVER_STATES.get(status.upper(), status.lower()) if res.kind == "server"
             else status.lower())
    name = str(reaper_openstack._attr(raw, "name") or "")
    return Found("openstack", region, res.kind, res.id, name, state or "exists", res.tags)


def leftover_report(event: str, provider: str, found: list[Found], *,
                    region: str | None = None, cloud: str | None = None) -> list[str]:
    """Lines for the operator: what still exists and the commands that remove it.
    Empty when nothing is found."""
    if not found:
        return []
    hosts = [f for f in found if f.is_host]
    where = " ".join(x for x in (provider, cloud, region or found[0].region) if x)
    lines = [f"{event}: no local state here, but {len(found)} resource(s) tagged "
             f"hybridburst:event={event} still exist in {where}"
             + (f", {len(hosts)} of them host(s) that may still run and bill:" if hosts else ":")]
    lines += [f"  {f.line()}" for f in found]
    target = ["--provider", provider]
    if cloud:
        target += ["--cloud", cloud]
    if region or found[0].region:
        target += ["--region", str(region or found[0].region)]
    reap = " ".join(["hybridburst", "reap", *target, "--event", event])
    lines += [
        "Whether these hosts still hold access to the private network is unknown here: "
        "revoke them at the private gateway first (or run `down` where the event's state is).",
        "Then remove them with the reaper (look first with --dry-run):",
        f"  {reap} {FORCE_OPTION} --dry-run",
        f"  {reap} {FORCE_OPTION}",
        f"or, where the event's Pulumi state is kept: cd pulumi_stacks/{STACKS[provider]} && "
        f"pulumi destroy --stack {event} (and the same in pulumi_stacks/private_peering, if "
        "the event used it)",
    ]
    return lines
