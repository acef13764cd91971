"""Fleet manifest (schema, JSON paths in errors) and journal (transitions, crash safety)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from hybridburst import cli, manifest
from hybridburst.errors import InputError
from hybridburst.journal import InvalidTransition, Journal
from hybridburst.states import HostState

HOST = {
    "name": "sale-web-01",
    "address": "10.201.0.11",
    "pool": "web",
    "instance_type": "local.medium",
    "release": "1.0.0",
    "launched_at": "2026-11-10T20:00:00+00:00",
    "expected": {"cpus": 2, "memory_mb": 1024, "disk_mb": 2048, "data_mount": "/srv/data",
                 "os": {"distribution": "Debian", "major_version": "12"}, "interface": "eth0",
                 "address": "10.201.0.11"},
    "tags": {"hybridburst:event": "sale"},
}
DOC: dict[str, Any] = {
    "version": 1, "event": "sale", "team": "storefront", "provider": "local",
    "written_at": "2026-11-10T20:00:00+00:00",
    "network": {"private_cidrs": ["10.200.0.0/24"], "burst_cidr": "10.201.0.0/24",
                "gateway": {"private_address": "10.200.0.2", "burst_address": "10.201.0.2"}},
    "ssh": {"user": "admin", "private_key_file": "/k", "known_hosts_file": "/kh"},
    "hosts": [HOST],
}


def test_roundtrip(tmp_path: Path) -> None:
    path = tmp_path / "sale" / "manifest.json"
    manifest.write(path, DOC)
    assert manifest.read(path) == DOC
    assert path.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize(
    ("mutate", "where", "words"),
    [
        (lambda d: d["hosts"][0].update(address="10.201.0.300"), "$.hosts[0].address", "ipv4"),
        (lambda d: d.update(version=2), "$.version", "1 was expected"),
        (lambda d: d["hosts"][0]["expected"].pop("cpus"), "$.hosts[0].expected", "'cpus' is a required"),
        (lambda d: d["hosts"].append(dict(HOST, name="sale-web-02")), "$.hosts[1].address",
         "duplicate address 10.201.0.11"),
        (lambda d: d["network"].update(burst_cidr="everywhere"), "$.network.burst_cidr",
         "not an IPv4 network"),
    ],
)
def test_bad_manifest_names_json_path(tmp_path: Path, mutate: Any, where: str, words: str) -> None:
    doc = copy.deepcopy(DOC)
    mutate(doc)
    path = tmp_path / "sale" / "manifest.json"
    path.parent.mkdir()
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError) as caught:
        manifest.read(path)
    assert f"{path}:{where}: " in str(caught.value)
    assert words in str(caught.value)


def test_broken_json_names_line(tmp_path: Path) -> None:
    path = tmp_path / "sale" / "manifest.json"
    path.parent.mkdir()
    path.write_text('{\n  "version": 1,\n  "event": \n}')
    with pytest.raises(InputError, match=r"manifest\.json:4: not valid JSON"):
        manifest.read(path)


def test_status_of_event_with_bad_manifest_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HYBRIDBURST_STATE_DIR", str(tmp_path))
    event = tmp_path / "events" / "sale"
    event.mkdir(parents=True)
    (event / "event.json").write_text('{"provider": "local"}')
    (event / "manifest.json").write_text(json.dumps({**DOC, "hosts": [{"name": "x"}]}))
    assert cli.main(["status", "sale"]) == 2
    assert "$.hosts[0]" in capsys.readouterr().err


def test_journal_transitions_and_torn_line(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    journal.record("h1", HostState.REQUESTED, "planned")
    journal.record("h1", HostState.LAUNCHED, "up", {"pool": "web"})
    with pytest.raises(InvalidTransition, match="h1: cannot go from launched to authorized"):
        journal.record("h1", HostState.AUTHORIZED)
    journal.record("h1", HostState.QUARANTINED, "memory_mb: expected 1024, found 512")
    with pytest.raises(InvalidTransition):
        journal.record("h1", HostState.AUTHORIZED)
    journal.record("h1", HostState.DESTROYED, "removed")
    with journal.path.open("a") as handle:
        handle.write('{"time": "2026-')  # the controller died mid-write
    with pytest.raises(InputError, match=r"journal\.jsonl:5: truncated line .* journal repair"):
        journal.record("h1", HostState.REQUESTED, "a new launch for the same slot")
    assert journal.repair() == ["line 5: removed a torn last line (not a JSON record (Unterminated "
                                "string starting at: column 10)): '{\"time\": \"2026-'"]
    journal.record("h1", HostState.REQUESTED, "a new launch for the same slot")
    journal.record("h1", HostState.DESTROYED, "given back")
    current = journal.current()["h1"]
    assert current.state is HostState.DESTROYED
    assert current.previous is HostState.REQUESTED
    assert [e.state for e in journal.entries()] == [
        HostState.REQUESTED, HostState.LAUNCHED, HostState.QUARANTINED, HostState.DESTROYED,
        HostState.REQUESTED, HostState.DESTROYED]
