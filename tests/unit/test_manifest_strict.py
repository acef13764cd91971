"""The manifest as a trustworthy record: networks and addresses checked as addresses, the event
matching its directory, names as strict as the spec's, and no path that could become another
SSH option (issue 14, §2 and §4)."""

from __future__ import annotations

import copy
import json
import os
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hybridburst import cli, manifest
from hybridburst.errors import InputError
from hybridburst.sshkeys import ssh_common_args
from tests.conftest import BIN, REPO
from tests.unit.test_manifest_journal import DOC

HOSTILE_KNOWN_HOSTS = "/kh -o StrictHostKeyChecking=no -o ProxyCommand=touch /tmp/pwned"
PATH_RULE = ("a key or known_hosts path must be absolute, without whitespace, control characters, "
             "quotes, \\, % or $")
SHELL_SPECIAL = "/tmp/hb/x;y&z|w(v)*<a>!`id`#~/known_hosts"

Mutate = Callable[[dict[str, Any]], Any]


def at(*path: str | int, value: Any) -> Mutate:
    def mutate(doc: dict[str, Any]) -> None:
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return mutate


# One row per bad manifest: the change to a good one, the JSON path and problem reported.
CASES: list[tuple[str, Mutate, str, str]] = [
    ("burst network with host bits", at("network", "burst_cidr", value="10.201.0.5/24"),
     "$.network.burst_cidr", "not an IPv4 network: '10.201.0.5/24' is not an IPv4 network in "
                             "CIDR form (10.201.0.5/24 has host bits set)"),
    ("burst network /33", at("network", "burst_cidr", value="10.201.0.0/33"),
     "$.network.burst_cidr", "not an IPv4 network: '10.201.0.0/33' is not an IPv4 network"),
    ("burst network with octet 300", at("network", "burst_cidr", value="10.201.300.0/24"),
     "$.network.burst_cidr", "not an IPv4 network: '10.201.300.0/24'"),
    ("burst network in IPv6", at("network", "burst_cidr", value="fd00::/64"),
     "$.network.burst_cidr", "not an IPv4 network: 'fd00::/64' is not an IPv4 network"),
    ("burst network with a newline", at("network", "burst_cidr", value="10.201.0.0/24\n"),
     "$.network.burst_cidr", "not an IPv4 network: '10.201.0.0/24\\n'"),
    ("private network that is a word", at("network", "private_cidrs", 0, value="everywhere"),
     "$.network.private_cidrs[0]", "not an IPv4 network: 'everywhere'"),
    ("private network with host bits", at("network", "private_cidrs", 0, value="10.200.0.1/24"),
     "$.network.private_cidrs[0]", "not an IPv4 network: '10.200.0.1/24' is not an IPv4 network "
                                   "in CIDR form (10.200.0.1/24 has host bits set)"),
    ("burst network over the private one", at("network", "private_cidrs", value=["10.0.0.0/8"]),
     "$.network.burst_cidr",
     "burst network 10.201.0.0/24 overlaps the private network(s) 10.0.0.0/8"),
    ("host outside the burst network", at("hosts", 0, "address", value="10.9.9.9"),
     "$.hosts[0].address", "address 10.9.9.9 is not a host address of the burst network "
                           "10.201.0.0/24"),
    ("host on the network address", at("hosts", 0, "address", value="10.201.0.0"),
     "$.hosts[0].address", "address 10.201.0.0 is not a host address"),
    ("host on the broadcast address", at("hosts", 0, "address", value="10.201.0.255"),
     "$.hosts[0].address", "address 10.201.0.255 is not a host address"),
    ("host on the gateway's address", at("hosts", 0, "address", value="10.201.0.2"),
     "$.hosts[0].address", "address 10.201.0.2 is the gateway's"),
    ("expected address outside", at("hosts", 0, "expected", "address", value="192.168.0.7"),
     "$.hosts[0].expected.address", "address 192.168.0.7 is not a host address"),
    ("gateway outside the private side", at("network", "gateway", "private_address",
                                            value="10.201.0.3"),
     "$.network.gateway.private_address", "10.201.0.3 is outside the private network(s) "
                                          "10.200.0.0/24"),
    ("gateway outside the burst side", at("network", "gateway", "burst_address",
                                          value="10.200.0.3"),
     "$.network.gateway.burst_address", "10.200.0.3 is not a host address of the burst network"),
    ("event that is no event name", at("event", value="Sale!"),
     "$.event", "'Sale!' is not an event name (a-z, 0-9 and -, starting with a letter, at most "
                "24 characters)"),
    ("event with a trailing newline", at("event", value="sale\n"),
     "$.event", "'sale\\n' is not an event name"),
    ("host name with a trailing newline", at("hosts", 0, "name", value="sale-web-01\n"),
     "$.hosts[0].name", "'sale-web-01\\n' is not a host name of pool 'web' of event 'sale' "
                        "(the spec names hosts sale-web-01, sale-web-02 ...)"),
    ("host name that is a path", at("hosts", 0, "name", value="../../etc"),
     "$.hosts[0].name", "'../../etc' is not a host name"),
    ("host name with an SSH option", at("hosts", 0, "name", value="sale-web-01 -oProxyCommand=x"),
     "$.hosts[0].name", "'sale-web-01 -oProxyCommand=x' is not a host name of pool 'web'"),
    ("host name of another event", at("hosts", 0, "name", value="other-web-01"),
     "$.hosts[0].name", "'other-web-01' is not a host name of pool 'web' of event 'sale'"),
    ("host name of another pool", at("hosts", 0, "name", value="sale-db-01"),
     "$.hosts[0].name", "'sale-db-01' is not a host name of pool 'web'"),
    ("host number zero", at("hosts", 0, "name", value="sale-web-00"),
     "$.hosts[0].name", "'sale-web-00' is not a host name"),
    ("host number of one digit", at("hosts", 0, "name", value="sale-web-1"),
     "$.hosts[0].name", "'sale-web-1' is not a host name"),
    ("upper-case host name", at("hosts", 0, "name", value="SALE-web-01"),
     "$.hosts[0].name", "'SALE-web-01' is not a host name"),
    ("pool that is no pool name", at("hosts", 0, "pool", value="web;id"),
     "$.hosts[0].pool", "'web;id' is not a pool name (the spec's rule: "),
    ("known_hosts carrying SSH options", at("ssh", "known_hosts_file", value=HOSTILE_KNOWN_HOSTS),
     "$.ssh.known_hosts_file",
     f"{HOSTILE_KNOWN_HOSTS!r} holds ' ': {PATH_RULE}"),
    ("key with a tab", at("ssh", "private_key_file", value="/k\t-oProxyCommand=x"),
     "$.ssh.private_key_file", f"'/k\\t-oProxyCommand=x' holds '\\t': {PATH_RULE}"),
    ("key with a newline", at("ssh", "private_key_file", value="/k\nProxyCommand x"),
     "$.ssh.private_key_file", f"'/k\\nProxyCommand x' holds '\\n', ' ': {PATH_RULE}"),
    ("key with a quote", at("ssh", "private_key_file", value='/k"-oProxyCommand=x'),
     "$.ssh.private_key_file", f"'/k\"-oProxyCommand=x' holds '\"': {PATH_RULE}"),
    ("key with an ssh token", at("ssh", "private_key_file", value="/home/%u/.ssh/id"),
     "$.ssh.private_key_file", f"'/home/%u/.ssh/id' holds '%': {PATH_RULE}"),
    ("key with a variable", at("ssh", "private_key_file", value="/k${HOME}"),
     "$.ssh.private_key_file", f"'/k${{HOME}}' holds '$': {PATH_RULE}"),
    ("relative key", at("ssh", "private_key_file", value="id_ed25519"),
     "$.ssh.private_key_file", "'id_ed25519' is not an absolute path"),
    ("key that is an option", at("ssh", "private_key_file", value="-oProxyCommand=x"),
     "$.ssh.private_key_file", "'-oProxyCommand=x' is not an absolute path"),
    ("private side's known_hosts", at("private_ssh", value={
        "user": "admin", "private_key_file": "/k", "known_hosts_file": HOSTILE_KNOWN_HOSTS}),
     "$.private_ssh.known_hosts_file", f"{HOSTILE_KNOWN_HOSTS!r} holds ' ': {PATH_RULE}"),
    ("user with an option", at("ssh", "user", value="admin -oProxyCommand=x"),
     "$.ssh.user", "'admin -oProxyCommand=x' is not a user name"),
]


