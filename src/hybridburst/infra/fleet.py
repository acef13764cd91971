"""Stack outputs to the fleet manifest (see :mod:`hybridburst.manifest`).

Pure: no Pulumi import. The providers call it with ``stack.outputs()``; the tests call it with
the outputs a mock run resolved. The expected hardware of each host comes from the
instance-type catalog, like the plan's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from .. import catalog, manifest
from . import tags


def build_manifest(
    outputs: Mapping[str, Any],
    *,
    private_key_file: str,
    known_hosts_file: str,
    written_at: dt.datetime,
    launched_at: Mapping[str, dt.datetime] | None = None,
    private_inventory: str | None = None,
    source: str = "stack outputs",
) -> dict[str, Any]:
    """The manifest document; checked with :func:`manifest.check` before it is returned."""
    provider = outputs["provider"]
    event, team = outputs["event"], outputs["team"]
    expiry = outputs["burstExpiry"]
    os_facts = outputs["os"]
    hosts = []
    for host in outputs.get("hosts") or []:
        hw = catalog.hardware(provider, host["instanceType"])
        when = (launched_at or {}).get(host["name"], written_at)
        # Each host's own next hop (its subnet's router), where the stack gives one.
        own = {"gateway": host["gateway"]} if host.get("gateway") else {}
        hosts.append({
            **own,
            "name": host["name"],
            "address": host["address"],
            "pool": host["pool"],
            "instance_type": host["instanceType"],
            "release": host.get("release"),
            "provider_id": host["id"],
            "launched_at": when.isoformat(),
            "expected": {
                **hw.as_dict(),
                "interface": outputs["interface"],
                "address": host["address"],
                "hostname": host["name"],
                "os": {"distribution": os_facts["distribution"],
                       "major_version": str(os_facts["majorVersion"])},
            },
            "tags": tags.burst_tags(event, team, expiry, host["pool"]),
        })
    doc = {
        "version": manifest.VERSION,
        "event": event,
        "team": team,
        "provider": provider,
        "region": outputs.get("region"),
        "written_at": written_at.isoformat(),
        "network": {
            "private_cidrs": list(outputs["privateCidrs"]),
            "burst_cidr": outputs["burstCidr"],
            "gateway": {
                "private_address": outputs["gatewayPrivateAddress"],
                "burst_address": outputs["gatewayBurstAddress"],
            },
        },
        "ssh": {
            "user": outputs["sshUser"],
            "private_key_file": private_key_file,
            "known_hosts_file": known_hosts_file,
        },
        "private_inventory": private_inventory,
        "hosts": hosts,
    }
    return manifest.check(doc, source)
