"""Access that really ends, proven with real TCP through the local cloud's gateway:
revocation cuts a connection that is already open; the allow set binds each host's address to
the interface and MAC the gateway sees, so a host using another host's address is refused;
burst hosts reach nothing on the gateway itself; after the gateway restarts (its allow set
comes back empty) `reconcile-access` puts back exactly the event's hosts that hold access and
leaves other state directories' entries alone."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.conftest import hybridburst, podman
from tests.e2e.conftest import HEALTHY, Fleet, allow_set

GATEWAY = "hb-gateway"
TABLE = ("inet", "hybridburst")
BACKEND = ("10.200.0.20", 8081)
# An entry a host of another state directory holds on the same gateway (another event,
# another address): no command of this event may drop it.
FOREIGN = "eth1 . 10.201.0.240 . 02:00:00:c9:00:f0"


def elements() -> set[str]:
    """The allow set as the gateway holds it: "interface . address . MAC"."""
    out = podman("exec", GATEWAY, "nft", "-j", "list", "set", *TABLE, "burst_allowed")
    found = next(o["set"] for o in json.loads(out)["nftables"] if "set" in o)
    return {" . ".join(e["concat"]) for e in found.get("elem", [])}


def refused_packets() -> int:
    """Packets the forward chain dropped as coming from no authorized interface/address/MAC."""
    out = podman("exec", GATEWAY, "nft", "-j", "list", "chain", *TABLE, "forward")
    for item in json.loads(out)["nftables"]:
        rule = item.get("rule", {})
        if rule.get("comment", "").startswith("burst host not authorized"):
            return int(next(e["counter"]["packets"] for e in rule["expr"] if "counter" in e))
    raise AssertionError("no refusal rule in the forward chain")


def mac_of(host: str) -> str:
    info = json.loads(podman("inspect", f"hb-{host}"))[0]
    return next(iter(info["NetworkSettings"]["Networks"].values()))["MacAddress"]


def bound(fleet: Fleet, host: str) -> str:
    """The element that lets ``host`` in: the gateway's interface toward its address (eth0 or
    eth1, as podman attached the networks), the address, the host's MAC."""
    address = fleet.host(host)["address"]
    route = json.loads(podman("exec", GATEWAY, "ip", "-j", "-4", "route", "get", address))[0]
    return f"{route['dev']} . {address} . {mac_of(host)}"


def reaches(fleet: Fleet, host: str, address: str, port: int, source: str | None = None) -> bool:
    """A real TCP connection from ``host`` (from ``source``, one of its addresses)."""
    code = ("import socket,sys; s=socket.socket(); s.settimeout(3); "
            f"s.bind(({source or ''!r}, 0)); s.connect(({address!r}, {port})); print('OPEN')")
    proc = fleet.ssh(host, f"python3 -c {json.dumps(code)}")
    return "OPEN" in proc.stdout


