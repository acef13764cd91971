"""Drive the stacks under ``pulumi_stacks/`` through the Pulumi Automation API.

Everything the CLI does goes through one ``PulumiCommand``: the default runs the installed
``pulumi`` binary; tests pass a subclass that records the arguments and returns canned
results (the Automation API's own seam). Nothing here imports the stack programs.

Three things an operator needs from a long-running cloud change:

- **What failed.** ``CommandError`` carries the CLI's output only in its text
  (``"\\n code: N\\n stdout: ...\\n stderr: ..."``). A failed update prints the resource errors
  in the ``Diagnostics:`` section of stdout and little on stderr, so the message shows the
  diagnostics and stderr (at most ``ERROR_LINES`` lines), never the whole dump, and never a
  secret value this driver has seen.
- **Progress.** ``up``, ``refresh`` and ``destroy`` forward each line of the CLI's output to an
  ``on_output`` callback (a VPN takes minutes).
- **Interrupted updates.** A ``pulumi up`` that was killed leaves ``pending_operations`` in the
  checkpoint. ``resolve_pending`` imports each pending create that exists in the cloud and
  clears the others before anything else runs, so no instance is left that no stack knows.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from ..errors import HybridburstError

CommandFactory = Callable[[], auto.PulumiCommand]
OnOutput = Callable[[str], None]
# find(urn, type, name) -> the resource's ID in the cloud, or None when it does not exist.
FindResource = Callable[[str, str, str], str | None]

INSTALL_HINT = (
    "the pulumi CLI is needed for the {provider} provider and was not found on PATH. "
    "Install it with `curl -fsSL https://get.pulumi.com | sh` (or your package manager, e.g. "
    "`brew install pulumi`; see https://www.pulumi.com/docs/iac/download-install/), make sure "
    "`pulumi version` works in this shell, log in to a state backend (`pulumi login`, or "
    "`pulumi login --local`), then run the command again."
)

ConfigInput = str | Sequence[str]

ERROR_LINES = 15
LINE_WIDTH = 400
REDACTED = "[secret]"
# Shorter values are not redacted: replacing e.g. "1" or "on" everywhere would garble the text.
MIN_SECRET_LENGTH = 4
# The marker of a secret value in a checkpoint (sdk/go/common/resource/sig).
SECRET_SIG = "4dabf18193072939515e22adb298388d"

_NOISE = re.compile(
    r"^\s*(warning: (A new version of Pulumi is available|You are running a very old version)|"
    r"\$ (curl|brew|choco|winget) .*pulumi|or visit https://pulumi\.com/docs/install|"
    r"View (Live|in Browser)|Permalink:|\[Pulumi Neo\]|Or run `pulumi|https://app\.pulumi\.com/)"
)

_REQUEST_ID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")


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


# What failed.
def command_streams(exc: auto.errors.CommandError) -> tuple[int | None, str, str]:
    """``(exit code, stdout, stderr)`` of a failed CLI command, read back from the error's
    text, the only place the Automation API keeps them (``CommandResult.__str__``)."""
    text = str(exc)
    head, found, stderr = text.rpartition("\n stderr: ")
    if not found:
        return None, "", text
    code_part, _, stdout = head.partition("\n stdout: ")
    match = re.search(r"code: (-?\d+)", code_part)
    return (int(match[1]) if match else None), stdout, stderr


def _meaningful(lines: Iterable[str]) -> list[str]:
    return [line.rstrip() for line in lines if line.strip() and not _NOISE.match(line)]


def _stderr_lines(stderr: str) -> list[str]:
    """Meaningful stderr lines, from the first ``error:`` on when there is one (what comes
    before it is the CLI's chatter: update notices, warnings)."""
    lines = _meaningful(stderr.splitlines())
    first = next((i for i, line in enumerate(lines) if line.lstrip().startswith("error:")), 0)
    return lines[first:]


def diagnostics(stdout: str) -> list[str]:
    """The lines of the ``Diagnostics:`` section of an update's output (resource errors).
    Its lines are indented; the next heading (``Resources:``, ``Outputs:``...) is not."""
    out: list[str] = []
    inside = False
    for line in stdout.splitlines():
        if line.strip() and not line[0].isspace():
            inside = line.startswith("Diagnostics:")
        elif inside:
            out.append(line)
    return _merge_same(_meaningful(textwrap.dedent("\n".join(out)).splitlines()))


def _merge_same(lines: list[str]) -> list[str]:
    """One block per distinct message: forty instances refused for one reason read as one
    resource header ``and 39 more with the same message`` and the message once."""
    if not lines or lines[0][0].isspace():  # not headed by resources: leave as it is
        return lines
    blocks: dict[tuple[str, ...], tuple[list[str], list[str]]] = {}
    header, body = lines[0], []
    for line in [*lines[1:], ""]:
        if line and line[0].isspace():
            body.append(line)
            continue
        same = tuple(_REQUEST_ID.sub("…", b) for b in body)  # each API call has its own ID
        blocks.setdefault(same, ([], body))[0].append(header)
        header, body = line, []
    out = []
    for headers, message in blocks.values():
        more = len(headers) - 1
        out.append(f"{headers[0].removesuffix(':')} and {more} more with the same message:"
                   if more else headers[0])
        out.extend(message)
    return out


def failure_lines(stdout: str, stderr: str, limit: int = ERROR_LINES) -> list[str]:
    """The last ``limit`` lines that say what failed: the diagnostics of stdout and stderr;
    the end of stdout when neither says anything."""
    lines = diagnostics(stdout)
    seen = {line.strip() for line in lines}
    lines += [line for line in _stderr_lines(stderr) if line.strip() not in seen]
    if not lines:
        lines = _meaningful(stdout.splitlines())
    lines = [line if len(line) <= LINE_WIDTH else line[:LINE_WIDTH] + " …" for line in lines]
    if len(lines) > limit:
        return [f"… ({len(lines) - limit + 1} earlier lines not shown)", *lines[-(limit - 1):]]
    return lines


def redact(text: str, secrets: Iterable[str]) -> str:
    for value in sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True):
        text = text.replace(value, REDACTED)
    return text


