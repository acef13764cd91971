"""An emulated Pulumi engine behind the Automation API's command seam.

``EmulatedPulumi`` is a ``PulumiCommand``: the Automation API hands it the same arguments it
would hand the ``pulumi`` binary (``stack select``, ``config set-all``, ``refresh``, ``up``,
``stack output``, ``destroy``, ``stack export``). It keeps each stack's configuration and
resources in files, and runs ``up`` as the real stack program (``pulumi_stacks/<dir>``
through :mod:`hybridburst.infra.programs`) under Pulumi's mocks, diffing what the program
declares against what the stack holds, as the engine does:

* a resource whose inputs are unchanged keeps its id and outputs (no replacement);
* a new resource is created; an instance whose inputs changed is replaced;
* a resource the program no longer declares is deleted.

Instances are handed to an :class:`InstanceHost` (the emulated cloud: each instance is a
local-cloud host). Everything else is recorded only. Secret inputs (pre-shared keys) are
never written: the stack file holds a digest of each resource's inputs and its outputs with
secret-looking keys removed.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import secrets
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pulumi.runtime
from cryptography.fernet import Fernet, InvalidToken
from pulumi import automation as auto
from pulumi.automation._cmd import CommandResult, OnOutput
from pulumi.automation.errors import create_command_error
from semver import VersionInfo

from ...infra import mocking, programs

INSTANCE_TYPES = ("aws:ec2/instance:Instance", "openstack:compute/instance:Instance")
_SECRETISH = re.compile(r"(?i)(psk|presharedkey|password|secret)")
_SECRET_CONFIG = "[secret]"


class InstanceHost(Protocol):
    """What stands behind an instance resource (the emulated cloud)."""

    def allocate(self, typ: str, name: str, inputs: Mapping[str, Any],
                 subnet_cidr: str | None) -> str:
        """The private address the new instance gets (before it is launched)."""
        ...

    def launch(self, typ: str, name: str, instance_id: str, address: str,
               inputs: Mapping[str, Any], gateway: str) -> None:
        ...

    def destroy(self, typ: str, name: str, instance_id: str) -> None:
        ...


def _digest(inputs: Mapping[str, Any]) -> str:
    blob = json.dumps(inputs, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _public(state: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if not _SECRETISH.search(k)}


@dataclass
class _Planned:
    key: str
    typ: str
    name: str
    id: str
    digest: str
    state: dict[str, Any]
    action: str  # same | create | update | replace
    inputs: dict[str, Any] = field(default_factory=dict)


def program_config(project: str, flat: Mapping[str, tuple[str, bool]]
                   ) -> tuple[dict[str, Any], list[str]]:
    """Stack config as the CLI keeps it (``project:key`` and ``project:key[0]`` entries, each
    ``(value, secret)``) to the program's config: short keys, lists gathered, secret keys."""
    config: dict[str, Any] = {}
    secret_keys = []
    for name, (value, secret) in flat.items():
        match = re.fullmatch(r"(.+)\[(\d+)\]", name)
        short = (match[1] if match else name).removeprefix(f"{project}:")
        if match:
            config.setdefault(short, []).append(value)
        else:
            config[short] = value
        if secret:
            secret_keys.append(short)
    return config, secret_keys


