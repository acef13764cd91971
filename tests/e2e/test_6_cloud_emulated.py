"""The cloud path end to end on the emulated cloud: `hybridburst up` and `down` with provider
aws and openstack drive the real stack programs through the Automation API seam, every
instance a local-cloud host. One faulty host per event: quarantined, destroyed through the
stack; the others ready, reachable only with keys read from their consoles, in the allow set
and serving; after `down` nothing is left (checked with podman and nft)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, hybridburst, podman, state_dir
from tests.e2e.conftest import allow_set, lb_get, podman_ps

CASES = {
    # aws: web-03 (zone a) has half its memory; web-02 is in the second zone's subnet.
    "aws": {"event": "emuaws", "type": "c6i.large", "region": "us-east-1",
            "fault": {"host": "emuaws-web-03", "memory_mb": 2048},
            "healthy": ["emuaws-web-01", "emuaws-web-02"], "faulty": "emuaws-web-03",
            "stack": "aws_burst"},
    # openstack: web-02 never prints its host keys on the console.
    "openstack": {"event": "emuos", "type": "s3.large.2", "region": "RegionOne",
                  "fault": {"host": "emuos-web-02", "silent_console": True},
                  "healthy": ["emuos-web-01", "emuos-web-03"], "faulty": "emuos-web-02",
                  "stack": "openstack_burst"},
}


@dataclass
class CloudEvent:
    provider: str
    event: str
    spec: Path
    case: dict[str, Any]
    up: subprocess.CompletedProcess[str]

    @property
    def dir(self) -> Path:
        return state_dir() / "events" / self.event

    @property
    def manifest(self) -> dict[str, Any]:
        return json.loads((self.dir / "manifest.json").read_text())

    @property
    def stack_dir(self) -> Path:
        return state_dir() / "emulated-cloud" / self.provider / "stacks" / self.case["stack"] \
            / self.event

    def instances(self) -> dict[str, str]:
        """Host name -> instance id, from the emulated stack's state."""
        resources = json.loads((self.stack_dir / "resources.json").read_text())
        return {r["name"]: r["id"] for r in resources.values() if r["type"].endswith("Instance")}

    def containers(self) -> dict[str, str]:
        """Host name -> container id, from podman."""
        out = podman("ps", "-a", "--filter", f"label=hybridburst.event={self.event}",
                     "--format", "{{.ID}} {{index .Labels \"hybridburst.host\"}}")
        return {line.split()[1]: line.split()[0] for line in out.splitlines() if line.strip()}

    def ssh(self, host: str, command: str) -> subprocess.CompletedProcess[str]:
        m = self.manifest
        address = next(h["address"] for h in m["hosts"] if h["name"] == host)
        return subprocess.run(
            ["ssh", "-i", m["ssh"]["private_key_file"], "-o", "BatchMode=yes",
             "-o", f"UserKnownHostsFile={m['ssh']['known_hosts_file']}",
             "-o", "StrictHostKeyChecking=yes", "-o", "GlobalKnownHostsFile=/dev/null",
             "-o", "ConnectTimeout=5", f"{m['ssh']['user']}@{address}", command],
            capture_output=True, text=True, timeout=30, check=False)

    def history(self, host: str) -> list[str]:
        return [json.loads(line)["state"] for line in (self.dir / "journal.jsonl").read_text()
                .splitlines() if json.loads(line)["host"] == host]


def write_spec(folder: Path, provider: str) -> Path:
    case = CASES[provider]
    doc = {
        "event": case["event"], "team": "storefront", "provider": provider, "emulated": True,
        "region": case["region"],
        "window": {"start": "2026-11-10T20:00:00Z", "end": "2026-11-12T04:00:00Z"},
        "budget": {"amount": 500, "currency": "USD"},
        "private_inventory": str(REPO / "inventory" / "local"),
        "pools": [{"name": "web", "count": 3, "instance_type": case["type"], "release": "1.0.0",
                   "min_healthy_share": 0.6}],
        "faults": [case["fault"]],
    }
    path = folder / f"{case['event']}.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.fixture(scope="module", params=["aws", "openstack"])
def cloud(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudEvent]:
    provider = request.param
    spec = write_spec(tmp_path_factory.mktemp(provider), provider)
    os.environ["HYBRIDBURST_HOST_KEY_TIMEOUT"] = "20"
    try:
        proc = hybridburst("up", str(spec))
    finally:
        os.environ.pop("HYBRIDBURST_HOST_KEY_TIMEOUT", None)
    event = CloudEvent(provider, CASES[provider]["event"], spec, CASES[provider], proc)
    yield event
    hybridburst("down", event.event)
    leftover = podman_ps(event.event)
    if leftover:
        podman("rm", "-f", "-t", "0", *leftover)


def test_up_says_it_is_emulated_and_ends_with_the_healthy_hosts_ready(cloud: CloudEvent) -> None:
    assert cloud.up.returncode == 0, cloud.up.stdout[-3000:] + cloud.up.stderr[-3000:]
    assert f"EMULATED {cloud.provider}" in cloud.up.stdout
    status = json.loads(hybridburst("status", cloud.event, "--json", check=True).stdout)
    assert (status["provider"], status["emulated"]) == (cloud.provider, True)
    assert f"EMULATED {cloud.provider}" in hybridburst("status", cloud.event, check=True).stdout
    states = {r["host"]: r["state"] for r in status["hosts"]}
    assert states == {**dict.fromkeys(cloud.case["healthy"], "ready"),
                      cloud.case["faulty"]: "destroyed"}


