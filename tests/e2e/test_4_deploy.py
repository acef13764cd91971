"""Deploy and drain on the local cloud: the storefront behind the load balancer, for real.

An event of its own (three healthy hosts), so the tests need nothing of the shared fleet.
Test traffic goes only to the load balancer of the local cloud (10.200.0.10) and the
project's own hosts, bounded in count and time."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.conftest import BIN, REPO, hybridburst, podman, state_dir
from tests.e2e.conftest import Fleet, lb_get

pytestmark = pytest.mark.localcloud

EVENT = "h6dep"
HOSTS = [f"{EVENT}-web-0{i}" for i in (1, 2, 3)]
GOOD, BAD = "1.0.0", "9.9.9-bad"
SPEC = f"""\
event: {EVENT}
team: storefront
provider: local
private_inventory: {REPO / "inventory" / "local"}
pools:
  - name: web
    count: 3
    instance_type: local.small
    release: "{GOOD}"
"""
def app_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return hybridburst(*args)


@pytest.fixture(scope="module")
def event(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    spec = tmp_path_factory.mktemp("h6spec") / f"{EVENT}.yml"
    spec.write_text(SPEC)
    hybridburst("provision", str(spec), check=True)
    hybridburst("validate", EVENT, check=True)
    hybridburst("authorize", EVENT, check=True)
    hybridburst("baseline", EVENT, check=True)
    yield Fleet(EVENT, spec, state_dir() / "events" / EVENT)
    app_cli("drain", EVENT, "--timeout", "10")  # reclaim: out of the load balancer first
    hybridburst("deprovision", EVENT)


def served(count: int = 30) -> Counter[tuple[str, str]]:
    """(host, release) of the answers of this event's hosts among ``count`` product requests
    through the load balancer (other events may share it)."""
    seen: Counter[tuple[str, str]] = Counter()
    for i in range(count):
        status, body = lb_get(f"/products/{i % 50 + 1}")
        assert status == 200, body
        if body["host"].startswith(f"{EVENT}-"):
            seen[(body["host"], body["release"])] += 1
    return seen


def current_release(fleet: Fleet, host: str) -> str:
    return fleet.ssh(host, "readlink /opt/storefront/current").stdout.strip().rsplit("/", 1)[-1]


def lb_members() -> set[str]:
    out = podman("exec", "hb-lb", "sh", "-c",
                 "echo 'show servers state storefront' | python3 -c \"import socket,sys; "
                 "s=socket.socket(socket.AF_UNIX); s.connect('/run/haproxy/admin.sock'); "
                 "s.sendall(sys.stdin.read().encode()); s.shutdown(1); "
                 "print(b''.join(iter(lambda: s.recv(65536), b'')).decode())\"")
    rows = [line.split() for line in out.splitlines() if line[:1].isdigit()]
    return {row[3] for row in rows if len(row) > 3 and row[3].startswith(f"{EVENT}-")}


def journal_states(fleet: Fleet) -> dict[str, str]:
    rows = json.loads(hybridburst("status", fleet.event, "--json").stdout)["hosts"]
    return {r["host"]: r["state"] for r in rows}


def playbook(fleet: Fleet, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    """ansible-playbook as an operator runs it, with the event's become password (after the
    baseline, admin's sudo asks for it)."""
    return subprocess.run([str(BIN / "ansible-playbook"), "-i", str(fleet.inventory),
                           f"playbooks/{name}", *args],
                          capture_output=True, text=True, cwd=REPO, check=False,
                          env={**os.environ, "ANSIBLE_BECOME_PASSWORD_FILE":
                               str(fleet.dir / "ssh" / "become_password")})


def test_after_the_baseline_admin_has_no_passwordless_sudo(event: Fleet) -> None:
    """The image gives admin NOPASSWD: ALL; after the baseline its sudo asks for the
    controller's become password (the lifecycle goes on: the deploy below becomes root)."""
    host = HOSTS[0]
    for command in ("sudo -n id", "sudo -n /bin/sh -c id", "sudo -n -u nobody id"):
        proc = event.ssh(host, command)
        assert proc.returncode != 0, (command, proc.stdout)
        assert "uid=" not in proc.stdout
        assert "a password is required" in proc.stderr, (command, proc.stderr)
    rules = event.ssh(host, "ls /etc/sudoers.d").stdout.split()
    assert "90-cloud-admin" not in rules, rules
    password = (event.dir / "ssh" / "become_password").read_text()
    assert (event.dir / "ssh" / "become_password").stat().st_mode & 0o077 == 0
    # With the password (on stdin, as Ansible gives it), admin is root.
    proc = subprocess.run(
        ["ssh", "-i", str(event.dir / "ssh" / "id_ed25519"), "-o", "BatchMode=yes",
         "-o", f"UserKnownHostsFile={event.dir / 'ssh' / 'known_hosts'}",
         "-o", "StrictHostKeyChecking=yes", f"admin@{event.host(host)['address']}",
         "sudo -S -p '' id -u"],
        input=password + "\n", capture_output=True, text=True, timeout=20, check=False)
    assert proc.stdout.strip() == "0", proc.stderr


