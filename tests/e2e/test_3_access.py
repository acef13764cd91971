"""Authorize and revoke on the local cloud, proven with real TCP connections."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import REPO, hybridburst, podman
from tests.e2e.conftest import FAULTS, HEALTHY, Fleet, allow_set


def addresses(fleet: Fleet, hosts: list[str]) -> set[str]:
    return {fleet.host(h)["address"] for h in hosts}


def legit(fleet: Fleet) -> set[str]:
    """Addresses that may be in the allow set: validated, not revoked hosts (journal)."""
    rows = json.loads(hybridburst("status", fleet.event, "--json").stdout)["hosts"]
    return {fleet.host(r["host"])["address"] for r in rows
            if r["state"] in ("authorized", "baselined", "ready", "draining")}


def assert_only_legit(fleet: Fleet) -> None:
    assert allow_set() <= legit(fleet), (allow_set(), legit(fleet))


def playbook(fleet: Fleet, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ansible-playbook", "-i", str(fleet.inventory), f"playbooks/{name}", *args],
                          capture_output=True, text=True, cwd=REPO, check=False)


@pytest.fixture(scope="module")
def validated(fleet: Fleet) -> Fleet:
    hybridburst("validate", fleet.event)  # 2 validated, 5 quarantined (see test_validate)
    return fleet


def test_nothing_reaches_the_private_service_before_authorize(validated: Fleet) -> None:
    assert allow_set() == set()
    for host in [*HEALTHY, *FAULTS]:
        assert not validated.reaches_private_service(host), host


def test_unvalidated_host_fails_and_allow_set_is_unchanged(validated: Fleet) -> None:
    before = allow_set()
    proc = playbook(validated, "authorize.yml", "--limit", "e2e-web-02")
    assert proc.returncode != 0
    assert "e2e-web-02 is not authorized: validation verdict is quarantined" in proc.stdout
    assert allow_set() == before
    assert not validated.reaches_private_service("e2e-web-02")


def test_authorize_admits_validated_hosts_only_and_twice_changes_nothing(validated: Fleet) -> None:
    proc = hybridburst("authorize", validated.event)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert allow_set() == addresses(validated, HEALTHY)
    assert_only_legit(validated)
    for host in HEALTHY:
        assert validated.reaches_private_service(host), host
    for host in FAULTS:
        assert not validated.reaches_private_service(host), host
    again = playbook(validated, "authorize.yml", "--limit", ",".join(HEALTHY))
    assert again.returncode == 0, again.stdout
    assert "changed=0" in again.stdout and "changed=1" not in again.stdout
    assert allow_set() == addresses(validated, HEALTHY)


def test_check_mode_authorize_of_a_validated_host_changes_nothing(validated: Fleet) -> None:
    before = allow_set()
    proc = playbook(validated, "revoke.yml", "--limit", "e2e-web-01,gateway", "--check")
    assert proc.returncode == 0, proc.stdout
    assert allow_set() == before


def test_revoke_one_host_then_all(validated: Fleet) -> None:
    proc = hybridburst("revoke", validated.event, "--host", "e2e-web-01")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not validated.reaches_private_service("e2e-web-01")
    assert validated.reaches_private_service("e2e-cache-01")
    assert_only_legit(validated)
    assert hybridburst("revoke", validated.event).returncode == 0
    assert allow_set() == set()
    for host in HEALTHY:
        assert not validated.reaches_private_service(host), host
    assert_only_legit(validated)


def test_sliced_authorize_keeps_both_halves_and_reconcile_drops_strays(validated: Fleet) -> None:
    # Re-validate (revoked hosts go back to validated), then authorize in two slices.
    hybridburst("validate", validated.event)
    first, second = HEALTHY[:1], HEALTHY[1:]
    for part in (first, second):
        proc = playbook(validated, "authorize.yml", "-e", f"authorize_hosts={','.join(part)}")
        assert proc.returncode == 0, proc.stdout
    assert allow_set() == addresses(validated, HEALTHY)
    # A stray entry for a quarantined host of this event goes; an entry of an address this
    # event does not own (another event's, another state directory's) stays.
    stray = f"eth1 . {validated.host('e2e-web-02')['address']} . 02:00:00:c9:00:99"
    foreign = "eth1 . 10.201.0.250 . 02:00:00:c9:00:fa"
    podman("exec", "hb-gateway", "nft", "add", "element", "inet", "hybridburst", "burst_allowed",
           f"{{ {stray}, {foreign} }}")
    assert allow_set() == addresses(validated, [*HEALTHY, "e2e-web-02"]) | {"10.201.0.250"}
    proc = playbook(validated, "reconcile_access.yml")
    assert proc.returncode == 0, proc.stdout
    assert allow_set() == addresses(validated, HEALTHY) | {"10.201.0.250"}
    podman("exec", "hb-gateway", "nft", "delete", "element", "inet", "hybridburst",
           "burst_allowed", f"{{ {foreign} }}")
    assert allow_set() == addresses(validated, HEALTHY)
    for host in HEALTHY:
        assert validated.reaches_private_service(host), host
    hybridburst("revoke", validated.event)
    assert allow_set() == set()
