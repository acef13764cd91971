"""Faults: the controller SIGKILLed in every phase of `up` and `down`, then the same command
again; a host that dies as the deploy starts.

One chain on one small event (two hosts): `up` is killed in provision, the rerun in validate,
the next in authorize, baseline and deploy; a last `up` runs to its end while one host's
container is killed as its deploy starts. Then `down` is killed in drain, revoke and destroy
and run to its end. A kill is SIGKILL to the controller's process group, and nothing of it may
live on (the playbook ansible-runner starts in a session of its own dies with it).

After every kill the world is checked from outside the project's records: podman (one
container per live host, none the journal does not know), the gateway's nft allow set (the
hosts holding access by the journal, give or take the one change the killed step was making),
and the journal itself (every transition legal, no slot launched twice)."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hybridburst import playbook_guard
from hybridburst.states import HOLDS_ACCESS, HostState, allowed
from tests.conftest import BIN, REPO, state_dir
from tests.e2e.conftest import allow_set, lb_get

pytestmark = pytest.mark.localcloud

EVENT = "sigk"
HOSTS = [f"{EVENT}-web-01", f"{EVENT}-web-02"]
DIES = HOSTS[0]  # in the rollout's first batch: its death must not stop the second
SPEC = f"""\
event: {EVENT}
team: storefront
provider: local
private_inventory: {REPO / "inventory" / "local"}
pools:
  - name: web
    count: 2
    instance_type: local.small
    release: "1.0.0"
