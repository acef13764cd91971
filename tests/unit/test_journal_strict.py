"""The journal as a trustworthy record: reading checks what writing checks (every bad line
is `journal.jsonl:LINE: problem`, exit 2), a crash leaves nothing a repair cannot mend, and
appending costs the same at 10 or 20,000 lines (the index covers all but the tail)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hybridburst import cli
from hybridburst.errors import HybridburstError, InputError
from hybridburst.journal import Journal
from hybridburst.states import HostState
from tests.conftest import BIN, REPO

S = HostState
T = "2026-11-10T20:00:00+00:00"


def rec(host: str = "sale-web-01", state: str = "requested", previous: str | None = None,
        **more: Any) -> str:
    doc = {"time": T, "host": host, "state": state, "previous": previous, "reason": "",
           "data": {}, **more}
    return json.dumps({k: v for k, v in doc.items() if v is not ...}, sort_keys=True)


OK = rec()  # line 1 of most cases: sale-web-01 requested

# One row per bad journal: its lines (joined with newlines), the line and problem reported.
CASES = [
    ("illegal transition", [OK, rec(state="authorized", previous="requested")],
     2, "illegal transition: sale-web-01 cannot go from requested to authorized"),
    ("failed after destroyed", [OK, rec(state="destroyed", previous="requested"),
                                rec(state="failed", previous="destroyed")],
     3, "illegal transition: sale-web-01 cannot go from destroyed to failed"),
    ("first state", [rec(state="ready")],
     1, "illegal transition: sale-web-01 cannot go from nothing to ready"),
    ("previous is not what the journal had", [OK, rec(state="validated", previous="launched")],
     2, "sale-web-01: previous state launched but the journal had requested (a line is missing "
        "or was changed)"),
    ("no time", [rec(time=...)], 1, "no time"),
    ("time that is no time", [OK, rec(state="launched", previous="requested", time="yesterday")],
     2, "time 'yesterday' is not an ISO 8601 time"),
    ("time without zone", [rec(time="2026-11-10T20:00:00")],
     1, "time '2026-11-10T20:00:00' has no time zone"),
    ("time as a number", [rec(time=1731268800)],
     1, "time must be an ISO 8601 string, not 1731268800"),
    ("unknown state", [rec(state="exploded")], 1, "unknown state 'exploded' (one of: requested"),
    ("unknown previous state", [OK, rec(state="launched", previous="asleep")],
     2, "unknown previous state 'asleep'"),
    ("state as a list", [rec(state=["ready"])], 1, 'state must be a state name, not ["ready"]'),
    ("garbage line", [OK, "hello world"], 2, "not a JSON record (Expecting value: column 1)"),
    ("line that is a list", [OK, "[1, 2]"], 2, "not a record: a JSON list, not an object"),
    ("line that is a string", ['"requested"'], 1, "not a record: a JSON str, not an object"),
    ("empty line", [OK, "", rec(state="launched", previous="requested")],
     2, "empty line, not a record"),
    ("no host", [rec(host=...)], 1, "no host"),
    ("host that is no name", [rec(host=7)], 1, "host must be a name, not 7"),
    ("host with a newline", [rec(host="sale-web-01\n")],
     1, 'host must be a name, not "sale-web-01\\n"'),
    ("no state", [rec(state=...)], 1, "no state"),
    ("field given twice", [f'{{"time": "{T}", "host": "h", "state": "requested", '
                           '"state": "ready"}'], 1, "field 'state' given twice"),
    ("unknown field", [rec(secret="hunter2")], 1, "unknown field(s) 'secret'"),
    ("reason that is no text", [rec(reason=["x"])], 1, 'reason must be a string, not ["x"]'),
    ("data that is no object", [rec(data=[1])], 1, "data must be an object, not [1]"),
    ("truncated last line", [OK, '{"time": "2026-'],
     2, "truncated line (a crash while writing?); remove it or run "
        "`hybridburst journal repair sale`"),
    ("whole last line without its newline", [OK, rec(state="launched", previous="requested")],
     2, "truncated line (a crash while writing?)"),
]


def write_event(state: Path, lines: list[str] | bytes, *, newline: bool = True) -> Path:
    """An event ``sale`` whose journal holds ``lines`` (the last one without its newline
    when ``newline`` is false)."""
    event = state / "events" / "sale"
    event.mkdir(parents=True, exist_ok=True)
    (event / "event.json").write_text('{"provider": "local"}')
    journal = event / "journal.jsonl"
    if isinstance(lines, bytes):
        journal.write_bytes(lines)
    else:
        journal.write_text("\n".join(lines) + ("\n" if newline else ""))
    return journal


@pytest.mark.parametrize(("lines", "line", "problem"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_a_bad_journal_is_named_by_file_and_line(
    lines: list[str], line: int, problem: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HYBRIDBURST_STATE_DIR", str(tmp_path))
    torn = problem.startswith("truncated line")
    path = write_event(tmp_path, lines, newline=not torn)
    before = path.read_bytes()
    expected = f"{path}:{line}: {problem}"

    assert cli.main(["status", "sale"]) == 2  # an exception would be a traceback
    err = capsys.readouterr().err
    assert f"error: {expected}" in err, err

    journal = Journal(path)
    for read in (journal.current, lambda: list(journal.entries()),
                 lambda: journal.record("sale-web-02", S.REQUESTED)):
        with pytest.raises(InputError) as caught:
            read()
        assert str(caught.value).startswith(expected)
    assert path.read_bytes() == before  # a writer refuses too, and changes nothing


def test_not_utf8_is_named(tmp_path: Path) -> None:
    path = write_event(tmp_path, (OK + "\n").encode() + b"\xff\xfe garbage\n")
    with pytest.raises(InputError, match=r"journal\.jsonl:2: not UTF-8 text, not a record"):
        Journal(path).current()


def test_the_real_command_exits_2_without_a_traceback(tmp_path: Path) -> None:
    path = write_event(tmp_path, [OK, '{"time": "2026-'], newline=False)
    proc = subprocess.run([str(BIN / "hybridburst"), "status", "sale"], capture_output=True,
                          text=True, check=False, cwd=REPO,
                          env={**os.environ, "HYBRIDBURST_STATE_DIR": str(tmp_path)})
    assert proc.returncode == 2
    assert f"error: {path}:2: truncated line (a crash while writing?)" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def _with_journal_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """`hybridburst journal` (until cli.COMMAND_MODULES lists it)."""
    if "hybridburst.commands.journal" not in cli.COMMAND_MODULES:
        monkeypatch.setattr(cli, "COMMAND_MODULES",
                            [*cli.COMMAND_MODULES, "hybridburst.commands.journal"])


def test_repair_removes_a_torn_last_line_and_the_event_works_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HYBRIDBURST_STATE_DIR", str(tmp_path))
    _with_journal_command(monkeypatch)
    path = write_event(tmp_path, [OK, rec(state="launched", previous="requested"),
                                  '{"time": "2026-11-10T2'], newline=False)
    assert cli.main(["status", "sale"]) == 2
    assert cli.main(["journal", "repair", "sale"]) == 0
    out = capsys.readouterr().out
    assert f"{path}: line 3: removed a torn last line" in out
    assert "sale: journal repaired (1 host(s))" in out
    assert path.read_text() == OK + "\n" + rec(state="launched", previous="requested") + "\n"
    assert cli.main(["status", "sale"]) == 0
    Journal(path).record("sale-web-01", S.VALIDATED, "checks passed")
    assert cli.main(["journal", "repair", "sale"]) == 0
    assert "sale: journal sound, nothing to repair" in capsys.readouterr().out


def test_repair_completes_a_whole_last_line_and_removes_lines_older_versions_closed(
    tmp_path: Path,
) -> None:
    launched = rec(state="launched", previous="requested")
    # An older version closed a torn line with a newline and went on.
    path = write_event(tmp_path, [OK, '{"time": "2026-', launched], newline=False)
    with pytest.raises(InputError, match=r"journal\.jsonl:2: not a JSON record"):
        Journal(path).current()
    assert Journal(path).repair() == [
        "line 2: removed a line that is not a record (not a JSON record (Unterminated string "
        "starting at: column 10)): '{\"time\": \"2026-'",
        "line 3: completed a last line that lost its newline"]
    assert path.read_text() == f"{OK}\n{launched}\n"
    assert Journal(path).state_of("sale-web-01") is S.LAUNCHED


def test_repair_changes_nothing_when_a_record_was_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HYBRIDBURST_STATE_DIR", str(tmp_path))
    _with_journal_command(monkeypatch)
    path = write_event(tmp_path, [OK, rec(state="ready", previous="requested"), '{"ti'],
                       newline=False)
    before = path.read_bytes()
    assert cli.main(["journal", "repair", "sale"]) == 2
    assert (f"{path}:2: illegal transition: sale-web-01 cannot go from requested to ready; "
            "repair mends only what a crash leaves") in capsys.readouterr().err
    assert path.read_bytes() == before


# -- the index: appending costs the same at 10 or 20,000 lines ------------------------------
HOSTS = [f"sale-web-{i:02d}" for i in range(1, 6)]


def build(path: Path, lines: int) -> None:
    """A legal journal of ``lines`` lines over five hosts, written as the writer writes."""
    out = [rec(h, "launched") for h in HOSTS]
    out += [rec(HOSTS[i % 5], "launched", "launched") for i in range(lines - 5)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in out))


@pytest.mark.parametrize("size", [10, 20_000])
def test_an_append_reads_one_line_whatever_the_journal_holds(tmp_path: Path, size: int) -> None:
    path = tmp_path / "sale" / "journal.jsonl"
    build(path, size)
    first = Journal(path)
    first.record(HOSTS[0], S.VALIDATED, "checks passed")  # no index yet: built once
    assert first.lines_parsed == size
    tail = len(path.read_bytes().splitlines(keepends=True)[-1])

    again = Journal(path)  # the next command
    again.record(HOSTS[1], S.VALIDATED, "checks passed")
    assert (again.lines_parsed, again.bytes_read) == (0, tail)  # the index's last line, checked
    assert again.state_of(HOSTS[0]) is S.VALIDATED
    assert again.lines_parsed == 0
    assert len(path.read_bytes().splitlines()) == size + 2
    assert [e.state for e in Journal(path).entries()][-2:] == [S.VALIDATED, S.VALIDATED]


def test_a_crash_between_the_append_and_the_index_only_leaves_a_tail_to_replay(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sale" / "journal.jsonl"
    build(path, 10)
    Journal(path).record(HOSTS[0], S.VALIDATED)
    index = path.with_name("journal.jsonl.idx")
    old = index.read_bytes()
    Journal(path).record(HOSTS[0], S.AUTHORIZED)
    index.write_bytes(old)  # SIGKILLed after the journal's fsync, before the index's rename

    journal = Journal(path)
    assert journal.state_of(HOSTS[0]) is S.AUTHORIZED
    assert journal.lines_parsed == 1
    with pytest.raises(HybridburstError, match="cannot go from authorized to quarantined"):
        journal.record(HOSTS[0], S.QUARANTINED)
    journal.record(HOSTS[0], S.BASELINED)
    assert Journal(path).state_of(HOSTS[0]) is S.BASELINED


@pytest.mark.parametrize("damage", ["garbage", "missing", "beyond the end", "another file",
                                    "changed in place", "lines changed before the tail"])
def test_an_index_that_does_not_match_the_journal_is_rebuilt(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "sale" / "journal.jsonl"
    build(path, 10)
    Journal(path).record(HOSTS[0], S.VALIDATED)
    index = path.with_name("journal.jsonl.idx")
    text = path.read_text()
    if damage == "garbage":
        index.write_text("{not json")
    elif damage == "missing":
        index.unlink()
    elif damage == "beyond the end":  # the journal was cut back (a repair by hand)
        path.write_text(text[: text.rindex(rec(HOSTS[0], "validated", "launched")[:20])])
    elif damage == "another file":  # same bytes, another inode (restored from a backup)
        shutil.copy(path, path.with_name("copy"))
        os.replace(path.with_name("copy"), path)
    elif damage == "changed in place":  # same length, an illegal record
        with open(path, "r+b") as handle:
            handle.seek(text.index('"launched"'))
            handle.write(b'"ready"   ')
    elif damage == "lines changed before the tail":
        path.write_text(text.replace(rec(HOSTS[1], "launched"),
                                     rec(HOSTS[1], "launched", reason="edited"), 1)
                        + rec(HOSTS[1], "launched", "launched") + "\n")
    journal = Journal(path)
    if damage == "changed in place":
        with pytest.raises(InputError, match=r"journal\.jsonl:1: unknown state 'ready   '|"
                                             r"journal\.jsonl:1: illegal transition"):
            journal.current()
        return
    current = journal.current()
    assert journal.lines_parsed == len(path.read_text().splitlines())  # read from line 1
    assert current == {e.host: e for e in Journal(path).entries()}


def test_the_line_after_the_index_is_numbered_from_the_index(tmp_path: Path) -> None:
    path = tmp_path / "sale" / "journal.jsonl"
    build(path, 20)
    Journal(path).record(HOSTS[0], S.VALIDATED)
    with path.open("a") as handle:
        handle.write(rec(HOSTS[0], "ready", "validated") + "\n")
    journal = Journal(path)
    with pytest.raises(InputError, match=r"journal\.jsonl:22: illegal transition: sale-web-01 "
                                         r"cannot go from validated to ready"):
        journal.record(HOSTS[1], S.VALIDATED)
    assert journal.lines_parsed == 1


def test_a_write_that_fails_midway_leaves_the_journal_as_it_was(tmp_path: Path) -> None:
    """A full disk (here: a file size limit) cuts a record short: it is cut off again."""
    path = tmp_path / "sale" / "journal.jsonl"
    build(path, 10)
    Journal(path).record(HOSTS[0], S.VALIDATED)
    before = path.read_bytes()
    script = (
        "import resource, signal, sys\n"
        "from pathlib import Path\n"
        "from hybridburst.errors import HybridburstError\n"
        "from hybridburst.journal import Journal\n"
        "from hybridburst.states import HostState\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({len(before) + 40}, {len(before) + 40}))\n"
        "try:\n"
        f"    Journal(Path({str(path)!r})).record({HOSTS[0]!r}, HostState.AUTHORIZED, 'x' * 500)\n"
        "except HybridburstError as exc:\n"
        "    print(exc)\n"
        "    sys.exit(3)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 3, proc.stderr
    assert "journal.jsonl: cannot append to the journal: File too large" in proc.stdout
    assert path.read_bytes() == before
    assert Journal(path).state_of(HOSTS[0]) is S.VALIDATED


@pytest.mark.parametrize(("call", "problem"), [
    (lambda j: j.record("", S.REQUESTED), 'host must be a name, not ""'),
    (lambda j: j.record("sale-web-01\n", S.REQUESTED), 'host must be a name, not "sale-web-01\\n"'),
    (lambda j: j.record("sale-web-09", S.REQUESTED, at=dt.datetime(2026, 11, 10, 20)),
     "time '2026-11-10T20:00:00' has no time zone"),
])
def test_a_writer_never_writes_what_reading_refuses(
    tmp_path: Path, call: Callable[[Journal], Any], problem: str,
) -> None:
    path = tmp_path / "sale" / "journal.jsonl"
    build(path, 10)
    before = path.read_bytes()
    with pytest.raises(HybridburstError) as caught:
        call(Journal(path))
    assert str(caught.value) == f"{path}: not written, the journal could not read it back: {problem}"
    assert path.read_bytes() == before
