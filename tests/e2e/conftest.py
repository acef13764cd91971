"""The local cloud for end-to-end tests: one fleet with one host per fault class."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, hybridburst, state_dir

EVENT = "e2e"
LB = "10.200.0.10"  # the local cloud's load balancer (inventory/local)


def lb_get(path: str, timeout: float = 5.0) -> tuple[int, dict[str, Any]]:
    """GET ``path`` from the load balancer: its status and JSON body."""
    conn = http.client.HTTPConnection(LB, 80, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"{}")
    finally:
        conn.close()


FAULTS = {
    "e2e-web-02": {"memory_mb": 512},
    "e2e-web-03": {"cpus": 1},
    "e2e-web-04": {"disk_mb": 512},
    "e2e-web-05": {"os_version": "11"},
    "e2e-web-06": {"wrong_address": True},
}
HEALTHY = ["e2e-web-01", "e2e-cache-01"]
SPEC = f"""\
event: {EVENT}
team: checkout
provider: local
private_inventory: {REPO / "inventory" / "local"}
pools:
  - name: web
    count: 6
    instance_type: local.medium
    release: "1.0.0"
  - name: cache
    count: 1
    instance_type: local.small
    release: "1.0.0"
faults:
""" + "".join(
    f"  - host: {host}\n" + "".join(f"    {k}: {json.dumps(v)}\n" for k, v in fault.items())
    for host, fault in FAULTS.items()
)


@dataclass
class Fleet:
    event: str
    spec: Path
    dir: Path

    @property
    def inventory(self) -> Path:
        return self.dir / "fleet.yml"

    @property
    def manifest(self) -> dict[str, Any]:
        return json.loads((self.dir / "manifest.json").read_text())

    def host(self, name: str) -> dict[str, Any]:
        return next(h for h in self.manifest["hosts"] if h["name"] == name)

    def ssh_argv(self, host: str, command: str) -> list[str]:
        """The SSH command line that runs ``command`` on a burst host, host key checked."""
        return ["ssh", "-i", str(self.dir / "ssh" / "id_ed25519"), "-o", "BatchMode=yes",
                "-o", f"UserKnownHostsFile={self.dir / 'ssh' / 'known_hosts'}",
                "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=5",
                f"admin@{self.host(host)['address']}", command]

    def ssh(self, host: str, command: str, timeout: int = 20) -> subprocess.CompletedProcess[str]:
        """Run a command on a burst host over SSH with strict host key checking."""
        return subprocess.run(self.ssh_argv(host, command), capture_output=True, text=True,
                              timeout=timeout, check=False)

    def reaches_private_service(self, host: str) -> bool:
        """A real TCP connection from ``host`` to the private backend service."""
        proc = self.ssh(host, "timeout 3 bash -c 'echo > /dev/tcp/10.200.0.20/8081' && echo OPEN")
        return "OPEN" in proc.stdout

    def ansible(self, pattern: str, *args: str, inventory: Path | None = None,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ansible", "-i", str(inventory or self.inventory), pattern, *args],
            capture_output=True, text=True, check=False, cwd=REPO,
            env={**os.environ, **(env or {})},
        )


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    spec = tmp_path_factory.mktemp("spec") / "e2e.yml"
    spec.write_text(SPEC)
    hybridburst("provision", str(spec), check=True)
    yield Fleet(EVENT, spec, state_dir() / "events" / EVENT)
    hybridburst("deprovision", EVENT)
    assert not podman_ps(EVENT)


def podman_ps(event: str) -> list[str]:
    out = subprocess.run(["podman", "ps", "-aq", "--filter", f"label=hybridburst.event={event}"],
                         capture_output=True, text=True, check=True).stdout
    return out.split()


def allow_set() -> set[str]:
    """The addresses in the gateway's allow set; none when the gateway is gone (the last
    event's `down` removes the private side: nothing can be let in then)."""
    exists = subprocess.run(["podman", "container", "exists", "hb-gateway"], check=False)
    if exists.returncode == 1:
        return set()
    out = subprocess.run(
        ["podman", "exec", "hb-gateway", "nft", "-j", "list", "set", "inet", "hybridburst",
         "burst_allowed"], capture_output=True, text=True, check=True,
    ).stdout
    elements: set[str] = set()
    for item in json.loads(out)["nftables"]:
        # Each element binds interface . address . MAC: the address is what tests compare.
        elements.update(e["concat"][1] for e in item.get("set", {}).get("elem", []))
    return elements
