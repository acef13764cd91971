"""The fleet inventory: what a burst host sees is what it saw when every value sat on the host.

The event's shared values (connection, event, team, provider, networks, gateway) live once on
the group ``event_<event>``; these tests check the effective variables Ansible gives each host
(``ansible-inventory --list`` and ``--host``, group variables merged in) against the values the
plugin used to put on every host, for burst hosts and private hosts alike."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

from hybridburst import manifest
from hybridburst.sshkeys import ssh_common_args
from tests.conftest import BIN, REPO
from tests.unit.test_manifest_journal import DOC, HOST

PRIVATE = REPO / "inventory" / "local"


def plain(value: Any) -> Any:
    """A value of ansible-inventory's JSON without its unsafe markers."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def event_doc(tmp_path: Path) -> dict[str, Any]:
    """Three burst hosts in two pools; sale-web-02 has a gateway of its own."""
    doc = copy.deepcopy(DOC)
    doc["network"]["burst_cidr"] = "10.201.0.0/16"
    web2 = copy.deepcopy(HOST)
    web2.update(name="sale-web-02", address="10.201.64.10", gateway="10.201.64.1",
                release="1.1.0", tags={"hybridburst:event": "sale", "extra": "web2"})
    web2["expected"]["address"] = "10.201.64.10"
    cache = copy.deepcopy(HOST)
    cache.update(name="sale-cache-01", address="10.201.0.12", pool="cache",
                 instance_type="local.small", tags={"hybridburst:pool": "cache"})
    cache["expected"].update(address="10.201.0.12", cpus=1, memory_mb=512)
    doc["hosts"].extend([web2, cache])
    doc["ssh"] = {"user": "burst", "private_key_file": str(tmp_path / "id_ed25519"),
                  "known_hosts_file": str(tmp_path / "known_hosts")}
    doc["private_ssh"] = {"user": "priv", "private_key_file": str(tmp_path / "private_id"),
                          "known_hosts_file": str(tmp_path / "private_known_hosts")}
    doc["private_inventory"] = str(PRIVATE)
    return doc


def write_event(tmp_path: Path, doc: dict[str, Any]) -> Path:
    path = tmp_path / "sale" / "manifest.json"
    manifest.write(path, doc)
    report = {"hosts": [{"host": "sale-web-01", "verdict": "pass",
                         "launched_at": HOST["launched_at"], "reasons": []}]}
    (path.parent / "validation").mkdir()
    (path.parent / "validation" / "validation.json").write_text(json.dumps(report))
    source = tmp_path / "sale" / "fleet.yml"
    source.write_text(f"plugin: hybridburst.platform.fleet\nmanifest: {path}\n")
    return source


