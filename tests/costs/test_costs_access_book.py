"""Which cloud hosts may still hold access to the private network, per the event's journal."""

from __future__ import annotations

import json

from hybridburst.costs.access_book import FORCE_OPTION, AccessBook
from hybridburst.journal import Journal
from hybridburst.states import HostState
from hybridburst.workspace import EventDir
from tests.costs.costs_helpers import at

S = HostState


def _manifest(event: str, hosts: dict[str, str]) -> None:
    """A minimal valid manifest naming each host's provider ID."""
    expected = {"cpus": 2, "memory_mb": 4096, "disk_mb": 20480, "data_mount": "/data",
                "interface": "ens5", "address": "10.1.0.10",
                "os": {"distribution": "Debian", "major_version": "12"}}
    doc = {
        "version": 1, "event": event, "team": "shop", "provider": "aws", "region": "us-east-1",
        "written_at": "2026-11-11T00:00:00+00:00",
        "network": {"private_cidrs": ["10.0.0.0/16"], "burst_cidr": "10.1.0.0/16",
                    "gateway": {"private_address": "10.0.0.1", "burst_address": "10.1.0.1"}},
        "ssh": {"user": "burst", "private_key_file": "/k", "known_hosts_file": "/kh"},
        "hosts": [{"name": name, "address": "10.1.0.10", "pool": "web",
                   "instance_type": "c6i.large", "launched_at": "2026-11-11T00:00:00+00:00",
                   "provider_id": pid, "expected": expected, "tags": {}}
                  for name, pid in hosts.items()],
    }
    path = EventDir.of(event).manifest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))


def _journal(event: str, host: str, *states: HostState, reason: str = "") -> None:
    book = Journal(EventDir.of(event).journal)
    book.record(host, S.LAUNCHED, reason, at=at("2026-11-11T00:00:00"))
    for state in states:
        book.record(host, state, at=at("2026-11-11T01:00:00"))


def test_hosts_are_matched_by_manifest_id_journal_reason_or_name() -> None:
    _journal("e", "e-web-01", S.VALIDATED, S.AUTHORIZED)  # no ID in the journal
    _journal("e", "e-web-02", S.QUARANTINED, reason="aws: i-02")
    _journal("e", "e-web-03", S.REVOKED)
    _manifest("e", {"e-web-01": "i-01"})
    book = AccessBook()

    risk = book.risk("e", "i-01")
    assert risk is not None and not risk.unknown
    assert "host e-web-01 may still hold access" in risk.reason
    assert "(journal: authorized)" in risk.reason
    assert book.risk("e", "i-02") is None
    assert book.risk("e", "srv-3", ["e-web-03"]) is None  # an OpenStack server, by its name
    unmatched = book.risk("e", "i-99")
    assert unmatched is not None and "while e-web-01 may still hold access" in unmatched.reason


def test_every_state_that_may_hold_access_keeps_the_host() -> None:
    path = [S.VALIDATED, S.AUTHORIZED, S.BASELINED, S.READY, S.DRAINING, S.REVOKED,
            S.DESTROYED]
    for i in range(len(path)):
        event = f"e{i}"
        _journal(event, "h", *path[:i + 1], reason="aws: i-1")
        held = AccessBook().risk(event, "i-1") is not None
        assert held == (path[i] in (S.AUTHORIZED, S.BASELINED, S.READY, S.DRAINING)), path[i]


def test_unknown_unreadable_or_foreign_events() -> None:
    missing = AccessBook().risk("gone", "i-1")
    assert missing is not None and missing.unknown and FORCE_OPTION in missing.reason
    assert "no journal of event gone here" in missing.reason

    bad = EventDir.of("broken").journal
    bad.parent.mkdir(parents=True)
    bad.write_text('{"time": "yesterday", "host": "h", "state": "ready"}\n')
    broken = AccessBook().risk("broken", "i-1")
    assert broken is not None and broken.unknown
    assert "the journal of event 'broken' is unreadable (InputError" in broken.reason
    assert "journal.jsonl:1: time 'yesterday' is not an ISO 8601 time" in broken.reason

    sneaky = AccessBook().risk("../../etc", "i-1")  # tag values come from the cloud
    assert sneaky is not None and sneaky.unknown
    assert "not an event name of this tool" in sneaky.reason


def test_a_host_that_failed_after_it_had_access_still_may_hold_it() -> None:
    _journal("e", "e-web-01", S.VALIDATED, S.AUTHORIZED, S.FAILED, S.FAILED, reason="aws: i-1")
    _journal("e", "e-web-02", S.QUARANTINED, S.FAILED, reason="aws: i-2")
    _journal("e", "e-web-03", S.VALIDATED, S.AUTHORIZED, S.FAILED, S.REVOKED, reason="aws: i-3")
    book = AccessBook()

    risk = book.risk("e", "i-1")
    assert risk is not None and "(journal: failed after authorized)" in risk.reason
    assert book.risk("e", "i-2") is None
    assert book.risk("e", "i-3") is None
