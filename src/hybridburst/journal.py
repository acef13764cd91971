"""The journal: an append-only record of every host's state transitions.

One JSON object per line, appended whole in one fsynced write under an exclusive ``flock``
(readers take a shared one), so a reader never sees half a line and a crash leaves at most
one torn last line. Reading checks what writing checks: a line that is not a record, a
record without a host, a time or a known state, or a transition the writer would have
refused is reported as ``journal.jsonl:LINE: problem`` (an InputError, exit 2), never
skipped. A torn last line is reported the same way, with its remedy
(``hybridburst journal repair EVENT``).

Appending costs the same at 10 or 20,000 lines: the sidecar index ``journal.jsonl.idx``
holds the latest entry of every host and how many bytes of the journal it covers. It is a
cache, never the record: it is replaced atomically after each append, and on open only the
journal's bytes after the covered offset are read (a crash between the append and the index
write only leaves a longer tail to replay). An index that does not match the journal (missing,
unreadable, beyond the journal's end, another file, or a different last covered line) is
rebuilt from the journal. Secrets never go in here.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import HybridburstError, InputError
from .states import HostState, allowed

INDEX_VERSION = 1
FIELDS = frozenset({"time", "host", "state", "previous", "reason", "data"})


@dataclass(frozen=True)
class Entry:
    time: dt.datetime
    host: str
    state: HostState
    previous: HostState | None
    reason: str
    data: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "time": self.time.isoformat(),
            "host": self.host,
            "state": self.state.value,
            "previous": self.previous.value if self.previous else None,
            "reason": self.reason,
            "data": self.data,
        }

    def line(self) -> bytes:
        return (json.dumps(self.as_json(), sort_keys=True) + "\n").encode()


class InvalidTransition(HybridburstError):
    pass


class BadRecord(ValueError):
    """One line of the journal is not a record the writer would have written."""


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise BadRecord(f"field {key!r} given twice")
        out[key] = value
    return out


def _state(value: Any, what: str) -> HostState:
    if not isinstance(value, str):
        raise BadRecord(f"{what} must be a state name, not {json.dumps(value)}")
    try:
        return HostState(value)
    except ValueError:
        raise BadRecord(f"unknown {what} {value!r} (one of: {', '.join(HostState)})") from None


def parse_record(line: bytes, current: Mapping[str, HostState] | None) -> Entry:
    """One line (without its newline) as an Entry, checked as the writer checks it.

    With ``current`` (the state of every host before this line) the transition is checked
    too: ``previous`` must be the host's state, and the move must be allowed."""
    if not line.strip():
        raise BadRecord("empty line, not a record")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRecord("not UTF-8 text, not a record") from None
    try:
        raw = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise BadRecord(f"not a JSON record ({exc.msg}: column {exc.colno})") from None
    if not isinstance(raw, dict):
        raise BadRecord(f"not a record: a JSON {type(raw).__name__}, not an object")
    unknown = sorted(set(raw) - FIELDS)
    if unknown:
        raise BadRecord(f"unknown field(s) {', '.join(map(repr, unknown))}")
    for name in ("host", "time", "state"):
        if name not in raw:
            raise BadRecord(f"no {name}")
    host = raw["host"]
    if not isinstance(host, str) or not host or not host.isprintable() or host.strip() != host:
        raise BadRecord(f"host must be a name, not {json.dumps(host)}")
    stamp = raw["time"]
    if not isinstance(stamp, str):
        raise BadRecord(f"time must be an ISO 8601 string, not {json.dumps(stamp)}")
    try:
        time = dt.datetime.fromisoformat(stamp)
    except ValueError:
        raise BadRecord(f"time {stamp!r} is not an ISO 8601 time") from None
    if time.tzinfo is None:
        raise BadRecord(f"time {stamp!r} has no time zone")
    state = _state(raw["state"], "state")
    previous = None if raw.get("previous") is None else _state(raw["previous"], "previous state")
    reason = raw.get("reason", "")
    if not isinstance(reason, str):
        raise BadRecord(f"reason must be a string, not {json.dumps(reason)}")
    data = raw.get("data", {})
    if not isinstance(data, dict):
        raise BadRecord(f"data must be an object, not {json.dumps(data)}")
    if current is not None:
        had = current.get(host)
        if previous is not had:
            raise BadRecord(f"{host}: previous state {_name(previous)} but the journal had "
                            f"{_name(had)} (a line is missing or was changed)")
        if not allowed(had, state):
            raise BadRecord(f"illegal transition: {host} cannot go from {_name(had)} to "
                            f"{state.value}")
    return Entry(time, host, state, previous, reason, data)


def _name(state: HostState | None) -> str:
    return state.value if state else "nothing"


