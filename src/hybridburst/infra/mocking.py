"""Run a stack program in-process under Pulumi mocks: no CLI, no cloud.

Used by the tests (``tests/pulumi``) and the benchmark. :class:`RecordingMocks` records every
resource the program registers (type, name, inputs) and answers with plausible computed
outputs (ids, private addresses, VPN tunnel addresses). Ids follow from each resource's type
and name only, never from the order the engine registers them in, so two runs of one
configuration give identical inputs (a reference to another resource is its id). Pulumi
mocks are process-global:
:func:`run_program` sets them for one run and nothing else should rely on them afterwards.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi.runtime


@dataclass
class Registered:
    typ: str
    name: str
    inputs: dict[str, Any]
    id: str
    state: dict[str, Any]


@dataclass
class RecordingMocks(pulumi.runtime.Mocks):
    """Mocks that record the resource graph and compute the outputs the components read."""

    resources: list[Registered] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _counter: int = 0
    _addresses: dict[str, ipaddress.IPv4Address] = field(default_factory=dict, repr=False)
    _subnet_cidrs: dict[str, str] = field(default_factory=dict, repr=False)
    _subnet_zones: dict[str, str] = field(default_factory=dict, repr=False)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        with self._lock:
            self._counter += 1
            rid = _stable_id(args.typ, args.name)
            state = dict(args.inputs)
            if args.typ == "aws:ec2/subnet:Subnet":
                self._subnet_cidrs[rid] = args.inputs["cidrBlock"]
                self._subnet_zones[rid] = args.inputs.get("availabilityZone", "mock-az")
            elif args.typ == "aws:ec2/instance:Instance":
                state["privateIp"] = self._next_address(args.inputs.get("subnetId", ""), 10)
                state.setdefault("availabilityZone",
                                 self._subnet_zones.get(args.inputs.get("subnetId", ""), "mock-az"))
                rid = f"i-{_digest(args.typ, args.name)[:17]}"
            elif args.typ == "aws:ec2/vpnConnection:VpnConnection":
                state["tunnel1Address"] = f"203.0.113.{(2 * self._counter) % 250 + 1}"
                state["tunnel2Address"] = f"203.0.113.{(2 * self._counter + 1) % 250 + 1}"
            elif args.typ == "aws:ec2/launchTemplate:LaunchTemplate":
                state["latestVersion"] = 1
                state["defaultVersion"] = 1
            elif args.typ == "openstack:networking/subnet:Subnet":
                self._subnet_cidrs[args.inputs["networkId"]] = args.inputs["cidr"]
            elif args.typ == "openstack:networking/router:Router":
                state["externalFixedIps"] = [{"ipAddress": f"198.51.100.{self._counter % 250 + 1}"}]
            elif args.typ == "openstack:compute/instance:Instance":
                net = (args.inputs.get("networks") or [{}])[0]
                address = net.get("fixedIpV4") or self._next_address(net.get("uuid", ""), 10)
                state["accessIpV4"] = address
                state["networks"] = [{**net, "fixedIpV4": address}]
            self.resources.append(Registered(args.typ, args.name, dict(args.inputs), rid, state))
            return rid, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list]:
        with self._lock:
            self.calls.append((args.token, dict(args.args)))
        return {}, []

    def _next_address(self, subnet_id: str, first: int) -> str:
        cidr = self._subnet_cidrs.get(subnet_id, "192.0.2.0/24")
        net = ipaddress.ip_network(cidr)
        current = self._addresses.get(cidr, net.network_address + first - 1)
        current += 1
        self._addresses[cidr] = current
        return str(current)

    # Queries over the recorded graph.
    def of_type(self, typ: str) -> list[Registered]:
        return [r for r in self.resources if r.typ == typ]

    def by_name(self, name: str) -> Registered:
        matches = [r for r in self.resources if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r}")
        return matches[0]


def _digest(typ: str, name: str) -> str:
    return hashlib.sha256(f"{typ}::{name}".encode()).hexdigest()


def _stable_id(typ: str, name: str) -> str:
    """``<name>-id-<8 hex>``: unique per type and name (a URN), whatever the order."""
    return f"{name}-id-{_digest(typ, name)[:8]}"


def _resolve(value: Any) -> Any:
    """An Output (or a structure of them) as one Output of plain values."""
    return pulumi.Output.from_input(value)


def run_program(
    program: Callable[[], Mapping[str, Any]],
    *,
    project: str,
    stack: str = "test",
    config: Mapping[str, Any] | None = None,
    secret_keys: list[str] | None = None,
    mocks: RecordingMocks | None = None,
    check: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[dict[str, Any], RecordingMocks]:
    """Run ``program`` under fresh mocks with ``config`` (keys without a namespace get the
    project's; list values are passed as JSON, as the engine does).

    Returns the resolved outputs and the mocks. ``check``, when given, runs inside ``apply``
    on the resolved outputs, so a failed assertion fails the run.
    """
    mocks = mocks or RecordingMocks()
    values = {
        (key if ":" in key else f"{project}:{key}"):
            value if isinstance(value, str) else json.dumps(value)
        for key, value in (config or {}).items()
    }
    pulumi.runtime.set_all_config(values, [f"{project}:{k}" for k in secret_keys or []])
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False)
    resolved: dict[str, Any] = {}

    def _collect(values: dict[str, Any]) -> dict[str, Any]:
        resolved.update(values)
        if check is not None:
            check(values)
        return values

    @pulumi.runtime.test
    def _run() -> pulumi.Output[Any]:
        outputs = program()
        return _resolve(dict(outputs)).apply(_collect)

    _run()
    return resolved, mocks
