"""ansible-playbook that dies with its controller.

ansible-runner starts a playbook on a terminal of its own, in a session of its own, ignoring
SIGHUP (pexpect): a killed controller would leave its playbook running on, changing hosts, the
gateway and the load balancer beside the next command. Run as
``python -m hybridburst.playbook_guard ANSIBLE-PLAYBOOK ARGS...``, this asks the kernel for
SIGTERM when its parent (the controller) dies, and then kills the playbook's process group.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

PR_SET_PDEATHSIG = 1
CONTROLLER_ENV = "HYBRIDBURST_CONTROLLER_PID"


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _die(_signum: int = 0, _frame: FrameType | None = None) -> None:
    """Kill the playbook: its process group and every process below it (Ansible's workers
    and their ssh connections live in sessions of their own)."""
    for pid in descendants(os.getpid()):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    os.killpg(os.getpgrp(), signal.SIGKILL)


def main() -> None:
    if os.getpgrp() != os.getpid():
        os.setpgid(0, 0)  # a group of its own to kill (under ansible-runner it leads one)
    signal.signal(signal.SIGTERM, _die)
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    controller = os.environ.get(CONTROLLER_ENV)
    if controller and os.getppid() != int(controller):
        _die()  # the controller died before the kernel could be asked
    rc = subprocess.call(sys.argv[1:])
    sys.exit(rc if rc >= 0 else 128 - rc)


if __name__ == "__main__":
    main()
