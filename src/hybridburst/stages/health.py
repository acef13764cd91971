"""The minimum healthy share of a pool: the one home of the rule.

A pool of ``count`` hosts with ``min_healthy_share`` s needs ``ceil(s * count)`` good hosts
(a share of 1 needs them all; 0 needs none). ``validate`` applies it to the hosts of one
validation, the lifecycle to the planned count of each pool (a retired host's slot counts
as empty)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

from .. import spec
from ..workspace import EventDir, load_event_meta


def needed(share: float, count: int) -> int:
    """Good hosts a pool of ``count`` needs at ``share`` (tolerant of float noise: 0.5 of 6
    is 3, not 4)."""
    return math.ceil(share * count - 1e-9)


def short_pools(counts: Mapping[str, tuple[int, int]], shares: Mapping[str, float],
                what: str = "healthy") -> list[str]:
    """Pools below their share, as messages in the order of ``counts`` (empty: every pool
    is good enough).

    ``counts``: pool -> (good hosts, hosts); ``shares``: pool -> its minimum healthy share
    (a pool without one needs all its hosts)."""
    short = []
    for pool in counts:  # in the caller's order
        good, total = counts[pool]
        need = needed(shares.get(pool, 1.0), total)
        if good < need:
            short.append(f"pool {pool}: {good}/{total} {what}, {need} needed")
    return short


def event_shares(event_dir: EventDir) -> dict[str, float]:
    """Per pool of the event, its minimum healthy share (from the event's spec; none when
    the spec is gone)."""
    path = Path(load_event_meta(event_dir)["spec"])
    if not path.exists():
        return {}
    return {p.name: p.min_healthy_share for p in spec.load(path).pools}
