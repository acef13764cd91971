"""The execution environment, collections/requirements.yml and the Jenkinsfile agree with
what the project pins and ships (ansible-builder and Jenkins are not installed here)."""

from __future__ import annotations

import re
import tomllib

import yaml

from tests.conftest import REPO

PINS = dict(
    line.split("==") for line in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    ["dependencies"]
)
GALAXY = yaml.safe_load((REPO / "galaxy.yml").read_text())
EE = yaml.safe_load((REPO / "execution-environment.yml").read_text())
REQUIREMENTS = yaml.safe_load((REPO / "collections" / "requirements.yml").read_text())


def test_execution_environment_pins_what_the_project_pins() -> None:
    assert EE["version"] == 3
    deps = EE["dependencies"]
    assert deps["ansible_core"]["package_pip"] == f"ansible-core=={PINS['ansible-core']}"
    assert deps["ansible_runner"]["package_pip"] == f"ansible-runner=={PINS['ansible-runner']}"
    assert deps["python_interpreter"]["python_path"].endswith("python3.11")  # requires-python
    for requirement in deps["python"]:
        name, version = requirement.split("==")
        assert PINS[name] == version, requirement
    assert any(s.startswith("openssh-client") for s in deps["system"])


def test_execution_environment_holds_the_collections_and_the_built_ones() -> None:
    collections = EE["dependencies"]["galaxy"]["collections"]
    pinned = [c for c in collections if c.get("type") != "file"]
    assert pinned == REQUIREMENTS["collections"]
    tarball = f"hybridburst-platform-{GALAXY['version']}.tar.gz"
    assert {"name": f"collections/{tarball}", "type": "file"} in collections
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    files = {f["src"] for f in EE["additional_build_files"]}
    assert files == {f"dist/{tarball}", f"dist/hybridburst-{version}-py3-none-any.whl"}


def test_requirements_cover_the_galaxy_dependencies() -> None:
    assert {c["name"] for c in REQUIREMENTS["collections"]} == set(GALAXY["dependencies"])


def test_jenkinsfile_runs_burst_and_reclaim_with_credentials_never_echoed() -> None:
    text = (REPO / "Jenkinsfile").read_text()
    choices = re.search(r"choice\(name: 'ACTION', choices: \[([^\]]*)\]", text)
    assert choices, "no ACTION choice"
    actions = re.findall(r"'([a-z_]+)'", choices.group(1))
    assert actions == ["burst", "reclaim"]
    assert all((REPO / "playbooks" / f"{a}.yml").is_file() for a in actions)
    assert "sshUserPrivateKey(" in text and "file(credentialsId:" in text
    secrets = re.findall(r"(?:keyFileVariable|variable): '([A-Z_]+)'", text)
    assert secrets
    # Secrets only in single-quoted sh scripts (no Groovy interpolation), never echoed or traced.
    groovy = re.sub(r"'''.*?'''", "", text, flags=re.S)
    assert re.findall(r"'''.*?'''", text, flags=re.S)
    for secret in secrets:
        assert f"${secret}" not in groovy and f"${{{secret}}}" not in groovy, secret
    assert "set -x" not in text
    for line in text.splitlines():
        if re.search(r"\b(echo|printf|cat)\b", line):
            assert not any(s in line for s in secrets), line
