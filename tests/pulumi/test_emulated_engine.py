"""The emulated engine behind the Automation API seam: the real aws/openstack providers and
stack programs, with instances handed to a cloud (here a recording fake; tests/e2e runs the
same path with local-cloud hosts). What the engine must do as Pulumi's does: unchanged inputs
keep ids, a host left out of the program is deleted and nothing else, secrets stay sealed."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from hybridburst import manifest
from hybridburst.journal import Journal
from hybridburst.lifecycle import _slots_to_launch
from hybridburst.plan import make_plan
from hybridburst.providers.aws import AwsProvider
from hybridburst.providers.emulated.engine import EmulatedPulumi
from hybridburst.providers.openstack import OpenStackProvider
from hybridburst.spec import EventSpec, Pool
from hybridburst.states import HostState
from hybridburst.workspace import EventDir
from tests.pulumi.conftest import AWS, OPENSTACK, PEERING, STACKS
from tests.pulumi.test_providers import PrintingConsoles

NOW = dt.datetime(2025, 11, 10, 8, 0, tzinfo=dt.UTC)
AWS_SITE = {k: AWS[k] for k in ("vpcCidr", "privateCidrs", "availabilityZones", "imageId",
                                "customerGatewayAddress", "gatewayPrivateAddress",
                                "loadBalancerCidrs")}
OS_SITE = {k: OPENSTACK[k] for k in ("burstCidr", "privateCidrs", "imageId", "externalNetworkId",
                                     "privateVpnAddress", "gatewayPrivateAddress",
                                     "loadBalancerCidrs", "availabilityZones")}
PEERING_SITE = {k: PEERING[k] for k in ("routerId", "localSubnetIds", "serviceRules")}


class RecordingCloud:
    """An InstanceHost that records launches and destroys instead of starting hosts."""

    def __init__(self) -> None:
        self.launched: dict[str, tuple[str, str, str]] = {}  # name -> (id, address, gateway)
        self.destroyed: list[tuple[str, str]] = []  # (name, id)
        self._next: dict[str, int] = {}

    def allocate(self, typ: str, name: str, inputs: Mapping[str, Any],
                 subnet_cidr: str | None) -> str:
        assert subnet_cidr, f"{name}: no subnet"
        net = ipaddress.IPv4Network(subnet_cidr)
        self._next[subnet_cidr] = self._next.get(subnet_cidr, 9) + 1
        return str(net.network_address + self._next[subnet_cidr])

    def launch(self, typ: str, name: str, instance_id: str, address: str,
               inputs: Mapping[str, Any], gateway: str) -> None:
        self.launched[name] = (instance_id, address, gateway)

    def destroy(self, typ: str, name: str, instance_id: str) -> None:
        self.destroyed.append((name, instance_id))


def plan(provider: str, pools: tuple[Pool, ...], window: bool = True):
    return make_plan(EventSpec(
        source="double11.yml", event="double11", team="storefront", provider=provider,
        pools=pools, region="ap-southeast-1",
        window_start=dt.datetime(2025, 11, 10, tzinfo=dt.UTC) if window else None,
        window_end=dt.datetime(2025, 11, 12, tzinfo=dt.UTC) if window else None,
    ))


def provider(kind: str, engine: EmulatedPulumi, clock: Any = None,
             consoles: PrintingConsoles | None = None) -> AwsProvider | OpenStackProvider:
    cls, site = (AwsProvider, AWS_SITE) if kind == "aws" else (OpenStackProvider, OS_SITE)
    return cls(command_factory=lambda: engine, stacks_root=STACKS, site_config=site,
               peering_config=PEERING_SITE, clock=clock or (lambda: NOW),
               consoles=consoles or PrintingConsoles(), host_key_timeout=1,
               host_key_interval=0.01)


AWS_POOLS = (Pool("web", 3, "c6i.large", "2025.11.1"),)
OS_POOLS = (Pool("web", 3, "s3.large.2", "2025.11.1"),)


@pytest.mark.parametrize("kind,pools", [("aws", AWS_POOLS), ("openstack", OS_POOLS)])
def test_second_provision_changes_no_instance(kind: str, pools: tuple[Pool, ...],
                                              tmp_path: Path, event_dir: EventDir) -> None:
    cloud = RecordingCloud()
    engine = EmulatedPulumi(tmp_path / "emu", cloud)
    journal = Journal(event_dir.journal)
    provider(kind, engine).provision(plan(kind, pools), event_dir, journal)
    first = dict(cloud.launched)
    assert sorted(first) == ["double11-web-01", "double11-web-02", "double11-web-03"]
    stack_dir = "aws_burst" if kind == "aws" else "openstack_burst"
    before = engine.stack_resources(stack_dir, "double11")

    provider(kind, EmulatedPulumi(tmp_path / "emu", cloud)).provision(
        plan(kind, pools), event_dir, journal)
    after = engine.stack_resources(stack_dir, "double11")
    assert cloud.launched == first and cloud.destroyed == []
    assert {k: v["digest"] for k, v in after.items()} == {k: v["digest"] for k, v in before.items()}
    assert {k: v["id"] for k, v in after.items()} == {k: v["id"] for k, v in before.items()}


def test_without_a_window_the_expiry_is_decided_once(tmp_path: Path, event_dir: EventDir) -> None:
    """No window end: the expiry would move with the clock on every `up` and replace every
    instance through a new launch-template version. It is kept in the stack config."""
    cloud = RecordingCloud()
    engine = EmulatedPulumi(tmp_path / "emu", cloud)
    journal = Journal(event_dir.journal)
    provider("aws", engine).provision(plan("aws", AWS_POOLS, window=False), event_dir, journal)
    later = NOW + dt.timedelta(hours=5)
    provider("aws", engine, clock=lambda: later).provision(
        plan("aws", AWS_POOLS, window=False), event_dir, journal)
    assert cloud.destroyed == [] and len(cloud.launched) == 3
    config = json.loads((tmp_path / "emu/aws_burst/double11/config.json").read_text())
    assert config["hybridburst-aws-burst:burstExpiry"][0] == "2025-11-13T08:00:00Z"


@pytest.mark.parametrize("kind,pools", [("aws", AWS_POOLS), ("openstack", OS_POOLS)])
def test_a_quarantined_host_is_destroyed_through_the_stack_and_only_it(
        kind: str, pools: tuple[Pool, ...], tmp_path: Path, event_dir: EventDir) -> None:
    cloud = RecordingCloud()
    engine = EmulatedPulumi(tmp_path / "emu", cloud)
    journal = Journal(event_dir.journal)
    p = provider(kind, engine)
    p.provision(plan(kind, pools), event_dir, journal)
    ids = {n: v[0] for n, v in cloud.launched.items()}
    journal.record("double11-web-02", HostState.QUARANTINED, "memory_mb: expected 4096")

    assert p.destroy_hosts("double11", event_dir, journal, {"double11-web-02"}) == [
        "double11-web-02"]
    assert cloud.destroyed == [("double11-web-02", ids["double11-web-02"])]
    stack_dir = "aws_burst" if kind == "aws" else "openstack_burst"
    left = {v["name"]: v["id"] for v in engine.stack_resources(stack_dir, "double11").values()
            if v["type"].endswith("Instance")}
    assert left == {n: i for n, i in ids.items() if n != "double11-web-02"}
    assert journal.state_of("double11-web-02") is HostState.DESTROYED
    assert [h["name"] for h in manifest.read(event_dir.manifest)["hosts"]] == [
        "double11-web-01", "double11-web-03"]
    assert "double11-web-02" not in event_dir.known_hosts.read_text()
    # A later `up` keeps it out: the slot stays empty, nothing is relaunched.
    p.provision(_slots_to_launch(plan(kind, pools), journal), event_dir, journal)
    assert sorted(cloud.launched) == sorted(ids) and len(cloud.destroyed) == 1


def test_a_host_that_holds_access_is_never_destroyed_alone(tmp_path: Path,
                                                           event_dir: EventDir) -> None:
    cloud = RecordingCloud()
    engine = EmulatedPulumi(tmp_path / "emu", cloud)
    journal = Journal(event_dir.journal)
    p = provider("aws", engine)
    p.provision(plan("aws", AWS_POOLS), event_dir, journal)
    journal.record("double11-web-01", HostState.VALIDATED, "ok")
    journal.record("double11-web-01", HostState.AUTHORIZED, "in the allow set")
    with pytest.raises(Exception, match="revoked before destroy"):
        p.destroy_hosts("double11", event_dir, journal, {"double11-web-01"})
    assert cloud.destroyed == []


def test_host_keys_come_from_the_console_and_a_silent_host_is_quarantined(
        tmp_path: Path, event_dir: EventDir) -> None:
    cloud = RecordingCloud()
    consoles = PrintingConsoles(silent=frozenset({"double11-web-03"}))
    journal = Journal(event_dir.journal)
    provider("aws", EmulatedPulumi(tmp_path / "emu", cloud), consoles=consoles).provision(
        plan("aws", AWS_POOLS), event_dir, journal)
    known = event_dir.known_hosts.read_text().splitlines()
    addresses = {n: v[1] for n, v in cloud.launched.items()}
    assert f"double11-web-01,{addresses['double11-web-01']} ssh-ed25519 AAAAC3Nzdouble11web01" \
        in known
    assert not any("double11-web-03" in line for line in known)
    assert journal.state_of("double11-web-03") is HostState.QUARANTINED
    reason = journal.current()["double11-web-03"].reason
    assert reason.startswith("no SSH host keys on the fake console within 1s")
    assert journal.state_of("double11-web-01") is HostState.LAUNCHED
    # The console was asked by instance id, the cloud's own name for the host.
    assert cloud.launched["double11-web-01"][0] in consoles.reads


def test_secrets_are_sealed_in_the_emulated_stack_files(tmp_path: Path,
                                                        event_dir: EventDir) -> None:
    engine = EmulatedPulumi(tmp_path / "emu", RecordingCloud())
    provider("aws", engine).provision(plan("aws", AWS_POOLS), event_dir, Journal(event_dir.journal))
    psk = AWS["vpnPsk"]
    files = [f for f in (tmp_path / "emu").rglob("*") if f.is_file()]
    assert files and all(psk not in f.read_text(errors="replace") for f in files)
    assert all(f.stat().st_mode & 0o077 == 0 for f in files if f.suffix in (".json", ".key"))


def test_a_program_error_reaches_the_operator_as_the_cli_would_print_it(
        tmp_path: Path, event_dir: EventDir) -> None:
    engine = EmulatedPulumi(tmp_path / "emu", RecordingCloud())
    bad = AwsProvider(command_factory=lambda: engine, stacks_root=STACKS,
                      site_config={**AWS_SITE, "vpcCidr": "10.0.0.0/16"},
                      peering_config=PEERING_SITE, clock=lambda: NOW,
                      consoles=PrintingConsoles(), host_key_timeout=1)
    with pytest.raises(Exception, match="overlaps the private cloud") as info:
        bad.provision(plan("aws", AWS_POOLS), event_dir, Journal(event_dir.journal))
    assert "Traceback" not in str(info.value)


def test_a_retirement_killed_after_the_stack_update_is_finished_by_the_next_up(
        tmp_path: Path, event_dir: EventDir) -> None:
    """The stack left the host out and destroyed it, then the process died before the
    journal said so: the next `up` learns it from the stack instead of refusing to run."""
    cloud = RecordingCloud()
    engine = EmulatedPulumi(tmp_path / "emu", cloud)
    journal = Journal(event_dir.journal)
    p = provider("aws", engine)
    p.provision(plan("aws", AWS_POOLS), event_dir, journal)
    journal.record("double11-web-02", HostState.QUARANTINED, "memory_mb: expected 4096")
    burst = p._driver("aws_burst", "double11")
    burst.open()
    burst.set_config({"excludedHosts": ["double11-web-02"]})
    burst.up()  # ... and the process is killed here
    assert journal.state_of("double11-web-02") is HostState.QUARANTINED

    doc = p.provision(_slots_to_launch(plan("aws", AWS_POOLS), journal), event_dir, journal)
    assert journal.state_of("double11-web-02") is HostState.DESTROYED
    assert [h["name"] for h in doc["hosts"]] == ["double11-web-01", "double11-web-03"]
    assert [n for n, _ in cloud.destroyed] == ["double11-web-02"]
