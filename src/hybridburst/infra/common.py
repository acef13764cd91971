"""What the burst components share: pools, the event identity, the configuration error."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .. import catalog
from ..errors import HybridburstError
from ..spec import EVENT_PATTERN, POOL_PATTERN, TEAM_PATTERN, host_name
from . import network, tags

# The spec's rules (anchored with \Z: "d11\n" is no event name).
NAME = re.compile(EVENT_PATTERN)
TEAM_NAME = re.compile(TEAM_PATTERN)
POOL_NAME = re.compile(POOL_PATTERN)


class StackConfigError(HybridburstError):
    """A stack's configuration cannot be used; every problem is named, one per line."""

    def __init__(self, stack: str, problems: list[str]) -> None:
        self.stack = stack
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{stack}: the stack configuration is not usable:\n{lines}")


@dataclass(frozen=True)
class PoolArgs:
    """One pool of identical hosts: ``count`` hosts named ``<event>-<pool>-NN``."""

    name: str
    count: int
    instance_type: str
    release: str | None = None


@dataclass(frozen=True)
class BurstIdentity:
    """Who a burst belongs to and when it must be gone: the source of every tag."""

    event: str
    team: str
    burst_expiry: str

    def tags(self, pool: str | None = None) -> dict[str, str]:
        return tags.burst_tags(self.event, self.team, self.burst_expiry, pool)

    def problems(self) -> list[str]:
        out = []
        if not NAME.match(self.event):
            out.append(f"event: {self.event!r} is not a valid event name ({NAME.pattern})")
        if not TEAM_NAME.match(self.team):
            out.append(f"team: {self.team!r} is not a valid team name")
        try:
            tags.parse_expiry(self.burst_expiry)
        except ValueError as exc:
            out.append(f"burstExpiry: {exc}")
        return out


def pool_problems(provider: str, pools: tuple[PoolArgs, ...]) -> list[str]:
    out = []
    if not pools:
        out.append("pools: at least one pool is needed")
    known = catalog.instance_types(provider)
    seen: set[str] = set()
    for i, pool in enumerate(pools):
        where = f"pools[{i}]"
        if not POOL_NAME.match(pool.name):
            out.append(f"{where}: {pool.name!r} is not a valid pool name ({POOL_NAME.pattern})")
        if pool.name in seen:
            out.append(f"{where}: duplicate pool name {pool.name!r}")
        seen.add(pool.name)
        if pool.count < 1:
            out.append(f"{where}: count must be at least 1 (got {pool.count})")
        if pool.instance_type not in known:
            out.append(
                f"{where}: unknown {provider} instance type {pool.instance_type!r}"
                f" (known: {', '.join(sorted(known))})"
            )
    return out


@dataclass(frozen=True)
class PlannedHost:
    """One host of the plan: its name, its pool and its place among ALL planned hosts.

    ``index`` decides the subnet or zone a host lands in; it counts excluded hosts too, so
    leaving a host out (``excludedHosts``) never moves the others."""

    index: int
    name: str
    pool: PoolArgs


def planned_hosts(event: str, pools: tuple[PoolArgs, ...]) -> list[PlannedHost]:
    """Every host the pools plan, in order: ``<event>-<pool>-NN``."""
    out = []
    for pool in pools:
        for i in range(1, pool.count + 1):
            out.append(PlannedHost(len(out), host_name(event, pool.name, i), pool))
    return out


def excluded_problems(event: str, pools: tuple[PoolArgs, ...],
                      excluded: tuple[str, ...]) -> list[str]:
    """``excludedHosts`` may only name hosts of the plan (a typo must not pass silently)."""
    known = {h.name for h in planned_hosts(event, pools)}
    unknown = sorted(set(excluded) - known)
    if not unknown:
        return []
    return [f"excludedHosts: {', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not "
            f"a host of this stack (its hosts are {event}-<pool>-NN of the pools)"]


def cidr_problems(burst_key: str, burst_cidr: str, private_cidrs: tuple[str, ...],
                  extra: dict[str, tuple[str, ...]] | None = None) -> list[str]:
    """Each CIDR must parse; the burst CIDR must not overlap the private side."""
    out = []
    valid_private = []
    if not private_cidrs:
        out.append("privateCidrs: at least one private-cloud CIDR is needed")
    for i, cidr in enumerate(private_cidrs):
        try:
            network.parse_cidr(cidr)
            valid_private.append(cidr)
        except ValueError as exc:
            out.append(f"privateCidrs[{i}]: {exc}")
    for key, values in (extra or {}).items():
        for i, cidr in enumerate(values):
            try:
                net = network.parse_cidr(cidr)
            except ValueError as exc:
                out.append(f"{key}[{i}]: {exc}")
                continue
            if net.prefixlen == 0:
                out.append(f"{key}[{i}]: {cidr} admits the whole internet; name the real sources")
    try:
        network.parse_cidr(burst_cidr)
    except ValueError as exc:
        out.append(f"{burst_key}: {exc}")
        return out
    clash = network.overlapping(burst_cidr, valid_private)
    if clash:
        out.append(
            f"{burst_key}: {burst_cidr} overlaps the private cloud's "
            f"{', '.join(clash)} (privateCidrs); choose a range the private side does not use"
        )
    return out


def check_psk(value: str) -> str:
    """AWS and most IPsec stacks: 8-64 characters of [A-Za-z0-9._], not starting with 0.

    Runs inside ``apply`` on a secret: the message never contains the value."""
    if not re.fullmatch(r"[A-Za-z1-9._][A-Za-z0-9._]{7,63}", value or ""):
        raise StackConfigError(
            "vpnPsk", ["vpnPsk: the pre-shared key must be 8-64 characters of A-Z a-z 0-9 . _ "
                       "and must not start with 0"]
        )
    return value