def describe_failure(action: str, where: str, exc: auto.errors.CommandError,
                     secrets: Iterable[str] = ()) -> HybridburstError:
    """``pulumi ACTION of WHERE failed:`` and the lines that say why, secrets redacted."""
    code, stdout, stderr = command_streams(exc)
    secrets = list(secrets)  # redacted before lines are cut, so no part of one is left
    lines = failure_lines(redact(stdout, secrets), redact(stderr, secrets))
    if not lines:
        lines = [f"the pulumi CLI exited with code {code} and printed nothing"]
    body = "\n".join(f"  {line}" for line in lines)
    return HybridburstError(f"pulumi {action} of {where} failed:\n{body}")


# Interrupted updates.
@dataclass(frozen=True)
class PendingOperation:
    """One entry of a checkpoint's ``pending_operations``."""

    urn: str
    type: str  # the resource type token, e.g. aws:ec2/instance:Instance
    kind: str  # creating, updating, deleting, reading, importing

    @property
    def name(self) -> str:
        """The resource's name: what follows the type in the URN
        (``urn:pulumi:STACK::PROJECT::TYPE::NAME``)."""
        parts = self.urn.split("::", 3)
        return parts[3] if len(parts) == 4 else self.urn

    def describe(self) -> str:
        return f"{self.type} {self.name}"


def pending_operations(deployment: Mapping[str, Any] | None) -> list[PendingOperation]:
    """The pending operations of an exported deployment (``stack export``'s ``deployment``)."""
    out = []
    for op in (deployment or {}).get("pending_operations") or []:
        resource = op.get("resource") or {}
        urn = str(resource.get("urn") or "")
        if urn:
            out.append(PendingOperation(urn, str(resource.get("type") or ""), str(op.get("type"))))
    return out


def checkpoint_secrets(value: Any) -> Iterator[str]:
    """The plaintext of every secret in an exported checkpoint (``--show-secrets``)."""
    if isinstance(value, Mapping):
        if value.get(SECRET_SIG) is not None and isinstance(value.get("plaintext"), str):
            plain = value["plaintext"]
            try:
                decoded = json.loads(plain)
            except ValueError:
                decoded = plain
            yield decoded if isinstance(decoded, str) else plain
            return
        for item in value.values():
            yield from checkpoint_secrets(item)
    elif isinstance(value, list):
        for item in value:
            yield from checkpoint_secrets(item)