def test_the_faulty_host_is_quarantined_then_destroyed_through_the_stack(cloud: CloudEvent
                                                                         ) -> None:
    faulty = cloud.case["faulty"]
    assert cloud.history(faulty)[-3:] == ["quarantined", "revoked", "destroyed"]
    journal = [json.loads(line) for line in (cloud.dir / "journal.jsonl").read_text().splitlines()]
    quarantine = next(e for e in journal if e["host"] == faulty and e["state"] == "quarantined")
    if cloud.provider == "aws":
        checks = {c["check"]: c for c in quarantine["data"]["checks"]}
        assert checks["memory_mb"]["found"] == 2048 and not checks["memory_mb"]["passed"]
    else:
        assert quarantine["reason"].startswith("no SSH host keys on the console log")
        assert "validated" not in cloud.history(faulty)
    destroyed = next(e for e in journal if e["host"] == faulty and e["state"] == "destroyed")
    assert "excludedHosts" in destroyed["reason"]
    # Gone from the world and from the stack; the others keep the instances they were launched as.
    assert faulty not in cloud.containers()
    instances = cloud.instances()
    assert faulty not in instances
    launched = {e["host"]: e["reason"].split(": ", 1)[1] for e in journal
                if e["state"] == "launched"}
    assert {h: instances[h] for h in cloud.case["healthy"]} == {
        h: launched[h] for h in cloud.case["healthy"]}
    config = json.loads((cloud.stack_dir / "config.json").read_text())
    excluded = [v[0] for k, v in config.items() if ":excludedHosts" in k]
    assert excluded == [faulty]


def test_host_keys_were_read_from_the_console_and_are_the_hosts_own(cloud: CloudEvent) -> None:
    known = (cloud.dir / "ssh" / "known_hosts").read_text()
    for host in cloud.case["healthy"]:
        own = podman("exec", f"hb-{host}", "cat", "/etc/ssh/ssh_host_ed25519_key.pub").split()[1]
        assert own in known
        proc = cloud.ssh(host, "hostname")
        assert proc.returncode == 0 and proc.stdout.strip() == host, proc.stderr
    assert cloud.case["faulty"] not in known


def test_healthy_hosts_reach_the_private_service_through_their_own_subnet_router(
        cloud: CloudEvent) -> None:
    allowed = allow_set()
    for host in cloud.case["healthy"]:
        record = next(h for h in cloud.manifest["hosts"] if h["name"] == host)
        assert record["address"] in allowed
        proc = cloud.ssh(host, "timeout 3 bash -c 'echo > /dev/tcp/10.200.0.20/8081' && echo OPEN;"
                               " ip -4 route get 10.200.0.20")
        assert "OPEN" in proc.stdout, proc.stdout + proc.stderr
        gateway = record.get("gateway") or cloud.manifest["network"]["gateway"]["burst_address"]
        assert f"via {gateway} " in proc.stdout
    if cloud.provider == "aws":
        gateways = {h["name"]: h.get("gateway") for h in cloud.manifest["hosts"]}
        # Two zones, two subnets, two routers: each host's own.
        assert len(set(gateways.values())) == 2, gateways


def test_the_storefront_answers_from_every_ready_host(cloud: CloudEvent) -> None:
    seen = set()
    for i in range(12):
        status, body = lb_get(f"/products/{i + 1}")
        assert status == 200
        seen.add(body["host"])
    assert set(cloud.case["healthy"]) <= seen


def test_up_again_changes_nothing(cloud: CloudEvent) -> None:
    before = cloud.containers()
    proc = hybridburst("up", str(cloud.spec))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert cloud.containers() == before


def test_no_secret_in_the_journal_state_or_artifacts(cloud: CloudEvent) -> None:
    from hybridburst.providers.emulated.engine import EmulatedPulumi

    engine = EmulatedPulumi(cloud.stack_dir.parents[2] / "stacks")
    config = json.loads((cloud.stack_dir / "config.json").read_text())
    sealed = next(v[0] for k, v in config.items() if k.endswith(":vpnPsk"))
    psk = engine._open(sealed)
    assert len(psk) >= 8 and psk not in sealed
    key = (cloud.dir / "ssh" / "id_ed25519").read_text().splitlines()[1]
    for path in [*cloud.dir.rglob("*"), *cloud.stack_dir.parents[1].rglob("*")]:
        if path.is_file() and path.name not in ("id_ed25519", "secrets.key"):
            text = path.read_text(errors="replace")
            assert psk not in text, path
            assert key not in text, path


def test_down_leaves_nothing_running_and_no_access(cloud: CloudEvent) -> None:
    addresses = {h["address"] for h in cloud.manifest["hosts"]}
    proc = hybridburst("down", cloud.event)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert podman_ps(cloud.event) == []
    assert cloud.instances() == {}
    if podman("ps", "-q", "--filter", "name=^hb-gateway$").strip():
        assert not addresses & allow_set()
    states = {r["host"]: r["state"] for r in json.loads(
        hybridburst("status", cloud.event, "--json", check=True).stdout)["hosts"]}
    assert set(states.values()) == {"destroyed"}
    assert (cloud.dir / "settlement.json").exists()
