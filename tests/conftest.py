"""Shared test settings: every test run keeps its state in its own directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="session", autouse=True)
def _environment(tmp_path_factory: pytest.TempPathFactory) -> None:
    state = tmp_path_factory.mktemp("state")
    os.environ["HYBRIDBURST_STATE_DIR"] = str(state)
    os.environ["ANSIBLE_CONFIG"] = str(REPO / "ansible.cfg")
    os.environ["ANSIBLE_COLLECTIONS_PATH"] = str(REPO / ".collections")
    os.environ["CONTAINERS_CONF"] = str(
        REPO / "src/hybridburst/providers/local/data/containers.conf"
    )
    os.environ["PATH"] = f"{BIN}:{os.environ['PATH']}"
    _remove_dead_leftovers()


def _remove_dead_leftovers() -> None:
    """Burst hosts a killed earlier run left stopped (CI runs after a session on the same
    machine): remove them by label. Running hosts (someone's live event) are left alone."""
    if not shutil.which("podman"):
        return
    out = subprocess.run(
        ["podman", "ps", "-a", "-q", "--filter", "label=hybridburst.role=burst",
         "--filter", "status=exited", "--filter", "status=created"],
        capture_output=True, text=True, check=False,
    ).stdout.split()
    if out:
        subprocess.run(["podman", "rm", "-f", "-t", "0", *out], capture_output=True, check=False)

def hybridburst(*args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    """Run the real command line, as an operator does."""
    proc = subprocess.run(
        [str(BIN / "hybridburst"), *args], capture_output=True, text=True, check=False, cwd=REPO
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"hybridburst {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def state_dir() -> Path:
    return Path(os.environ["HYBRIDBURST_STATE_DIR"])


def podman(*args: str) -> str:
    return subprocess.run(
        ["podman", *args], capture_output=True, text=True, check=True
    ).stdout


def need(tool: str) -> None:
    assert shutil.which(tool), f"{tool} is missing: run `make setup`"
