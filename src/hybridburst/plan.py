"""The plan: pure computation from an event spec. No side effects, no provider calls."""

from __future__ import annotations

from dataclasses import dataclass

from . import catalog
from .catalog import Hardware
from .spec import EventSpec, Fault, host_name


@dataclass(frozen=True)
class PlannedHost:
    name: str
    pool: str
    index: int
    instance_type: str
    hardware: Hardware
    release: str | None
    fault: Fault | None = None


@dataclass(frozen=True)
class Plan:
    spec: EventSpec
    hosts: tuple[PlannedHost, ...]

    @property
    def event(self) -> str:
        return self.spec.event

    def by_name(self) -> dict[str, PlannedHost]:
        return {h.name: h for h in self.hosts}


def make_plan(spec: EventSpec) -> Plan:
    faults = {f.host: f for f in spec.faults}
    hosts = []
    for pool in spec.pools:
        hw = catalog.hardware(spec.provider, pool.instance_type)
        for index in range(1, pool.count + 1):
            name = host_name(spec.event, pool.name, index)
            hosts.append(
                PlannedHost(name, pool.name, index, pool.instance_type, hw, pool.release,
                            faults.get(name))
            )
    return Plan(spec, tuple(hosts))