@dataclass
class _View:
    """The latest entry of every host after the first ``offset`` bytes (``lines`` lines) of
    the journal file ``inode``; ``tail`` is the last of those lines, newline included."""

    offset: int = 0
    lines: int = 0
    inode: int = 0
    mtime_ns: int = 0
    tail: bytes = b""
    hosts: dict[str, Entry] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"version": INDEX_VERSION, "offset": self.offset, "lines": self.lines,
                "inode": self.inode, "mtime_ns": self.mtime_ns,
                "tail": self.tail.decode("utf-8"),
                "hosts": {h: e.as_json() for h, e in self.hosts.items()}}

    @classmethod
    def from_json(cls, raw: Any) -> _View:
        """An index document; ValueError (or KeyError, TypeError) when it is not one."""
        if raw.get("version") != INDEX_VERSION:
            raise ValueError("another index version")
        hosts = {}
        for host, entry in raw["hosts"].items():
            hosts[host] = parse_record(json.dumps(entry).encode(), None)
            if hosts[host].host != host:
                raise ValueError("host mismatch")
        view = cls(int(raw["offset"]), int(raw["lines"]), int(raw["inode"]),
                   int(raw["mtime_ns"]), str(raw["tail"]).encode("utf-8"), hosts)
        if view.offset < 0 or view.lines < 0 or (view.offset > 0 and not view.tail):
            raise ValueError("impossible index")
        return view


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.index_path = path.with_name(path.name + ".idx")
        self._cache: _View | None = None
        # What reading cost, for tests and the benchmark: journal lines parsed and journal
        # bytes read (the index is not counted: it grows with hosts, not lines).
        self.lines_parsed = 0
        self.bytes_read = 0

    # -- reading -----------------------------------------------------------------------------
    def entries(self) -> Iterator[Entry]:
        """Every entry, checked line by line (the whole file is read)."""
        fd = self._open(shared=True)
        if fd is None:
            return iter(())
        try:
            st = os.fstat(fd)
            data = self._pread(fd, st.st_size, 0)
        finally:
            os.close(fd)
        found: list[Entry] = []
        view = _View(inode=st.st_ino, mtime_ns=st.st_mtime_ns)
        self._replay(view, data, found)
        self._cache = view
        return iter(found)

    def current(self) -> dict[str, Entry]:
        """The latest entry of every host, in first-seen order."""
        fd = self._open(shared=True)
        if fd is None:
            return {}
        try:
            return dict(self._view(fd).hosts)
        finally:
            os.close(fd)

    def state_of(self, host: str) -> HostState | None:
        entry = self.current().get(host)
        return entry.state if entry else None

    # -- writing -----------------------------------------------------------------------------
    def record(
        self,
        host: str,
        state: HostState,
        reason: str = "",
        data: dict[str, Any] | None = None,
        *,
        at: dt.datetime | None = None,
    ) -> Entry:
        return self._record([(host, state, reason, data or {}, at)])[0]

    def record_many(self, entries: Iterable[tuple[str, HostState, str]]) -> None:
        self._record([(host, state, reason, {}, None) for host, state, reason in entries])

    def _record(
        self, items: list[tuple[str, HostState, str, dict[str, Any], dt.datetime | None]]
    ) -> list[Entry]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = self._open(shared=False)
        assert fd is not None
        try:
            view = self._view(fd)
            current = {h: e.state for h, e in view.hosts.items()}
            batch, lines = [], []
            for host, state, reason, data, at in items:
                previous = current.get(host)
                if not allowed(previous, state):
                    raise InvalidTransition(
                        f"{host}: cannot go from {_name(previous)} to {state.value}")
                entry = Entry(at or now(), host, state, previous, reason, data)
                try:  # never write a line that reading would refuse
                    parse_record(entry.line()[:-1], current)
                except BadRecord as exc:
                    raise HybridburstError(f"{self.path}: not written, the journal could not "
                                           f"read it back: {exc}") from None
                batch.append(entry)
                lines.append(entry.line())
                current[host] = state
            if not batch:
                return batch
            self._write(fd, view.offset, b"".join(lines))
            st = os.fstat(fd)
            for entry in batch:
                view.hosts[entry.host] = entry
            view.offset, view.lines = st.st_size, view.lines + len(lines)
            view.inode, view.mtime_ns, view.tail = st.st_ino, st.st_mtime_ns, lines[-1]
            self._cache = view
            self._write_index(view)
            return batch
        finally:
            os.close(fd)

    def _write(self, fd: int, size: int, payload: bytes) -> None:
        """Append ``payload`` whole, or nothing (a failed write is cut off again)."""
        try:
            done = 0
            while done < len(payload):
                done += os.write(fd, payload[done:])
            os.fsync(fd)
        except OSError as exc:
            os.ftruncate(fd, size)
            raise HybridburstError(
                f"{self.path}: cannot append to the journal: {exc.strerror}") from exc

    def _write_index(self, view: _View) -> None:
        """Replace the index atomically (only writers, under the journal's exclusive lock,
        write it). Losing it costs a replay, nothing else: no fsync."""
        tmp = self.index_path.with_name(self.index_path.name + ".tmp")
        try:
            tmp.write_text(json.dumps(view.as_json()), encoding="utf-8")
            os.replace(tmp, self.index_path)
        except OSError:
            tmp.unlink(missing_ok=True)

    # -- repair ------------------------------------------------------------------------------
    def repair(self) -> list[str]:
        """Mend what a crash can leave: a torn last line (completed when it is a whole record
        that lost only its newline, else removed), and lines that are not JSON at all (torn
        lines that older versions closed). Anything else is a changed record a person must
        look at: reported (InputError), nothing changed. Returns what was done."""
        fd = self._open(shared=False)
        if fd is None:
            return []
        try:
            data = self._pread(fd, os.fstat(fd).st_size, 0)
            pieces = data.split(b"\n")
            last = pieces.pop()
            kept: list[bytes] = []
            done: list[str] = []
            current: dict[str, HostState] = {}
            for number, line in enumerate([*pieces, last] if last else pieces, start=1):
                torn = number > len(pieces)
                try:
                    entry = parse_record(line, current)
                except BadRecord as exc:
                    if torn or _not_json(line):
                        what = "torn last line" if torn else "line that is not a record"
                        done.append(f"line {number}: removed a {what} ({exc}): "
                                    f"{line[:80].decode('utf-8', 'replace')!r}")
                        continue
                    raise InputError(str(self.path), number,
                                     f"{exc}; repair mends only what a crash leaves, "
                                     "this line must be looked at by a person") from None
                current[entry.host] = entry.state
                kept.append(line + b"\n")
                if torn:
                    done.append(f"line {number}: completed a last line that lost its newline")
            if done:
                self._replace(b"".join(kept))
            return done
        finally:
            os.close(fd)

    def _replace(self, content: bytes) -> None:
        """Write the journal anew (another inode: writers waiting on the old one reopen)."""
        tmp = self.path.with_name(self.path.name + ".repair")
        with open(tmp, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.path)
        self.index_path.unlink(missing_ok=True)
        self._cache = None

    # -- the file ----------------------------------------------------------------------------
    def _open(self, *, shared: bool) -> int | None:
        """The journal, locked (shared to read, exclusive to write); None when a reader
        finds no journal. Reopened when a repair replaced the file while we waited."""
        while True:
            try:
                if shared:
                    fd = os.open(self.path, os.O_RDONLY)
                else:
                    fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
            except FileNotFoundError:
                return None
            fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return fd
            os.close(fd)

    def _pread(self, fd: int, length: int, offset: int) -> bytes:
        data = os.pread(fd, length, offset) if length > 0 else b""
        self.bytes_read += len(data)
        return data

    def _view(self, fd: int) -> _View:
        """The state after the whole (locked) file: the cache or the index when they still
        match it, plus the lines after them; else rebuilt from the first line."""
        st = os.fstat(fd)
        view = self._cache
        if view is None or not self._matches(fd, view, st):
            view = self._load_index()
            if view is None or not self._matches(fd, view, st):
                view = _View(inode=st.st_ino)
        if view.offset < st.st_size:
            self._replay(view, self._pread(fd, st.st_size - view.offset, view.offset), None)
        view.mtime_ns = st.st_mtime_ns
        self._cache = view
        return view

    def _matches(self, fd: int, view: _View, st: os.stat_result) -> bool:
        if view.inode != st.st_ino or view.offset > st.st_size:
            return False
        if view.offset == st.st_size and view.mtime_ns != st.st_mtime_ns:
            return False  # changed in place: not by an append
        return self._pread(fd, len(view.tail), view.offset - len(view.tail)) == view.tail

    def _load_index(self) -> _View | None:
        try:
            return _View.from_json(json.loads(self.index_path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError, AttributeError, BadRecord):
            return None

    def _replay(self, view: _View, data: bytes, found: list[Entry] | None) -> None:
        """Apply the lines of ``data`` (the bytes after ``view.offset``) to ``view``."""
        current = {h: e.state for h, e in view.hosts.items()}
        pieces = data.split(b"\n")
        last = pieces.pop()
        for line in pieces:
            number = view.lines + 1
            self.lines_parsed += 1
            try:
                entry = parse_record(line, current)
            except BadRecord as exc:
                raise InputError(str(self.path), number, str(exc)) from None
            current[entry.host] = entry.state
            view.hosts[entry.host] = entry
            view.lines, view.offset, view.tail = number, view.offset + len(line) + 1, line + b"\n"
            if found is not None:
                found.append(entry)
        if last:
            raise InputError(
                str(self.path), view.lines + 1,
                "truncated line (a crash while writing?); remove it or run "
                f"`hybridburst journal repair {self.path.parent.name}`")


def _not_json(line: bytes) -> bool:
    try:
        json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return True
    return False
