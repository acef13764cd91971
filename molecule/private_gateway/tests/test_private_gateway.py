# ruff: noqa: ANN001  (pytest fixtures)
"""Verify of the private_gateway role on pg-gateway (podman backend: one `podman exec` per
command). The allow set held host 10.98.0.11 (on eth0, with its MAC) before the role first ran
(prepare.yml)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

testinfra_hosts = ["podman://pg-gateway"]

TABLE = "inet hybridburst"
SCENARIO = Path(__file__).resolve().parents[1]
RULES_FILE = "/etc/nftables.d/hybridburst-gateway.nft"
PROTOCOLS = {6: "tcp", 17: "udp"}


def nft_json(host, *what: str) -> list[dict]:
    out = host.check_output(f"nft -j list {' '.join(what)}")
    return json.loads(out)["nftables"]


def elements(host, name: str) -> list:
    sets = [o["set"] for o in nft_json(host, "set", TABLE, name) if "set" in o]
    return sets[0].get("elem", [])


HOST_11 = "eth0 . 10.98.0.11 . 02:00:00:98:00:11"
HOST_12 = "eth0 . 10.98.0.12 . 02:00:00:98:00:12"


def allowed(host, table: str = TABLE) -> list[str]:
    """The allow set's elements as "interface . address . MAC"."""
    sets = [o["set"] for o in nft_json(host, "set", table, "burst_allowed") if "set" in o]
    return sorted(" . ".join(e["concat"]) for e in sets[0].get("elem", []))


def chain(host, name: str = "forward") -> tuple[dict, list[dict]]:
    objects = nft_json(host, "chain", TABLE, name)
    head = next(o["chain"] for o in objects if "chain" in o)
    return head, [o["rule"] for o in objects if "rule" in o]


