"""nft_set and haproxy_member refuse every name and element they could not pass on safely:
an injection attempt fails the task naming the bad value, before nft or HAProxy sees it."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import BIN, REPO

ALLOW = ["ifname", "ipv4_addr", "ether_addr"]


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, REPO / "plugins" / "modules" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


nft_set = load("nft_set")
haproxy_member = load("haproxy_member")


@pytest.mark.parametrize(("value", "types", "expected"), [
    ("eth1 . 10.201.0.11 . 02:42:0A:C9:00:0B", ALLOW, "eth1 . 10.201.0.11 . 02:42:0a:c9:00:0b"),
    ("10.201.0.11", ["ipv4_addr"], "10.201.0.11"),
    ("10.200.0.20 . 8081", ["ipv4_addr", "inet_service"], "10.200.0.20 . 8081"),
])
def test_nft_set_writes_checked_elements_as_nft_lists_them(value: str, types: list[str],
                                                           expected: str) -> None:
    assert nft_set.element(value, types) == expected


@pytest.mark.parametrize(("value", "types", "message"), [
    ("10.0.0.1 }; flush ruleset; #", ["ipv4_addr"],
     "'10.0.0.1 }; flush ruleset; #' is not an ipv4_addr"),
    ("10.0.0.1\n", ["ipv4_addr"], "'10.0.0.1\\n' is not an ipv4_addr"),
    ("10.0.0.256", ["ipv4_addr"], "'10.0.0.256' is not an ipv4_addr"),
    ("::1", ["ipv4_addr"], "'::1' is not an ipv4_addr"),
    ("eth1 . 10.0.0.1", ALLOW, "needs 3 field(s) (ifname . ipv4_addr . ether_addr)"),
    ("eth1 . 10.0.0.1 . 02:42:0a:c9:00:0b }; flush ruleset", ALLOW,
     "'02:42:0a:c9:00:0b }; flush ruleset' is not a MAC address"),
    ("eth1 . 10.0.0.1 . 02:42:0a:c9:00:0b\n", ALLOW, "is not a MAC address"),
    ('eth1"; . 10.0.0.1 . 02:42:0a:c9:00:0b', ALLOW, "'eth1\";' is not an interface name"),
    ("eth 1 . 10.0.0.1 . 02:42:0a:c9:00:0b", ALLOW, "'eth 1' is not an interface name"),
    ("70000", ["inet_service"], "'70000' is not a port"),
    ("tcp", ["inet_proto"], "set type inet_proto is not one this module writes"),
])
def test_nft_set_refuses_bad_elements_naming_them(value: str, types: list[str], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        nft_set.element(value, types)
    assert message in str(caught.value)
    assert repr(value) in str(caught.value) or repr(value.split(" . ")[0]) in str(caught.value)


@pytest.mark.parametrize(("family", "table", "name", "message"), [
    ("inet", "hybridburst", "burst allowed", "set name 'burst allowed' is not an nftables name"),
    ("inet", "hybridburst", "burst_allowed\n", "set name 'burst_allowed\\n' is not"),
    ("inet", "hybridburst; flush ruleset", "s", "table name 'hybridburst; flush ruleset' is not"),
    ("inet", "t", "s;", "set name 's;' is not"),
    ("inet flush", "t", "s", "family 'inet flush' is not one of"),
])
def test_nft_set_refuses_bad_names(family: str, table: str, name: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        nft_set.names(family, table, name)
    assert message in str(caught.value)


GOOD = {"backend": "storefront", "name": "e2e-web-01", "address": "10.201.0.11", "port": 8000,
        "server_options": "inter 2s rise 2 fall 2"}


@pytest.mark.parametrize(("change", "message"), [
    ({"backend": "storefront\nshutdown frontend public"}, "backend 'storefront\\nshutdown frontend"),
    ({"name": "web 01"}, "name 'web 01' is not an HAProxy name"),
    ({"name": "web;01"}, "name 'web;01' is not an HAProxy name"),
    ({"name": "web-01\n"}, "name 'web-01\\n' is not an HAProxy name"),
    ({"address": "10.0.0.1 check; del server storefront/x"}, "address '10.0.0.1 check; del server"),
    ({"address": "10.0.0.1\n"}, "address '10.0.0.1\\n' is neither"),
    ({"port": 0}, "port 0 is not 1-65535"),
    ({"port": 65536}, "port 65536 is not 1-65535"),
    ({"server_options": "inter 2s\nshutdown sessions server storefront/web-02"},
     "server_options 'inter 2s\\nshutdown sessions"),
    ({"server_options": "inter 2s; disable server x"}, "server_options 'inter 2s; disable"),
])
def test_haproxy_member_refuses_bad_parameters(change: dict[str, Any], message: str) -> None:
    problems = haproxy_member.check_params({**GOOD, **change})
    assert len(problems) == 1 and message in problems[0], problems


def test_haproxy_member_accepts_good_parameters() -> None:
    assert haproxy_member.check_params(GOOD) == []
    assert haproxy_member.check_params({**GOOD, "address": "web-01.burst.example"}) == []


def run_module(module: str, args: dict[str, Any]) -> dict[str, Any]:
    """The module as a playbook runs it: ``ansible localhost -m``, its JSON result."""
    proc = subprocess.run(
        [str(BIN / "ansible"), "localhost", "-i", "localhost,", "-c", "local", "-m",
         f"hybridburst.platform.{module}",
         "-a", json.dumps(args)],
        capture_output=True, text=True, cwd=REPO, check=False,
        env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
             "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".collections"),
             "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1", "ANSIBLE_STDOUT_CALLBACK": "json"},
    )
    assert proc.returncode != 0, proc.stdout
    result: dict[str, Any] = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    return result


def test_the_modules_fail_naming_the_injection_before_touching_anything(tmp_path: Path) -> None:
    out = run_module("nft_set", {"table": "hybridburst; flush ruleset", "set": "burst_allowed",
                                 "elements": ["10.0.0.1"]})
    assert out["failed"] is True
    assert out["msg"].startswith("refused: table name 'hybridburst; flush ruleset'")
    socket = tmp_path / "admin.sock"  # not there: nothing would answer anyway
    out = run_module("haproxy_member", {"socket": str(socket), "backend": "storefront",
                                        "name": "web-01\nshutdown frontend public",
                                        "address": "10.0.0.1", "port": 8000})
    assert out["msg"] == ("refused: name 'web-01\\nshutdown frontend public' is not an HAProxy "
                          "name (letters, digits, '_', '.', ':', '-'; at most 64)")