def hold_connection(fleet: Fleet, host: str) -> subprocess.Popen[str]:
    """A TCP connection from ``host`` to the private service, opened now and kept open by a
    request that is still being written (a header line a second: the service takes 100 at
    most); once /tmp/hb-go exists on the host the request is finished and the answer printed.
    A write that fails (the service gave up on a request held too long while a loaded machine
    ran the revocation) ends the loop: the script still reads what came back and ends."""
    script = (f"exec 3<>/dev/tcp/{BACKEND[0]}/{BACKEND[1]} || exit 1; "
              "printf 'GET /health HTTP/1.0\\r\\n' >&3; echo CONNECTED; "
              "for i in $(seq 90); do [ -e /tmp/hb-go ] && break; "
              "printf 'X-Held: %s\\r\\n' $i >&3 2>/dev/null || break; sleep 1; done; "
              "printf '\\r\\n' >&3 2>/dev/null; timeout 5 cat <&3; echo END")
    return subprocess.Popen(fleet.ssh_argv(host, script), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(fleet: Fleet, held: dict[str, subprocess.Popen[str]]) -> dict[str, str]:
    """Let the held connections finish their requests; what each got back."""
    for host in held:
        fleet.ssh(host, "touch /tmp/hb-go")
    answers = {host: proc.communicate(timeout=60)[0] for host, proc in held.items()}
    for host in held:
        fleet.ssh(host, "rm -f /tmp/hb-go")
    return answers


@pytest.fixture(scope="module")
def authorized(fleet: Fleet) -> Iterator[Fleet]:
    hybridburst("validate", fleet.event)
    proc = hybridburst("authorize", fleet.event)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    yield fleet
    hybridburst("revoke", fleet.event)
    subprocess.run(["podman", "exec", GATEWAY, "nft", "delete", "element", *TABLE,
                    "burst_allowed", f"{{ {FOREIGN} }}"], capture_output=True, check=False)
    assert allow_set() == set()


def test_the_allow_set_binds_each_host_to_the_interface_and_mac_the_gateway_sees(
        authorized: Fleet) -> None:
    assert elements() == {bound(authorized, h) for h in HEALTHY}


def test_burst_hosts_reach_nothing_on_the_gateway(authorized: Fleet) -> None:
    # The gateway's sshd listens (the private side reaches it) ...
    proc = subprocess.run(["podman", "exec", "hb-lb", "bash", "-c",
                           "timeout 3 bash -c 'echo > /dev/tcp/10.200.0.2/22' && echo OPEN"],
                          capture_output=True, text=True, check=False)
    assert "OPEN" in proc.stdout, proc.stderr
    # ... and no burst host reaches it, authorized or not, on either of its addresses.
    for host in (HEALTHY[0], "e2e-web-02"):
        for address in ("10.201.0.2", "10.200.0.2"):
            assert not reaches(authorized, host, address, 22), (host, address)


def test_a_host_using_another_hosts_address_is_refused(authorized: Fleet) -> None:
    owner, intruder = HEALTHY[0], "e2e-web-02"  # e2e-web-02 is quarantined, never authorized
    taken = authorized.host(owner)["address"]
    assert reaches(authorized, owner, *BACKEND, source=taken)
    pid = podman("inspect", "-f", "{{.State.Pid}}", f"hb-{intruder}").strip()
    netns = ["nsenter", "-t", pid, "-n"]
    subprocess.run([*netns, "ip", "addr", "add", f"{taken}/32", "dev", "eth0"], check=True)
    subprocess.run([*netns, "ip", "route", "replace", "10.200.0.0/24", "via", "10.201.0.2"],
                   check=True)
    try:
        assert not reaches(authorized, intruder, *BACKEND, source=taken)
    finally:
        subprocess.run([*netns, "ip", "addr", "del", f"{taken}/32", "dev", "eth0"], check=True)
        subprocess.run([*netns, "ip", "route", "del", "10.200.0.0/24"], check=False)
        # The gateway may have learnt the intruder's MAC for the address: forget it.
        subprocess.run(["podman", "exec", GATEWAY, "ip", "neigh", "flush", "to", taken],
                       check=False)
    assert authorized.reaches_private_service(owner)
    assert elements() == {bound(authorized, h) for h in HEALTHY}


def test_revocation_cuts_an_open_connection(authorized: Fleet) -> None:
    revoked, kept = HEALTHY
    held = {host: hold_connection(authorized, host) for host in HEALTHY}
    for host, proc in held.items():
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "CONNECTED", host
    before = refused_packets()
    try:
        proc = hybridburst("revoke", authorized.event, "--host", revoked)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    finally:
        answers = finish(authorized, held)
    assert '"status": "ok"' in answers[kept], answers  # the host still authorized is answered
    # The revoked host's script ran to its end: its request was written, no answer came back.
    assert answers[revoked].rstrip().endswith("END"), answers
    assert '"status"' not in answers[revoked], answers
    assert refused_packets() > before
    assert not authorized.reaches_private_service(revoked)
    assert authorized.reaches_private_service(kept)


def wait_for_gateway() -> None:
    """Until the restarted gateway has booted: its ruleset loaded, its sshd up."""
    for _ in range(120):
        table = subprocess.run(["podman", "exec", GATEWAY, "nft", "list", "chain", *TABLE, "forward"],
                               capture_output=True, text=True, check=False)
        sshd = subprocess.run(["podman", "exec", GATEWAY, "systemctl", "is-active", "ssh"],
                              capture_output=True, text=True, check=False)
        if table.returncode == 0 and sshd.stdout.strip() == "active":
            return
        time.sleep(0.5)
    raise AssertionError(f"{GATEWAY} did not come back: {table.stderr} {sshd.stdout}")


def test_after_a_gateway_restart_reconcile_access_restores_exactly_the_authorized_hosts(
        authorized: Fleet) -> None:
    revoked, kept = HEALTHY  # e2e-web-01 is revoked already (test above): idempotent
    assert hybridburst("revoke", authorized.event, "--host", revoked).returncode == 0
    expected = {bound(authorized, kept)}
    assert elements() == expected
    podman("restart", "-t", "5", GATEWAY)
    wait_for_gateway()
    # The ruleset came back with the gateway (nftables.service), the allow set empty.
    assert "policy drop;" in podman("exec", GATEWAY, "nft", "list", "chain", *TABLE, "forward")
    assert elements() == set()
    assert not authorized.reaches_private_service(kept)
    # Meanwhile another state directory put its host back, and someone let the revoked host
    # in by hand: the first must stay, the second must go.
    stray = bound(authorized, revoked)
    podman("exec", GATEWAY, "nft", "add", "element", *TABLE, "burst_allowed",
           f"{{ {FOREIGN}, {stray} }}")
    proc = hybridburst("reconcile-access", authorized.event)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "e2e: allow set reconciled: 1 host(s) hold access" in proc.stdout
    assert elements() == expected | {FOREIGN}
    assert authorized.reaches_private_service(kept)
    assert not authorized.reaches_private_service(revoked)
    again = hybridburst("reconcile-access", authorized.event)
    assert again.returncode == 0, again.stdout + again.stderr
    assert elements() == expected | {FOREIGN}