"""
S = HostState
GATEWAY_ADD = "Put the validated hosts in the gateway's allow set (one atomic change)"
GATEWAY_REMOVE = "Take the hosts out of the gateway's allow set (one atomic change)"
LEFT_LB = "Record that the host left the load balancer"


# -- the world, seen from outside ----------------------------------------------------------
def event_dir() -> Path:
    return state_dir() / "events" / EVENT


def journal_lines() -> list[dict[str, Any]]:
    path = event_dir() / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def journal_states() -> dict[str, HostState]:
    return {e["host"]: HostState(e["state"]) for e in journal_lines()}


def containers() -> list[tuple[str, str]]:
    """(host label, state) of every container labelled with the event."""
    out = subprocess.run(
        ["podman", "ps", "-a", "--filter", f"label=hybridburst.event={EVENT}", "--format", "json"],
        capture_output=True, text=True, check=True).stdout
    return [(c["Labels"].get("hybridburst.host", "?"), c["State"]) for c in json.loads(out or "[]")]


def gateway_allow_set() -> set[str]:
    """The gateway's allow set; none when the last event's `down` removed the private side."""
    gone = subprocess.run(["podman", "container", "exists", "hb-gateway"], check=False).returncode
    return set() if gone else allow_set()


def addresses() -> dict[str, str]:
    """Every address the journal ever gave a host of the event; the manifest has the last say."""
    found = {e["host"]: e["data"]["address"] for e in journal_lines()
             if e["state"] == "launched" and e.get("data", {}).get("address")}
    manifest = event_dir() / "manifest.json"
    if manifest.exists():
        found.update({h["name"]: h["address"] for h in json.loads(manifest.read_text())["hosts"]})
    return found


def check_world(*, may_hold: frozenset[HostState] = frozenset(), may_lack_access: bool = False,
                provisioning: bool = False, destroying: bool = False) -> dict[str, HostState]:
    """The invariants that hold after any crash. The killed step may have made its one
    outside change without journaling it: ``may_hold`` (the gateway admitted hosts still
    journaled in these states), ``may_lack_access`` (it already revoked hosts still
    journaled as holding access), ``provisioning`` (a requested host's container started),
    ``destroying`` (containers removed, hosts not yet journaled destroyed)."""
    # The journal: every line whole, every transition legal and chained, no second launch.
    seen: dict[str, HostState | None] = {}
    launches: Counter[str] = Counter()
    for n, entry in enumerate(journal_lines(), 1):
        host, state = entry["host"], HostState(entry["state"])
        previous = HostState(entry["previous"]) if entry["previous"] else None
        assert previous == seen.get(host), f"journal line {n}: {entry}"
        assert allowed(previous, state), f"journal line {n}: {previous} -> {state}"
        seen[host] = state
        launches[host] += state is S.LAUNCHED
    assert set(seen) <= set(HOSTS), seen
    assert all(n <= 1 for n in launches.values()), f"a slot launched twice: {launches}"
    now = journal_states()
    live = {h for h, s in now.items() if s is not S.DESTROYED}
    # podman: one container per host, none of a host the journal holds destroyed or unknown.
    found = containers()
    per_host = Counter(h for h, _ in found)
    assert all(n == 1 for n in per_host.values()), f"two containers for one host: {found}"
    assert set(per_host) <= live, f"orphan containers: {found}, journal {now}"
    need = {h for h in live if now[h] is not S.REQUESTED}
    if not destroying:
        assert need <= set(per_host), f"hosts without container: {need - set(per_host)}"
    if not provisioning:
        assert S.REQUESTED not in now.values(), now
    # The gateway: exactly the hosts holding access, but for the killed step's one change.
    mine = addresses()
    allowed_now = gateway_allow_set()
    admitted = {h for h, a in mine.items() if a in allowed_now}
    holding = {h for h, s in now.items() if s in HOLDS_ACCESS}
    assert admitted <= holding | {h for h, s in now.items() if s in may_hold}, (admitted, now)
    if not may_lack_access:
        assert holding <= admitted, (admitted, now)
    return now


# -- a controller run, killed at a chosen point ---------------------------------------------
class Run:
    """`hybridburst CMD --json` in a session of its own; its JSON lines are read as they come."""

    def __init__(self, *args: str) -> None:
        self.before = run_dirs()  # the playbook runs of earlier commands
        self.proc = subprocess.Popen(
            [str(BIN / "hybridburst"), *args, "--json"], cwd=REPO, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.lines: list[dict[str, Any]] = []
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._err: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self._err.extend(self.proc.stderr or []),
                         daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout or []:
            if line.startswith("{"):
                self._queue.put(json.loads(line))
        self._queue.put(None)

    def events(self, wait: float = 0.1) -> Iterator[dict[str, Any]]:
        try:
            while (item := self._queue.get(timeout=wait)) is not None:
                self.lines.append(item)
                yield item
        except queue.Empty:
            return

    def steps(self) -> list[str]:
        return [e["step"] for e in self.lines if e["type"] == "step_started"]

    def finish(self, timeout: float = 600) -> int:
        rc = self.proc.wait(timeout=timeout)
        list(self.events(0))
        return rc

    def output(self) -> str:
        return json.dumps(self.lines[-30:], indent=1) + "".join(self._err)[-3000:]

    def kill_when(self, step: str, ready: Callable[[Run], bool], timeout: float = 400) -> None:
        """Once ``step`` has started and ``ready()`` holds, SIGKILL the whole controller."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                list(self.events())
                if step in self.steps() and ready(self):
                    return
                assert self.proc.poll() is None, f"ended before {step}:\n{self.output()}"
            raise AssertionError(f"never reached {step}:\n{self.output()}")
        finally:
            self.kill()

    def kill(self) -> None:
        """The controller dies: SIGKILL to its process group. Nothing of it may live on: not
        the playbook ansible-runner started in a session of its own, nor Ansible's workers."""
        tree = descendants(self.proc.pid)
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        deadline = time.monotonic() + 30
        while survivors := [p for p in tree if _alive(p)]:
            if time.monotonic() > deadline:
                for pid in survivors:  # leave nothing behind for the next step
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
                raise AssertionError(f"the killed controller's processes live on: {survivors}")
            time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def descendants(root: int) -> list[int]:
    return [root, *playbook_guard.descendants(root)]


def run_dirs() -> set[Path]:
    runs = event_dir() / "runs"
    return set(runs.iterdir()) if runs.exists() else set()


def runner_oks(run: Run, playbook: str, task: str | None = None) -> int:
    """How many (task, host) got `ok` (of ``task``, or any task) in ``run``'s own runs of
    ``playbook`` so far."""
    oks: set[tuple[str, str]] = set()
    for folder in run_dirs() - run.before:
        if not folder.name.endswith(f"-{playbook}"):
            continue
        for path in folder.glob("artifacts/*/job_events/*.json"):  # partial ones are live
            try:
                event = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError):
                continue  # being written
            data = event.get("event_data", {})
            if event.get("event") == "runner_on_ok" and task in (None, data.get("task")):
                oks.add((str(data.get("task")), str(data.get("host"))))
    return len(oks)


