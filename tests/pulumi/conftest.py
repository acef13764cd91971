"""Shared fixtures of the Pulumi tests: stack configurations and a fake ``pulumi`` CLI.

Pulumi mocks are process-global: every test sets its own through ``run_program``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto
from pulumi.automation._cmd import CommandResult, OnOutput
from pulumi.automation.errors import create_command_error
from semver import VersionInfo

from hybridburst.infra import mocking, programs
from hybridburst.providers.emulated.engine import program_config
from hybridburst.workspace import EventDir

REPO = Path(__file__).resolve().parents[2]
STACKS = REPO / "pulumi_stacks"
PSK = "Kx7.secret_psk_0123456789"

AWS = {
    "event": "double11",
    "team": "storefront",
    "burstExpiry": "2025-11-14T06:00:00Z",
    "vpcCidr": "10.200.0.0/16",
    "privateCidrs": ["10.0.0.0/12", "172.16.5.0/24"],
    "availabilityZones": ["ap-southeast-1a", "ap-southeast-1b", "ap-southeast-1c"],
    "pools": ["web:4:c6i.large:2025.11.1", "api:2:m6i.large"],
    "imageId": "ami-0123456789abcdef0",
    "sshPublicKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestKey hybridburst-double11",
    "customerGatewayAddress": "198.51.100.10",
    "gatewayPrivateAddress": "10.0.0.1",
    "vpnPsk": PSK,
    "loadBalancerCidrs": ["10.0.10.0/24"],
    "appPort": "8443",
}

OPENSTACK = {
    "event": "double11",
    "team": "storefront",
    "burstExpiry": "2025-11-14T06:00:00Z",
    "burstCidr": "10.210.0.0/20",
    "privateCidrs": ["10.0.0.0/12"],
    "pools": ["web:3:s3.large.2:2025.11.1", "cache:1:s3.xlarge.2"],
    "imageId": "7b1f3c9e-0000-4000-8000-000000000001",
    "externalNetworkId": "0a5e3b8c-0000-4000-8000-000000000002",
    "sshPublicKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestKey hybridburst-double11",
    "privateVpnAddress": "198.51.100.10",
    "gatewayPrivateAddress": "10.0.0.1",
    "vpnPsk": PSK,
    "loadBalancerCidrs": ["10.0.10.0/24"],
    "availabilityZones": ["az1", "az2"],
}

PEERING = {
    "event": "double11",
    "team": "storefront",
    "burstExpiry": "2025-11-14T06:00:00Z",
    "routerId": "router-private-1",
    "localSubnetIds": ["subnet-private-1", "subnet-private-2"],
    "burstCidr": "10.200.0.0/16",
    "peerAddresses": ["203.0.113.11", "203.0.113.12"],
    "vpnPsk": PSK,
    "serviceRules": ["sg-db:tcp:5432", "sg-cache:tcp:6379", "sg-mirror:tcp:443-444"],
}


def run(stack: str, config: dict[str, Any], **kwargs: Any
        ) -> tuple[dict[str, Any], mocking.RecordingMocks]:
    """Run one of the real stack programs under fresh mocks."""
    return mocking.run_program(
        programs.PROGRAMS[stack], project=programs.PROJECTS[stack], config=config,
        secret_keys=["vpnPsk"], **kwargs,
    )


@pytest.fixture
def aws_config() -> dict[str, Any]:
    return dict(AWS)


@pytest.fixture
def openstack_config() -> dict[str, Any]:
    return dict(OPENSTACK)


@pytest.fixture
def peering_config() -> dict[str, Any]:
    return dict(PEERING)


class FakePulumi(auto.PulumiCommand):
    """The Automation API's CLI seam: records every command, keeps stacks and config in
    memory, and runs ``up`` as the real program under Pulumi mocks."""

    def __init__(self) -> None:  # no binary to look for
        self.command = "pulumi"
        self.version = VersionInfo.parse("3.272.0")
        self.calls: list[tuple[str, list[str]]] = []  # (stack dir name, args)
        self.stacks: set[tuple[str, str]] = set()
        self.config: dict[tuple[str, str], dict[str, tuple[str, bool]]] = {}
        self.outputs: dict[tuple[str, str], dict[str, Any]] = {}
        self.fail_on: str | None = None

    def run(self, args: list[str], cwd: str, additional_env: Any,
            on_output: OnOutput | None = None, on_error: OnOutput | None = None,
            ) -> CommandResult:
        where = Path(cwd).name
        self.calls.append((where, list(args)))
        stack = args[args.index("--stack") + 1] if "--stack" in args else ""
        key = (where, stack)
        if self.fail_on and args[0] == self.fail_on:
            raise create_command_error(CommandResult("", "error: boom from the fake", 1))
        if args[:2] == ["stack", "select"]:
            if key not in self.stacks:
                raise create_command_error(
                    CommandResult("", f"error: no stack named '{stack}' found", 255))
        elif args[:2] == ["stack", "init"]:
            self.stacks.add((where, args[2]))
        elif args[:2] == ["config", "set-all"]:
            store = self.config.setdefault(key, {})
            for flag, pair in itertools.pairwise(args):
                if flag in ("--plaintext", "--secret"):
                    name, _, value = pair.partition("=")
                    store[name] = (value, flag == "--secret")
        elif args[:2] == ["config", "rm-all"]:
            store = self.config.setdefault(key, {})
            for name in args[2:]:
                for k in [k for k in store if k == name or k.startswith(name + "[")]:
                    del store[k]
        elif args[:1] == ["config"]:
            store = self.config.get(key, {})
            doc = {k: {"value": v, "secret": s} for k, (v, s) in store.items()}
            return CommandResult(json.dumps(doc), "", 0)
        elif args[0] == "up":
            self.outputs[key] = self._run_program(where, key)
        elif args[:2] == ["stack", "output"]:
            return CommandResult(json.dumps(self.outputs.get(key, {})), "", 0)
        elif args[:2] == ["stack", "export"]:  # a checkpoint with nothing pending
            return CommandResult(json.dumps({"version": 3, "deployment": {"resources": []}}),
                                 "", 0)
        elif args[:2] == ["stack", "history"]:
            entry = {"kind": "update", "startTime": "2025-11-10T00:00:00.000Z", "message": "",
                     "environment": {}, "config": {}, "result": "succeeded",
                     "endTime": "2025-11-10T00:01:00.000Z"}
            return CommandResult(json.dumps([entry]), "", 0)
        return CommandResult("", "", 0)

    def _run_program(self, where: str, key: tuple[str, str]) -> dict[str, Any]:
        project = programs.PROJECTS[where]
        config, secrets = program_config(project, self.config.get(key, {}))
        outputs, _ = mocking.run_program(programs.PROGRAMS[where], project=project,
                                         config=config, secret_keys=secrets)
        return outputs

    # Queries for the tests.
    def commands(self) -> list[str]:
        """``dir: verb`` of each call, e.g. ``aws_burst: up``."""
        out = []
        for where, args in self.calls:
            verb = args[0]
            if verb in ("stack", "config"):
                verb += " " + (args[1] if not args[1].startswith("-") else "get-all")
            out.append(f"{where}: {verb}")
        return out


@pytest.fixture
def event_dir(tmp_path: Path) -> EventDir:
    """An event directory with a fleet key pair (fake keys: nothing connects)."""
    d = EventDir(tmp_path / "events" / "double11")
    d.ssh_dir.mkdir(parents=True)
    d.private_key.write_text("fake private key\n")
    d.private_key.with_suffix(".pub").write_text(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFleetKey hybridburst-double11\n")
    return d


@pytest.fixture
def fake_pulumi() -> FakePulumi:
    return FakePulumi()


@pytest.fixture
def command_factory(fake_pulumi: FakePulumi) -> Callable[[], auto.PulumiCommand]:
    return lambda: fake_pulumi


def pytest_configure(config: pytest.Config) -> None:
    # The provider SDKs warn about their own deprecated resources at import time.
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:pulumi_aws.*")
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:pulumi_openstack.*")


class CheckpointFakePulumi(FakePulumi):
    """``FakePulumi`` (same answers) plus what a long or interrupted update needs:

    - ``pending[(dir, stack)]``: the checkpoint's ``pending_operations``, served by
      ``stack export``; ``refresh`` resolves them as the CLI does: each
      ``--import-pending-creates URN --import-pending-creates ID`` pair turns a pending create
      into a resource with that ID, ``--clear-pending-creates`` drops the other pending
      creates, and the refresh itself clears pending updates, deletes and reads;
    - ``emit[verb]``: stdout lines the CLI streams through ``on_output`` while ``verb`` runs;
    - ``failures[verb]``: a ``CommandResult`` (the CLI's own stdout/stderr) that ``verb`` fails
      with, after streaming its stdout;
    - ``up_outputs``: when set, ``up`` returns these outputs instead of running the program.
    """

    def __init__(self) -> None:
        super().__init__()
        self.pending: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.resources: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.emit: dict[str, list[str]] = {}
        self.failures: dict[str, CommandResult] = {}
        self.up_outputs: dict[str, Any] | None = None

    def run(self, args: list[str], cwd: str, additional_env: Any,
            on_output: OnOutput | None = None, on_error: OnOutput | None = None,
            ) -> CommandResult:
        verb = args[0]
        stack = args[args.index("--stack") + 1] if "--stack" in args else ""
        key = (Path(cwd).name, stack)
        if verb in self.failures:
            self.calls.append((key[0], list(args)))
            failure = self.failures[verb]
            for line in failure.stdout.splitlines():
                if on_output:
                    on_output(line)
            raise create_command_error(failure)
        for line in self.emit.get(verb, []):
            if on_output:
                on_output(line)
        if args[:2] == ["stack", "export"]:
            self.calls.append((key[0], list(args)))
            return CommandResult(json.dumps(self.checkpoint(key)), "", 0)
        if verb == "refresh":
            self._resolve(key, args)
        if verb == "up" and self.up_outputs is not None:
            self.calls.append((key[0], list(args)))
            self.outputs[key] = dict(self.up_outputs)
            return CommandResult("\n".join(self.emit.get(verb, [])), "", 0)
        return super().run(args, cwd, additional_env, on_output, on_error)

    def checkpoint(self, key: tuple[str, str]) -> dict[str, Any]:
        deployment: dict[str, Any] = {
            "manifest": {"time": "2025-11-10T06:00:00Z", "magic": "", "version": "v3.272.0"},
            "secrets_providers": {"type": "passphrase", "state": {"salt": "v1:abc"}},
            "resources": self.resources.get(key, []),
        }
        if self.pending.get(key):
            deployment["pending_operations"] = self.pending[key]
        return {"version": 3, "deployment": deployment}

    def _resolve(self, key: tuple[str, str], args: list[str]) -> None:
        values = [b for a, b in itertools.pairwise(args) if a == "--import-pending-creates"]
        if len(values) % 2:
            raise create_command_error(CommandResult(
                "", "error: each URN must be followed by an ID: found an odd number of entries", 1))
        ids = dict(zip(values[::2], values[1::2], strict=True))
        left = []
        for op in self.pending.get(key, []):
            urn = op["resource"]["urn"]
            if op["type"] == "creating" and urn in ids:
                self.resources.setdefault(key, []).append({**op["resource"], "id": ids[urn]})
            elif op["type"] == "creating" and "--clear-pending-creates" not in args:
                left.append(op)
        self.pending[key] = left


@pytest.fixture
def checkpoint_pulumi() -> CheckpointFakePulumi:
    return CheckpointFakePulumi()