@dataclass
class StackDriver:
    """One stack (``project_dir`` + stack name) and the operations the providers need."""

    project_dir: Path
    project: str
    stack_name: str
    command: auto.PulumiCommand
    env_vars: Mapping[str, str] | None = None
    _stack: auto.Stack | None = None
    # Values of secret config and checkpoint secrets seen: never shown in a message or a line.
    _secrets: set[str] = field(default_factory=set, repr=False)

    @property
    def where(self) -> str:
        return f"{self.project_dir.name}/{self.stack_name}"

    def _fail(self, action: str, exc: auto.errors.CommandError) -> HybridburstError:
        return describe_failure(action, self.where, exc, self._secrets)

    def _relay(self, on_output: OnOutput | None) -> OnOutput | None:
        """``on_output`` with secrets redacted. The CLI's output is read on a thread that must
        keep reading: a callback that raises is dropped rather than stalling the CLI."""
        if on_output is None:
            return None
        broken = False

        def relay(line: str) -> None:
            nonlocal broken
            if broken:
                return
            try:
                on_output(redact(line, self._secrets))
            except Exception:  # the display failed; the update must go on
                broken = True

        return relay

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
            raise self._fail("stack select", exc) from exc
        return self._stack

    def _require(self) -> auto.Stack:
        stack = self.open()
        assert stack is not None
        return stack

    def key(self, name: str) -> str:
        return name if ":" in name else f"{self.project}:{name}"

    def config(self) -> dict[str, auto.ConfigValue]:
        try:
            values = dict(self._require().get_all_config())
        except auto.errors.CommandError as exc:
            raise self._fail("config", exc) from exc
        self._secrets.update(v.value for v in values.values() if v.secret and v.value)
        return values

    def set_config(self, values: Mapping[str, ConfigInput], secrets: Sequence[str] = ()) -> None:
        """Set ``values``; lists replace what was there (no stale trailing entries)."""
        stack = self._require()
        lists = [self.key(k) for k, v in values.items() if not isinstance(v, str)]
        flat: dict[str, auto.ConfigValue] = {}
        for name, value in values.items():
            secret = name in secrets
            items = [value] if isinstance(value, str) else list(value)
            if secret:
                self._secrets.update(str(item) for item in items)
            if isinstance(value, str):
                flat[self.key(name)] = auto.ConfigValue(value, secret=secret)
            else:
                for i, item in enumerate(items):
                    flat[f"{self.key(name)}[{i}]"] = auto.ConfigValue(item, secret=secret)
        try:
            if lists:
                stack.remove_all_config(lists)
            stack.set_all_config(flat, path=True)
        except auto.errors.CommandError as exc:
            raise self._fail("config set", exc) from exc

    def refresh(self, on_output: OnOutput | None = None) -> None:
        try:
            self._require().refresh(color="never", on_output=self._relay(on_output))
        except auto.errors.CommandError as exc:
            raise self._fail("refresh", exc) from exc

    def up(self, on_output: OnOutput | None = None) -> dict[str, Any]:
        try:
            result = self._require().up(color="never", on_output=self._relay(on_output))
        except auto.errors.CommandError as exc:
            raise self._fail("up", exc) from exc
        return {key: out.value for key, out in result.outputs.items()}

    def outputs(self) -> dict[str, Any]:
        try:
            return {k: v.value for k, v in self._require().outputs().items()}
        except auto.errors.CommandError as exc:
            raise self._fail("stack output", exc) from exc

    def destroy(self, on_output: OnOutput | None = None) -> None:
        try:
            self._require().destroy(color="never", on_output=self._relay(on_output))
        except auto.errors.CommandError as exc:
            raise self._fail("destroy", exc) from exc

    # Interrupted updates.
    def pending(self) -> list[PendingOperation]:
        """The operations an interrupted update left in the stack's checkpoint."""
        try:
            exported = self._require().export_stack()
        except auto.errors.CommandError as exc:
            raise self._fail("stack export", exc) from exc
        except ValueError as exc:  # not JSON
            raise HybridburstError(
                f"pulumi stack export of {self.where} did not return a checkpoint: {exc}") from exc
        self._secrets.update(checkpoint_secrets(exported.deployment))
        return pending_operations(exported.deployment)

    def resolve_pending(self, find: FindResource | None = None,
                        on_output: OnOutput | None = None) -> list[str]:
        """Resolve what an interrupted update left; returns one line per operation.

        Each pending create is looked up with ``find(urn, type, name)``: found (an ID), it is
        imported into the stack; not found (None), it is cleared. Pending updates, deletes and
        reads are cleared by the same refresh. Nothing runs when nothing is pending. Without
        ``find`` a pending create cannot be told from an orphan, so nothing is changed and the
        error says how to resolve it by hand; the same when a lookup fails.
        """
        ops = self.pending()
        if not ops:
            return []
        creates = [op for op in ops if op.kind == "creating"]
        if creates and find is None:
            raise HybridburstError(self._unresolved(creates, "no cloud lookup is available"))
        imports, cleared = self._look_up(creates, find) if find else ([], [])
        self._refresh_pending(imports, bool(cleared), on_output)
        lines = [f"{self.where}: pending create of {op.describe()} found in the cloud as {id_}: "
                 "imported into the stack" for op, id_ in imports]
        lines += [f"{self.where}: pending create of {op.describe()} not found in the cloud: "
                  "cleared from the stack" for op in cleared]
        lines += [f"{self.where}: interrupted {op.kind} of {op.describe()}: cleared by refresh"
                  for op in ops if op.kind != "creating"]
        return lines

    def _look_up(self, creates: Sequence[PendingOperation], find: FindResource
                 ) -> tuple[list[tuple[PendingOperation, str]], list[PendingOperation]]:
        """``(found with their IDs, not found)``; every lookup answers before anything changes."""
        imports: list[tuple[PendingOperation, str]] = []
        cleared: list[PendingOperation] = []
        for op in creates:
            try:
                found = find(op.urn, op.type, op.name)
            except Exception as exc:
                raise HybridburstError(self._unresolved(
                    creates, f"looking up {op.describe()} failed: {exc}")) from exc
            if found is None:
                cleared.append(op)
            elif isinstance(found, str) and found.strip():
                imports.append((op, found.strip()))
            else:
                raise HybridburstError(self._unresolved(
                    creates, f"the lookup of {op.describe()} returned {found!r}, not an ID"))
        return imports, cleared

    def _refresh_pending(self, imports: Sequence[tuple[PendingOperation, str]], clear: bool,
                         on_output: OnOutput | None) -> None:
        """One ``pulumi refresh``: imports first, then clears the pending creates left.

        ``Stack.refresh`` of this Automation API only offers ``clear_pending_creates``; its
        generated CLI interface (``workspace.cli_api``) has ``import_pending_creates``, a flat
        list of URN, ID, URN, ID... (the CLI pairs consecutive values).
        """
        stack = self._require()
        workspace = stack.workspace
        env = dict(workspace.env_vars)
        if workspace.pulumi_home is not None:
            env["PULUMI_HOME"] = workspace.pulumi_home
        pairs = [value for op, id_ in imports for value in (op.urn, id_)]
        try:
            workspace.cli_api.refresh(
                stack=stack.name, color="never", import_pending_creates=pairs or None,
                clear_pending_creates=clear, exec_kind="auto.local",
                cwd=workspace.work_dir, additional_env=env, on_output=self._relay(on_output),
            )
        except auto.errors.CommandError as exc:
            raise self._fail("refresh (resolving pending operations)", exc) from exc

    def _unresolved(self, creates: Sequence[PendingOperation], why: str) -> str:
        where = f"pulumi -C {self.project_dir} --stack {self.stack_name}"
        names = "\n".join(f"  {op.urn}" for op in creates)
        return (
            f"{self.where}: an interrupted update left {len(creates)} pending create(s) and "
            f"{why}; nothing was changed. Each may be running in the cloud without the stack "
            f"knowing it:\n{names}\n"
            "Look each one up by its tags, then either import it "
            f"(`{where} refresh --yes --import-pending-creates URN --import-pending-creates ID`) "
            f"or, when it does not exist, clear it (`{where} refresh --yes --clear-pending-creates`)"
        )