@pytest.mark.parametrize(("mutate", "where", "problem"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_a_bad_manifest_is_named_by_file_path_and_problem(
    mutate: Mutate, where: str, problem: str, tmp_path: Path,
) -> None:
    doc = copy.deepcopy(DOC)
    mutate(doc)
    path = tmp_path / "sale" / "manifest.json"
    path.parent.mkdir()
    path.write_text(json.dumps(doc, indent=2))
    with pytest.raises(InputError) as caught:
        manifest.read(path)
    assert f"{path}:{where}: {problem}" in str(caught.value)
    with pytest.raises(InputError):
        manifest.write(tmp_path / "sale" / "again.json", doc)  # never written either
    assert not (tmp_path / "sale" / "again.json").exists()


def test_the_event_must_match_its_directory(tmp_path: Path) -> None:
    path = tmp_path / "events" / "other" / "manifest.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(DOC))
    with pytest.raises(InputError) as caught:
        manifest.read(path)
    assert str(caught.value) == (
        f"{path}:$.event: event 'sale' does not match the manifest's directory 'other' "
        "(a manifest lives in its event's directory)")
    with pytest.raises(InputError, match="does not match the manifest's directory 'other'"):
        manifest.write(path.with_name("new.json"), DOC)


def write_event(state: Path, doc: dict[str, Any], event: str = "sale") -> Path:
    folder = state / "events" / event
    folder.mkdir(parents=True)
    (folder / "event.json").write_text('{"provider": "local"}')
    (folder / "manifest.json").write_text(json.dumps(doc))
    return folder / "manifest.json"


def test_a_known_hosts_path_carrying_ssh_options_is_refused_exit_2(tmp_path: Path) -> None:
    doc = copy.deepcopy(DOC)
    doc["ssh"]["known_hosts_file"] = HOSTILE_KNOWN_HOSTS
    path = write_event(tmp_path, doc)
    proc = subprocess.run([str(BIN / "hybridburst"), "status", "sale"], capture_output=True,
                          text=True, check=False, cwd=REPO,
                          env={**os.environ, "HYBRIDBURST_STATE_DIR": str(tmp_path)})
    assert proc.returncode == 2
    assert f"error: {path}:$.ssh.known_hosts_file: {HOSTILE_KNOWN_HOSTS!r} holds ' '" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_another_events_manifest_is_refused_by_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HYBRIDBURST_STATE_DIR", str(tmp_path))
    path = write_event(tmp_path, DOC, event="winter")
    assert cli.main(["status", "winter"]) == 2
    assert (f"{path}:$.event: event 'sale' does not match the manifest's directory 'winter'"
            in capsys.readouterr().err)


def test_ssh_common_args_keep_a_shell_special_path_one_argument() -> None:
    assert manifest.ssh_path_problem(SHELL_SPECIAL) is None  # nothing ssh reads as more
    args = ssh_common_args(Path(SHELL_SPECIAL))
    # Ansible splits ansible_ssh_common_args with shlex: the path stays one option value.
    words = shlex.split(args)
    assert words[:4] == ["-o", f"UserKnownHostsFile={SHELL_SPECIAL}",
                         "-o", "StrictHostKeyChecking=yes"]
    # And ssh itself reads it as the one known_hosts file.
    proc = subprocess.run(["ssh", "-G", *words, "burst-host"], capture_output=True, text=True,
                          check=True)
    settings = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if " " in line)
    assert settings["userknownhostsfile"] == SHELL_SPECIAL
    assert settings["stricthostkeychecking"] in ("true", "yes")
    assert "proxycommand" not in settings


def test_a_good_manifest_still_reads(tmp_path: Path) -> None:
    doc = copy.deepcopy(DOC)
    doc["ssh"]["known_hosts_file"] = SHELL_SPECIAL
    doc["private_ssh"] = {"user": "admin", "private_key_file": "/srv/keys/id_ed25519",
                          "known_hosts_file": "/srv/keys/known_hosts"}
    path = tmp_path / "sale" / "manifest.json"
    manifest.write(path, doc)
    assert manifest.read(path) == doc
