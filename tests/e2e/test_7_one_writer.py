"""One writer per event: two `up` of one spec started together end with one fleet, the second
waiting for the first and saying so; an event provisioned at the same time gets addresses of
its own."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from hybridburst.states import HostState, allowed
from tests.conftest import BIN, REPO, hybridburst, podman, state_dir
from tests.e2e.conftest import podman_ps
from tests.e2e.test_5_lifecycle import spec_like_demo

BURST = "racer"  # two `up` of its spec at once
OTHER = "racer-other"  # provisioned at the same time
POOLS = [{"name": "web", "count": 2, "instance_type": "local.small", "release": "1.0.0"}]


def allowed_addresses() -> set[str]:
    """Every IPv4 address in the gateway's allow set, read with nft in the gateway (whatever
    else an element binds the address to: interface, MAC)."""
    out = podman("exec", "hb-gateway", "nft", "-j", "list", "set", "inet", "hybridburst",
                 "burst_allowed")
    elements = [item.get("set", {}).get("elem", []) for item in json.loads(out)["nftables"]]
    return set(re.findall(r'"(\d{1,3}(?:\.\d{1,3}){3})"', json.dumps(elements)))


def journal(event: str) -> list[dict[str, Any]]:
    path = state_dir() / "events" / event / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def addresses(event: str) -> dict[str, str]:
    data = json.loads((state_dir() / "events" / event / "manifest.json").read_text())
    return {h["name"]: h["address"] for h in data["hosts"]}


def container(name: str) -> dict[str, Any]:
    return json.loads(podman("inspect", "--type", "container", name))[0]  # type: ignore[no-any-return]


@dataclass
class Race:
    ups: list[tuple[subprocess.Popen[str], str, str]]  # process, stdout, stderr
    other: subprocess.CompletedProcess[str]
    spec: Path
    allowed_before: set[str]


@pytest.fixture(scope="module")
def race(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Race]:
    folder = tmp_path_factory.mktemp("race")
    spec = spec_like_demo(folder, BURST, pools=POOLS, faults=[])
    other = spec_like_demo(folder, OTHER, pools=POOLS, faults=[])
    # What other events hold of the allow set (a gateway that does not run yet holds nothing).
    gateway = subprocess.run(["podman", "container", "exists", "hb-gateway"], check=False)
    before = allowed_addresses() if gateway.returncode == 0 else set()
    command = [str(BIN / "hybridburst"), "up", str(spec)]
    ups = [subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True) for _ in range(2)]
    provision = subprocess.Popen([str(BIN / "hybridburst"), "provision", str(other)], cwd=REPO,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    finished = [(p, *p.communicate(timeout=600)) for p in ups]
    out, err = provision.communicate(timeout=600)
    try:
        yield Race(finished, subprocess.CompletedProcess(provision.args, provision.returncode,
                                                         out, err), spec, before)
    finally:
        down = hybridburst("down", BURST)
        gone = hybridburst("deprovision", OTHER)
        assert down.returncode == 0, down.stdout[-3000:] + down.stderr[-3000:]
        assert gone.returncode == 0, gone.stdout[-3000:] + gone.stderr[-3000:]
        assert podman_ps(BURST) == [] and podman_ps(OTHER) == []


def test_both_ups_succeed_and_the_second_waited_naming_the_first(race: Race) -> None:
    for proc, out, err in race.ups:
        assert proc.returncode == 0, out[-3000:] + err[-3000:]
    # (Either may also have waited a moment for the local cloud's machine lock.)
    said = f"waiting for {BURST}: "
    waited = [(proc, err) for proc, _, err in race.ups if said in err]
    assert len(waited) == 1, [err for _, _, err in race.ups]
    waiter, err = waited[0]
    first = next(proc for proc, _, _ in race.ups if proc is not waiter)
    lines = [line for line in err.splitlines() if said in line]
    assert len(lines) == 1, err
    assert re.fullmatch(rf"waiting for {BURST}: held by `hybridburst up {race.spec}` "
                        rf"\(pid {first.pid}\) since \d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ",
                        lines[0]), lines[0]


def test_one_fleet_no_slot_launched_twice_no_container_replaced(race: Race) -> None:
    entries = journal(BURST)
    hosts = {e["host"] for e in entries}
    assert hosts == {f"{BURST}-web-01", f"{BURST}-web-02"}
    for host in hosts:
        states = [e["state"] for e in entries if e["host"] == host]
        assert states.count("requested") == 1 and states.count("launched") == 1, states
        assert states[-1] == "ready", states
    # One container per host, and it is the one the journal launched: started before the
    # launch was recorded, never started again since.
    running = podman_ps(BURST)
    assert len(running) == 2
    for host in hosts:
        info = container(f"hb-{host}")
        launched = next(e["time"] for e in entries
                        if e["host"] == host and e["state"] == "launched")
        started = info["State"]["StartedAt"]
        assert info["State"]["Running"] and info["RestartCount"] == 0
        assert _moment(started) <= datetime.fromisoformat(launched), (host, started, launched)
        assert info["Id"][:12] in {c[:12] for c in running}


def test_every_journal_transition_is_legal(race: Race) -> None:
    for event in (BURST, OTHER):
        last: dict[str, HostState | None] = {}
        for e in journal(event):
            new = HostState(e["state"])
            assert allowed(last.get(e["host"]), new), (event, e["host"], last.get(e["host"]), new)
            last[e["host"]] = new


def test_the_allow_set_holds_exactly_the_authorized_hosts(race: Race) -> None:
    ours, others = set(addresses(BURST).values()), set(addresses(OTHER).values())
    now = allowed_addresses()
    # Of the two events' addresses, exactly the authorized hosts' (the other event was
    # provisioned, never authorized), and nothing else was added.
    assert now & (ours | others) == ours, (now, ours, others)
    assert now <= race.allowed_before | ours, (now, race.allowed_before, ours)


def test_two_events_provisioned_together_get_disjoint_addresses(race: Race) -> None:
    assert race.other.returncode == 0, race.other.stdout[-3000:] + race.other.stderr[-3000:]
    mine, other = addresses(BURST), addresses(OTHER)
    assert len(set(mine.values())) == 2 and len(set(other.values())) == 2
    assert not set(mine.values()) & set(other.values()), (mine, other)
    # Each host really answers at its manifest's address (no duplicate address on the net).
    for host, address in {**mine, **other}.items():
        nets = container(f"hb-{host}")["NetworkSettings"]["Networks"]
        assert [n["IPAddress"] for n in nets.values()] == [address], (host, nets)


def _moment(podman_time: str) -> datetime:
    """podman's RFC 3339 time with nanoseconds (2026-12-02T06:50:47.242755037Z)."""
    match = re.fullmatch(r"([^.]+)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", podman_time)
    assert match, podman_time
    whole, fraction, zone = match.groups()
    return datetime.fromisoformat(f"{whole}.{(fraction or '0')[:6]:0<6}"
                                  f"{'+00:00' if zone == 'Z' else zone}")
