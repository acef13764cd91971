"""One writer per event, one allocator per machine.

Every command that changes an event holds the event's lock (``<event dir>/.lock``) for its
whole run; the local cloud's shared parts (address allocation, the private side, the gateway's
allow set) are changed under the machine lock (``<local cloud dir>/.lock``), held for short
sections only. Both are ``flock`` locks: the kernel releases them when their process ends, so
a SIGKILLed command leaves no stale lock. The holder writes who it is (command, pid, since when)
into the lock file; a second command prints it once and waits, or with ``--no-wait`` exits 1
at once saying so. Within one process a lock is re-entrant.
"""

from __future__ import annotations

import argparse
import datetime as dt
import fcntl
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import HybridburstError

POLL_SECONDS = 0.2
# How long a waiter looks for the holder's record before it names no one.
HOLDER_GRACE_SECONDS = 2.0

Say = Callable[[str], None]


class LockBusy(HybridburstError):
    """The lock is held by another command and the caller would not wait (exit 1)."""

    exit_status = 1


@dataclass
class _Settings:
    command: str = "hybridburst"
    wait: bool = True
    say: Say = lambda message: print(message, file=sys.stderr, flush=True)


SETTINGS = _Settings()


def configure(*, command: str | None = None, wait: bool | None = None,
              say: Say | None = None) -> None:
    """What this process tells waiters it is, whether it waits, where it says it waits."""
    if command is not None:
        SETTINGS.command = command
    if wait is not None:
        SETTINGS.wait = wait
    if say is not None:
        SETTINGS.say = say


# -- processes -------------------------------------------------------------------------------
def process_start(pid: int) -> str | None:
    """The start time of ``pid`` in clock ticks since boot (tells a reused pid apart), or
    None when no such process runs."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    return stat.rsplit(")", 1)[1].split()[19]


def alive(pid: int, started: str | None) -> bool:
    """Whether the process that was ``pid`` (started at ``started``) still runs."""
    now = process_start(pid)
    return now is not None and (started is None or now == started)


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Holder:
    command: str
    pid: int
    since: str
    started: str | None = None

    def describe(self) -> str:
        return f"held by `{self.command}` (pid {self.pid}) since {self.since}"

    @classmethod
    def me(cls) -> Holder:
        pid = os.getpid()
        return cls(SETTINGS.command, pid, utc_now(), process_start(pid))

    @classmethod
    def parse(cls, text: str) -> Holder | None:
        try:
            data = json.loads(text)
            return cls(str(data["command"]), int(data["pid"]), str(data["since"]),
                       data.get("started"))
        except (ValueError, KeyError, TypeError):
            return None


# -- the lock --------------------------------------------------------------------------------
@dataclass
class _Held:
    """A lock this process holds: its file, and how many times it was taken."""

    guard: threading.RLock
    fd: int = -1
    depth: int = 0


_HELD: dict[str, _Held] = {}
_HELD_GUARD = threading.Lock()


class FileLock:
    """An exclusive ``flock`` on ``path``, naming its holder; ``what`` names what it guards
    in messages (the event's name, "the local cloud")."""

    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        self.what = what

    def holder(self) -> Holder | None:
        """Who holds the lock, by its record (None: no live holder recorded)."""
        try:
            found = Holder.parse(self.path.read_text())
        except OSError:
            return None
        if found is None or not alive(found.pid, found.started):
            return None
        return found

    @contextmanager
    def hold(self, *, wait: bool | None = None, say: Say | None = None) -> Iterator[None]:
        self.acquire(wait=SETTINGS.wait if wait is None else wait, say=say or SETTINGS.say)
        try:
            yield
        finally:
            self.release()

    def _state(self) -> _Held:
        key = str(self.path.resolve())
        with _HELD_GUARD:
            return _HELD.setdefault(key, _Held(threading.RLock()))

    def acquire(self, *, wait: bool = True, say: Say | None = None) -> None:
        held = self._state()
        held.guard.acquire()  # other threads of this process wait here; re-entrant for ours
        if held.depth:
            held.depth += 1
            return
        try:
            held.fd = self._lock(wait, say or SETTINGS.say)
        except BaseException:
            held.guard.release()
            raise
        held.depth = 1
        record = json.dumps(Holder.me().__dict__).encode()
        os.ftruncate(held.fd, 0)
        os.pwrite(held.fd, record + b"\n", 0)

    def release(self) -> None:
        held = self._state()
        held.depth -= 1
        if held.depth == 0:
            os.ftruncate(held.fd, 0)
            fcntl.flock(held.fd, fcntl.LOCK_UN)
            os.close(held.fd)
            held.fd = -1
        held.guard.release()

    def _lock(self, wait: bool, say: Say) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            # The holder's record may be a moment behind its flock: look for it a little.
            deadline = time.monotonic() + HOLDER_GRACE_SECONDS
            while not self._try(fd):
                holder = self.holder()
                if holder is None and time.monotonic() < deadline:
                    time.sleep(POLL_SECONDS / 4)
                    continue
                who = holder.describe() if holder else "held by another process"
                if not wait:
                    raise LockBusy(f"{self.what} is busy: {who}; not waiting (--no-wait)")
                say(f"waiting for {self.what}: {who}")
                while not self._try(fd):
                    time.sleep(POLL_SECONDS)
            return fd
        except BaseException:
            os.close(fd)
            raise

    @staticmethod
    def _try(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


# -- the two locks ---------------------------------------------------------------------------
def event_lock(event: str) -> FileLock:
    from .workspace import EventDir

    return FileLock(EventDir.of(event).root / ".lock", event)


def local_cloud_dir() -> Path:
    """The local cloud's own directory: one per machine, shared by every state directory."""
    return Path(os.environ.get("HYBRIDBURST_LOCAL_CLOUD_DIR", "/var/lib/hybridburst/local-cloud"))


def machine_lock() -> FileLock:
    """The local cloud's shared parts. Sections under it are short: it always waits."""
    return FileLock(local_cloud_dir() / ".lock", "the local cloud")


@contextmanager
def machine() -> Iterator[None]:
    with machine_lock().hold(wait=True):
        yield


# -- commands --------------------------------------------------------------------------------
# A sub-command that changes an event says which with ``set_defaults(locks_event=...)``: a
# function of its parsed arguments that returns the event's name.
def event_argument(args: argparse.Namespace) -> str:
    return str(args.event)


def event_of_spec(args: argparse.Namespace) -> str:
    from . import spec

    return spec.load(args.spec).event


def for_command(args: argparse.Namespace) -> AbstractContextManager[Any]:
    """The lock the parsed command needs: its event's, or none (reading commands)."""
    which = getattr(args, "locks_event", None)
    if which is None:
        return nullcontext()
    return event_lock(which(args)).hold()