def test_the_baseline_sets_every_net_sysctl_on_the_host(event: Fleet) -> None:
    """The sale's network settings (SYN backlog, redirects, reverse-path filter) take effect
    on a local host: each net.* line of the role's sysctl file is the live value in the
    host's /proc/sys; only keys its network namespace lacks are reported as not applied."""
    host = HOSTS[0]
    text = event.ssh(host, "cat /etc/sysctl.d/*baseline*.conf").stdout
    wanted = dict(line.split(" = ", 1) for line in text.splitlines()
                  if line.startswith("net.") and " = " in line)
    assert {"net.ipv4.tcp_max_syn_backlog", "net.ipv4.conf.all.rp_filter",
            "net.ipv4.conf.all.accept_redirects"} <= set(wanted), text
    paths = " ".join("/proc/sys/" + key.replace(".", "/") for key in wanted)
    live = event.ssh(host, f"cat {paths}").stdout.splitlines()
    assert dict(zip(wanted, (" ".join(v.split()) for v in live), strict=True)) == {
        k: " ".join(v.split()) for k, v in wanted.items()}
    skipped = [line for line in text.splitlines() if line.startswith("# not applied here: net.")]
    assert all("not present in this kernel or network namespace" in line for line in skipped), \
        skipped


def test_deploy_puts_every_host_behind_the_load_balancer(event: Fleet) -> None:
    started = time.monotonic()
    proc = app_cli("deploy", EVENT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    print(f"deploy of {len(HOSTS)} hosts: {time.monotonic() - started:.1f}s")
    seen = served(60)
    assert {host for host, _ in seen} == set(HOSTS), seen  # the spread: every host answers
    assert {release for _, release in seen} == {GOOD}
    assert min(seen.values()) >= 3, seen  # round robin, not one host and stragglers
    assert lb_members() == set(HOSTS)
    states = journal_states(event)
    assert all(states[h] == "ready" for h in HOSTS), states


def test_deploying_the_same_release_again_changes_nothing(event: Fleet) -> None:
    from hybridburst.app import release

    digest = release.sha256(state_dir() / "releases" / release.artifact_name(GOOD))
    proc = playbook(event, "deploy.yml", "-e", f"deploy_release={GOOD}",
                    "-e", f"deploy_release_sha256={digest}")
    assert proc.returncode == 0, proc.stdout
    recap = proc.stdout.split("PLAY RECAP")[-1]
    assert recap.count("changed=0") == len(HOSTS), recap
    assert {release for _, release in served(9)} == {GOOD}


def test_a_release_failing_its_health_check_rolls_back_and_stops_the_rollout(event: Fleet) -> None:
    from hybridburst.app import release

    release.build(BAD, state_dir() / "releases", health_fault=True)
    proc = app_cli("deploy", EVENT, "--release", BAD)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "failed its health check" in proc.stdout
    tried = [h for h in HOSTS
             if event.ssh(h, f"test -d /opt/storefront/releases/{BAD} && echo yes").stdout.strip()]
    assert len(tried) == 1, tried  # the first batch only: the rollout stopped there
    assert "rolled back to 1.0.0" in proc.stdout
    for host in HOSTS:
        assert current_release(event, host) == GOOD, host
    seen = served(60)
    assert {host for host, _ in seen} == set(HOSTS), seen  # the rolled-back host serves again
    assert {r for _, r in seen} == {GOOD}


@dataclass
class Load:
    """Bounded load through the load balancer: at most ``limit`` requests, ``seconds`` long."""

    limit: int = 20000
    seconds: float = 90.0
    workers: int = 4
    ok: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    _sent: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _take(self) -> int | None:
        with self._lock:
            if self.stop.is_set() or self._sent >= self.limit:
                return None
            self._sent += 1
            return self._sent

    def _worker(self, deadline: float) -> None:
        while time.monotonic() < deadline and (n := self._take()) is not None:
            try:
                status, body = lb_get(f"/products/{n % 50 + 1}")
                if status == 200:
                    with self._lock:
                        self.ok[body["host"]] += 1
                else:
                    self.failures.append(f"{status} {body}")
            except (OSError, http.client.HTTPException, ValueError) as exc:
                self.failures.append(repr(exc))

    def __enter__(self) -> Load:
        deadline = time.monotonic() + self.seconds
        self.threads = [threading.Thread(target=self._worker, args=(deadline,)) for _ in range(self.workers)]
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=self.seconds + 10)

    @property
    def total(self) -> int:
        return sum(self.ok.values()) + len(self.failures)


def test_draining_a_host_under_load_loses_no_request(event: Fleet) -> None:
    gone = HOSTS[-1]
    with Load() as load:
        time.sleep(2)
        before = Counter(load.ok)
        started = time.monotonic()
        proc = app_cli("drain", EVENT, "--host", gone, "--timeout", "30")
        took = time.monotonic() - started
        after_drain = Counter(load.ok)
        time.sleep(3)
        assert not load.stop.is_set() and load.total < load.limit  # the load outlived the drain
    assert proc.returncode == 0, proc.stdout + proc.stderr
    print(f"drain of {gone}: {took:.1f}s; {load.total} requests, {len(load.failures)} failed")
    assert load.failures == [], load.failures[:5]
    assert load.total >= 100, load.total
    assert before[gone] > 0  # it did take traffic before the drain
    assert load.ok[gone] == after_drain[gone]  # and none after it left
    assert sum(load.ok.values()) > sum(after_drain.values())  # the others served on
    assert gone not in lb_members()
    assert journal_states(event)[gone] == "draining"
    assert {host for host, _ in served(30)} == set(HOSTS[:-1])
