"""Every playbook as AWX and Jenkins see it: listed by AWX, syntactically valid, its extra
variables documented (for surveys), and burst/reclaim stopping before they touch anything
when the inventory is not one of an event."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import BIN, REPO
from tests.e2e.conftest import Fleet, allow_set

PLAYBOOKS = sorted((REPO / "playbooks").glob("*.yml"))
# awx/main/utils/ansible.py: a .yml file is offered as a playbook when one of its lines
# matches this (or it is vault-encrypted), outside roles/tasks/group_vars/host_vars and
# hidden folders.
AWX_PLAYBOOK_LINE = re.compile(r"^\s*?-?\s*?(?:hosts|include|import_playbook):\s*?.*?$")
AWX_SKIPPED_FOLDERS = {"roles", "tasks", "group_vars", "host_vars"}


def awx_lists(project: Path, path: Path) -> bool:
    """AWX's rule (Project.playbooks: skip_directory + could_be_playbook)."""
    parts = path.parent.relative_to(project).parts
    if path.suffix not in (".yml", ".yaml") or path.name.startswith("."):
        return False
    if AWX_SKIPPED_FOLDERS & set(parts) or any(p.startswith(".") for p in parts):
        return False
    with open(path, encoding="utf-8", errors="ignore") as handle:
        for number, line in enumerate(handle):
            if AWX_PLAYBOOK_LINE.match(line) or (number == 0 and line.startswith("$ANSIBLE_VAULT;")):
                return True
    return False


def playbook(name: str, *args: str, inventory: str = "localhost,") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", inventory, f"playbooks/{name}", *args],
        cwd=REPO, capture_output=True, text=True, check=False, timeout=600,
        env={**os.environ, "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"},
    )


def plays_run(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return [p["play"]["name"] for p in json.loads(proc.stdout)["plays"]]


def test_the_listing_rule_tells_playbooks_from_import_only_files(tmp_path: Path) -> None:
    cases = {
        "plays.yml": "---\n- name: A play\n  hosts: all\n",
        "imports_fqcn.yml": "---\n- name: Only\n  ansible.builtin.import_playbook: plays.yml\n",
        "imports_short.yml": "---\n- import_playbook: plays.yml\n",
        "roles/r/tasks/main.yml": "---\n- name: A play\n  hosts: all\n",
        "group_vars/all.yml": "---\nhosts: all\n",
    }
    for name, text in cases.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    listed = {name for name in cases if awx_lists(tmp_path, tmp_path / name)}
    assert listed == {"plays.yml", "imports_short.yml"}


@pytest.mark.parametrize("path", PLAYBOOKS, ids=lambda p: p.name)
def test_awx_lists_the_playbook(path: Path) -> None:
    assert awx_lists(REPO, path), f"AWX would not offer {path.name} as a playbook"


@pytest.mark.parametrize("path", PLAYBOOKS, ids=lambda p: p.name)
def test_syntax_check(path: Path) -> None:
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "--syntax-check",
                           str(path.relative_to(REPO))],
                          cwd=REPO, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("path", PLAYBOOKS, ids=lambda p: p.name)
def test_extra_variables_are_documented_in_the_playbook_and_for_awx(path: Path) -> None:
    """Every variable a playbook reads with a default is a survey question: named in the
    playbook's header and in docs/awx.md."""
    text = path.read_text()
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    used = set(re.findall(r"\b([a-z][a-z0-9_]*) \| default\(", text))
    used = {v for v in used if not v.startswith(("hybridburst_", "ansible_", "app_deploy_"))}
    awx = (REPO / "docs" / "awx.md").read_text()
    assert used <= set(re.findall(r"[a-z0-9_]+", header)), used - set(re.findall(r"[a-z0-9_]+", header))
    assert path.name in awx, f"docs/awx.md has no job template for {path.name}"
    missing = {v for v in used if f"`{v}`" not in awx}
    assert not missing, f"docs/awx.md does not document {missing}"


@pytest.mark.parametrize("name", ["burst.yml", "reclaim.yml"])
def test_wrong_inventory_stops_before_anything_is_touched(name: str) -> None:
    proc = playbook(name, "-e", "burst_hosts=nothing_here", "-e", "reclaim_hosts=nothing_here")
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr
    assert plays_run(proc) == ["Check the inventory before anything is touched"]


def test_burst_stops_after_validation_below_the_healthy_share(fleet: Fleet) -> None:
    """5 of the 7 hosts of the shared fleet are faulty: with every host required, the burst
    ends after validation and nothing is authorized."""
    before = allow_set()
    proc = playbook("burst.yml", "-e", "burst_min_healthy_share=1", inventory=str(fleet.inventory))
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr
    assert plays_run(proc) == ["Check the inventory before anything is touched",
                               "Validate burst hosts against the inventory",
                               "Write the validation report",
                               "Stop when too few hosts validated"]
    assert "2 of 7 hosts validated" in proc.stdout
    assert allow_set() == before
