"""Errors an operator sees. Bad input exits with status 2 and names file, line and problem."""

from __future__ import annotations


class HybridburstError(Exception):
    """A failure the CLI reports without a traceback (exit status 1)."""

    exit_status = 1


class InputError(HybridburstError):
    """Bad input: a spec, manifest or inventory that cannot be used. Exit status 2.

    ``where`` is a line number for YAML sources, or a JSON path for JSON documents.
    """

    exit_status = 2

    def __init__(self, source: str, where: int | str | None, problem: str) -> None:
        self.source = source
        self.where = where
        self.problem = problem
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.where is None or self.where == "":
            return f"{self.source}: {self.problem}"
        return f"{self.source}:{self.where}: {self.problem}"


class InputErrors(InputError):
    """Several problems in one input, reported together (one per line)."""

    def __init__(self, errors: list[InputError]) -> None:
        self.errors = errors
        first = errors[0]
        super().__init__(first.source, first.where, first.problem)

    def __str__(self) -> str:
        return "\n".join(InputError.__str__(e) for e in self.errors)
