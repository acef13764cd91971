"""The collection as other teams, AWX and Jenkins get it: built, installed into a temporary
path and used from a directory outside the repository, with nothing of the repository's
Ansible settings (no ansible.cfg, no ANSIBLE_* variable, no .collections)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import BIN, REPO
from tests.e2e.conftest import FAULTS, HEALTHY, Fleet
from tests.e2e.conftest import fleet as fleet  # the shared local-cloud fleet (re-exported)

# The collections the content needs besides itself (galaxy.yml dependencies), taken from the
# project's own collection folder: Galaxy cannot be reached here.
DEPENDENCIES = ("ansible/posix", "community/general")


@dataclass
class Collection:
    tarball: Path
    installed: Path  # the collections path the tarball was installed into
    dependencies: Path  # a collections path with only the dependencies

    @property
    def root(self) -> Path:
        return self.installed / "ansible_collections" / "hybridburst" / "platform"

    def env(self, **extra: str) -> dict[str, str]:
        """A consumer's environment: the venv's tools, no ANSIBLE_* setting of the project."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
        env.update(
            PATH=f"{BIN}:{env.get('PATH', '/usr/bin:/bin')}",
            ANSIBLE_COLLECTIONS_PATH=f"{self.installed}:{self.dependencies}",
            ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="False",
            ANSIBLE_NOCOLOR="1",
        )
        env.update(extra)
        return env

    def run(self, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(args), cwd=cwd, env=self.env(**env), capture_output=True,
                              text=True, check=False, timeout=600)


@pytest.fixture(scope="session")
def collection(tmp_path_factory: pytest.TempPathFactory) -> Collection:
    """`ansible-galaxy collection build` of the repository, installed into a temporary path."""
    base = tmp_path_factory.mktemp("collection")
    dist, installed, deps = base / "dist", base / "installed", base / "deps"
    proc = subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path",
                           str(dist)], cwd=REPO, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tarball = next(dist.glob("hybridburst-platform-*.tar.gz"))
    for name in DEPENDENCIES:
        source = REPO / ".collections" / "ansible_collections" / name
        assert source.is_dir(), f"{source} is missing: run `make setup`"
        (deps / "ansible_collections" / name).parent.mkdir(parents=True, exist_ok=True)
        (deps / "ansible_collections" / name).symlink_to(source)
    result = Collection(tarball, installed, deps)
    # --offline: the dependencies must be satisfied by what is installed (no Galaxy here).
    proc = result.run(str(BIN / "ansible-galaxy"), "collection", "install", str(tarball),
                      "-p", str(installed), "--offline", cwd=base)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (result.root / "MANIFEST.json").is_file()
    return result


@pytest.fixture
def consumer(tmp_path: Path) -> Iterator[Path]:
    """A working directory outside the repository (another team's project)."""
    work = tmp_path / "consumer"
    work.mkdir()
    assert REPO not in work.resolve().parents
    yield work


def fleet_names(fleet: Fleet) -> tuple[list[str], list[str]]:
    """Healthy and faulty hosts of the shared fleet (named after its event)."""
    def rename(name: str) -> str:
        return f"{fleet.event}-{name.split('-', 1)[1]}"
    return [rename(h) for h in HEALTHY], [rename(h) for h in FAULTS]
