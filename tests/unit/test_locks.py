"""One writer per event: a second command waits naming the holder, or with --no-wait exits 1;
a killed holder leaves no lock; a lock is re-entrant in its process; files are written whole."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hybridburst import locks
from hybridburst.atomic import write_atomic
from hybridburst.cli import build_parser
from tests.conftest import BIN, REPO, hybridburst, state_dir

HOLDER_COMMAND = "hybridburst up /srv/specs/sale.yml"
# A process that takes a lock the way the CLI does, says so, and holds it until killed.
HOLDER = """
import sys, time
from pathlib import Path
from hybridburst import locks
from hybridburst.providers.local import reservations
locks.configure(command=sys.argv[1])
kind, name = sys.argv[2], sys.argv[3]
if kind == "event":
    locks.event_lock(name).acquire()
else:
    with locks.machine():
        reservations.reserve([name], "holder")
print("held", flush=True)
time.sleep(600)
"""
SINCE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def start_holder(kind: str, name: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, HOLDER_COMMAND, kind, name],
                            stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    return proc


NAMES = iter(f"locked{n}" for n in range(100))


@pytest.fixture
def holder() -> Iterator[subprocess.Popen[str]]:
    proc = start_holder("event", next(NAMES))
    yield proc
    proc.kill()
    proc.wait()


def event_of(holder: subprocess.Popen[str]) -> str:
    return str(holder.args[-1])  # type: ignore[index]


def test_no_wait_exits_1_at_once_naming_the_holder(holder: subprocess.Popen[str]) -> None:
    event = event_of(holder)
    for argv in (["--no-wait", "deprovision", event], ["deprovision", event, "--no-wait"]):
        proc = subprocess.run([str(BIN / "hybridburst"), *argv], capture_output=True,
                              text=True, timeout=30, check=False)
        assert proc.returncode == 1, proc.stderr
        assert re.fullmatch(
            rf"error: {event} is busy: held by `{HOLDER_COMMAND}` \(pid {holder.pid}\) since "
            rf"{SINCE}; not waiting \(--no-wait\)\n", proc.stderr), proc.stderr
        assert "Traceback" not in proc.stderr and proc.stdout == ""
    # Nothing was done: the event's directory holds only the lock.
    assert [p.name for p in (state_dir() / "events" / event).iterdir()] == [".lock"]


def test_a_second_command_waits_naming_the_holder_and_runs_once_it_is_killed(
        holder: subprocess.Popen[str]) -> None:
    event = event_of(holder)
    waiter = subprocess.Popen([str(BIN / "hybridburst"), "deprovision", event],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert waiter.stderr is not None
    line = waiter.stderr.readline()
    assert re.fullmatch(rf"waiting for {event}: held by `{HOLDER_COMMAND}` "
                        rf"\(pid {holder.pid}\) since {SINCE}\n", line), line
    assert waiter.poll() is None  # still waiting while the holder lives
    holder.send_signal(signal.SIGKILL)  # the kernel releases its lock: nothing stale is left
    holder.wait()
    out, err = waiter.communicate(timeout=60)
    assert waiter.returncode == 0, err
    assert out.strip() == f"nothing to deprovision for {event}"
    assert "waiting" not in err  # the message is printed once
    # The lock is free again, and records no holder.
    assert locks.event_lock(event).holder() is None
    assert hybridburst("--no-wait", "deprovision", event).returncode == 0


def test_reading_commands_take_no_lock(holder: subprocess.Popen[str]) -> None:
    proc = subprocess.run([str(BIN / "hybridburst"), "--no-wait", "status", event_of(holder)],
                          capture_output=True, text=True, timeout=30, check=False)
    assert "busy" not in proc.stderr and "waiting" not in proc.stderr
    assert f"no event {event_of(holder)!r}" in proc.stderr


def test_every_command_that_changes_an_event_locks_it() -> None:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    locking = {name for name, p in sub.choices.items()  # type: ignore[union-attr]
               if p.get_default("locks_event") is not None}
    assert locking == {"provision", "deprovision", "validate", "authorize", "revoke",
                       "reconcile-access", "baseline", "deploy", "drain", "up", "down"}


def test_the_lock_is_reentrant_within_a_process(tmp_path: Path) -> None:
    lock = locks.FileLock(tmp_path / ".lock", "event reentrant")
    locks.configure(command="hybridburst test")
    with lock.hold(wait=False), lock.hold(wait=False):  # taken twice, no deadlock
        assert lock.holder() is not None and lock.holder().pid == os.getpid()  # type: ignore[union-attr]
        with lock.hold(wait=False):
            pass
        # Still held after the inner releases: another process is refused.
        assert not _free_for_another_process(lock.path)
        # Another thread of this process waits for it too.
        taken = threading.Event()
        thread = threading.Thread(target=lambda: (lock.acquire(), taken.set(), lock.release()))
        thread.start()
        assert not taken.wait(0.5)
    thread.join(10)
    assert taken.is_set()
    assert _free_for_another_process(lock.path)
    assert lock.holder() is None


def _free_for_another_process(path: Path) -> bool:
    probe = ("import fcntl, os, sys\nfd = os.open(sys.argv[1], os.O_RDWR)\n"
             "try:\n    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
             "except BlockingIOError:\n    sys.exit(1)\n")
    return subprocess.run([sys.executable, "-c", probe, str(path)], check=False).returncode == 0


def test_an_address_reserved_by_a_killed_command_is_free_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hybridburst.providers.local import reservations

    monkeypatch.setenv("HYBRIDBURST_LOCAL_CLOUD_DIR", str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, HOLDER_COMMAND, "machine",
                             "10.99.0.11"], stdout=subprocess.PIPE, text=True, cwd=REPO,
                            env={**os.environ, "HYBRIDBURST_LOCAL_CLOUD_DIR": str(tmp_path)})
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    with locks.machine():  # the holder let go of the machine lock; its reservation stays
        assert reservations.reserved_addresses() == {"10.99.0.11"}
        assert [e["pid"] for e in reservations.other_users()] == [proc.pid]
    proc.kill()
    proc.wait()
    with locks.machine():
        assert reservations.reserved_addresses() == set()
        assert reservations.other_users() == []


def test_an_atomic_write_is_whole_or_not_at_all(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "event.json"
    old, new = json.dumps({"v": "a" * 200_000}), json.dumps({"v": "b" * 300_000})
    write_atomic(path, old)
    seen: set[str] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            text = path.read_text()
            seen.add("old" if text == old else "new" if text == new else f"part {len(text)}")

    reader = threading.Thread(target=read)
    reader.start()
    for i in range(40):
        write_atomic(path, new if i % 2 else old)
    stop.set()
    reader.join()
    # Every read saw one whole version.
    assert seen and seen <= {"old", "new"}, seen
    # A write that fails midway leaves the last whole file and no temporary file.
    before = path.read_text()
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(28, "No space")))
    with pytest.raises(OSError):
        write_atomic(path, "half")
    assert path.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["event.json"]