def converge(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the scenario's converge again, as molecule does (its inventory and config)."""
    inventory = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "inventory"
    return subprocess.run(
        ["ansible-playbook", "-i", str(inventory), str(SCENARIO / "converge.yml"), *args],
        capture_output=True, text=True, check=False, timeout=300,
        env={**os.environ, "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1",
             "ANSIBLE_CALLBACK_RESULT_FORMAT": "json"},
    )


def changed(proc: subprocess.CompletedProcess[str]) -> int:
    found = re.search(r"pg-gateway\s*:.*changed=(\d+)", proc.stdout)
    assert found, proc.stdout[-3000:] + proc.stderr
    return int(found.group(1))


@pytest.fixture(autouse=True)
def _authorized_host_kept(host):
    """Whatever a test does, the host authorized before the role ran keeps its place."""
    yield
    assert HOST_11 in allowed(host)


def test_the_chain_drops_what_it_does_not_allow(host) -> None:
    head, rules = chain(host)
    assert (head["type"], head["hook"], head["policy"]) == ("filter", "forward", "drop")
    listing = host.check_output(f"nft list chain {TABLE} forward")
    assert "ip saddr 10.98.0.0/24 accept" not in listing  # the out-of-date rule is gone
    lines = [line.strip() for line in listing.splitlines()]
    # Every packet from a burst address is checked against the allow set before anything
    # lets established traffic by: revocation cuts open connections.
    first = next(i for i, line in enumerate(lines)
                 if line.startswith("fib saddr . iif oif missing counter"))
    assert first == 3  # the chain's first rule: spoofed sources go first
    assert lines[first + 1].startswith("ip saddr 10.98.0.0/24 iifname . ip saddr . ether saddr "
                                       "!= @burst_allowed counter")
    assert lines[first + 1].endswith(" drop comment \"burst host not authorized as this interface, "
                                     'address and MAC (every packet)"')
    assert lines[first + 2] == "ct state established,related accept"
    assert "ip saddr 10.98.0.0/24 ip daddr . meta l4proto . th dport @private_services accept" in lines
    assert re.search(r"ip saddr \{ 10\.97\.0\.0/16, 10\.99\.0\.0/24 \} ip daddr 10\.98\.0\.0/24 "
                     r"tcp dport @burst_ports accept", listing), listing
    assert len(rules) == 7


def test_burst_hosts_reach_nothing_on_the_gateway(host) -> None:
    head, rules = chain(host, "input")
    assert (head["type"], head["hook"], head["policy"]) == ("filter", "input", "accept")
    listing = host.check_output(f"nft list chain {TABLE} input")
    lines = [line.strip() for line in listing.splitlines()]
    assert lines[3].startswith("fib saddr . iif oif missing counter")
    assert lines[4].startswith("ip saddr 10.98.0.0/24 iifname . ip saddr . ether saddr "
                               "!= @burst_allowed counter")
    assert lines[5] == "ip saddr 10.98.0.0/24 ct state established,related accept"
    # The gateway's own services only when listed as private services at its addresses.
    assert lines[6] == ("ip saddr 10.98.0.0/24 ip daddr . meta l4proto . th dport "
                        "@private_services accept")
    assert re.search(r"ip saddr 10\.98\.0\.0/24 counter packets \d+ bytes \d+ drop comment "
                     r'"burst hosts reach nothing else on the gateway \(hybridburst private_gateway ',
                     listing)
    assert len(rules) == 5


def test_the_services_and_ports_come_from_the_inventory(host) -> None:
    # A host without /etc/protocols lists protocols by number.
    services = sorted(" . ".join(str(PROTOCOLS.get(v, v)) for v in e["concat"])
                      for e in elements(host, "private_services"))
    assert services == ["10.99.0.20 . tcp . 8081", "10.99.0.53 . udp . 53"]
    assert sorted(elements(host, "burst_ports")) == [22, 8080, 9100]


def test_the_allow_set_kept_the_host_authorized_before_the_first_run(host) -> None:
    assert allowed(host) == [HOST_11]


def test_the_ruleset_is_persisted_and_loads_at_boot(host) -> None:
    assert host.file(RULES_FILE).mode == 0o644
    assert f'include "{RULES_FILE}"' in host.file("/etc/nftables.conf").content_string
    assert host.service("nftables").is_enabled
    # What boot runs, checked against this kernel: valid, and the allow set has no elements.
    host.check_output("nft -c -f /etc/nftables.conf")
    allow_set = host.file(RULES_FILE).content_string.split("set burst_allowed {")[1].split("}")[0]
    assert "elements" not in allow_set


def test_a_rerun_keeps_an_element_added_since(host) -> None:
    host.check_output(f"nft add element {TABLE} burst_allowed '{{ {HOST_12} }}'")
    proc = converge()
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert changed(proc) == 0
    assert allowed(host) == [HOST_11, HOST_12]


def test_drift_is_reported_in_check_mode_and_undone_keeping_the_allow_set(host) -> None:
    host.check_output(f"nft add element {TABLE} private_services '{{ 10.99.0.99 . tcp . 22 }}'")
    host.check_output(f"nft add chain {TABLE} forward '{{ policy accept; }}'")
    proc = converge("--check")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert changed(proc) == 1
    assert chain(host)[0]["policy"] == "accept"  # check mode changed nothing
    proc = converge()
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert changed(proc) == 1
    assert chain(host)[0]["policy"] == "drop"
    assert "10.99.0.99" not in json.dumps(elements(host, "private_services"))
    assert allowed(host) == [HOST_11, HOST_12]


def test_an_allow_set_of_bare_addresses_is_replaced_saying_so(host) -> None:
    """The allow set of an earlier version of the role (addresses only) cannot carry the
    binding: the role replaces it, empty, and says which hosts must be authorized again."""
    host.check_output("nft -f - <<'NFT'\n"
                      "table inet pgold {\n"
                      "  set burst_allowed { type ipv4_addr; elements = { 10.98.0.13 } }\n"
                      "  chain forward { type filter hook forward priority filter; policy drop;\n"
                      "    ct state established,related accept\n"
                      "    ip saddr @burst_allowed accept\n  }\n}\nNFT")
    try:
        proc = converge("-e", "private_gateway_nft_table=pgold")
        assert proc.returncode == 0, proc.stdout[-3000:]
        assert "the allow set burst_allowed held bare addresses (10.98.0.13)" in proc.stdout
        assert allowed(host, "inet pgold") == []
        assert [o["set"]["type"] for o in nft_json(host, "set", "inet pgold", "burst_allowed")
                if "set" in o] == [["ifname", "ipv4_addr", "ether_addr"]]
        again = converge("-e", "private_gateway_nft_table=pgold")
        assert changed(again) == 0, again.stdout[-3000:]
    finally:
        host.check_output("nft delete table inet pgold")


def test_a_set_of_another_type_is_refused_and_nothing_changes(host) -> None:
    host.check_output("nft add table inet pgtest && nft add set inet pgtest burst_allowed "
                      "'{ type ipv4_addr . inet_service; }'")
    before = host.check_output("nft -s list ruleset")
    proc = converge("-e", "private_gateway_nft_table=pgtest")
    after = host.check_output("nft -s list ruleset")
    host.check_output("nft delete table inet pgtest")
    assert proc.returncode != 0
    assert ("in table inet pgtest burst_allowed has type ['ipv4_addr', 'inet_service'], "
            "the role needs ['ifname', 'ipv4_addr', 'ether_addr']") in proc.stdout + proc.stderr
    assert after == before


def test_bad_input_is_refused_with_a_message(host) -> None:
    proc = converge("-e", '{"private_gateway_burst_cidrs": []}')
    assert proc.returncode != 0
    assert "at least one private and one burst IPv4 CIDR" in proc.stdout + proc.stderr
    assert "burst []" in proc.stdout + proc.stderr
