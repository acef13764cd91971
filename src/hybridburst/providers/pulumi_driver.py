"""Drive the stacks under ``pulumi_stacks/`` through the Pulumi Automation API.

Everything the CLI does goes through one ``PulumiCommand``: the default runs the installed
``pulumi`` binary; tests pass a subclass that records the arguments and returns canned
results (the Automation API's own seam). Nothing here imports the stack programs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from ..errors import HybridburstError

CommandFactory = Callable[[], auto.PulumiCommand]

INSTALL_HINT = (
    "the pulumi CLI is needed for the {provider} provider and was not found on PATH. "
    "Install it with `curl -fsSL https://get.pulumi.com | sh` (or your package manager, e.g. "
    "`brew install pulumi`; see https://www.pulumi.com/docs/iac/download-install/), make sure "
    "`pulumi version` works in this shell, log in to a state backend (`pulumi login`, or "
    "`pulumi login --local`), then run the command again."
)

ConfigInput = str | Sequence[str]


def default_command(provider: str = "pulumi") -> auto.PulumiCommand:
    """The installed CLI; a clear error, saying how to install it, when there is none."""
    try:
        return auto.PulumiCommand()
    except FileNotFoundError as exc:
        raise HybridburstError(INSTALL_HINT.format(provider=provider)) from exc
    except auto.errors.InvalidVersionError as exc:
        raise HybridburstError(f"the installed pulumi CLI cannot be used: {exc}") from exc


def stacks_dir() -> Path:
    """``$HYBRIDBURST_PULUMI_STACKS``, else ``pulumi_stacks/`` of this source tree."""
    explicit = os.environ.get("HYBRIDBURST_PULUMI_STACKS")
    path = Path(explicit) if explicit else Path(__file__).resolve().parents[3] / "pulumi_stacks"
    if not path.is_dir():
        raise HybridburstError(
            f"{path}: the Pulumi programs are not there; set HYBRIDBURST_PULUMI_STACKS to the "
            "pulumi_stacks directory of a hybridburst checkout"
        )
    return path


def _fail(action: str, where: str, exc: auto.errors.CommandError) -> HybridburstError:
    result = getattr(exc, "stderr", "") or ""
    tail = "\n".join(result.strip().splitlines()[-15:]) or str(exc)
    return HybridburstError(f"pulumi {action} of {where} failed:\n{tail}")


@dataclass
class StackDriver:
    """One stack (``project_dir`` + stack name) and the operations the providers need."""

    project_dir: Path
    project: str
    stack_name: str
    command: auto.PulumiCommand
    env_vars: Mapping[str, str] | None = None
    _stack: auto.Stack | None = None

    @property
    def where(self) -> str:
        return f"{self.project_dir.name}/{self.stack_name}"

    def _workspace_options(self) -> auto.LocalWorkspaceOptions:
        return auto.LocalWorkspaceOptions(
            pulumi_command=self.command, env_vars=dict(self.env_vars or {}),
        )

    def open(self, create: bool = True) -> auto.Stack | None:
        """Select the stack (creating it when ``create``); None when absent and not created."""
        if self._stack is not None:
            return self._stack
        try:
            if create:
                self._stack = auto.create_or_select_stack(
                    self.stack_name, work_dir=str(self.project_dir),
                    opts=self._workspace_options(),
                )
            else:
                self._stack = auto.select_stack(
                    self.stack_name, work_dir=str(self.project_dir),
                    opts=self._workspace_options(),
                )
        except auto.errors.StackNotFoundError:
            return None
        except auto.errors.CommandError as exc:
            raise _fail("stack select", self.where, exc) from exc
        return self._stack

    def _require(self) -> auto.Stack:
        stack = self.open()
        assert stack is not None
        return stack

    def key(self, name: str) -> str:
        return name if ":" in name else f"{self.project}:{name}"

    def config(self) -> dict[str, auto.ConfigValue]:
        try:
            return dict(self._require().get_all_config())
        except auto.errors.CommandError as exc:
            raise _fail("config", self.where, exc) from exc

    def set_config(self, values: Mapping[str, ConfigInput], secrets: Sequence[str] = ()) -> None:
        """Set ``values``; lists replace what was there (no stale trailing entries)."""
        stack = self._require()
        lists = [self.key(k) for k, v in values.items() if not isinstance(v, str)]
        flat: dict[str, auto.ConfigValue] = {}
        for name, value in values.items():
            secret = name in secrets
            if isinstance(value, str):
                flat[self.key(name)] = auto.ConfigValue(value, secret=secret)
            else:
                for i, item in enumerate(value):
                    flat[f"{self.key(name)}[{i}]"] = auto.ConfigValue(item, secret=secret)
        try:
            if lists:
                stack.remove_all_config(lists)
            stack.set_all_config(flat, path=True)
        except auto.errors.CommandError as exc:
            raise _fail("config set", self.where, exc) from exc

    def refresh(self) -> None:
        try:
            self._require().refresh(color="never")
        except auto.errors.CommandError as exc:
            raise _fail("refresh", self.where, exc) from exc

    def up(self) -> dict[str, Any]:
        try:
            result = self._require().up(color="never")
        except auto.errors.CommandError as exc:
            raise _fail("up", self.where, exc) from exc
        return {key: out.value for key, out in result.outputs.items()}

    def outputs(self) -> dict[str, Any]:
        try:
            return {k: v.value for k, v in self._require().outputs().items()}
        except auto.errors.CommandError as exc:
            raise _fail("stack output", self.where, exc) from exc

    def destroy(self) -> None:
        try:
            self._require().destroy(color="never")
        except auto.errors.CommandError as exc:
            raise _fail("destroy", self.where, exc) from exc
