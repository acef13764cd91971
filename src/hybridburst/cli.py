"""The `hybridburst` command. Bad input exits 2, a failed operation 1, success 0."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from rich.console import Console
from rich.text import Text

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
    "hybridburst.costs.commands",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hybridburst",
        description="Burst capacity into the public cloud for a traffic peak, and give it back.",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def _version() -> str:
    from . import __version__

    return f"hybridburst {__version__}"


def _report(errors: Console, exc: Exception) -> None:
    for line in str(exc).splitlines():
        errors.print(Text.assemble(("error: ", "bold red"), line), soft_wrap=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    console = Console(stderr=False, highlight=False)
    if not console.is_terminal:
        console.width = 160  # logs of AWX, Jenkins and CI: do not squeeze tables
    errors = Console(stderr=True, highlight=False)
    try:
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
