"""The AWS reaper never deletes a host that may still hold access to the private network, nor
what that host runs in; it deletes the event's launch templates; `--event` reaps a named event."""

from __future__ import annotations

import argparse
import io
from typing import Any

from rich.console import Console

from hybridburst.costs import commands, reaper
from hybridburst.costs.access_book import FORCE_OPTION
from hybridburst.journal import Journal
from hybridburst.states import HostState
from hybridburst.workspace import EventDir
from tests.costs.costs_helpers import at
from tests.costs.test_costs_reaper import (
    DELETES,
    FUTURE,
    NOW,
    PAST,
    REGION,
    _tags,
    alive,
    build_event,
    journal,
    record_calls,
)
from tests.costs.test_costs_reaper import ec2 as ec2  # the moto fixture

S = HostState
TO_READY = (S.VALIDATED, S.AUTHORIZED, S.BASELINED, S.READY)


def launch_template(ec2: Any, name: str, event: str | None, expiry: str | None) -> str:
    return ec2.create_launch_template(
        LaunchTemplateName=name, LaunchTemplateData={"InstanceType": "c6i.large"},
        TagSpecifications=_tags("launch-template", event, expiry))["LaunchTemplate"][
        "LaunchTemplateId"]


def templates(ec2: Any) -> set[str]:
    return {t["LaunchTemplateId"] for t in ec2.describe_launch_templates()["LaunchTemplates"]}


def second_host(ec2: Any, ids: dict[str, str], event: str) -> str:
    return ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="c6i.large",
        SubnetId=ids["subnet"], SecurityGroupIds=[ids["sg_web"]],
        TagSpecifications=_tags("instance", event, PAST))["Instances"][0]["InstanceId"]


def state_of(ec2: Any, instance: str) -> str:
    return str(ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0][
        "State"]["Name"])


def reap_command(argv: list[str]) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers())
    args = parser.parse_args(["reap", "--region", REGION, *argv])
    out = io.StringIO()
    status = args.func(args, Console(file=out, width=400))
    return status, out.getvalue()


def test_a_host_that_holds_access_stays_with_its_network(ec2: Any) -> None:
    old = build_event(ec2, "old", PAST, 1)
    lt = launch_template(ec2, "old-web", "old", PAST)
    spare = second_host(ec2, old, "old")
    journal("old", old, *TO_READY)  # old-web-01 is ready: it may hold access
    book = Journal(EventDir.of("old").journal)
    book.record("old-web-02", S.LAUNCHED, f"aws: {spare}", at=at("2026-11-11T00:00:00"))
    book.record("old-web-02", S.QUARANTINED, "cpus: 2, want 4", at=at("2026-11-11T00:10:00"))
    calls = record_calls(ec2)

    status, text = reap_command([])

    assert status == 1
    assert state_of(ec2, old["instance"]) == "running"
    assert state_of(ec2, spare) == "terminated"  # quarantined: never had access, goes
    assert lt not in templates(ec2)
    assert all(alive(ec2, old).values()), alive(ec2, old)  # VPC, subnet, groups, VPN, EIP
    assert (f"skipped instance {old['instance']} of event old: host old-web-01 may still hold "
            "access to the private network (journal: ready); revoke first "
            "(`hybridburst revoke old`), then reap again") in text
    kept_line = next(line for line in text.splitlines() if line.startswith("  kept with it"))
    assert kept_line.startswith("  kept with it (10): ")
    assert all(f"{kind} {old[key]}" in kept_line for kind, key in (
        ("vpc", "vpc"), ("subnet", "subnet"), ("security-group", "sg_web"),
        ("vpn-connection", "vpn"), ("elastic-ip", "eip")))
    assert text.rstrip().endswith("1 host(s) skipped, and 10 resource(s) they run in, because "
                                  "they may still hold access to the private network (see "
                                  "above); revoke, then reap again")
    mutated = {str(v) for name, params in calls if name.startswith(DELETES)
               for v in params.values()}
    assert old["instance"] not in str(mutated)
    assert not mutated & {old[k] for k in ("vpc", "subnet", "sg_web", "sg_lb", "vpn", "eip")}


def test_after_revoke_the_same_event_goes_whole(ec2: Any) -> None:
    old = build_event(ec2, "old", PAST, 2)
    journal("old", old, *TO_READY, S.DRAINING, S.REVOKED)

    report = reaper.reap(ec2, REGION, now=NOW, destroyed=set(), delay=0.01, attempts=3)

    assert report.skipped() == [] and report.failed == []
    assert not any(alive(ec2, old).values())


def test_no_journal_means_unknown_access_unless_forced(ec2: Any) -> None:
    orphan = build_event(ec2, "orphan", PAST, 3)

    report = reaper.reap(ec2, REGION, now=NOW, destroyed=set(), delay=0.01, attempts=3)

    assert all(alive(ec2, orphan).values())
    [host] = [o for o in report.skipped() if o.resource.kind == "instance"]
    assert "no journal of event orphan here" in host.detail
    assert "unknown" in host.detail and FORCE_OPTION in host.detail
    assert {o.resource.id for o in report.skipped()} == set(orphan.values())

    report = reaper.reap(ec2, REGION, now=NOW, destroyed=set(), delay=0.01, attempts=3,
                         force_unknown_access=True)

    assert report.skipped() == [] and report.failed == []
    assert not any(alive(ec2, orphan).values())


def test_an_instance_the_journal_cannot_place_stays_while_a_host_holds_access(ec2: Any) -> None:
    old = build_event(ec2, "old", PAST, 4)
    journal("old", {"instance": "i-0elsewhere"}, *TO_READY)

    report = reaper.reap(ec2, REGION, now=NOW, destroyed=set(), dry_run=True)

    [host] = [o for o in report.skipped() if o.resource.kind == "instance"]
    assert host.resource.id == old["instance"]
    assert "not matched to a host of the journal, while old-web-01 may still hold" in host.detail
    assert report.acted() == []


def test_launch_templates_of_the_event_go_others_stay(ec2: Any) -> None:
    old = build_event(ec2, "old", PAST, 5)
    journal("old", old, S.REVOKED)
    mine = launch_template(ec2, "old-web", "old", PAST)
    live = launch_template(ec2, "live-web", "live", FUTURE)
    foreign = launch_template(ec2, "someone-elses", None, None)
    calls = record_calls(ec2)

    dry = reaper.reap(ec2, REGION, now=NOW, destroyed=set(), dry_run=True)
    assert [o.resource.id for o in dry.acted() if o.resource.kind == "launch-template"] == [mine]
    assert templates(ec2) == {mine, live, foreign}

    report = reaper.reap(ec2, REGION, now=NOW, destroyed=set(), delay=0.01, attempts=3)

    assert report.failed == []
    assert templates(ec2) == {live, foreign}
    names = [n for n, _ in calls if n.startswith(DELETES)]
    assert names.index("TerminateInstances") < names.index("DeleteLaunchTemplate") < names.index(
        "DeleteVpc")


def test_event_named_on_the_command_line_goes_now_and_only_it(ec2: Any) -> None:
    soon = build_event(ec2, "soon", FUTURE, 6)
    other = build_event(ec2, "other", PAST, 7)
    journal("other", other, S.REVOKED)

    status, text = reap_command(["--event", "soon", FORCE_OPTION])

    assert status == 0, text
    assert not any(alive(ec2, soon).values())
    assert all(alive(ec2, other).values())  # expired, but not named: not looked at
    assert "event soon named by the operator (--event)" in text
