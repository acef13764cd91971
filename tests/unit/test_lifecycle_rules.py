"""The lifecycle's rules, fast: `up` and `down` with a fake provider and a fake playbook
runner (it answers as the playbooks do, with set_stats outcomes), no container. The same
rules run for real in tests/e2e/test_5_lifecycle.py and test_8_sigkill.py.

Rules: a quarantined or failed host is revoked, then destroyed, at once; a retired host's
slot stays empty within a burst; a pool below its minimum healthy share stops `up` (exit 1);
a rerun after a crash resumes where the journal stands (no second host for a slot, no step
run twice on a host, no access without a verdict); access is revoked before any host is
destroyed; fresh hosts get the release in one batch, serving hosts in canary batches."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from hybridburst import lifecycle, manifest
from hybridburst.errors import HybridburstError
from hybridburst.images.bake import PoolImage
from hybridburst.journal import Journal
from hybridburst.plan import Plan
from hybridburst.reporting import Reporter
from hybridburst.runner import RunResult
from hybridburst.stages import health
from hybridburst.states import HostState
from hybridburst.workspace import EventDir
from tests.conftest import REPO

S = HostState
EVENT = "fast"
SPEC = f"""\
event: {EVENT}
team: shop
provider: local
private_inventory: {REPO / "inventory" / "local"}
pools:
  - name: web
    count: 4
    instance_type: local.medium
    release: "1.0.0"
    min_healthy_share: {{share}}
