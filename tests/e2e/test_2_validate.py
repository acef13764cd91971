"""Validation on the local cloud: each fault class quarantined with the right reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import REPO, hybridburst, podman, state_dir
from tests.e2e.conftest import FAULTS, HEALTHY, Fleet

REASONS = {
    "e2e-web-02": "memory_mb: expected 1024, found 512",
    "e2e-web-03": "cpus: expected 2, found 1",
    "e2e-web-04": "disk_mb (/srv/data): expected 2048, found 512",
    "e2e-web-05": "os: expected Debian 12, found Debian 11",
    "e2e-web-06": "address (eth0): expected 10.201.0.",
}


@pytest.fixture(scope="module")
def validated(fleet: Fleet) -> tuple[int, dict]:
    proc = hybridburst("validate", fleet.event)
    report = json.loads((fleet.dir / "validation" / "validation.json").read_text())
    return proc.returncode, {r["host"]: r for r in report["hosts"]}


def test_every_fault_quarantined_with_its_reason_and_none_misjudged(
    fleet: Fleet, validated: tuple[int, dict]
) -> None:
    rc, records = validated
    assert rc == 1  # the spec wants every host healthy (default share 1.0)
    assert set(records) == set(FAULTS) | set(HEALTHY)
    for host in HEALTHY:
        assert records[host]["verdict"] == "validated", records[host]
        assert records[host]["reasons"] == []
    for host, reason in REASONS.items():
        assert records[host]["verdict"] == "quarantined", host
        assert len(records[host]["reasons"]) == 1, records[host]["reasons"]
        assert records[host]["reasons"][0].startswith(reason), records[host]["reasons"]


def test_report_holds_expected_and_found_for_every_check(validated: tuple[int, dict]) -> None:
    _, records = validated
    for host, record in records.items():
        names = [c["check"] for c in record["checks"]]
        assert names == ["address (eth0)", "memory_mb", "cpus", "disk_mb (/srv/data)", "os",
                         "hostname"], host
        for check in record["checks"]:
            assert check["expected"] not in (None, "") and check["found"] not in (None, ""), check
    memory = next(c for c in records["e2e-web-02"]["checks"] if c["check"] == "memory_mb")
    assert (memory["expected"], memory["found"], memory["passed"]) == (1024, 512, False)


def test_journal_records_each_verdict(fleet: Fleet, validated: tuple[int, dict]) -> None:
    status = json.loads(hybridburst("status", fleet.event, "--json").stdout)
    rows = {r["host"]: r for r in status["hosts"]}
    for host in HEALTHY:
        assert rows[host]["state"] == "validated"
    for host in FAULTS:
        assert rows[host]["state"] == "quarantined"
    assert rows["e2e-web-03"]["reason"] == "cpus: expected 2, found 1"


def test_summary_written_for_operators(fleet: Fleet, validated: tuple[int, dict]) -> None:
    text = (fleet.dir / "validation" / "validation.txt").read_text()
    assert text.startswith("Validation: 2 validated, 5 quarantined of 7")
    assert "e2e-web-05" in text and "found Debian 11" in text


def test_stopped_host_is_quarantined_as_unreachable(tmp_path: Path) -> None:
    spec = tmp_path / "halt.yml"
    spec.write_text(
        f"event: halt\nteam: t\nprovider: local\nprivate_inventory: {REPO / 'inventory/local'}\n"
        "pools:\n  - name: web\n    count: 2\n    instance_type: local.small\n"
        "    min_healthy_share: 0.5\n"
    )
    hybridburst("provision", str(spec), check=True)
    try:
        podman("stop", "-t", "0", "hb-halt-web-02")
        proc = hybridburst("validate", "halt")
        assert proc.returncode == 0, proc.stdout + proc.stderr  # half may fail: 0.5
        report = json.loads((state_dir() / "events/halt/validation/validation.json").read_text())
        records = {r["host"]: r for r in report["hosts"]}
        assert records["halt-web-01"]["verdict"] == "validated"
        assert records["halt-web-02"]["verdict"] == "quarantined"
        assert records["halt-web-02"]["reachable"] is False
        assert records["halt-web-02"]["reasons"] == ["unreachable: no facts could be gathered"]
    finally:
        hybridburst("deprovision", "halt")
