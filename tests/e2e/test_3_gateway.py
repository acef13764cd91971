"""The local cloud's gateway is built by the private_gateway role; re-applying the role on the
running gateway keeps every authorized host's access and its open connections, proven with
real TCP from a burst host to the private service."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest

from tests.conftest import REPO, hybridburst, podman
from tests.e2e.conftest import HEALTHY, Fleet, allow_set

TABLE = ("inet", "hybridburst")
LB_SSH = "10.200.0.10 . tcp . 22"  # not a private service: a hole someone opened by hand
APPLIED = "/var/lib/hybridburst/private_gateway.applied"


def gateway_playbook(fleet: Fleet, *args: str) -> subprocess.CompletedProcess[str]:
    """playbooks/gateway.yml as AWX runs it: the event's inventory, nothing else."""
    return subprocess.run(["ansible-playbook", "-i", str(fleet.inventory), "playbooks/gateway.yml",
                           *args], capture_output=True, text=True, cwd=REPO, check=False)


def services() -> list[str]:
    out = podman("exec", "hb-gateway", "nft", "-j", "list", "set", *TABLE, "private_services")
    found = next(o["set"] for o in json.loads(out)["nftables"] if "set" in o)
    names = {6: "tcp", 17: "udp"}
    return sorted(" . ".join(str(names.get(v, v)) for v in e["concat"]) for e in found.get("elem", []))


def reaches(fleet: Fleet, host: str, address: str, port: int) -> bool:
    proc = fleet.ssh(host, f"timeout 3 bash -c 'echo > /dev/tcp/{address}/{port}' && echo OPEN")
    return "OPEN" in proc.stdout


def open_connection(fleet: Fleet, host: str) -> subprocess.Popen[str]:
    """A TCP connection from ``host`` to the private service, opened now; it sends its request
    once /tmp/hb-go exists on the host and prints the answer."""
    script = ("exec 3<>/dev/tcp/10.200.0.20/8081 || exit 1; echo CONNECTED; "
              "for i in $(seq 600); do [ -e /tmp/hb-go ] && break; sleep 0.2; done; "
              "printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3; timeout 10 cat <&3")
    return subprocess.Popen(fleet.ssh_argv(host, script), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def authorized(fleet: Fleet) -> Iterator[Fleet]:
    hybridburst("validate", fleet.event)
    proc = hybridburst("authorize", fleet.event)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    yield fleet
    hybridburst("revoke", fleet.event)
    assert allow_set() == set()


def test_the_local_gateway_is_built_by_the_role(authorized: Fleet) -> None:
    listing = podman("exec", "hb-gateway", "nft", "list", "chain", *TABLE, "forward")
    assert "policy drop;" in listing
    assert "(hybridburst private_gateway " in listing  # the role's marker rule
    conf = podman("exec", "hb-gateway", "cat", "/etc/nftables.conf")
    assert 'include "/etc/nftables.d/hybridburst-gateway.nft"' in conf
    assert services() == ["10.200.0.10 . tcp . 8000", "10.200.0.20 . tcp . 8081"]


def test_reapplying_the_role_keeps_authorized_hosts_and_open_connections(authorized: Fleet) -> None:
    host = HEALTHY[0]
    address = authorized.host(host)["address"]
    before = allow_set()
    assert address in before
    # Drift by hand: the LB's SSH opened to authorized hosts. The re-run must really load
    # the ruleset (and close that hole), not just find nothing to do.
    podman("exec", "hb-gateway", "nft", "add", "element", *TABLE, "private_services",
           f"{{ {LB_SSH} }}")
    assert reaches(authorized, host, "10.200.0.10", 22)
    held = open_connection(authorized, host)
    assert held.stdout is not None
    assert held.stdout.readline().strip() == "CONNECTED"
    try:
        proc = gateway_playbook(authorized)
    finally:
        authorized.ssh(host, "touch /tmp/hb-go")
        answer, _ = held.communicate(timeout=60)
        authorized.ssh(host, "rm -f /tmp/hb-go")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert "changed=1" in proc.stdout  # the ruleset was loaded again
    assert '"status": "ok"' in answer  # the connection opened before the re-run still works
    assert allow_set() == before
    assert authorized.reaches_private_service(host)
    assert not reaches(authorized, host, "10.200.0.10", 22)
    assert LB_SSH not in services()
    again = gateway_playbook(authorized)
    assert again.returncode == 0, again.stdout[-3000:]
    assert "changed=0" in again.stdout and "changed=1" not in again.stdout
    assert allow_set() == before


def test_a_changed_role_reconfigures_the_running_gateway_in_place(authorized: Fleet) -> None:
    """What `up` does when the role, its playbook or the private inventory changed (the
    gateway's record of what was applied no longer matches): the role runs again on the same
    container, the authorized hosts stay in."""
    container = podman("inspect", "-f", "{{.Id}}", "hb-gateway").strip()
    before = allow_set()
    assert before
    podman("exec", "hb-gateway", "sh", "-c", f"echo outdated > {APPLIED}")
    proc = hybridburst("provision", str(authorized.spec))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "hb-gateway: setting up the gateway's allow list (role private_gateway)" in proc.stdout
    assert podman("inspect", "-f", "{{.Id}}", "hb-gateway").strip() == container
    assert podman("exec", "hb-gateway", "cat", APPLIED).strip() != "outdated"
    assert allow_set() == before
    for host in HEALTHY:
        assert authorized.reaches_private_service(host), host