"""


class Crash(BaseException):
    """A controller killed in the middle of a playbook (nothing after it runs)."""


@dataclass
class FakeCloud:
    """Provider and gateway: who was launched, who holds access, in what order things ran."""

    launches: dict[str, int] = field(default_factory=dict)
    allowed: set[str] = field(default_factory=set)
    log: list[str] = field(default_factory=list)
    fail_launch: set[str] = field(default_factory=set)
    name: str = "fake"

    # -- provider --------------------------------------------------------------------------
    def provision(self, plan: Plan, event_dir: EventDir, journal: Journal,
                  images: dict[str, str] | None = None) -> dict[str, Any]:
        hosts = {h["name"]: h for h in (manifest.read(event_dir.manifest)["hosts"]
                                        if event_dir.manifest.exists() else [])}
        for i, host in enumerate(plan.hosts):
            if journal.state_of(host.name) not in (None, S.DESTROYED, S.FAILED):
                continue
            journal.record(host.name, S.REQUESTED, "planned",
                           {"pool": host.pool, "instance_type": host.instance_type})
            if host.name in self.fail_launch:
                journal.record(host.name, S.FAILED, "launch failed: no capacity")
                continue
            self.launches[host.name] = self.launches.get(host.name, 0) + 1
            address = f"10.201.0.{11 + i}"
            launched = dt.datetime.now(dt.UTC).isoformat()
            journal.record(host.name, S.LAUNCHED, "started", {
                "event": plan.event, "team": "shop", "pool": host.pool, "provider": "local",
                "instance_type": host.instance_type, "address": address,
                "provider_id": f"hb-{host.name}",
                **({"image": images[host.pool]} if images and host.pool in images else {})})
            hosts[host.name] = {
                "name": host.name, "address": address, "pool": host.pool,
                "instance_type": host.instance_type, "release": host.release,
                "launched_at": launched,
                "expected": {"cpus": 2, "memory_mb": 1024, "disk_mb": 2048,
                             "data_mount": "/srv/data", "interface": "eth0", "address": address,
                             "os": {"distribution": "Debian", "major_version": "12"}},
                "tags": {"hybridburst:event": plan.event}}
        self._write(event_dir, plan.event, list(hosts.values()))
        self.log.append("provision")
        return manifest.read(event_dir.manifest)

    def _write(self, event_dir: EventDir, event: str, hosts: list[dict[str, Any]]) -> None:
        manifest.write(event_dir.manifest, {
            "version": 1, "event": event, "team": "shop", "provider": "local",
            "written_at": dt.datetime.now(dt.UTC).isoformat(),
            "network": {"private_cidrs": ["10.200.0.0/24"], "burst_cidr": "10.201.0.0/24",
                        "gateway": {"private_address": "10.200.0.2",
                                    "burst_address": "10.201.0.2"}},
            "ssh": {"user": "admin", "private_key_file": str(event_dir.private_key),
                    "known_hosts_file": str(event_dir.known_hosts)},
            "hosts": sorted(hosts, key=lambda h: h["name"])})

    def destroy_hosts(self, event: str, event_dir: EventDir, journal: Journal,
                      names: set[str] | None = None) -> None:
        victims = {h for h, e in journal.current().items()
                   if (names is None or h in names) and e.state is not S.DESTROYED}
        assert not victims & self.allowed, f"destroyed while holding access: {victims & self.allowed}"
        for host in sorted(victims):
            journal.record(host, S.DESTROYED, "removed")
        self.log.append(f"destroy {','.join(sorted(victims))}")
        if event_dir.manifest.exists():
            data = manifest.read(event_dir.manifest)
            self._write(event_dir, event, [h for h in data["hosts"] if h["name"] not in victims])

    def deprovision(self, event: str, event_dir: EventDir, journal: Journal) -> None:
        self.destroy_hosts(event, event_dir, journal)


@dataclass
class FakeRunner:
    """Answers each playbook as it would on real hosts, outcome as set_stats data."""

    cloud: FakeCloud
    quarantine: set[str] = field(default_factory=set)
    refuse: set[str] = field(default_factory=set)
    baseline_fails: set[str] = field(default_factory=set)
    dies_in_deploy: set[str] = field(default_factory=set)
    drifted: set[str] = field(default_factory=set)  # the probe finds a difference on these
    crash_in: str | None = None
    calls: list[tuple[str, list[str], dict[str, Any]]] = field(default_factory=list)

    def __call__(self, event_dir: EventDir, playbook: str,
                 extravars: dict[str, Any] | None = None, limit: str | None = None) -> RunResult:
        extravars = extravars or {}
        hosts = [h for h in (limit or "").split(",") if h and h not in ("localhost", "gateway", "lb")]
        self.calls.append((playbook, hosts, extravars))
        self.cloud.log.append(f"{playbook} {','.join(hosts)}")
        run = RunResult(playbook, "successful", 0, event_dir.artifacts / playbook)
        if playbook == self.crash_in:
            raise Crash(playbook)
        if playbook == "validate.yml":
            records = [{"host": h, "verdict": "quarantined" if h in self.quarantine else "validated",
                        "launched_at": None, "checks": [],
                        "reasons": ["memory_mb: 512 != 1024"] if h in self.quarantine else []}
                       for h in hosts]
            run.outcome = {"validate_report": {
                "version": 1, "hosts": records,
                "validated": sum(r["verdict"] == "validated" for r in records),
                "quarantined": sum(r["verdict"] == "quarantined" for r in records)},
                "validate_summary": "summary\n"}
        elif playbook == "authorize.yml":
            run.failed = {h: f"{h} is not authorized: refused" for h in hosts if h in self.refuse}
            admitted = [h for h in hosts if h not in self.refuse]
            self.cloud.allowed |= set(admitted)
            run.outcome = {"private_access_admitted": admitted}
        elif playbook == "revoke.yml":
            self.cloud.allowed -= set(hosts)
            run.outcome = {"private_access_revoked": hosts}
        elif playbook == "baseline.yml":
            run.failed = {h: "sysctl failed" for h in hosts if h in self.baseline_fails}
            run.outcome = {"baseline_applied": [h for h in hosts if h not in self.baseline_fails]}
        elif playbook == "verify_baseline.yml":
            run.outcome = {"baseline_probe": {
                h: {"differences": ["sysctl net.ipv4.tcp_syncookies: 0 != 1"] if h in self.drifted
                    else [], "checked": 40, "not_applied": []} for h in hosts}}
        elif playbook == "deploy.yml":
            run.unreachable = {h: "ssh: no route" for h in hosts if h in self.dies_in_deploy}
            # A host dying stops the rollout: its batch (here, everything) is not finished.
            serving = {} if run.unreachable else {h: "1.0.0" for h in hosts}
            self.dies_in_deploy -= set(hosts)  # it is dead now; it does not die twice
            run.outcome = {"deploy_serving": serving}
            run.rc = 2 if run.unreachable else 0
        elif playbook == "drain.yml":
            run.outcome = {"drain_left": hosts}
        run.ok = set(hosts) - set(run.failed) - set(run.unreachable)
        return run

    def ran(self, playbook: str) -> list[list[str]]:
        return [hosts for name, hosts, _ in self.calls if name == playbook]


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[FakeCloud, FakeRunner]:
    monkeypatch.setenv("HYBRIDBURST_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("HYBRIDBURST_LOCAL_CLOUD_DIR", str(tmp_path / "cloud"))
    (tmp_path / "cloud").mkdir()
    cloud = FakeCloud()
    return cloud, FakeRunner(cloud)


def spec_file(tmp_path: Path, share: float = 1.0) -> Path:
    path = tmp_path / "fast.yml"
    path.write_text(SPEC.format(share=share))
    return path


def up(tmp_path: Path, cloud: FakeCloud, runner: FakeRunner, share: float = 1.0,
       images: dict[str, PoolImage] | None = None) -> int:
    """`up` as the CLI runs it, the pools' current images being ``images`` (default: none,
    every host gets the full baseline); what it prints is appended to out.txt."""
    with (tmp_path / "out.txt").open("a") as out:
        console = Console(file=out, width=160)
        return lifecycle.up(spec_file(tmp_path, share), console, Reporter(console),
                            provider=cloud, runner=runner,
                            baker=lambda *_: dict(images or {}))


def states() -> dict[str, HostState]:
    return {h: e.state for h, e in Journal(EventDir.of(EVENT).journal).current().items()}


HOSTS = [f"{EVENT}-web-0{i}" for i in range(1, 5)]


def test_up_brings_every_host_to_ready_and_fresh_hosts_deploy_in_one_batch(
        tmp_path: Path, world: tuple[FakeCloud, FakeRunner]) -> None:
    cloud, runner = world
    assert up(tmp_path, cloud, runner) == 0
    assert states() == dict.fromkeys(HOSTS, S.READY)
    assert cloud.allowed == set(HOSTS)
    assert [name for name, _, _ in runner.calls] == [
        "validate.yml", "authorize.yml", "baseline.yml", "publish_release.yml", "deploy.yml"]
    (_, deployed, extravars), = [c for c in runner.calls if c[0] == "deploy.yml"]
    assert deployed == HOSTS and extravars["deploy_serial"] == "100%"


def test_a_release_change_on_serving_hosts_goes_in_canary_batches(
        tmp_path: Path, world: tuple[FakeCloud, FakeRunner]) -> None:
    from hybridburst.stages import deploy

    cloud, runner = world
    assert up(tmp_path, cloud, runner) == 0
    result = deploy.deploy(EventDir.of(EVENT), "1.0.1", runner=runner)
    assert set(result.ok) == set(HOSTS)
    _, hosts, extravars = runner.calls[-1]
    assert hosts == HOSTS and extravars["deploy_serial"] == [1, "50%"]
    assert extravars["deploy_release"] == "1.0.1"


def test_quarantined_hosts_are_revoked_then_destroyed_and_their_slots_stay_empty(
        tmp_path: Path, world: tuple[FakeCloud, FakeRunner]) -> None:
    cloud, runner = world
    runner.quarantine = {HOSTS[1]}
    assert up(tmp_path, cloud, runner, share=0.75) == 0  # 3/4 ready: enough
    now = states()
    assert now[HOSTS[1]] is S.DESTROYED
    assert {now[h] for h in HOSTS if h != HOSTS[1]} == {S.READY}
    assert HOSTS[1] not in cloud.allowed
    # revoked before destroyed, and never authorized
    assert cloud.log.index(f"revoke.yml {HOSTS[1]}") < cloud.log.index(f"destroy {HOSTS[1]}")
    assert all(HOSTS[1] not in hosts for hosts in runner.ran("authorize.yml"))
    # A second `up` launches no new host into the retired slot, and runs no step again.
    runner.calls.clear()
    up(tmp_path, cloud, runner, share=0.75)
    assert cloud.launches == dict.fromkeys(HOSTS, 1)
    assert states()[HOSTS[1]] is S.DESTROYED
    assert runner.ran("validate.yml") == [] and runner.ran("baseline.yml") == []


def test_a_pool_below_its_minimum_healthy_share_stops_up_before_access(
        tmp_path: Path, world: tuple[FakeCloud, FakeRunner]) -> None:
    cloud, runner = world
    runner.quarantine = {HOSTS[0], HOSTS[1]}
    with pytest.raises(HybridburstError, match="not enough healthy hosts"):
        up(tmp_path, cloud, runner, share=0.75)  # 2/4 validated, 3 needed
    assert runner.ran("authorize.yml") == [] and cloud.allowed == set()
    assert "pool web: 2/4 healthy, 3 needed" in (tmp_path / "out.txt").read_text()


def test_hosts_failing_launch_authorize_or_baseline_are_retired_at_once(
        tmp_path: Path, world: tuple[FakeCloud, FakeRunner]) -> None:
    cloud, runner = world
    cloud.fail_launch = {HOSTS[0]}
    runner.refuse = {HOSTS[1]}
    runner.baseline_fails = {HOSTS[2]}
    assert up(tmp_path, cloud, runner, share=0.25) == 0
    now = states()
    assert now[HOSTS[3]] is S.READY
    assert {now[h] for h in HOSTS[:3]} == {S.DESTROYED}
    assert cloud.allowed == {HOSTS[3]}
    lines = [e for e in Journal(EventDir.of(EVENT).journal).entries() if e.host == HOSTS[2]]
    assert [e.state for e in lines][-3:] == [S.FAILED, S.REVOKED, S.DESTROYED]
    assert "baseline: sysctl failed" in lines[-3].reason


def test_a_host_dying_in_the_rollout_is_retired_and_the_rollout_goes_on(
        tmp_path: Path, world: tuple[FakeCloud, FakeRunner]) -> None:
    cloud, runner = world
    runner.dies_in_deploy = {HOSTS[0]}
    assert up(tmp_path, cloud, runner, share=0.75) == 0  # 3/4 ready: enough
    now = states()
    assert now[HOSTS[0]] is S.DESTROYED and {now[h] for h in HOSTS[1:]} == {S.READY}
    assert runner.ran("deploy.yml") == [HOSTS, HOSTS[1:]]


@pytest.mark.parametrize("crash_in", ["validate.yml", "authorize.yml", "baseline.yml",
                                      "deploy.yml"])
def test_a_rerun_after_a_crash_resumes_where_the_journal_stands(
        tmp_path: Path, world: tuple[FakeCloud, FakeRunner], crash_in: str) -> None:
    cloud, runner = world
    runner.crash_in = crash_in
    with pytest.raises(Crash):
        up(tmp_path, cloud, runner)
    before = states()
    runner.crash_in = None
    runner.calls.clear()
    assert up(tmp_path, cloud, runner) == 0
    assert states() == dict.fromkeys(HOSTS, S.READY)
    assert cloud.launches == dict.fromkeys(HOSTS, 1)  # no slot got a second host
    order = ["validate.yml", "authorize.yml", "baseline.yml", "deploy.yml"]
    # Steps before the crash are not run again (authorize is idempotent and always runs).
    for step in order[:order.index(crash_in)]:
        if step != "authorize.yml":
            assert runner.ran(step) == [], (step, before)
    assert runner.ran(crash_in) != []


def test_down_drains_revokes_then_destroys_and_settles(
        tmp_path: Path, world: tuple[FakeCloud, FakeRunner]) -> None:
    cloud, runner = world
    assert up(tmp_path, cloud, runner) == 0
    cloud.log.clear()
    with (tmp_path / "down.txt").open("w") as out:
        console = Console(file=out, width=160)
        assert lifecycle.down(EVENT, console, Reporter(console), provider=cloud,
                              runner=runner) == 0
    assert [line.split()[0] for line in cloud.log] == ["drain.yml", "revoke.yml", "destroy"]
    assert states() == dict.fromkeys(HOSTS, S.DESTROYED)
    assert cloud.allowed == set()
    assert (EventDir.of(EVENT).root / "settlement.json").exists()


@pytest.mark.parametrize(("share", "count", "need"),
                         [(1.0, 4, 4), (0.75, 4, 3), (0.5, 6, 3), (0.0, 5, 0), (0.34, 3, 2)])
def test_the_minimum_healthy_share_rounds_up(share: float, count: int, need: int) -> None:
    assert health.needed(share, count) == need
    assert health.short_pools({"web": (need, count)}, {"web": share}) == []
    if need:
        assert health.short_pools({"web": (need - 1, count)}, {"web": share}) == [
            f"pool web: {need - 1}/{count} healthy, {need} needed"]


def image(digest: str) -> PoolImage:
    return PoolImage("web", "1.0.0", digest, f"localhost/hybridburst-baked:{digest}")


def test_hosts_from_the_current_image_are_verified_and_only_a_drifted_one_converged(
        tmp_path: Path, world: tuple[FakeCloud, FakeRunner]) -> None:
    cloud, runner = world
    runner.drifted = {HOSTS[2]}
    assert up(tmp_path, cloud, runner, images={"web": image("a" * 64)}) == 0
    assert states() == dict.fromkeys(HOSTS, S.READY)
    assert runner.ran("verify_baseline.yml") == [HOSTS]
    assert runner.ran("baseline.yml") == [[HOSTS[2]]]  # the full role on the drifted host only
    reasons = {e.host: e.reason for e in Journal(EventDir.of(EVENT).journal).entries()
               if e.state is S.BASELINED}
    assert reasons[HOSTS[0]] == f"baseline verified against image {'a' * 12}"
    assert reasons[HOSTS[2]].startswith(f"drift from image {'a' * 12}: sysctl net.ipv4")
    # The image holds the pool's release: every host launched from it only joins the LB.
    (_, _, extravars), = [c for c in runner.calls if c[0] == "deploy.yml"]
    assert extravars["deploy_from_image"] == ",".join(HOSTS)
    assert runner.ran("publish_release.yml") == []  # no host downloads the release


def test_hosts_launched_from_a_stale_image_are_converged_not_verified(
        tmp_path: Path, world: tuple[FakeCloud, FakeRunner]) -> None:
    cloud, runner = world
    runner.crash_in = "verify_baseline.yml"  # launched from image a, authorized, then a crash
    with pytest.raises(Crash):
        up(tmp_path, cloud, runner, images={"web": image("a" * 64)})
    assert states() == dict.fromkeys(HOSTS, S.AUTHORIZED)
    runner.crash_in = None
    runner.calls.clear()
    # Meanwhile a role file changed: the pool's current image is b; a is stale.
    assert up(tmp_path, cloud, runner, images={"web": image("b" * 64)}) == 0
    assert runner.ran("verify_baseline.yml") == []
    assert runner.ran("baseline.yml") == [HOSTS]
    assert states() == dict.fromkeys(HOSTS, S.READY)
    assert all(n == 1 for n in cloud.launches.values())  # converged in place, not relaunched
    # Their image's release may not be the pool's: the release is installed, not assumed.
    (_, _, extravars), = [c for c in runner.calls if c[0] == "deploy.yml"]
    assert "deploy_from_image" not in extravars
    assert runner.ran("publish_release.yml") == [[]]  # on the load balancer (limit lb)