class DiffingMocks(mocking.RecordingMocks):
    """Mocks that answer from the stack's previous resources where inputs are unchanged."""

    def __init__(self, previous: Mapping[str, Mapping[str, Any]], host: InstanceHost | None
                 ) -> None:
        super().__init__()
        self.previous = previous
        self.host = host
        self.planned: dict[str, _Planned] = {}
        self._plan_lock = threading.Lock()
        self.subnets: dict[str, str] = {}  # subnet or network id -> CIDR

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        inputs = dict(args.inputs)
        key = f"{args.typ}::{args.name}"
        digest = _digest(inputs)
        old = self.previous.get(key)
        with self._plan_lock:
            if old is not None and old["digest"] == digest:
                rid, state, action = old["id"], dict(old["state"]), "same"
            else:
                rid, state = self._computed(args.typ, args.name, inputs)
                action = "create" if old is None else (
                    "replace" if args.typ in INSTANCE_TYPES else "update")
                if action == "update":
                    rid = old["id"]  # type: ignore[index]
            if args.typ == "aws:ec2/subnet:Subnet":
                self.subnets[rid] = inputs["cidrBlock"]
            elif args.typ == "openstack:networking/subnet:Subnet":
                self.subnets[inputs["networkId"]] = inputs["cidr"]
            self.planned[key] = _Planned(key, args.typ, args.name, rid, digest, state, action,
                                         inputs)
        # Answer with the full state (secrets included, in memory only).
        return rid, {**inputs, **state}

    def _computed(self, typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict]:
        token = secrets.token_hex(8)
        state: dict[str, Any] = {}
        if typ == "aws:ec2/instance:Instance":
            subnet = self.subnets.get(inputs.get("subnetId", ""))
            state["privateIp"] = self._address(typ, name, inputs, subnet)
            state["availabilityZone"] = self._zone_of(inputs.get("subnetId", ""))
            return f"i-{secrets.token_hex(9)[:17]}", state
        if typ == "openstack:compute/instance:Instance":
            net = (inputs.get("networks") or [{}])[0]
            address = self._address(typ, name, inputs, self.subnets.get(net.get("uuid", "")))
            state["accessIpV4"] = address
            state["networks"] = [{**net, "fixedIpV4": address}]
            return str(uuid.uuid4()), state
        if typ == "aws:ec2/vpnConnection:VpnConnection":
            state["tunnel1Address"] = "198.51.100.201"
            state["tunnel2Address"] = "198.51.100.202"
        elif typ == "aws:ec2/launchTemplate:LaunchTemplate":
            state["latestVersion"] = 1
            state["defaultVersion"] = 1
        elif typ == "openstack:networking/router:Router":
            state["externalFixedIps"] = [{"ipAddress": "198.51.100.203"}]
        return f"{name}-{token}", state

    def _zone_of(self, subnet_id: str) -> str:
        for key, planned in self.planned.items():
            if key.startswith("aws:ec2/subnet:Subnet::") and planned.id == subnet_id:
                return str(planned.inputs.get("availabilityZone", "emulated-zone"))
        return "emulated-zone"

    def _address(self, typ: str, name: str, inputs: Mapping[str, Any],
                 subnet: str | None) -> str:
        if self.host is None:
            raise RuntimeError("no emulated cloud to launch instances on")
        return self.host.allocate(typ, name, inputs, subnet)


