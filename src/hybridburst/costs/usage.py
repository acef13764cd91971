"""Usage from the journal: per host the billed launch..destroy intervals.

A host is billed from its LAUNCHED entry to its DESTROYED entry: whatever it did in between
(validated, quarantined, failed) does not stop the meter, because the machine exists. A host
not destroyed yet is billed up to ``as_of`` (now, or a time given). A host that never
launched (requested, then failed or destroyed) costs nothing. Billed seconds follow the
provider's ``BillingRule`` (AWS Linux: per second, 60-second minimum per interval).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from ..journal import Entry
from ..states import HostState
from .money import BillingRule

UNKNOWN = "unknown"


@dataclass(frozen=True)
class HostUsage:
    """One billed interval of one host."""

    host: str
    event: str
    team: str
    pool: str
    instance_type: str
    provider: str
    region: str | None
    launched: dt.datetime
    destroyed: dt.datetime | None  # None: still running at as_of
    end: dt.datetime  # destroyed, or as_of
    billed_seconds: int
    quarantined: bool  # was quarantined at some point of the interval
    failed: bool
    last_state: HostState

    @property
    def running(self) -> bool:
        return self.destroyed is None

    def as_json(self) -> dict[str, object]:
        return {
            "host": self.host,
            "event": self.event,
            "team": self.team,
            "pool": self.pool,
            "instance_type": self.instance_type,
            "provider": self.provider,
            "region": self.region,
            "launched": self.launched.isoformat(),
            "destroyed": self.destroyed.isoformat() if self.destroyed else None,
            "billed_until": self.end.isoformat(),
            "billed_seconds": self.billed_seconds,
            "quarantined": self.quarantined,
            "failed": self.failed,
            "last_state": self.last_state.value,
        }


@dataclass
class _Open:
    launch: Entry
    quarantined: bool = False
    failed: bool = False
    last: HostState = HostState.LAUNCHED


def host_usage(
    entries: Iterable[Entry],
    *,
    as_of: dt.datetime,
    rules: dict[str, BillingRule],
    event: str,
    team: str,
    provider: str,
    region: str | None,
) -> list[HostUsage]:
    """Billed intervals as of ``as_of``, in launch order. Entries after ``as_of`` are
    ignored. ``event``, ``team``, ``provider`` and ``region`` are used where a LAUNCHED
    entry's data does not name them."""

    def close(host: str, state: _Open, end: dt.datetime, destroyed: bool) -> HostUsage:
        data = state.launch.data
        prov = str(data.get("provider") or provider)
        start = state.launch.time
        until = max(end, start)
        return HostUsage(
            host=host,
            event=str(data.get("event") or event),
            team=str(data.get("team") or team),
            pool=str(data.get("pool") or UNKNOWN),
            instance_type=str(data.get("instance_type") or UNKNOWN),
            provider=prov,
            region=data.get("region") or region,
            launched=start,
            destroyed=until if destroyed else None,
            end=until,
            billed_seconds=rules.get(prov, BillingRule()).billed_seconds(start, until),
            quarantined=state.quarantined,
            failed=state.failed,
            last_state=state.last,
        )

    open_: dict[str, _Open] = {}
    done: list[HostUsage] = []
    for entry in entries:
        if entry.time > as_of:
            continue  # what happened after the settlement time is not part of it
        current = open_.get(entry.host)
        if entry.state is HostState.LAUNCHED:
            if current is None:
                open_[entry.host] = _Open(entry)
            else:  # a repeated LAUNCHED (a resumed `up`): the meter started at the first
                current.last = entry.state
            continue
        if current is None:
            continue  # requested, or failed before launch: nothing runs, nothing billed
        current.last = entry.state
        current.quarantined |= entry.state is HostState.QUARANTINED
        current.failed |= entry.state is HostState.FAILED
        if entry.state is HostState.DESTROYED:
            done.append(close(entry.host, current, entry.time, destroyed=True))
            del open_[entry.host]
    for host, current in open_.items():
        done.append(close(host, current, as_of, destroyed=False))
    return sorted(done, key=lambda u: (u.launched, u.host))
