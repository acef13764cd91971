"""publish_release.yml hands the deploy the controller's digest of each artifact (set_stats),
so an AWX workflow's deploy job never trusts the artifact server's .sha256."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import ansible_runner

from hybridburst.app import release
from tests.conftest import REPO


def test_publish_hands_the_controllers_digest_to_the_deploy(tmp_path: Path) -> None:
    out = tmp_path / "artifacts"
    archive = release.build("1.0.0", out)
    # The server-side .sha256 lies: the digest handed on must be the controller's own.
    (out / f"{archive.name}.sha256").write_text("0" * 64 + f"  {archive.name}\n")
    (tmp_path / "runner").mkdir()
    run = ansible_runner.run(
        private_data_dir=str(tmp_path / "runner"),
        playbook=str(REPO / "playbooks" / "publish_release.yml"),
        inventory="localhost ansible_connection=local",
        cmdline="--check --start-at-task 'Compute on the controller the digest of each published artifact'",
        extravars={"publish_release_hosts": "localhost", "publish_release_artifacts": [str(archive)]},
        envvars={"ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
                 "ANSIBLE_COLLECTIONS_PATH": os.environ.get("ANSIBLE_COLLECTIONS_PATH", "")},
        quiet=True,
    )
    assert run.status == "successful", run.stdout.read()
    stats = next(e for e in run.events if e.get("event") == "playbook_on_stats")
    handed = stats["event_data"]["artifact_data"]["deploy_release_sha256"]
    assert handed == {"1.0.0": hashlib.sha256(archive.read_bytes()).hexdigest()}
