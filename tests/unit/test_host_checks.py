"""The comparison behind host_validate, on recorded facts."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("host_checks", REPO / "plugins/filter/host_checks.py")
assert _spec and _spec.loader
host_checks_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(host_checks_mod)
host_checks = host_checks_mod.host_checks

EXPECTED = {"address": "10.201.0.11", "interface": "eth0", "memory_mb": 1024, "cpus": 2,
            "disk_mb": 2048, "data_mount": "/srv/data", "hostname": "web-01",
            "os": {"distribution": "Debian", "major_version": "12"}}
FACTS = {"eth0": {"ipv4": {"address": "10.201.0.11"}}, "memtotal_mb": 1024, "processor_nproc": 2,
         "mounts": [{"mount": "/srv/data", "size_total": 2048 * 2**20}], "hostname": "web-01",
         "distribution": "Debian", "distribution_major_version": "12"}


def failed(facts: dict, **kw: object) -> list[str]:
    return [c["check"] for c in host_checks(facts, EXPECTED, **kw) if not c["passed"]]


def test_matching_host_passes_every_check() -> None:
    assert failed(FACTS) == []
    assert len(host_checks(FACTS, EXPECTED)) == 6


def test_memory_within_tolerance_only() -> None:
    assert failed({**FACTS, "memtotal_mb": 1000}) == []  # 2.3 % under: firmware reserve
    assert failed({**FACTS, "memtotal_mb": 960}) == ["memory_mb"]
    assert failed({**FACTS, "memtotal_mb": 960}, memory_tolerance_pct=10) == []
    assert failed({**FACTS, "memtotal_mb": 2048}) == ["memory_mb"]  # bigger is a mismatch too


def test_each_mismatch_is_its_own_check() -> None:
    assert failed({**FACTS, "processor_nproc": 1}) == ["cpus"]
    assert failed({**FACTS, "mounts": []}) == ["disk_mb (/srv/data)"]
    assert failed({**FACTS, "mounts": [{"mount": "/srv/data", "size_total": 1980 * 2**20}]}) == []
    assert failed({**FACTS, "distribution_major_version": "11"}) == ["os"]
    assert failed({**FACTS, "eth0": {"ipv4": {"address": "10.201.0.99"}}}) == ["address (eth0)"]
    assert failed({**FACTS, "hostname": "other"}) == ["hostname"]


def test_no_expected_values_is_not_a_pass() -> None:
    result = host_checks(FACTS, {})
    assert [r["passed"] for r in result] == [False]


def test_selected_checks_only() -> None:
    assert [c["check"] for c in host_checks(FACTS, EXPECTED, checks=["cpus", "os"])] == ["cpus", "os"]