class EmulatedPulumi(auto.PulumiCommand):
    """The ``pulumi`` CLI, emulated: stacks under ``root``, programs run under mocks."""

    def __init__(self, root: Path, host: InstanceHost | None = None) -> None:
        # No binary to look for: the seam's own attributes only.
        self.command = "pulumi (emulated)"
        self.version = VersionInfo.parse("3.272.0")
        self.root = root
        self.host = host
        self.calls: list[tuple[str, list[str]]] = []

    # -- files ------------------------------------------------------------------------------
    def _dir(self, where: str, stack: str) -> Path:
        return self.root / where / stack

    def _load(self, where: str, stack: str, name: str, default: Any) -> Any:
        path = self._dir(where, stack) / f"{name}.json"
        return json.loads(path.read_text()) if path.exists() else default

    def _save(self, where: str, stack: str, name: str, data: Any) -> None:
        path = self._dir(where, stack) / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True, default=str))
        tmp.chmod(0o600)
        tmp.replace(path)

    # Secret config values are encrypted at rest, as the CLI's secrets provider does: the
    # key is a file of its own (mode 0600) beside the stacks, never in a stack file.
    def _fernet(self) -> Fernet:
        key_file = self.root / "secrets.key"
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = key_file.with_name(f".secrets.key.{os.getpid()}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(Fernet.generate_key())
            try:
                os.link(tmp, key_file)  # the first writer wins; the others read its key
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        return Fernet(key_file.read_bytes())

    def _seal(self, value: str) -> str:
        return "sealed:" + self._fernet().encrypt(value.encode()).decode()

    def _open(self, value: str) -> str:
        if not value.startswith("sealed:"):
            return value
        try:
            return self._fernet().decrypt(value.removeprefix("sealed:").encode()).decode()
        except InvalidToken as exc:
            raise create_command_error(CommandResult(
                "", "error: a secret of this stack cannot be decrypted with "
                f"{self.root / 'secrets.key'}", 255)) from exc

    def stack_resources(self, where: str, stack: str) -> dict[str, dict[str, Any]]:
        return self._load(where, stack, "resources", {})

    # -- the seam ---------------------------------------------------------------------------
    def run(self, args: list[str], cwd: str, additional_env: Mapping[str, str],
            on_output: OnOutput | None = None, on_error: OnOutput | None = None,
            ) -> CommandResult:
        where = Path(cwd).name
        self.calls.append((where, list(args)))
        stack = args[args.index("--stack") + 1] if "--stack" in args else ""
        say = on_output or (lambda _line: None)
        if args[:2] == ["stack", "select"]:
            if not (self._dir(where, stack) / "stack.json").exists():
                raise create_command_error(
                    CommandResult("", f"error: no stack named '{stack}' found", 255))
        elif args[:2] == ["stack", "init"]:
            self._save(where, args[2], "stack", {"name": args[2], "emulated": True})
        elif args[:2] == ["config", "set-all"]:
            store = self._load(where, stack, "config", {})
            for flag, pair in itertools.pairwise(args):
                if flag in ("--plaintext", "--secret"):
                    name, _, value = pair.partition("=")
                    secret = flag == "--secret"
                    store[name] = [self._seal(value) if secret else value, secret]
            self._save(where, stack, "config", store)
        elif args[:2] == ["config", "rm-all"]:
            store = self._load(where, stack, "config", {})
            for name in args[2:]:
                for k in [k for k in store if k == name or k.startswith(name + "[")]:
                    del store[k]
            self._save(where, stack, "config", store)
        elif args[:1] == ["config"]:
            store = self._load(where, stack, "config", {})
            show = "--show-secrets" in args
            doc = {k: {"value": v if not s else (self._open(v) if show else _SECRET_CONFIG),
                       "secret": s}
                   for k, (v, s) in store.items()}
            return CommandResult(json.dumps(doc), "", 0)
        elif args[0] == "up":
            return self._up(where, stack, say)
        elif args[0] == "refresh":
            say(f"Refreshing (emulated): {len(self.stack_resources(where, stack))} resources")
        elif args[0] == "destroy":
            return self._destroy(where, stack, say)
        elif args[:2] == ["stack", "output"]:
            outputs = self._load(where, stack, "outputs", {})
            return CommandResult(json.dumps(outputs), "", 0)
        elif args[:2] == ["stack", "export"]:
            resources = self.stack_resources(where, stack)
            doc = {"version": 3, "deployment": {
                "manifest": {"time": "", "magic": "", "version": "emulated"},
                "resources": [{"urn": f"urn:pulumi:{stack}::{where}::{r['type']}::{r['name']}",
                               "type": r["type"], "id": r["id"]} for r in resources.values()],
                "pending_operations": [],
            }}
            return CommandResult(json.dumps(doc), "", 0)
        elif args[:2] == ["stack", "history"]:
            entry = {"kind": "update", "startTime": "2026-01-01T00:00:00.000Z", "message": "",
                     "environment": {}, "config": {}, "result": "succeeded",
                     "endTime": "2026-01-01T00:00:01.000Z"}
            return CommandResult(json.dumps([entry]), "", 0)
        return CommandResult("", "", 0)

    # -- up and destroy ---------------------------------------------------------------------
    def _program_config(self, where: str, stack: str) -> tuple[dict[str, Any], list[str]]:
        stored = self._load(where, stack, "config", {})
        flat = {name: (self._open(v) if secret else v, secret)
                for name, (v, secret) in stored.items()}
        return program_config(programs.PROJECTS[where], flat)

    def _up(self, where: str, stack: str, say: Callable[[str], None]) -> CommandResult:
        project = programs.PROJECTS[where]
        previous = self.stack_resources(where, stack)
        config, secret_keys = self._program_config(where, stack)
        mocks = DiffingMocks(previous, self.host)
        say(f"Updating (emulated) {where}/{stack}")
        try:
            outputs, _ = mocking.run_program(programs.PROGRAMS[where], project=project,
                                             config=config, secret_keys=secret_keys, mocks=mocks)
        except Exception as exc:  # the program's own error, as the CLI would print it
            message = str(exc).strip() or type(exc).__name__
            raise create_command_error(CommandResult(
                "", f"error: program failed:\n{message}", 255)) from exc
        gone = {k: v for k, v in previous.items() if k not in mocks.planned}
        counts: dict[str, int] = {}
        stored: dict[str, dict[str, Any]] = {}
        # Deletes first (an excluded host goes before anything new needs its address).
        for _key, old in sorted(gone.items()):
            if old["type"] in INSTANCE_TYPES and self.host is not None:
                self.host.destroy(old["type"], old["name"], old["id"])
            say(f"  - {old['type']} {old['name']} deleted")
            counts["delete"] = counts.get("delete", 0) + 1
        launches = []
        for key, planned in mocks.planned.items():
            counts[planned.action] = counts.get(planned.action, 0) + 1
            if planned.action != "same":
                sign = {"create": "+", "update": "~", "replace": "+-"}[planned.action]
                say(f"  {sign} {planned.typ} {planned.name} {planned.action}d")
            if planned.typ in INSTANCE_TYPES and planned.action in ("create", "replace"):
                old = previous.get(key)
                if old is not None and self.host is not None:
                    self.host.destroy(old["type"], old["name"], old["id"])
                launches.append(planned)
            stored[key] = {"type": planned.typ, "name": planned.name, "id": planned.id,
                           "digest": planned.digest, "state": _public(planned.state)}
        if self.host is not None and launches:
            self._launch_all(launches, mocks)
        self._save(where, stack, "resources", stored)
        self._save(where, stack, "outputs", outputs)
        done = {"create": "created", "same": "unchanged", "update": "updated",
                "replace": "replaced", "delete": "deleted"}
        summary = ", ".join(f"{n} {done[a]}" for a, n in sorted(counts.items()))
        say(f"Resources: {summary}")
        return CommandResult(f"Resources: {summary}\n", "", 0)

    def _launch_all(self, launches: list[_Planned], mocks: DiffingMocks) -> None:
        from concurrent.futures import ThreadPoolExecutor

        host = self.host
        assert host is not None

        def one(p: _Planned) -> None:
            address, gateway = _address_and_gateway(p, mocks)
            host.launch(p.typ, p.name, p.id, address, p.inputs, gateway)

        with ThreadPoolExecutor(max_workers=6) as pool:
            for future in [pool.submit(one, p) for p in launches]:
                future.result()

    def _destroy(self, where: str, stack: str, say: Callable[[str], None]) -> CommandResult:
        resources = self.stack_resources(where, stack)
        for _key, old in sorted(resources.items()):
            if old["type"] in INSTANCE_TYPES and self.host is not None:
                self.host.destroy(old["type"], old["name"], old["id"])
            say(f"  - {old['type']} {old['name']} deleted")
        self._save(where, stack, "resources", {})
        self._save(where, stack, "outputs", {})
        say(f"Resources: {len(resources)} deleted")
        return CommandResult(f"Resources: {len(resources)} deleted\n", "", 0)


def _address_and_gateway(planned: _Planned, mocks: DiffingMocks) -> tuple[str, str]:
    import ipaddress

    if planned.typ == "aws:ec2/instance:Instance":
        address = planned.state["privateIp"]
        cidr = mocks.subnets[planned.inputs["subnetId"]]
    else:
        address = planned.state["accessIpV4"]
        cidr = mocks.subnets[(planned.inputs.get("networks") or [{}])[0].get("uuid", "")]
    gateway = str(ipaddress.IPv4Network(cidr).network_address + 1)
    return address, gateway
