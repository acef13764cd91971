"""Address arithmetic for the burst network: pure functions, no Pulumi."""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterable, Sequence

# AWS keeps five addresses of every subnet (network, router, DNS, future, broadcast).
AWS_RESERVED_PER_SUBNET = 5


def parse_cidr(text: str) -> ipaddress.IPv4Network:
    """An IPv4 network in CIDR form; host bits must be zero (``10.20.0.0/16``)."""
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not an IPv4 network in CIDR form ({exc})") from exc
    if not isinstance(net, ipaddress.IPv4Network):
        raise ValueError(f"{text!r} is not an IPv4 network")
    return net


def overlapping(cidr: str, others: Iterable[str]) -> list[str]:
    """The members of ``others`` that share at least one address with ``cidr``."""
    net = parse_cidr(cidr)
    return [o for o in others if net.overlaps(parse_cidr(o))]


def split(cidr: str, parts: int) -> list[str]:
    """``parts`` equal subnets at the start of ``cidr`` (the next power of two is cut)."""
    if parts < 1:
        raise ValueError("at least one subnet is needed")
    net = parse_cidr(cidr)
    extra = math.ceil(math.log2(parts)) if parts > 1 else 0
    if net.prefixlen + extra > 28:
        raise ValueError(f"{cidr} is too small for {parts} subnets of at least /28")
    subnets = list(net.subnets(prefixlen_diff=extra))
    return [str(s) for s in subnets[:parts]]


def usable_hosts(cidr: str, reserved: int = AWS_RESERVED_PER_SUBNET) -> int:
    return parse_cidr(cidr).num_addresses - reserved


def router_address(cidr: str) -> str:
    """The first address of a subnet: the VPC router in AWS, the usual gateway elsewhere."""
    return str(parse_cidr(cidr).network_address + 1)


def spread(count: int, buckets: Sequence[str]) -> list[str]:
    """Round-robin assignment of ``count`` items over ``buckets`` (subnets, zones)."""
    return [buckets[i % len(buckets)] for i in range(count)]
