"""A killed controller leaves no playbook running on (ansible-runner starts it in a session of
its own, ignoring SIGHUP; the guard kills it, its workers and their tasks)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from tests.conftest import REPO

PLAYBOOK = """\
- name: A long task
  hosts: all
  gather_facts: false
  tasks:
    - name: Sleep
      ansible.builtin.command: sleep {seconds}
"""
CONTROLLER = """\
import sys
from pathlib import Path
from hybridburst.runner import run_playbook
from hybridburst.workspace import EventDir
run = run_playbook(EventDir(Path(sys.argv[1])), "long.yml", limit="localhost",
                   inventory=Path(sys.argv[2]))
print(run.status, run.rc, flush=True)
"""


def _matching(marker: str) -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker in cmdline.read_bytes().decode(errors="replace"):
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return [p for p in found if p != os.getpid()]


def _setup(tmp_path: Path, seconds: str) -> tuple[list[str], dict[str, str]]:
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "long.yml").write_text(PLAYBOOK.format(seconds=seconds))
    inventory = tmp_path / "hosts"
    inventory.write_text(f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    (tmp_path / "event").mkdir()
    env = {**os.environ, "HYBRIDBURST_PLAYBOOKS": str(tmp_path / "playbooks"),
           "HYBRIDBURST_STATE_DIR": str(tmp_path / "state")}
    return [sys.executable, "-c", CONTROLLER, str(tmp_path / "event"), str(inventory)], env


def test_a_playbook_dies_with_its_killed_controller(tmp_path: Path) -> None:
    seconds = f"300.{uuid.uuid4().int % 10**6}"  # a task this test can recognise
    command, env = _setup(tmp_path, seconds)
    controller = subprocess.Popen(command, cwd=REPO, env=env, start_new_session=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while not _matching(seconds):
        assert controller.poll() is None, controller.stdout.read() if controller.stdout else ""
        assert time.monotonic() < deadline, "the task never started"
        time.sleep(0.2)
    running = _matching(seconds)
    os.killpg(controller.pid, signal.SIGKILL)  # the controller's own group only
    controller.wait()
    deadline = time.monotonic() + 30
    while left := [p for p in running if _zombie_or_gone(p) is False]:
        if time.monotonic() > deadline:
            for pid in left:
                os.kill(pid, signal.SIGKILL)
            raise AssertionError(f"the playbook lives on after its controller: {left}")
        time.sleep(0.1)


def test_the_guard_keeps_the_playbook_result(tmp_path: Path) -> None:
    command, env = _setup(tmp_path, "0")
    out = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["successful", "0"], out.stdout + out.stderr


def _zombie_or_gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"

