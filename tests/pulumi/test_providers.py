"""The aws and openstack providers drive the stacks through the Automation API's
PulumiCommand seam: right stacks, config and commands in the right order; destroy only after
revoke; the fleet manifest and the journal."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from hybridburst import manifest
from hybridburst.errors import HybridburstError
from hybridburst.infra import userdata
from hybridburst.journal import Journal
from hybridburst.plan import Plan, make_plan
from hybridburst.providers.aws import AwsProvider
from hybridburst.providers.base import Provider
from hybridburst.providers.openstack import OpenStackProvider
from hybridburst.spec import EventSpec, Pool
from hybridburst.states import HostState
from hybridburst.workspace import EventDir
from tests.pulumi.conftest import AWS, OPENSTACK, PEERING, STACKS, FakePulumi

SITE_KEYS = ("vpcCidr", "privateCidrs", "availabilityZones", "imageId",
             "customerGatewayAddress", "gatewayPrivateAddress", "loadBalancerCidrs")
PEERING_SITE = {k: PEERING[k] for k in ("routerId", "localSubnetIds", "serviceRules")}
NOW = dt.datetime(2025, 11, 10, 8, 0, tzinfo=dt.UTC)


def make(provider: str, pools: tuple[Pool, ...]) -> Plan:
    return make_plan(EventSpec(
        source="double11.yml", event="double11", team="storefront", provider=provider,
        pools=pools, region="ap-southeast-1",
        window_start=dt.datetime(2025, 11, 10, tzinfo=dt.UTC),
        window_end=dt.datetime(2025, 11, 12, tzinfo=dt.UTC),
    ))


class PrintingConsoles:
    """A cloud console on which every instance printed its host keys at boot."""

    label = "fake console"

    def __init__(self, silent: frozenset[str] = frozenset()) -> None:
        self.silent = silent
        self.reads: list[str] = []

    def output(self, instance_id: str) -> str:
        self.reads.append(instance_id)
        names = [f"double11-{p}-{i:02d}" for p in ("web", "api") for i in range(1, 5)]
        return "boot noise\n" + "".join(
            f"{userdata.BEGIN.format(name=n)}\nssh-ed25519 AAAAC3Nz{n.replace('-', '')} root@{n}\n"
            f"{userdata.END.format(name=n)}\n" for n in names if n not in self.silent)


def aws_provider(fake: FakePulumi, consoles: PrintingConsoles | None = None) -> AwsProvider:
    return AwsProvider(
        command_factory=lambda: fake, stacks_root=STACKS,
        site_config={k: AWS[k] for k in SITE_KEYS}, peering_config=PEERING_SITE,
        clock=lambda: NOW, consoles=consoles or PrintingConsoles(), host_key_timeout=1,
        host_key_interval=0.01)


AWS_PLAN = (Pool("web", 3, "c6i.large", "2025.11.1"), Pool("api", 1, "m6i.large"))


def test_provision_runs_the_stacks_in_order_and_writes_the_manifest(
        fake_pulumi: FakePulumi, event_dir: EventDir) -> None:
    provider: Provider = aws_provider(fake_pulumi)
    journal = Journal(event_dir.journal)
    doc = provider.provision(make("aws", AWS_PLAN), event_dir, journal)

    assert fake_pulumi.commands() == [
        "aws_burst: stack select", "aws_burst: stack init",
        "aws_burst: config get-all",
        "aws_burst: config rm-all", "aws_burst: config set-all",
        "aws_burst: stack export",  # pending operations of an interrupted up? none
        "aws_burst: refresh", "aws_burst: stack history",
        "aws_burst: up", "aws_burst: stack output", "aws_burst: stack output",
        "aws_burst: stack history",
        "private_peering: stack select", "private_peering: stack init",
        "private_peering: config rm-all", "private_peering: config set-all",
        "private_peering: stack export",
        "private_peering: refresh", "private_peering: stack history",
        "private_peering: up", "private_peering: stack output",
        "private_peering: stack output", "private_peering: stack history",
    ]
    # Every command names the event's stack.
    assert all(args[args.index("--stack") + 1] == "double11"
               for _, args in fake_pulumi.calls if "--stack" in args)
    # Config: the plan's keys, the site's keys; the pre-shared key only as a secret.
    burst = fake_pulumi.config[("aws_burst", "double11")]
    assert burst["hybridburst-aws-burst:event"] == ("double11", False)
    assert burst["hybridburst-aws-burst:burstExpiry"] == ("2025-11-12T12:00:00Z", False)
    assert burst["hybridburst-aws-burst:pools[0]"] == ("web:3:c6i.large:2025.11.1", False)
    assert burst["hybridburst-aws-burst:pools[1]"] == ("api:1:m6i.large", False)
    assert burst["aws:region"] == ("ap-southeast-1", False)
    assert burst["hybridburst-aws-burst:sshPublicKey"][0].startswith("ssh-ed25519 AAAAC3")
    psk, secret = burst["hybridburst-aws-burst:vpnPsk"]
    assert secret and len(psk) == 48
    peering = fake_pulumi.config[("private_peering", "double11")]
    assert peering["hybridburst-private-peering:vpnPsk"] == (psk, True)
    tunnels = [fake_pulumi.outputs[("aws_burst", "double11")][k]
               for k in ("vpnTunnel1Address", "vpnTunnel2Address")]
    assert [peering[f"hybridburst-private-peering:peerAddresses[{i}]"][0] for i in (0, 1)] == \
        tunnels
    assert peering["hybridburst-private-peering:burstCidr"] == ("10.200.0.0/16", False)
    for _, args in fake_pulumi.calls:
        if args[0] == "config":
            assert f"--plaintext hybridburst-aws-burst:vpnPsk={psk}" not in " ".join(args)

    # The manifest: written, valid, one host per planned host.
    assert manifest.read(event_dir.manifest) == doc
    assert [h["name"] for h in doc["hosts"]] == [
        "double11-web-01", "double11-web-02", "double11-web-03", "double11-api-01"]
    assert doc["ssh"] == {"user": "burst", "private_key_file": str(event_dir.private_key),
                          "known_hosts_file": str(event_dir.known_hosts)}
    assert event_dir.known_hosts.exists()

    # The journal: requested, then launched with the data the ledger needs.
    current = journal.current()
    assert {h: e.state for h, e in current.items()} == {
        h["name"]: HostState.LAUNCHED for h in doc["hosts"]}
    assert current["double11-api-01"].data == {
        "pool": "api", "instance_type": "m6i.large", "team": "storefront", "event": "double11"}
    assert [e.state for e in journal.entries() if e.host == "double11-web-01"] == [
        HostState.REQUESTED, HostState.LAUNCHED]


def test_provision_again_reuses_the_stack_and_the_key(
        fake_pulumi: FakePulumi, event_dir: EventDir) -> None:
    provider = aws_provider(fake_pulumi)
    journal = Journal(event_dir.journal)
    plan = make("aws", AWS_PLAN)
    provider.provision(plan, event_dir, journal)
    psk = fake_pulumi.config[("aws_burst", "double11")]["hybridburst-aws-burst:vpnPsk"]
    fake_pulumi.calls.clear()
    provider.provision(plan, event_dir, journal)
    assert "aws_burst: stack init" not in fake_pulumi.commands()
    assert fake_pulumi.config[("aws_burst", "double11")]["hybridburst-aws-burst:vpnPsk"] == psk
    assert len(list(journal.entries())) == 8  # nothing journalled twice


def revoke_all(journal: Journal, hosts: list[str]) -> None:
    for state in (HostState.VALIDATED, HostState.AUTHORIZED, HostState.DRAINING,
                  HostState.REVOKED):
        for host in hosts:
            journal.record(host, state)


def test_destroy_is_refused_until_access_is_revoked(
        fake_pulumi: FakePulumi, event_dir: EventDir) -> None:
    provider = aws_provider(fake_pulumi)
    journal = Journal(event_dir.journal)
    doc = provider.provision(make("aws", AWS_PLAN), event_dir, journal)
    names = [h["name"] for h in doc["hosts"]]
    for host in names:
        journal.record(host, HostState.VALIDATED)
    journal.record(names[0], HostState.AUTHORIZED)
    fake_pulumi.calls.clear()

    with pytest.raises(HybridburstError, match="access is revoked before destroy") as err:
        provider.deprovision("double11", event_dir, journal)
    assert "double11-web-01" in str(err.value) and "authorized" in str(err.value)
    assert fake_pulumi.calls == []  # not one command ran

    journal.record(names[0], HostState.DRAINING)
    with pytest.raises(HybridburstError, match="draining"):
        provider.deprovision("double11", event_dir, journal)
    assert fake_pulumi.calls == []

    journal.record(names[0], HostState.REVOKED)
    provider.deprovision("double11", event_dir, journal)
    assert fake_pulumi.commands() == [
        "private_peering: stack select", "private_peering: stack export",
        "private_peering: refresh",
        "private_peering: stack history", "private_peering: destroy",
        "private_peering: stack history",
        "aws_burst: stack select", "aws_burst: config get-all", "aws_burst: stack export",
        "aws_burst: refresh", "aws_burst: stack history",
        "aws_burst: destroy", "aws_burst: stack history",
    ]
    assert {e.state for e in journal.current().values()} == {HostState.DESTROYED}

    fake_pulumi.calls.clear()
    provider.deprovision("double11", event_dir, journal)  # a second call is a no-op
    assert fake_pulumi.calls == []


def test_deprovision_of_a_never_provisioned_event_touches_nothing(
        fake_pulumi: FakePulumi, event_dir: EventDir) -> None:
    aws_provider(fake_pulumi).deprovision("double11", event_dir, Journal(event_dir.journal))
    assert fake_pulumi.commands() == ["private_peering: stack select", "aws_burst: stack select"]


def test_a_failed_up_is_reported_and_launches_nothing(
        fake_pulumi: FakePulumi, event_dir: EventDir) -> None:
    fake_pulumi.fail_on = "up"
    journal = Journal(event_dir.journal)
    with pytest.raises(HybridburstError, match="pulumi up of aws_burst/double11 failed"):
        aws_provider(fake_pulumi).provision(make("aws", AWS_PLAN), event_dir, journal)
    assert {e.state for e in journal.current().values()} == {HostState.REQUESTED}
    assert not event_dir.manifest.exists()


def test_openstack_provider_drives_its_stacks(
        fake_pulumi: FakePulumi, event_dir: EventDir) -> None:
    site = {k: OPENSTACK[k] for k in ("burstCidr", "privateCidrs", "imageId",
                                      "externalNetworkId", "privateVpnAddress",
                                      "gatewayPrivateAddress", "loadBalancerCidrs")}
    provider = OpenStackProvider(command_factory=lambda: fake_pulumi, stacks_root=STACKS,
                                 site_config=site, peering_config=PEERING_SITE,
                                 clock=lambda: NOW, consoles=PrintingConsoles(),
                                 host_key_timeout=1, host_key_interval=0.01)
    journal = Journal(event_dir.journal)
    doc = provider.provision(make("openstack", (Pool("web", 2, "s3.large.2"),)),
                             event_dir, journal)
    assert doc["provider"] == "openstack" and len(doc["hosts"]) == 2
    verbs = [c for c in fake_pulumi.commands() if c.endswith((" up", " refresh"))]
    assert verbs == ["openstack_burst: refresh", "openstack_burst: up",
                     "private_peering: refresh", "private_peering: up"]
    peering = fake_pulumi.config[("private_peering", "double11")]
    peer = fake_pulumi.outputs[("openstack_burst", "double11")]["vpnPeerAddresses"]
    assert peering["hybridburst-private-peering:peerAddresses[0]"] == (peer[0], False)
    assert "hybridburst-private-peering:peerAddresses[1]" not in peering


def test_wrong_provider_in_the_spec_is_refused(
        fake_pulumi: FakePulumi, event_dir: EventDir) -> None:
    with pytest.raises(HybridburstError, match="provider is 'openstack', not aws"):
        aws_provider(fake_pulumi).provision(make("openstack", (Pool("web", 1, "s3.large.2"),)),
                                            event_dir, Journal(event_dir.journal))
    assert fake_pulumi.calls == []


def test_without_the_cli_the_error_says_how_to_install_it(
        event_dir: EventDir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    provider = AwsProvider(stacks_root=STACKS, site_config={k: AWS[k] for k in SITE_KEYS})
    with pytest.raises(HybridburstError) as err:
        provider.provision(make("aws", AWS_PLAN), event_dir, Journal(event_dir.journal))
    message = str(err.value)
    assert "pulumi CLI" in message and "get.pulumi.com" in message and "pulumi login" in message
    assert not event_dir.manifest.exists()


def test_providers_satisfy_the_protocol() -> None:
    providers: list[Any] = [AwsProvider(), OpenStackProvider()]
    for p in providers:
        assert isinstance(p.name, str) and callable(p.provision) and callable(p.deprovision)
    assert [p.name for p in providers] == ["aws", "openstack"]


def test_an_interrupted_up_is_repaired_before_the_next_one(
        checkpoint_pulumi: Any, event_dir: EventDir, monkeypatch: pytest.MonkeyPatch) -> None:
    """A killed `pulumi up` left a pending create of an instance that does run in EC2: the
    next provision finds it by its tags and imports it (no second instance, none unknown),
    and clears a pending create that never reached EC2."""
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    stack = "urn:pulumi:double11::hybridburst-aws-burst"
    typ = "aws:ec2/instance:Instance"
    urns = {n: f"{stack}::hybridburst:aws:Burst${typ}::double11-web-{n}" for n in ("01", "02")}
    checkpoint_pulumi.pending[("aws_burst", "double11")] = [
        {"resource": {"urn": urn, "custom": True, "type": typ}, "type": "creating"}
        for urn in urns.values()]
    checkpoint_pulumi.emit["up"] = ["Updating (double11):",
                                    " +  aws:ec2:VpnConnection burst-vpn creating (120s)",
                                    "Resources:", "    + 23 created"]
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="ap-southeast-1")
        running = ec2.run_instances(
            ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="c6i.large",
            TagSpecifications=[{"ResourceType": "instance", "Tags": [
                {"Key": "hybridburst:event", "Value": "double11"},
                {"Key": "Name", "Value": "double11-web-01"}]}])["Instances"][0]["InstanceId"]
        said: list[str] = []
        provider = aws_provider(checkpoint_pulumi)
        provider.log = said.append
        provider.provision(make("aws", AWS_PLAN), event_dir, Journal(event_dir.journal))

    [refresh, *_] = [a for _, a in checkpoint_pulumi.calls if a[0] == "refresh"]
    assert refresh.count("--import-pending-creates") == 2
    assert refresh[refresh.index("--import-pending-creates") + 1] == urns["01"]
    assert running in refresh and "--clear-pending-creates" in refresh
    assert checkpoint_pulumi.pending[("aws_burst", "double11")] == []
    assert any(f"found in the cloud as {running}: imported" in line for line in said)
    assert any("double11-web-02 not found in the cloud: cleared" in line for line in said)
    # The CLI's lines: all in the event's pulumi.log, the resource steps on the display.
    log = (event_dir.root / "pulumi.log").read_text()
    assert "burst-vpn creating (120s)" in log and "+ 23 created" in log
    assert any("burst-vpn creating" in line for line in said)
    assert not any(line.endswith("Updating (double11):") for line in said)
