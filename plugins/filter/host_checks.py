# Copyright: hybridburst authors
# Apache License 2.0
"""Filter hybridburst.platform.host_checks: compare a host's facts with its expected values."""

from __future__ import annotations

from typing import Any

DOCUMENTATION = r"""
name: host_checks
short_description: Compare a host's facts with what the inventory says it must be
description:
  - Returns one record per check with C(check), C(expected), C(found) and C(passed).
  - Checks C(address) (primary IPv4 address of the expected interface), C(memory_mb) (within a
    tolerance), C(cpus) (processors the OS schedules on), C(disk:<mount>) (mounted and at least
    its size, less a tolerance for file-system overhead), C(os) (distribution and major
    version) and C(hostname), each only when the expected value names it.
positional: expected
options:
  _input:
    description: The host's C(ansible_facts).
    type: dict
    required: true
  expected:
    description:
      - Expected values (C(address), C(interface), C(memory_mb), C(cpus), C(disk_mb) with
        C(data_mount), C(disks), C(os), C(hostname)).
    type: dict
    required: true
  checks:
    description: Names of the checks to run; default all.
    type: list
    elements: str
  memory_tolerance_pct:
    description: Allowed difference of memory, in percent of the expected value.
    type: float
    default: 5
  disk_tolerance_pct:
    description: Allowed shortfall of a disk's size, in percent.
    type: float
    default: 5
"""

EXAMPLES = r"""
- name: Compare
  ansible.builtin.set_fact:
    checks: "{{ ansible_facts | hybridburst.platform.host_checks(expected) }}"
"""

RETURN = r"""
_value:
  description: One record per check.
  type: list
  elements: dict
"""

ALL_CHECKS = ("address", "memory", "cpus", "disks", "os", "hostname")
MIB = 2**20


def _record(check: str, expected: Any, found: Any, passed: bool) -> dict[str, Any]:
    return {"check": check, "expected": expected, "found": found, "passed": bool(passed)}


def host_checks(
    facts: dict[str, Any],
    expected: dict[str, Any],
    checks: list[str] | None = None,
    memory_tolerance_pct: float = 5,
    disk_tolerance_pct: float = 5,
) -> list[dict[str, Any]]:
    wanted = set(checks or ALL_CHECKS)
    out: list[dict[str, Any]] = []
    if not expected:
        # Nothing to compare with is not a pass: the inventory must say what the host is.
        return [_record("expected values", "present in the inventory", "missing", False)]
    if "address" in wanted and expected.get("address"):
        interface = str(expected.get("interface") or "")
        if interface:
            found = (facts.get(interface.replace("-", "_")) or {}).get("ipv4", {}).get("address")
            label = f"address ({interface})"
        else:
            found = (facts.get("default_ipv4") or {}).get("address")
            label = "address"
        out.append(_record(label, expected["address"], found, found == expected["address"]))
    if "memory" in wanted and expected.get("memory_mb"):
        want = int(expected["memory_mb"])
        found = facts.get("memtotal_mb")
        ok = found is not None and abs(int(found) - want) <= want * memory_tolerance_pct / 100
        out.append(_record("memory_mb", want, found, ok))
    if "cpus" in wanted and expected.get("cpus"):
        found = facts.get("processor_nproc", facts.get("processor_vcpus"))
        out.append(_record("cpus", int(expected["cpus"]), found, found == int(expected["cpus"])))
    if "disks" in wanted:
        disks = dict(expected.get("disks") or {})
        if expected.get("data_mount") and expected.get("disk_mb"):
            disks.setdefault(expected["data_mount"], expected["disk_mb"])
        mounts = {m.get("mount"): m for m in facts.get("mounts") or []}
        for mount, size_mb in sorted(disks.items()):
            found_mb = None
            if mount in mounts:
                found_mb = int(mounts[mount].get("size_total", 0)) // MIB
            ok = found_mb is not None and found_mb >= int(size_mb) * (1 - disk_tolerance_pct / 100)
            out.append(_record(f"disk_mb ({mount})", int(size_mb),
                               found_mb if found_mb is not None else "not mounted", ok))
    if "os" in wanted and expected.get("os"):
        want_os = f"{expected['os'].get('distribution')} {expected['os'].get('major_version')}"
        found_os = f"{facts.get('distribution')} {facts.get('distribution_major_version')}"
        out.append(_record("os", want_os, found_os, want_os == found_os))
    if "hostname" in wanted and expected.get("hostname"):
        found = facts.get("hostname")
        out.append(_record("hostname", expected["hostname"], found, found == expected["hostname"]))
    return out


def describe_check(record: dict[str, Any]) -> str:
    """One line an operator reads: `memory_mb: expected 1024, found 512`."""
    return f"{record['check']}: expected {record['expected']}, found {record['found']}"


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"host_checks": host_checks, "describe_check": describe_check}
