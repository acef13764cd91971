"""hybridburst.images without containers: the digest's inputs, the probe module's checks,
the OpenStack snapshot against openstacksdk's contract, verify-then-converge's journal."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from hybridburst.errors import HybridburstError
from hybridburst.images import digest as digest_mod
from hybridburst.images import openstack as os_images
from tests.conftest import REPO

DIGEST = "a" * 64


def _inputs(repo: Path, **over: Any) -> digest_mod.Inputs:
    values: dict[str, Any] = {"release": "1.0.0", "release_sha256": "b" * 64,
                              "base_image": "localhost/hybridburst-host:040cc2823acd",
                              "private_inventory": REPO / "inventory" / "local", "repo": repo}
    return digest_mod.Inputs(**{**values, **over})


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    copy = tmp_path / "repo"
    for part in ("roles", "plugins", "playbooks"):
        shutil.copytree(REPO / part, copy / part, symlinks=True)
    shutil.copy(REPO / "ansible.cfg", copy / "ansible.cfg")
    return copy


def test_digest_follows_every_input(repo: Path, tmp_path: Path) -> None:
    base = digest_mod.compute(_inputs(repo))
    assert base == digest_mod.compute(_inputs(repo))
    assert base == digest_mod.compute(_inputs(REPO))
    changed = {
        "release": digest_mod.compute(_inputs(repo, release="1.0.1")),
        "artifact": digest_mod.compute(_inputs(repo, release_sha256="c" * 64)),
        "base image": digest_mod.compute(_inputs(repo, base_image="localhost/x:1")),
    }
    inventory = tmp_path / "inventory"
    shutil.copytree(REPO / "inventory" / "local", inventory)
    assert digest_mod.compute(_inputs(repo, private_inventory=inventory)) == base
    (inventory / "group_vars" / "all" / "services.yml").write_text(
        (inventory / "group_vars" / "all" / "services.yml").read_text() + "extra: 1\n")
    changed["variable"] = digest_mod.compute(_inputs(repo, private_inventory=inventory))
    template = repo / "roles" / "app_deploy" / "templates" / "app.service.j2"
    template.write_text(template.read_text() + "\n")
    changed["role file"] = digest_mod.compute(_inputs(repo))
    assert base not in changed.values()
    assert len(set(changed.values())) == len(changed)


def test_digest_has_no_secret_and_no_event(repo: Path) -> None:
    labels = [label for label, _ in digest_mod.parts(_inputs(repo))]
    assert not [label for label in labels if "become" in label or "id_ed25519" in label]
    assert not [label for label in labels if label.startswith("inventory:") and "ssh" in label]


def _module() -> Any:
    spec = importlib.util.spec_from_file_location(
        "baseline_probe", REPO / "plugins" / "modules" / "baseline_probe.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_probe_checks_files(tmp_path: Path) -> None:
    probe = _module()
    present = tmp_path / "present.conf"
    present.write_text("a = 1\n")
    present.chmod(0o644)
    observed: dict[str, str] = {}
    found = probe.check_files([
        {"path": str(present), "mode": "0600", "sha256": "0" * 64},
        {"path": str(tmp_path / "gone"), "state": "present"},
        {"path": str(tmp_path / "optional"), "optional": True},
        {"path": str(present), "state": "absent"},
        {"path": str(tmp_path / "never"), "state": "absent"},
    ], observed)
    assert found == [
        f"file {present}: mode 0644, wanted 0600",
        f"file {present}: content differs (sha256 {observed[str(present)][:12]}, wanted 000000000000)",
        f"file {tmp_path / 'gone'}: missing",
        f"file {present}: present, must be absent",
    ]
    assert probe.check_files([{"path": str(present), "sha256": observed[str(present)]}], {}) == []


def test_probe_skips_sysctls_that_cannot_apply() -> None:
    probe = _module()
    found, skipped = probe.check_sysctl({"net.no.such.key": 1, "kernel.pid_max": 1}, "podman")
    assert found == []
    assert skipped == ["net.no.such.key: not present in this kernel or network namespace",
                       "kernel.pid_max: machine-wide setting, never set from a container"]


class _Compute:
    """openstacksdk's compute proxy, as far as snapshot_builder uses it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.server = SimpleNamespace(id="srv-1", status="ACTIVE")

    def get_server(self, server: str) -> Any:
        self.calls.append(("get_server", server))
        return self.server

    def stop_server(self, server: Any) -> None:
        self.calls.append(("stop_server", server.id))

    def wait_for_server(self, server: Any, status: str = "ACTIVE", failures: Any = None,
                        interval: int = 2, wait: int = 120) -> Any:
        self.calls.append(("wait_for_server", status))
        server.status = status
        return server

    def create_server_image(self, server: Any, name: str, metadata: dict[str, str] | None = None,
                            wait: bool = False, timeout: int = 120) -> Any:
        self.calls.append(("create_server_image", (server.status, name, metadata, wait)))
        return SimpleNamespace(id="img-1", name=name, status="active", properties=metadata)