def inventory(source: Path, *args: str) -> Any:
    proc = subprocess.run([str(BIN / "ansible-inventory"), "-i", str(source), *args],
                          capture_output=True, text=True, check=False, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def private_all_vars() -> dict[str, Any]:
    values: dict[str, Any] = {}
    for file in sorted((PRIVATE / "group_vars" / "all").glob("*.yml")):
        values.update(yaml.safe_load(file.read_text()))
    return values


def expected_burst_vars(doc: dict[str, Any], host: dict[str, Any],
                        verdict: dict[str, Any] | None) -> dict[str, Any]:
    """Every value on the host itself, over the private inventory's group_vars of all."""
    network, ssh = doc["network"], doc["ssh"]
    own = {
        "ansible_host": host["address"],
        "hybridburst_event": doc["event"],
        "hybridburst_team": doc["team"],
        "hybridburst_provider": doc["provider"],
        "hybridburst_pool": host["pool"],
        "hybridburst_instance_type": host["instance_type"],
        "hybridburst_release": host.get("release"),
        "hybridburst_launched_at": host["launched_at"],
        "hybridburst_expected": host["expected"],
        "hybridburst_tags": host["tags"],
        "hybridburst_private_cidrs": network["private_cidrs"],
        "hybridburst_burst_cidr": network["burst_cidr"],
        "hybridburst_gateway_burst_address": (
            host.get("gateway") or network["gateway"]["burst_address"]),
        "ansible_user": ssh["user"],
        "ansible_ssh_private_key_file": ssh["private_key_file"],
        "ansible_ssh_common_args": ssh_common_args(Path(ssh["known_hosts_file"])),
        "ansible_python_interpreter": "/usr/bin/python3",
    }
    if verdict:
        own["hybridburst_validation"] = verdict
    return {**private_all_vars(), **own}


def test_each_burst_host_sees_the_values_it_had_on_itself(tmp_path: Path) -> None:
    doc = event_doc(tmp_path)
    source = write_event(tmp_path, doc)
    raw = inventory(source, "--list")["_meta"]["hostvars"]
    # Values from the manifest stay untrusted (never templates), from the groups as well.
    for key in ("ansible_user", "ansible_ssh_common_args", "hybridburst_pool", "ansible_host"):
        assert set(raw["sale-web-01"][key]) == {"__ansible_unsafe"}, key
    hostvars = plain(raw)
    verdicts = {"sale-web-01": {"verdict": "pass", "launched_at": HOST["launched_at"],
                                "reasons": []}}
    for host in doc["hosts"]:
        want = expected_burst_vars(doc, host, verdicts.get(host["name"]))
        assert hostvars[host["name"]] == want, host["name"]
        assert plain(inventory(source, "--host", host["name"])) == want, host["name"]
    # The network's gateway overrides the private side's (10.201.0.2 there as well, so the
    # own-gateway host is the one that shows a host value winning over the event group's).
    assert hostvars["sale-web-02"]["hybridburst_gateway_burst_address"] == "10.201.64.1"


def test_private_hosts_get_no_burst_values(tmp_path: Path) -> None:
    doc = event_doc(tmp_path)
    hostvars = plain(inventory(write_event(tmp_path, doc), "--list")["_meta"]["hostvars"])
    common = private_all_vars()
    for name, address in (("hb-gateway", "10.200.0.2"), ("hb-lb", "10.200.0.10"),
                          ("hb-backend", "10.200.0.20")):
        own = {"ansible_host": address, "ansible_user": "priv",
               "ansible_ssh_private_key_file": str(tmp_path / "private_id"),
               "ansible_ssh_common_args": ssh_common_args(tmp_path / "private_known_hosts"),
               "ansible_python_interpreter": "/usr/bin/python3"}
        if name == "hb-gateway":
            own["hybridburst_gateway_burst_address"] = "10.201.0.2"
        assert hostvars[name] == {**common, **own}, name


def test_the_event_group_carries_what_the_hosts_share(tmp_path: Path) -> None:
    """``--export`` (what AWX's inventory import runs) lists shared values once."""
    doc = event_doc(tmp_path)
    listed = plain(inventory(write_event(tmp_path, doc), "--list", "--export"))
    assert listed["event_sale"]["vars"]["ansible_user"] == "burst"
    assert listed["event_sale"]["vars"]["hybridburst_event"] == "sale"
    web1 = listed["_meta"]["hostvars"]["sale-web-01"]
    assert "ansible_ssh_common_args" not in web1
    assert "hybridburst_gateway_burst_address" not in web1
    assert web1["ansible_host"] == "10.201.0.11"
    assert listed["_meta"]["hostvars"]["sale-web-02"]["hybridburst_gateway_burst_address"] == (
        "10.201.64.1")
    assert listed["pool_web"]["vars"] == {"hybridburst_pool": "web",
                                          "hybridburst_tags": {"hybridburst:event": "sale"}}
    assert listed["type_local_small"]["vars"] == {"hybridburst_instance_type": "local.small"}
    assert "hybridburst_tags" not in web1
    # Tags unlike the pool's first host's stay on the host.
    assert listed["_meta"]["hostvars"]["sale-web-02"]["hybridburst_tags"]["extra"] == "web2"


def test_two_events_sharing_pool_groups_keep_their_own_values(tmp_path: Path) -> None:
    """pool_web holds the first event's tags; the second event's web hosts carry theirs."""
    sale = event_doc(tmp_path)
    sources = [write_event(tmp_path, sale)]
    fest = copy.deepcopy(DOC)
    fest.update(event="fest", team="festival")
    fest["hosts"] = [copy.deepcopy(HOST)]
    fest["hosts"][0].update(name="fest-web-01", instance_type="local.big",
                            tags={"hybridburst:event": "fest"})
    path = tmp_path / "fest" / "manifest.json"
    manifest.write(path, fest)
    source = tmp_path / "fest" / "fleet.yml"
    source.write_text(f"plugin: hybridburst.platform.fleet\nmanifest: {path}\n"
                      "private_inventory: ''\n")
    sources.append(source)
    args = [arg for s in sources for arg in ("-i", str(s))]
    hostvars = plain(inventory(sources[0], *args[2:], "--list")["_meta"]["hostvars"])
    assert hostvars["fest-web-01"]["hybridburst_tags"] == {"hybridburst:event": "fest"}
    assert hostvars["fest-web-01"]["hybridburst_event"] == "fest"
    assert hostvars["fest-web-01"]["hybridburst_team"] == "festival"
    assert hostvars["fest-web-01"]["hybridburst_instance_type"] == "local.big"
    assert hostvars["sale-web-01"]["hybridburst_tags"] == {"hybridburst:event": "sale"}
    assert hostvars["sale-web-01"]["hybridburst_team"] == "storefront"


def test_a_private_host_of_a_burst_name_takes_the_burst_values(tmp_path: Path) -> None:
    """As when every value sat on the host: the burst values win over the private ones."""
    private = tmp_path / "private"
    (private / "group_vars").mkdir(parents=True)
    hosts = yaml.safe_load((PRIVATE / "hosts.yml").read_text())
    backend = hosts["all"]["children"]["private"]["children"]["backend"]
    backend["hosts"]["sale-web-01"] = {"ansible_user": "someone", "hybridburst_team": "other"}
    (private / "hosts.yml").write_text(yaml.safe_dump(hosts))
    (private / "group_vars" / "backend.yml").write_text("hybridburst_event: private-side\n")
    doc = event_doc(tmp_path)
    doc["private_inventory"] = str(private)
    hostvars = plain(inventory(write_event(tmp_path, doc), "--list")["_meta"]["hostvars"])
    web1 = hostvars["sale-web-01"]
    assert web1["ansible_user"] == "burst"
    assert web1["hybridburst_team"] == "storefront"
    assert web1["hybridburst_event"] == "sale"
    assert hostvars["hb-backend"]["hybridburst_event"] == "private-side"
    assert hostvars["hb-backend"]["ansible_user"] == "priv"
