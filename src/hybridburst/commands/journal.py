"""hybridburst journal repair EVENT: mend what a crash while writing the journal left."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.text import Text

from .. import locks
from ..errors import HybridburstError
from ..journal import Journal
from ..workspace import EventDir


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("journal", help="the event's journal: repair it after a crash")
    what = p.add_subparsers(dest="journal_command", required=True, metavar="ACTION")
    r = what.add_parser(
        "repair",
        help="remove a torn last line (or complete one that lost only its newline) and lines "
             "that are not JSON; any other problem is reported, nothing changed",
    )
    r.add_argument("event")
    r.set_defaults(func=cmd_repair, locks_event=locks.event_argument)


def cmd_repair(args: argparse.Namespace, console: Console) -> int:
    event_dir = EventDir.of(args.event)
    journal = Journal(event_dir.journal)
    if not journal.path.exists():
        raise HybridburstError(f"no journal of event {args.event!r} ({journal.path})")
    done = journal.repair()
    for line in done:
        console.print(Text(f"{journal.path}: {line}"))
    hosts = len(list(journal.current()))  # the whole record reads cleanly now
    console.print(f"{args.event}: journal {'repaired' if done else 'sound, nothing to repair'} "
                  f"({hosts} host(s))")
    return 0