def test_openstack_snapshot_of_the_stopped_builder() -> None:
    compute = _Compute()
    conn = SimpleNamespace(compute=compute, image=SimpleNamespace(
        images=lambda **query: [SimpleNamespace(name=query["name"], status="active",
                                                properties={os_images.DIGEST_KEY: DIGEST})]))
    image = os_images.snapshot_builder(conn, "srv-1", pool="web", release="1.0.0", digest=DIGEST)
    assert image.name == f"hybridburst-web-{DIGEST[:12]}"
    assert [c[0] for c in compute.calls] == ["get_server", "stop_server", "wait_for_server",
                                             "create_server_image"]
    status, _, metadata, wait = compute.calls[-1][1]
    assert status == "SHUTOFF" and wait is True
    assert metadata[os_images.DIGEST_KEY] == DIGEST
    assert os_images.find_image(conn, "web", DIGEST) is not None
    assert os_images.find_image(conn, "web", "b" * 64) is None
    with pytest.raises(HybridburstError, match="64 hex"):
        os_images.snapshot_builder(conn, "srv-1", pool="web", release="1.0.0", digest="abc")


def _bake_args(spec_path: Path, *extra: str) -> Any:
    import argparse

    from hybridburst.commands import bake as bake_cmd

    parser = argparse.ArgumentParser()
    bake_cmd.register(parser.add_subparsers())
    return parser.parse_args(["bake", str(spec_path), *extra])


SPEC = f"""\
event: unitbake
team: checkout
provider: local
private_inventory: {REPO / "inventory" / "local"}
pools:
  - name: web
    count: 2
    instance_type: local.small
"""


def test_bake_refuses_bad_input_naming_file_and_line(tmp_path: Path) -> None:
    from rich.console import Console

    from hybridburst.errors import InputError

    no_release = tmp_path / "no_release.yml"
    no_release.write_text(SPEC)
    args = _bake_args(no_release)
    with pytest.raises(InputError) as caught:
        args.func(args, Console())
    assert str(caught.value) == (f"{no_release}:6: pool web has no release: "
                                 "its image cannot be baked")
    assert caught.value.exit_status == 2
    broken = tmp_path / "broken.yml"
    broken.write_text(SPEC.replace("count: 2", "count: [2"))
    args = _bake_args(broken)
    with pytest.raises(InputError) as caught:
        args.func(args, Console())
    assert str(caught.value).startswith(f"{broken}:")
    args = _bake_args(no_release, "--pool", "api")
    with pytest.raises(InputError, match="has no pool api"):
        args.func(args, Console())


def test_verify_then_converge_journals_each_verdict(tmp_path: Path) -> None:
    from hybridburst.images import verify as verify_mod
    from hybridburst.journal import Journal
    from hybridburst.runner import RunResult
    from hybridburst.states import HostState
    from hybridburst.workspace import EventDir

    event_dir = EventDir(tmp_path / "events" / "unit")
    event_dir.root.mkdir(parents=True)
    journal = Journal(event_dir.journal)
    hosts = ["unit-web-01", "unit-web-02"]
    for host in hosts:
        for state in (HostState.REQUESTED, HostState.LAUNCHED, HostState.VALIDATED,
                      HostState.AUTHORIZED):
            journal.record(host, state, "test")
    runs: list[tuple[str, str | None]] = []

    def runner(event_dir: EventDir, playbook: str, extravars: dict[str, Any] | None = None,
               limit: str | None = None) -> RunResult:
        runs.append((playbook, limit))
        if playbook == "verify_baseline.yml":
            outcome = {"baseline_probe": {
                "unit-web-01": {"differences": [], "checked": 75, "not_applied": []},
                "unit-web-02": {"differences": ["package chrony: not installed"], "checked": 75,
                                "not_applied": []}}}
        else:
            outcome = {"baseline_applied": (limit or "").split(",")}
        return RunResult(playbook, "successful", 0, tmp_path, outcome=outcome)

    result = verify_mod.verify_then_converge(event_dir, hosts, DIGEST, runner=runner)
    assert runs == [("verify_baseline.yml", ",".join(hosts)), ("baseline.yml", "unit-web-02")]
    assert set(result.ok) == set(hosts)
    current = Journal(event_dir.journal).current()
    assert current["unit-web-01"].state is HostState.BASELINED
    assert current["unit-web-01"].reason == f"baseline verified against image {DIGEST[:12]}"
    assert current["unit-web-02"].state is HostState.BASELINED
    assert current["unit-web-02"].reason == (
        f"drift from image {DIGEST[:12]}: package chrony: not installed; converged")
