"""The tags every taggable resource of a burst carries.

The reapers (costs/reaper.py, costs/reaper_openstack.py) find forgotten capacity by exactly
these keys and destroy what is past ``hybridburst:burst-expiry`` (read by ``read_expiry``);
cost allocation groups by event, team and pool. This module is the one home of the keys and
of the expiry's forms.
"""

from __future__ import annotations

import datetime as dt
import re

EVENT = "hybridburst:event"
TEAM = "hybridburst:team"
POOL = "hybridburst:pool"
BURST_EXPIRY = "hybridburst:burst-expiry"

#: Keys that every taggable resource carries; POOL is added where a pool applies.
REQUIRED = (EVENT, TEAM, BURST_EXPIRY)
ALL = (EVENT, TEAM, POOL, BURST_EXPIRY)

_EXPIRY = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def format_expiry(moment: dt.datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, to the second: ``2025-11-14T06:00:00Z``."""
    if moment.tzinfo is None:
        raise ValueError("the burst expiry needs a time zone")
    return moment.astimezone(dt.UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_expiry(text: str) -> dt.datetime:
    """Parse a burst expiry; only the canonical UTC form is accepted (the reaper compares it)."""
    if not _EXPIRY.match(text):
        raise ValueError(f"{text!r} is not an ISO 8601 UTC time like 2025-11-14T06:00:00Z")
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


def read_expiry(text: str) -> dt.datetime:
    """Read a burst expiry found on a resource, as the reaper does: the canonical form and any
    other ISO 8601 time (a tag written by hand), UTC when it names no zone. Raises ValueError
    when it is no time at all."""
    moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def burst_tags(event: str, team: str, expiry: str, pool: str | None = None) -> dict[str, str]:
    """The tag map of one resource (AWS style: key to value)."""
    tags = {EVENT: event, TEAM: team, BURST_EXPIRY: expiry}
    if pool is not None:
        tags[POOL] = pool
    return tags


def tag_strings(tags: dict[str, str]) -> list[str]:
    """The same tags for OpenStack, whose tags are plain strings: ``key=value``."""
    return [f"{key}={value}" for key, value in sorted(tags.items())]


def parse_tag_strings(values: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if sep:
            out[key] = rest
    return out
