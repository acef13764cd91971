"""The `hybridburst` command. Bad input exits 2, a failed operation 1, success 0."""

from __future__ import annotations

import argparse
import importlib
import shlex
import sys
from collections.abc import Sequence

from rich.console import Console
from rich.text import Text

from . import locks
from .errors import HybridburstError, InputError

# Modules that add sub-commands: each has ``register(subparsers)`` and sets ``func`` on
# its parsers; ``func(args, console) -> int`` is the exit status.
COMMAND_MODULES = [
    "hybridburst.commands.fleet",
    "hybridburst.commands.validate",
    "hybridburst.commands.access",
    "hybridburst.commands.baseline",
    "hybridburst.commands.app",
    "hybridburst.commands.lifecycle",
    "hybridburst.commands.bake",
    "hybridburst.commands.journal",
    "hybridburst.costs.commands",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hybridburst",
        description="Burst capacity into the public cloud for a traffic peak, and give it back.",
    )
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument("--no-wait", action="store_true", help=NO_WAIT_HELP)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    # Commands that change an event (``locks_event``) take --no-wait after their name too.
    for command in sub.choices.values():
        if command.get_default("locks_event") is not None:
            command.add_argument("--no-wait", action="store_true", default=argparse.SUPPRESS,
                                 help=NO_WAIT_HELP)
    return parser


NO_WAIT_HELP = ("when another command is changing the same event, exit 1 at once "
                "(default: wait for it, saying who holds the event)")


def _version() -> str:
    from . import __version__

    return f"hybridburst {__version__}"


def _report(errors: Console, exc: Exception) -> None:
    for line in str(exc).splitlines():
        errors.print(Text.assemble(("error: ", "bold red"), line), soft_wrap=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(arguments)
    console = Console(stderr=False, highlight=False)
    if not console.is_terminal:
        console.width = 160  # logs of AWX, Jenkins and CI: do not squeeze tables
    errors = Console(stderr=True, highlight=False)
    locks.configure(command=shlex.join(["hybridburst", *arguments]), wait=not args.no_wait,
                    say=lambda message: errors.print(Text(message), soft_wrap=True))
    try:
        # One writer per event: a command that changes one holds its lock throughout.
        with locks.for_command(args):
            return int(args.func(args, console) or 0)
    except InputError as exc:
        _report(errors, exc)
        return 2
    except HybridburstError as exc:
        _report(errors, exc)
        return exc.exit_status
    except KeyboardInterrupt:
        errors.print("interrupted; rerun the same command to resume")
        return 130


if __name__ == "__main__":
    sys.exit(main())
