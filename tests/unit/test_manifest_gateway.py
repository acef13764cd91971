"""A host's own gateway in the fleet manifest, and the inventory variable made of it."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hybridburst import manifest
from hybridburst.errors import InputErrors
from tests.conftest import BIN, REPO
from tests.unit.test_manifest_journal import DOC, HOST


def two_zone_doc() -> dict[str, Any]:
    """web-01 in the first subnet (no gateway of its own), web-02 in the second with one."""
    doc = copy.deepcopy(DOC)
    doc["network"]["burst_cidr"] = "10.201.0.0/16"
    second = copy.deepcopy(HOST)
    second.update(name="sale-web-02", address="10.201.64.10", gateway="10.201.64.1")
    second["expected"]["address"] = "10.201.64.10"
    doc["hosts"].append(second)
    return doc


def test_a_host_may_carry_its_own_gateway(tmp_path: Path) -> None:
    path = tmp_path / "sale" / "manifest.json"  # in its event's directory
    manifest.write(path, two_zone_doc())
    assert manifest.read(path)["hosts"][1]["gateway"] == "10.201.64.1"


@pytest.mark.parametrize(("gateway", "words"), [
    ("10.201.64.300", "is not a 'ipv4'"),
    ("gw-1", "is not a 'ipv4'"),
    ("192.168.1.1", "gateway 192.168.1.1 is outside the burst network 10.201.0.0/16"),
])
def test_a_bad_gateway_is_named_by_its_json_path(gateway: str, words: str) -> None:
    doc = two_zone_doc()
    doc["hosts"][1]["gateway"] = gateway
    with pytest.raises(InputErrors) as err:
        manifest.check(doc, "manifest.json")
    assert "manifest.json:$.hosts[1].gateway" in str(err.value)
    assert words in str(err.value)


def test_inventory_gives_each_host_its_own_gateway_else_the_networks(tmp_path: Path) -> None:
    path = tmp_path / "sale" / "manifest.json"  # in its event's directory
    manifest.write(path, two_zone_doc())
    source = tmp_path / "sale.fleet.yml"
    source.write_text(f"plugin: hybridburst.platform.fleet\nmanifest: {path}\n")
    proc = subprocess.run([str(BIN / "ansible-inventory"), "-i", str(source), "--list"],
                          capture_output=True, text=True, check=False, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    hostvars = json.loads(proc.stdout)["_meta"]["hostvars"]

    def gateway(name: str) -> Any:
        value = hostvars[name]["hybridburst_gateway_burst_address"]
        return value["__ansible_unsafe"] if isinstance(value, dict) else value

    assert gateway("sale-web-01") == "10.201.0.2"  # the network's gateway
    assert gateway("sale-web-02") == "10.201.64.1"  # its own subnet's router


def test_a_burst_network_that_is_no_network_is_named_not_a_traceback() -> None:
    doc = two_zone_doc()
    doc["network"]["burst_cidr"] = "10.201.0.0/33"  # the schema's pattern lets it through
    with pytest.raises(InputErrors) as err:
        manifest.check(doc, "manifest.json")
    assert "manifest.json:$.network.burst_cidr: not an IPv4 network" in str(err.value)
