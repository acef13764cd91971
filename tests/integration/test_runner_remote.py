"""ansible-runner's remote mode, the one AWX uses for its execution nodes:
`ansible-runner transmit | ansible-runner worker | ansible-runner process` runs the validate
playbook on the local cloud with the same per-host result as a direct run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import BIN, REPO
from tests.e2e.conftest import Fleet
from tests.integration.conftest import Collection, fleet_names

PLAYBOOK = "playbooks/validate.yml"


def report(folder: Path) -> dict[str, dict[str, Any]]:
    """validation.json per host, without its timestamps."""
    records = json.loads((folder / "validation.json").read_text())["hosts"]
    return {r["host"]: {k: v for k, v in r.items() if not k.endswith("_at")} for r in records}


def direct_run(fleet: Fleet, report_dir: Path) -> tuple[int, dict[str, Any]]:
    """What an operator runs: ansible-playbook in the repository."""
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(fleet.inventory), PLAYBOOK,
         "-e", f"validate_report_dir={report_dir}"],
        cwd=REPO, capture_output=True, text=True, check=False, timeout=600,
        env={**os.environ, "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"},
    )
    assert proc.stdout.lstrip().startswith("{"), proc.stdout[-2000:] + proc.stderr
    return proc.returncode, json.loads(proc.stdout)["stats"]


def private_data_dir(root: Path, fleet: Fleet, collection: Collection, report_dir: Path) -> Path:
    """What AWX hands its execution node: the project checkout, the inventory, env/."""
    job = root / "job"
    (job / "project").mkdir(parents=True)
    shutil.copytree(REPO / "playbooks", job / "project" / "playbooks")
    shutil.copy(REPO / "ansible.cfg", job / "project" / "ansible.cfg")
    (job / "inventory").mkdir()
    shutil.copy(fleet.inventory, job / "inventory" / "fleet.yml")
    (job / "env").mkdir()
    # The execution environment's collections: the built collection, installed.
    (job / "env" / "envvars").write_text(yaml.safe_dump({
        "ANSIBLE_COLLECTIONS_PATH": f"{collection.installed}:{collection.dependencies}",
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_NOCOLOR": "1",
    }))
    (job / "env" / "extravars").write_text(yaml.safe_dump({"validate_report_dir": str(report_dir)}))
    return job


def remote_run(root: Path, job: Path) -> tuple[Path, str, int]:
    """transmit | worker | process, three processes joined by pipes as on AWX."""
    worker_dir, out = root / "worker", root / "processed"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["PATH"] = f"{BIN}:{env['PATH']}"
    runner = str(BIN / "ansible-runner")
    transmit = subprocess.Popen([runner, "transmit", str(job), "-p", PLAYBOOK],
                                stdout=subprocess.PIPE, env=env, cwd=root)
    worker = subprocess.Popen([runner, "worker", "--private-data-dir", str(worker_dir)],
                              stdin=transmit.stdout, stdout=subprocess.PIPE, env=env, cwd=root)
    assert transmit.stdout is not None and worker.stdout is not None
    transmit.stdout.close()
    process = subprocess.run([runner, "process", str(out)], stdin=worker.stdout,
                             capture_output=True, text=True, env=env, cwd=root, timeout=600,
                             check=False)
    worker.stdout.close()
    assert transmit.wait(timeout=60) == 0
    assert process.returncode == 0, process.stderr
    return out / "artifacts", process.stdout, worker.wait(timeout=60)


def events(artifacts: Path) -> list[dict[str, Any]]:
    files = sorted(artifacts.glob("job_events/*.json"), key=lambda p: int(p.name.split("-")[0]))
    return [json.loads(f.read_text()) for f in files]


def per_host(stats: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    keys = ("ok", "changed", "failures", "unreachable", "skipped")
    hosts = {h for counts in stats.values() if isinstance(counts, dict) for h in counts}
    return {h: {k: stats.get(k, {}).get(h, 0) for k in keys} for h in hosts}


def test_transmit_worker_process_matches_a_direct_run(
    fleet: Fleet, collection: Collection, tmp_path: Path
) -> None:
    direct_dir, remote_dir = tmp_path / "direct", tmp_path / "remote"
    direct_dir.mkdir()
    remote_dir.mkdir()
    direct_rc, direct_stats = direct_run(fleet, direct_dir)

    job = private_data_dir(tmp_path, fleet, collection, remote_dir)
    artifacts, stdout, worker_rc = remote_run(tmp_path, job)
    remote_events = events(artifacts)
    remote_stats = next(e["event_data"] for e in remote_events if e["event"] == "playbook_on_stats")

    # The same outcome: status, return code, every host's counts and verdict.
    assert (artifacts / "status").read_text() == "failed"  # quarantined hosts fail
    assert int((artifacts / "rc").read_text()) == worker_rc == direct_rc == 2
    direct = {h: {"ok": c["ok"], "changed": c["changed"], "failures": c["failures"],
                  "unreachable": c["unreachable"], "skipped": c["skipped"]}
              for h, c in direct_stats.items()}
    remote = per_host({"ok": remote_stats["ok"], "changed": remote_stats["changed"],
                       "failures": remote_stats["failures"], "unreachable": remote_stats["dark"],
                       "skipped": remote_stats["skipped"]})
    assert remote == direct
    assert report(remote_dir) == report(direct_dir)

    # ... and the right one.
    healthy, faulty = fleet_names(fleet)
    verdicts = {h: r["verdict"] for h, r in report(remote_dir).items()}
    assert verdicts == {**dict.fromkeys(healthy, "validated"), **dict.fromkeys(faulty, "quarantined")}
    failed = {e["event_data"]["host"] for e in remote_events if e["event"] == "runner_on_failed"}
    assert failed == set(faulty)
    assert "PLAY RECAP" in stdout

    # It really ran remotely: the worker's copy of the project, the installed collection.
    paths = {e["event_data"]["task_path"].rsplit(":", 1)[0]
             for e in remote_events if e["event_data"].get("task_path")}
    assert str(tmp_path / "worker" / "project" / PLAYBOOK) in paths, paths
    role = collection.root / "roles" / "host_validate" / "tasks" / "main.yml"
    assert str(role) in paths, paths
    assert not any(p.startswith(str(REPO)) for p in paths), paths
