"""The private cloud of the local demo, read from the private-cloud inventory."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ... import yamlsrc
from ...errors import InputError


@dataclass(frozen=True)
class Service:
    name: str
    address: str
    port: int


@dataclass(frozen=True)
class Topology:
    inventory: Path
    private_cidr: str
    burst_cidr: str
    gateway_private: str
    gateway_burst: str
    private_hosts: dict[str, str]  # inventory name -> private address
    groups: dict[str, list[str]]  # group -> host names
    services: tuple[Service, ...]

    def host_in(self, group: str) -> str:
        return self.groups[group][0]

    @property
    def burst_network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.burst_cidr)


def _walk(group: dict[str, Any], name: str, groups: dict[str, list[str]],
          hosts: dict[str, dict[str, Any]]) -> list[str]:
    members: list[str] = []
    for host, hostvars in (group.get("hosts") or {}).items():
        hosts[host] = hostvars or {}
        members.append(host)
    for child, body in (group.get("children") or {}).items():
        members.extend(_walk(body or {}, child, groups, hosts))
    groups[name] = members
    return members


def load(inventory: Path) -> Topology:
    """Read ``hosts.yml`` and ``group_vars/all`` of a private-cloud inventory directory."""
    hosts_file = inventory / "hosts.yml"
    doc = yamlsrc.load(hosts_file)
    groups: dict[str, list[str]] = {}
    hosts: dict[str, dict[str, Any]] = {}
    _walk((doc.data or {}).get("all", {}), "all", groups, hosts)
    network: dict[str, Any] = {}
    vars_dir = inventory / "group_vars" / "all"
    for vars_file in sorted(vars_dir.glob("*.yml")) if vars_dir.is_dir() else []:
        network.update(yamlsrc.load(vars_file).data or {})
    required = ("hybridburst_private_cidrs", "hybridburst_burst_cidr",
                "hybridburst_gateway_private_address", "hybridburst_gateway_burst_address")
    for key in required:
        if key not in network:
            raise InputError(str(vars_dir), None, f"missing {key}")
    for group in ("gateway", "lb", "backend"):
        if not groups.get(group):
            raise doc.error(("all",), f"the private inventory needs a host in group {group!r}")
    addresses = {}
    for name, hostvars in hosts.items():
        if "ansible_host" not in hostvars:
            raise doc.error(("all",), f"host {name} has no ansible_host")
        addresses[name] = str(hostvars["ansible_host"])
    seen: dict[str, str] = {}
    for name, address in addresses.items():
        if address in seen:
            raise doc.error(("all",), f"duplicate address {address}: {seen[address]} and {name}")
        seen[address] = name
    services = tuple(
        Service(s["name"], str(s["address"]), int(s["port"]))
        for s in network.get("hybridburst_private_services", [])
    )
    return Topology(
        inventory=inventory,
        private_cidr=network["hybridburst_private_cidrs"][0],
        burst_cidr=network["hybridburst_burst_cidr"],
        gateway_private=network["hybridburst_gateway_private_address"],
        gateway_burst=network["hybridburst_gateway_burst_address"],
        private_hosts=addresses,
        groups=groups,
        services=services,
    )
