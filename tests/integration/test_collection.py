"""The built collection: what it holds, and its roles, plugins and playbooks by their full
names from a directory outside the repository."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import BIN, REPO
from tests.e2e.conftest import Fleet
from tests.integration.conftest import Collection, fleet_names

ROLES = sorted(p.name for p in (REPO / "roles").iterdir() if (p / "tasks").is_dir())
PLAYBOOKS = sorted(p.stem for p in (REPO / "playbooks").glob("*.yml"))
# Top-level entries of the repository that are the project around the collection.
LEFT_OUT = {
    ".venv", ".collections", ".cache", ".ci", ".git", ".gitignore", ".pytest_cache",
    ".ruff_cache", ".ansible-lint", ".yamllint", "src", "tests", "pulumi_stacks", "bench",
    "examples", "molecule", "scripts", "inventory", "Makefile", "pyproject.toml",
    "requirements.lock", "ansible.cfg", "collections", "execution-environment.yml",
    "Jenkinsfile", "context", "build", "dist",
}


def plain(value: Any) -> Any:
    """ansible-core 2.19 writes inventory plugin values as {"__ansible_unsafe": value}."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def members(collection: Collection) -> list[str]:
    with tarfile.open(collection.tarball) as tar:
        return [m.name.removeprefix("./") for m in tar.getmembers()]


def test_build_holds_the_content_and_leaves_out_the_project(collection: Collection) -> None:
    names = members(collection)
    for required in ["MANIFEST.json", "FILES.json", "README.md", "meta/runtime.yml",
                     "plugins/inventory/fleet.py", "plugins/filter/host_checks.py",
                     "plugins/modules/nft_set.py", "playbooks/templates/validation.json.j2",
                     *(f"playbooks/{p}.yml" for p in PLAYBOOKS),
                     *(f"roles/{r}/tasks/main.yml" for r in ROLES),
                     *(f"roles/{r}/meta/argument_specs.yml" for r in ROLES)]:
        assert required in names, required
    tops = {n.split("/", 1)[0] for n in names}
    assert not tops & LEFT_OUT, tops & LEFT_OUT
    assert tops <= {"MANIFEST.json", "FILES.json", "README.md", "CHANGELOG.md", "meta", "plugins", "roles",
                    "playbooks", "docs"}, tops
    stray = [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".retry", ".tar.gz"))
             or "/.cache/" in n or n.startswith("docs/_build")]
    assert not stray, stray
    # Small: only Ansible content (the repository with .venv is hundreds of MB).
    assert collection.tarball.stat().st_size < 1_000_000


def test_manifest_declares_the_dependencies_of_collections_requirements(
    collection: Collection,
) -> None:
    manifest = json.loads((collection.root / "MANIFEST.json").read_text())["collection_info"]
    assert (manifest["namespace"], manifest["name"]) == ("hybridburst", "platform")
    required = yaml.safe_load((REPO / "collections" / "requirements.yml").read_text())
    pinned = {c["name"]: c["version"] for c in required["collections"]}
    assert set(manifest["dependencies"]) == set(pinned)
    for name, version in pinned.items():
        installed = json.loads((REPO / ".collections" / "ansible_collections" / name.replace(".", "/")
                                / "MANIFEST.json").read_text())["collection_info"]["version"]
        assert version == installed, (name, version, installed)


def test_only_the_installed_copy_is_visible_from_outside(
    collection: Collection, consumer: Path
) -> None:
    proc = collection.run(str(BIN / "ansible-galaxy"), "collection", "list", "hybridburst.platform",
                          "--format", "json", cwd=consumer)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert list(found) == [str(collection.installed / "ansible_collections")], found


def test_every_role_and_plugin_is_documented_by_full_name(
    collection: Collection, consumer: Path
) -> None:
    proc = collection.run(str(BIN / "ansible-doc"), "-t", "role", "-l", "hybridburst.platform",
                          "--json", cwd=consumer)
    assert proc.returncode == 0, proc.stderr
    assert sorted(r.removeprefix("hybridburst.platform.") for r in json.loads(proc.stdout)) == ROLES
    for kind, plugin in [("inventory", "fleet"), ("module", "nft_set"), ("filter", "host_checks")]:
        name = f"hybridburst.platform.{plugin}"
        proc = collection.run(str(BIN / "ansible-doc"), "-t", kind, name, "--json", cwd=consumer)
        assert proc.returncode == 0, proc.stderr
        doc = json.loads(proc.stdout)[name]["doc"]
        assert str(collection.root) in doc["filename"], doc["filename"]


def test_inventory_plugin_from_outside_the_repository(
    fleet: Fleet, collection: Collection, consumer: Path
) -> None:
    source = consumer / f"{fleet.event}.fleet.yml"
    source.write_text(yaml.safe_dump({
        "plugin": "hybridburst.platform.fleet",
        "manifest": str(fleet.dir / "manifest.json"),
        "keyed_groups": [{"key": "hybridburst_release", "prefix": "release"}],
        "compose": {"hybridburst_cpus": "hybridburst_expected.cpus"},
    }))
    proc = collection.run(str(BIN / "ansible-inventory"), "-i", source.name, "--list", cwd=consumer)
    assert proc.returncode == 0, proc.stderr
    inventory = plain(json.loads(proc.stdout))
    hosts = {h["name"]: h for h in fleet.manifest["hosts"]}
    assert set(inventory["burst"]["hosts"]) == set(hosts)
    assert set(inventory["release_1_0_0"]["hosts"]) == set(hosts)
    assert inventory["gateway"]["hosts"] and inventory["lb"]["hosts"]  # the private cloud merged
    hostvars = inventory["_meta"]["hostvars"]
    for name, host in hosts.items():
        assert hostvars[name]["ansible_host"] == host["address"]
        assert hostvars[name]["hybridburst_cpus"] == host["expected"]["cpus"]
        assert "StrictHostKeyChecking=yes" in hostvars[name]["ansible_ssh_common_args"]


def test_role_by_full_name_runs_from_outside_the_repository(
    fleet: Fleet, collection: Collection, consumer: Path
) -> None:
    shutil.copy(fleet.inventory, consumer / "event.fleet.yml")
    (consumer / "check.yml").write_text(
        "- name: Check burst hosts with the installed role\n"
        "  hosts: burst\n"
        "  gather_facts: false\n"
        "  roles:\n"
        "    - role: hybridburst.platform.host_validate\n"
    )
    proc = collection.run(str(BIN / "ansible-playbook"), "-i", "event.fleet.yml", "check.yml",
                          cwd=consumer, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    assert proc.returncode == 2, proc.stdout[-3000:] + proc.stderr  # the faulty hosts fail
    stats = json.loads(proc.stdout)["stats"]
    healthy, faulty = fleet_names(fleet)
    assert set(stats) == set(healthy) | set(faulty)
    assert all(stats[h]["failures"] == 0 and stats[h]["unreachable"] == 0 for h in healthy), stats
    assert all(stats[h]["failures"] == 1 for h in faulty), stats


def test_installed_playbooks_by_full_name_pass_syntax_check(
    collection: Collection, consumer: Path
) -> None:
    names = [f"hybridburst.platform.{p}" for p in PLAYBOOKS]
    proc = collection.run(str(BIN / "ansible-playbook"), "-i", "localhost,", "--syntax-check",
                          *names, cwd=consumer)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in PLAYBOOKS:
        assert f"playbook: {collection.root}/playbooks/{name}.yml" in proc.stdout, proc.stdout
