#!/usr/bin/python
# Copyright: hybridburst authors
# Apache License 2.0
"""Module hybridburst.platform.gateway_link: how the gateway sees hosts (interface, MAC)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: gateway_link
short_description: The interface and MAC address through which this host (the gateway) reaches each address
description:
  - For each address, asks the kernel for the route to it (C(ip route get)), then for the
    link-layer address of the next hop on that interface (the host itself when it is on the
    link, else the router toward it) from the neighbour table.
  - When the neighbour table has no address yet, sends one UDP datagram to the discard port
    (9) of the next hop so that the kernel resolves it, and waits at most I(timeout) seconds.
    Nothing else is sent and nothing is changed, also in check mode.
  - The result binds each address to what the gateway sees, as elements of an nftables set of
    type C(ifname . ipv4_addr . ether_addr) (see M(hybridburst.platform.nft_set)).
version_added: 0.2.0
author: hybridburst authors
options:
  addresses:
    description: IPv4 addresses.
    type: list
    elements: str
    required: true
  timeout:
    description: Seconds to wait for each next hop's link-layer address.
    type: int
    default: 3
attributes:
  check_mode:
    support: full
requirements:
  - ip (iproute2) on the managed host
"""

EXAMPLES = r"""
- name: See the burst hosts as the gateway does
  hybridburst.platform.gateway_link:
    addresses: [10.201.0.11]
  delegate_to: gateway
  register: links
"""

RETURN = r"""
bindings:
  description: Address to C(INTERFACE . ADDRESS . MAC), for the addresses resolved.
  returned: always
  type: dict
unresolved:
  description: Address to the reason it could not be resolved.
  returned: always
  type: dict
"""

import contextlib
import ipaddress
import json
import re
import socket
import time
from typing import Any

from ansible.module_utils.basic import AnsibleModule

MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}\Z")


class Unresolved(Exception):
    pass


def ip_json(module: AnsibleModule, *args: str) -> list[dict[str, Any]]:
    rc, out, err = module.run_command(["ip", "-j", "-4", *args])
    if rc != 0:
        raise Unresolved(err.strip() or f"ip {' '.join(args)} failed")
    data = json.loads(out or "[]")
    return data if isinstance(data, list) else []


def neighbour(module: AnsibleModule, hop: str, dev: str) -> str | None:
    for entry in ip_json(module, "neigh", "show", "to", hop, "dev", dev):
        mac = str(entry.get("lladdr", "")).lower()
        if MAC.match(mac) and "FAILED" not in entry.get("state", []):
            return mac
    return None


def resolve(module: AnsibleModule, address: str, timeout: int) -> str:
    routes = ip_json(module, "route", "get", address)
    if not routes:
        raise Unresolved("no route")
    route = routes[0]
    dev, hop = route.get("dev"), route.get("gateway") or address
    if route.get("type", "unicast") != "unicast" or not dev or dev == "lo":
        raise Unresolved(f"not reached through a network interface (route type "
                         f"{route.get('type', 'unicast')}, device {dev})")
    mac = neighbour(module, hop, dev)
    deadline = time.monotonic() + timeout
    while mac is None and time.monotonic() < deadline:
        # An error back (port unreachable) is fine: the kernel resolved the address to send.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe, \
                contextlib.suppress(OSError):
            probe.sendto(b"", (hop, 9))
        time.sleep(0.3)
        mac = neighbour(module, hop, dev)
    if mac is None:
        raise Unresolved(f"{hop} does not answer on {dev} (no link-layer address)")
    return f"{dev} . {address} . {mac}"


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "addresses": {"type": "list", "elements": "str", "required": True},
            "timeout": {"type": "int", "default": 3},
        },
        supports_check_mode=True,
    )
    bindings: dict[str, str] = {}
    unresolved: dict[str, str] = {}
    for value in dict.fromkeys(module.params["addresses"]):
        try:
            address = ipaddress.IPv4Address(value)
        except ValueError:
            module.fail_json(msg=f"refused: {value!r} is not an IPv4 address")
        try:
            bindings[str(address)] = resolve(module, str(address), module.params["timeout"])
        except Unresolved as exc:
            unresolved[str(address)] = str(exc)
    module.exit_json(changed=False, bindings=bindings, unresolved=unresolved)


if __name__ == "__main__":
    main()