def launched_in_journal(_run: Run) -> bool:
    return any(e["state"] == "launched" for e in journal_lines())


# -- the chain ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("sigkill") / f"{EVENT}.yml"
    path.write_text(SPEC)
    yield path
    subprocess.run([str(BIN / "hybridburst"), "down", EVENT], cwd=REPO, capture_output=True,
                   check=False)


def test_up_killed_in_every_phase_converges_and_a_host_dying_in_deploy_is_failed(
        spec: Path) -> None:
    # provision: killed once a host is launched (the others may be starting)
    Run("up", str(spec)).kill_when("provision", launched_in_journal)
    check_world(provisioning=True)
    # validate, authorize (the gateway changed, the journal not yet), verify, deploy
    Run("up", str(spec)).kill_when("validate", lambda r: runner_oks(r, "validate") > 0)
    check_world()
    Run("up", str(spec)).kill_when("authorize", lambda r: runner_oks(r, "authorize", GATEWAY_ADD) > 0)
    check_world(may_hold=frozenset({S.VALIDATED}))
    # the hosts launched from the pool's baked image: killed once the probe answered
    Run("up", str(spec)).kill_when("verify", lambda r: runner_oks(r, "verify_baseline") > 0)
    assert set(check_world().values()) <= {S.AUTHORIZED, S.BASELINED}
    Run("up", str(spec)).kill_when("deploy", lambda r: runner_oks(r, "deploy") > 0)
    assert set(check_world().values()) == {S.BASELINED}

    # the last `up` runs to its end; one host's container dies as the deploy starts
    last = Run("up", str(spec))
    deadline = time.monotonic() + 400
    while "deploy" not in last.steps():
        list(last.events())
        assert last.proc.poll() is None and time.monotonic() < deadline, last.output()
    subprocess.run(["podman", "kill", f"hb-{DIES}"], check=True, capture_output=True)
    rc = last.finish()
    assert last.steps() == ["provision", "authorize", "deploy"], last.output()
    # The exit status tells the truth: the pool is below its minimum healthy share.
    finished = next(e for e in last.lines if e["type"] == "up_finished")
    assert rc == 1 and finished["short"] == ["pool web: 1/2 healthy, 2 needed"], last.output()
    now = check_world()
    assert now == {DIES: S.DESTROYED, HOSTS[1]: S.READY}, now
    failed = [e for e in journal_lines() if e["host"] == DIES and e["state"] == "failed"]
    assert len(failed) == 1 and "deploy: unreachable" in failed[0]["reason"], failed
    assert [e["state"] for e in journal_lines() if e["host"] == DIES][-3:] == [
        "failed", "revoked", "destroyed"]
    # The survivor serves through the load balancer, for real.
    answers = {lb_get(f"/products/{i}")[1].get("host") for i in range(1, 21)}
    assert HOSTS[1] in answers and DIES not in answers, answers


def test_down_killed_in_every_phase_leaves_nothing(spec: Path) -> None:
    mine = set(addresses().values())
    Run("down", EVENT).kill_when("drain", lambda r: runner_oks(r, "drain", LEFT_LB) > 0)
    check_world()
    Run("down", EVENT).kill_when("revoke", lambda r: runner_oks(r, "revoke", GATEWAY_REMOVE) > 0)
    check_world(may_lack_access=True)
    Run("down", EVENT).kill_when("destroy", lambda _r: True)
    check_world(destroying=True)
    last = Run("down", EVENT)
    rc = last.finish()
    assert rc == 0, last.output()
    assert check_world() == dict.fromkeys(HOSTS, S.DESTROYED)
    assert containers() == []
    assert not mine & gateway_allow_set()
    assert not (event_dir() / "manifest.json").exists()
