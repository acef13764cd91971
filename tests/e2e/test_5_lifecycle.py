"""The platform end to end: up, traffic, down; a crash midway; nothing left behind; no secret
in the journal or the runner artifacts. (A controller killed in every phase of `up` and `down`:
test_8_sigkill.)"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from tests.conftest import BIN, REPO, hybridburst, podman, state_dir
from tests.e2e.conftest import allow_set, lb_get, podman_ps


def spec_like_demo(folder: Path, event: str, pools: list[dict] | None = None,
                   faults: list[dict] | None = None) -> Path:
    data = yaml.safe_load((REPO / "examples" / "double11-local.yml").read_text())
    data["event"] = event
    data["private_inventory"] = str(REPO / "inventory" / "local")
    data["faults"] = [{**f, "host": f["host"].replace("double11", event)}
                      for f in (data["faults"] if faults is None else faults)]
    if pools is not None:
        data["pools"] = pools
    path = folder / f"{event}.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def states(event: str) -> dict[str, str]:
    rows = json.loads(hybridburst("status", event, "--json", check=True).stdout)["hosts"]
    return {r["host"]: r["state"] for r in rows}


def history(event: str, host: str) -> list[str]:
    journal = state_dir() / "events" / event / "journal.jsonl"
    return [json.loads(line)["state"] for line in journal.read_text().splitlines()
            if json.loads(line)["host"] == host]


def manifest_addresses(event: str) -> dict[str, str]:
    data = json.loads((state_dir() / "events" / event / "manifest.json").read_text())
    return {h["name"]: h["address"] for h in data["hosts"]}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> str:
    spec = spec_like_demo(tmp_path_factory.mktemp("life"), "life")
    proc = hybridburst("up", str(spec), "--json")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    steps = [e["step"] for e in lines if e["type"] == "step_started"]
    if steps[:1] == ["bake"]:  # the pools' image was not baked yet on this machine
        steps.pop(0)
    assert steps == ["provision", "validate", "authorize", "verify", "deploy"]
    return "life"


def test_hosts_launch_from_the_baked_image_and_are_verified_not_converged(demo: str) -> None:
    names = [f"hb-{h}" for h in manifest_addresses(demo)]
    images = subprocess.run(["podman", "inspect", "--format", "{{.ImageName}}", *names],
                            capture_output=True, text=True, check=True).stdout.split()
    assert len(images) == 4 and all(i.startswith("localhost/hybridburst-baked:") for i in images)
    journal = state_dir() / "events" / demo / "journal.jsonl"
    baselined = [json.loads(line) for line in journal.read_text().splitlines()
                 if json.loads(line)["state"] == "baselined"]
    assert len(baselined) == 4
    assert all(e["reason"].startswith("baseline verified against image ") for e in baselined)
    # The baseline holds on a host that took no full role: its sudo asks the event's password.
    host = sorted(manifest_addresses(demo))[0]
    sudo = subprocess.run(["podman", "exec", "--user", "admin", f"hb-{host}", "sudo", "-n", "true"],
                          capture_output=True, text=True, check=False)
    assert sudo.returncode != 0 and "password" in sudo.stderr


def test_hosts_from_the_image_serve_through_the_load_balancer_untouched_by_deploy(
        demo: str) -> None:
    """The image brought the release: deploy only put the hosts in the load balancer (its
    health check passed), it installed nothing, and the storefront answers through it."""
    hosts = sorted(manifest_addresses(demo))
    runs = sorted((state_dir() / "events" / demo / "runs").glob("*-deploy"))
    extravars = json.loads((runs[-1] / "env" / "extravars").read_text())
    assert sorted(extravars["deploy_from_image"].split(",")) == hosts
    events = [json.loads(p.read_text()) for p in runs[-1].rglob("job_events/*.json")]
    ok = [e["event_data"] for e in events
          if e.get("event") == "runner_on_ok" and e["event_data"].get("host") in hosts]
    delegated = {d["resolved_action"] for d in ok
                 if (d.get("res") or {}).get("_ansible_delegated_vars")}
    assert "hybridburst.platform.haproxy_member" in delegated  # on the load balancer
    on_hosts = {d["resolved_action"] for d in ok
                if not (d.get("res") or {}).get("_ansible_delegated_vars")}
    # Only what Ansible does on the controller: no task reached the hosts themselves.
    assert on_hosts <= {f"ansible.builtin.{a}" for a in (
        "set_fact", "set_stats", "include_role", "include_tasks", "validate_argument_spec",
        "assert", "fail")}, on_hosts
    seen: set[tuple[str, str]] = set()
    for i in range(40):
        status, body = lb_get(f"/products/{i + 1}")
        assert status == 200, body
        if body.get("host", "").startswith(f"{demo}-"):
            seen.add((body["host"], body["release"]))
    assert seen == {(h, "1.0.0") for h in hosts}


def test_up_quarantines_the_faulty_host_and_readies_the_rest(demo: str) -> None:
    now = states(demo)
    assert now.pop("life-web-03") == "destroyed"
    assert set(now.values()) == {"ready"}, now
    assert len(now) == 4
    # The faulty host never held access: launched, quarantined, revoked, destroyed.
    assert history(demo, "life-web-03") == [
        "requested", "launched", "quarantined", "revoked", "destroyed"]
    assert podman_ps(demo) and len(podman_ps(demo)) == 4
    assert allow_set() >= set(manifest_addresses(demo).values())
    assert "life-web-03" not in manifest_addresses(demo)


def test_journal_and_artifacts_hold_no_secret(demo: str) -> None:
    event_dir = state_dir() / "events" / demo
    key = (event_dir / "ssh" / "id_ed25519").read_text()
    body = "".join(key.strip().splitlines()[1:-1])
    private_key = Path("/var/lib/hybridburst/local-cloud/ssh/id_ed25519").read_text()
    private_body = "".join(private_key.strip().splitlines()[1:-1])
    searched = 0
    for path in [event_dir / "journal.jsonl", *(event_dir / "runs").rglob("*")]:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        searched += 1
        assert "PRIVATE KEY" not in text, path
        assert body[:40] not in text and private_body[:40] not in text, path
        assert "ansible_password" not in text and "ansible_become_pass" not in text, path
    assert searched > 20  # the artifacts of every step were searched


def test_down_gives_everything_back_and_settles(demo: str) -> None:
    addresses = set(manifest_addresses(demo).values())
    proc = hybridburst("down", demo)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert podman_ps(demo) == []
    assert not addresses & allow_set()
    assert not (state_dir() / "events" / demo / "ssh").exists()
    assert set(states(demo).values()) == {"destroyed"}
    settlement = json.loads((state_dir() / "events" / demo / "settlement.json").read_text())
    assert settlement["event"] == demo
    # The bill follows the real timestamps of the hosts: launch to destroy, per second,
    # at least 60 s, the quarantined host included until it was destroyed.
    entries = [json.loads(line) for line in
               (state_dir() / "events" / demo / "journal.jsonl").read_text().splitlines()]
    billed = {h["host"]: h for h in settlement["hosts"]}
    assert set(billed) == {e["host"] for e in entries}
    for host, record in billed.items():
        launched = next(e["time"] for e in entries if e["host"] == host and e["state"] == "launched")
        destroyed = [e["time"] for e in entries if e["host"] == host and e["state"] == "destroyed"][-1]
        seconds = (datetime.fromisoformat(destroyed) - datetime.fromisoformat(launched)).total_seconds()
        assert record["billed_seconds"] == max(60, math.ceil(seconds)), (host, record, seconds)
    assert billed["life-web-03"]["quarantined"] is True


def _up_until(spec: Path, marker: str, timeout: float = 300) -> None:
    """Start `up`, wait until it reaches ``marker`` (a runner dir suffix), SIGKILL it."""
    env = {**os.environ}
    proc = subprocess.Popen([str(BIN / "hybridburst"), "up", str(spec)], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    runs = state_dir() / "events" / yaml.safe_load(spec.read_text())["event"] / "runs"
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if runs.exists() and any(p.name.endswith(marker) for p in runs.iterdir()):
                time.sleep(1.5)  # well inside the step
                break
            assert proc.poll() is None, "up finished before the crash point"
            time.sleep(0.2)
        else:
            raise AssertionError(f"up never reached {marker}")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_down_after_a_partial_up_leaves_nothing(tmp_path: Path) -> None:
    pools = [{"name": "web", "count": 2, "instance_type": "local.small", "release": "1.0.0"}]
    spec = spec_like_demo(tmp_path, "partial", pools=pools, faults=[])
    _up_until(spec, "-authorize")
    addresses = set(manifest_addresses("partial").values())
    assert len(addresses) == 2
    proc = hybridburst("down", "partial")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # Checked from outside the project's records: podman, the gateway, the file system.
    assert podman_ps("partial") == []
    out = podman("ps", "-a", "--format", "{{.Names}}")
    assert "hb-partial-" not in out
    assert not addresses & allow_set()
    event_dir = state_dir() / "events" / "partial"
    assert not (event_dir / "ssh").exists()
    assert not list(event_dir.rglob("id_ed25519*"))
    assert not (event_dir / "manifest.json").exists()
