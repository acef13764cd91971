"""The reaper: no forgotten machine billing quietly for weeks.

It looks at the AWS resources the burst stacks tag (``hybridburst:event``,
``hybridburst:burst-expiry``) and deletes those that

* carry a ``hybridburst:burst-expiry`` (ISO 8601; UTC when no zone is written) that has
  passed, or
* belong to an event whose journal says it is destroyed (every host of it DESTROYED),

* or belong to an event the operator names (``hybridburst reap --event EVENT``),

in dependency order: instances, launch templates, Elastic IPs, VPN connections, VPN gateways,
customer gateways, security groups, subnets, route tables, internet gateways, and the VPC
last. A resource without the ``hybridburst:event`` tag is never touched, nor one of a live
event. A failure on one resource is reported and the others go on; the default security
group and the main route table go with their VPC.

Access is revoked before a host is destroyed: an instance whose journal says it may still
hold access to the private network (:mod:`.access_book`) is skipped, and so is what it runs
in (its VPC and everything in it, its VPN, its Elastic IP). An instance of an event without a
journal here is skipped too (its access is unknown) unless ``force_unknown_access``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from ..errors import HybridburstError
from ..infra import tags as tag_rules
from ..journal import Journal
from ..states import HostState
from ..workspace import state_root
from .access_book import AccessBook, AccessRisk

# The tag keys and the expiry's reading have one home: infra/tags.py.
TAG_EVENT = tag_rules.EVENT
TAG_TEAM = tag_rules.TEAM
TAG_POOL = tag_rules.POOL
TAG_EXPIRY = tag_rules.BURST_EXPIRY
parse_expiry = tag_rules.read_expiry

# Deletion order: what depends on something is deleted before it.
ORDER = (
    "instance",
    "launch-template",
    "elastic-ip",
    "vpn-connection",
    "vpn-gateway",
    "customer-gateway",
    "security-group",
    "subnet",
    "route-table",
    "internet-gateway",
    "vpc",
)
_RETRYABLE = {"DependencyViolation", "IncorrectState", "InvalidState"}


@dataclass(frozen=True)
class Resource:
    region: str
    kind: str
    id: str
    tags: dict[str, str]
    raw: Any = field(default_factory=dict, compare=False, repr=False)

    @property
    def event(self) -> str | None:
        return self.tags.get(TAG_EVENT)


@dataclass(frozen=True)
class Outcome:
    resource: Resource
    reason: str
    action: str  # "deleted", "would delete", "failed", "kept", "skipped"
    detail: str = ""
    held_by: str = ""  # skipped because this host stays (it may still hold access)


@dataclass
class ReapReport:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.action == "failed"]

    def acted(self) -> list[Outcome]:
        """Deleted, would be deleted, or failed."""
        return [o for o in self.outcomes if o.action not in ("kept", "skipped")]

    def kept(self) -> list[Outcome]:
        """Not due: live events, unreadable expiry."""
        return [o for o in self.outcomes if o.action == "kept"]

    def skipped(self) -> list[Outcome]:
        """Due, but left because a host may still hold access to the private network."""
        return [o for o in self.outcomes if o.action == "skipped"]


# ---------------------------------------------------------------- what is ours


def destroyed_events(base: Path | None = None) -> set[str]:
    """Events whose journal (under ``<state dir>/events``) has hosts, all DESTROYED."""
    root = (base or state_root()) / "events"
    done = set()
    if not root.is_dir():
        return done
    for journal_file in sorted(root.glob("*/journal.jsonl")):
        current = Journal(journal_file).current()
        if current and all(e.state is HostState.DESTROYED for e in current.values()):
            done.add(journal_file.parent.name)
    return done


def reason_to_reap(res: Resource, *, now: dt.datetime, destroyed: set[str],
                   named: frozenset[str] = frozenset()) -> str | None:
    """Why ``res`` goes, or None when it stays. Raises ValueError on a bad expiry tag."""
    if res.event is None:
        return None
    if res.event in named:
        return f"event {res.event} named by the operator (--event)"
    if res.event in destroyed:
        return f"event {res.event} is destroyed per its journal"
    expiry = res.tags.get(TAG_EXPIRY)
    if expiry is None:
        return None
    moment = parse_expiry(expiry)
    if moment <= now:
        return f"burst-expiry {expiry} has passed"
    return None


def _tags(raw: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in raw.get("Tags") or []}


def _pages(ec2: Any, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    if ec2.can_paginate(operation):
        out: list[dict[str, Any]] = []
        for page in ec2.get_paginator(operation).paginate(**kwargs):
            out.extend(page.get(key, []))
        return out
    return list(getattr(ec2, operation)(**kwargs).get(key, []))


def _ours(event: str | None) -> list[dict[str, Any]]:
    if event is None:
        return [{"Name": "tag-key", "Values": [TAG_EVENT]}]
    return [{"Name": f"tag:{TAG_EVENT}", "Values": [event]}]


def discover(ec2: Any, region: str, *, event: str | None = None) -> list[Resource]:
    """Every resource carrying the ``hybridburst:event`` tag (``event``'s only, when given),
    in deletion order."""
    found: list[Resource] = []
    ours = _ours(event)

    def add(kind: str, items: Iterable[dict[str, Any]], id_key: str) -> None:
        for item in items:
            tags = _tags(item)
            # the filter asks for it; check anyway
            if TAG_EVENT in tags and (event is None or tags[TAG_EVENT] == event):
                found.append(Resource(region, kind, str(item[id_key]), tags, item))

    reservations = _pages(ec2, "describe_instances", "Reservations", Filters=[
        *ours, {"Name": "instance-state-name",
                 "Values": ["pending", "running", "stopping", "stopped", "shutting-down"]}])
    add("instance", (i for r in reservations for i in r.get("Instances", [])), "InstanceId")
    add("launch-template", _pages(ec2, "describe_launch_templates", "LaunchTemplates",
                                  Filters=ours), "LaunchTemplateId")
    add("elastic-ip", _pages(ec2, "describe_addresses", "Addresses", Filters=ours),
        "AllocationId")
    add("vpn-connection", (c for c in _pages(ec2, "describe_vpn_connections", "VpnConnections",
                                             Filters=ours) if c.get("State") != "deleted"),
        "VpnConnectionId")
    add("vpn-gateway", (g for g in _pages(ec2, "describe_vpn_gateways", "VpnGateways",
                                          Filters=ours) if g.get("State") != "deleted"),
        "VpnGatewayId")
    add("customer-gateway", (g for g in _pages(ec2, "describe_customer_gateways",
                                               "CustomerGateways", Filters=ours)
                             if g.get("State") != "deleted"), "CustomerGatewayId")
    add("security-group", (g for g in _pages(ec2, "describe_security_groups", "SecurityGroups",
                                             Filters=ours) if g.get("GroupName") != "default"),
        "GroupId")
    add("subnet", _pages(ec2, "describe_subnets", "Subnets", Filters=ours), "SubnetId")
    add("route-table", (t for t in _pages(ec2, "describe_route_tables", "RouteTables",
                                          Filters=ours)
                        if not any(a.get("Main") for a in t.get("Associations", []))),
        "RouteTableId")
    add("internet-gateway", _pages(ec2, "describe_internet_gateways", "InternetGateways",
                                   Filters=ours), "InternetGatewayId")
    add("vpc", _pages(ec2, "describe_vpcs", "Vpcs", Filters=ours), "VpcId")
    return found


def discover_checked(ec2: Any, region: str, *, event: str | None = None) -> list[Resource]:
    """:func:`discover`; an API that refuses (credentials, permissions) is a clear error."""
    try:
        return discover(ec2, region, event=event)
    except (BotoCoreError, ClientError) as exc:
        raise HybridburstError(f"aws {region}: cannot list the tagged resources: {exc}") from exc


# ---------------------------------------------------------------- deleting


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _gone(exc: ClientError) -> bool:
    return _code(exc).endswith((".NotFound", ".NotFoundException"))


class _Deleter:
    def __init__(self, ec2: Any, delay: float, attempts: int) -> None:
        self.ec2 = ec2
        self.delay = delay
        self.attempts = attempts

    def retry(self, call: Callable[[], Any]) -> None:
        """Run ``call``; a dependency still going away is retried, a missing one is done."""
        for attempt in range(self.attempts):
            try:
                call()
                return
            except ClientError as exc:
                if _gone(exc):
                    return
                if _code(exc) not in _RETRYABLE or attempt == self.attempts - 1:
                    raise
                time.sleep(self.delay)

    def wait(self, waiter: str, **kwargs: Any) -> None:
        self.ec2.get_waiter(waiter).wait(
            **kwargs, WaiterConfig={"Delay": max(self.delay, 1), "MaxAttempts": self.attempts})

    def instances(self, items: list[Resource]) -> None:
        ids = [r.id for r in items]
        self.ec2.terminate_instances(InstanceIds=ids)
        self.wait("instance_terminated", InstanceIds=ids)

    def launch_template(self, res: Resource) -> None:
        self.retry(lambda: self.ec2.delete_launch_template(LaunchTemplateId=res.id))

    def elastic_ip(self, res: Resource) -> None:
        if res.raw.get("AssociationId"):
            self.retry(lambda: self.ec2.disassociate_address(AssociationId=res.raw["AssociationId"]))
        self.retry(lambda: self.ec2.release_address(AllocationId=res.id))

    def vpn_connection(self, res: Resource) -> None:
        self.retry(lambda: self.ec2.delete_vpn_connection(VpnConnectionId=res.id))
        self.wait("vpn_connection_deleted", VpnConnectionIds=[res.id])

    def vpn_gateway(self, res: Resource) -> None:
        for attachment in res.raw.get("VpcAttachments") or []:
            if attachment.get("State") in ("attached", "attaching"):
                vpc = attachment["VpcId"]
                self.retry(lambda v=vpc: self.ec2.detach_vpn_gateway(VpnGatewayId=res.id, VpcId=v))
        self.retry(lambda: self.ec2.delete_vpn_gateway(VpnGatewayId=res.id))

    def customer_gateway(self, res: Resource) -> None:
        self.retry(lambda: self.ec2.delete_customer_gateway(CustomerGatewayId=res.id))

    def security_group_rules(self, res: Resource) -> None:
        """Drop a group's rules first: groups that refer to each other block deletion."""
        if res.raw.get("IpPermissions"):
            self.retry(lambda: self.ec2.revoke_security_group_ingress(
                GroupId=res.id, IpPermissions=res.raw["IpPermissions"]))
        if res.raw.get("IpPermissionsEgress"):
            self.retry(lambda: self.ec2.revoke_security_group_egress(
                GroupId=res.id, IpPermissions=res.raw["IpPermissionsEgress"]))

    def security_group(self, res: Resource) -> None:
        self.retry(lambda: self.ec2.delete_security_group(GroupId=res.id))

    def subnet(self, res: Resource) -> None:
        self.retry(lambda: self.ec2.delete_subnet(SubnetId=res.id))

    def route_table(self, res: Resource) -> None:
        for assoc in res.raw.get("Associations") or []:
            if not assoc.get("Main") and assoc.get("RouteTableAssociationId"):
                self.retry(lambda a=assoc: self.ec2.disassociate_route_table(
                    AssociationId=a["RouteTableAssociationId"]))
        self.retry(lambda: self.ec2.delete_route_table(RouteTableId=res.id))

    def internet_gateway(self, res: Resource) -> None:
        for attachment in res.raw.get("Attachments") or []:
            vpc = attachment["VpcId"]
            self.retry(lambda v=vpc: self.ec2.detach_internet_gateway(
                InternetGatewayId=res.id, VpcId=v))
        self.retry(lambda: self.ec2.delete_internet_gateway(InternetGatewayId=res.id))

    def vpc(self, res: Resource) -> None:
        self.retry(lambda: self.ec2.delete_vpc(VpcId=res.id))


def classify(
    found: Iterable[Resource], report: ReapReport, *, now: dt.datetime, destroyed: set[str],
    named: frozenset[str] = frozenset(),
) -> list[tuple[Resource, str]]:
    """The resources that are due, with why; the others are recorded as kept."""
    due: list[tuple[Resource, str]] = []
    for res in found:
        if named and res.event not in named:
            continue
        try:
            reason = reason_to_reap(res, now=now, destroyed=destroyed, named=named)
        except ValueError:
            report.outcomes.append(Outcome(res, f"unreadable {TAG_EXPIRY} "
                                                f"{res.tags.get(TAG_EXPIRY)!r}", "kept"))
            continue
        if reason is None:
            expiry = res.tags.get(TAG_EXPIRY)
            why = f"live until {expiry}" if expiry else f"no {TAG_EXPIRY} tag, event not destroyed"
            report.outcomes.append(Outcome(res, why, "kept"))
        else:
            due.append((res, reason))
    return due


def access_risk(book: AccessBook, res: Resource, names: Iterable[str],
                force_unknown_access: bool) -> AccessRisk | None:
    """Why the host ``res`` must not be deleted now, or None."""
    risk = book.risk(res.event or "", res.id, names)
    if risk is None or (risk.unknown and force_unknown_access):
        return None
    return risk


def _held_by_instances(due: list[tuple[Resource, str]], held: list[Resource]) -> dict[str, str]:
    """Resource id -> the held instance that keeps it: what that instance runs in and on."""
    vpcs = {i.raw.get("VpcId"): i.id for i in held if i.raw.get("VpcId")}
    keep: dict[str, str] = {}
    for inst in held:
        for key in ("SubnetId", "VpcId"):
            if inst.raw.get(key):
                keep[str(inst.raw[key])] = inst.id
        for group in inst.raw.get("SecurityGroups") or []:
            keep[str(group.get("GroupId"))] = inst.id
    by_instance = {i.id: i.id for i in held}

    def vpc_of(res: Resource) -> list[str]:
        if res.kind == "vpc":
            return [res.id]
        if res.kind in ("subnet", "security-group", "route-table"):
            return [str(res.raw.get("VpcId"))]
        if res.kind == "internet-gateway":
            return [str(a.get("VpcId")) for a in res.raw.get("Attachments") or []]
        if res.kind == "vpn-gateway":
            return [str(a.get("VpcId")) for a in res.raw.get("VpcAttachments") or []
                    if a.get("State") in ("attached", "attaching")]
        return []

    for res, _ in due:
        for vpc in vpc_of(res):
            if vpc in vpcs:
                keep.setdefault(res.id, vpcs[vpc])
        if res.kind == "elastic-ip" and res.raw.get("InstanceId") in by_instance:
            keep.setdefault(res.id, str(res.raw["InstanceId"]))
    for res, _ in due:  # the VPN over a kept VPN gateway, and its customer gateway
        if res.kind == "vpn-connection" and res.raw.get("VpnGatewayId") in keep:
            keep.setdefault(res.id, keep[str(res.raw["VpnGatewayId"])])
    for res, _ in due:
        if res.kind == "vpn-connection" and res.id in keep and res.raw.get("CustomerGatewayId"):
            keep.setdefault(str(res.raw["CustomerGatewayId"]), keep[res.id])
    return keep


def _name_tag(res: Resource) -> list[str]:
    return [res.tags["Name"]] if "Name" in res.tags else []


def reap(
    ec2: Any,
    region: str,
    *,
    now: dt.datetime,
    destroyed: set[str],
    dry_run: bool = False,
    delay: float = 5.0,
    attempts: int = 60,
    access: AccessBook | None = None,
    force_unknown_access: bool = False,
    named: frozenset[str] = frozenset(),
) -> ReapReport:
    """Find and (unless ``dry_run``) delete what is due, in ``ORDER``.

    ``access`` reads the journals (default: the state directory); ``named`` are events the
    operator wants reaped now, whatever their expiry (only their resources are looked at).
    """
    report = ReapReport()
    book = access or AccessBook()
    due_list = classify(discover_checked(ec2, region), report, now=now, destroyed=destroyed,
                        named=named)
    held: list[Resource] = []
    for res, reason in due_list:
        if res.kind != "instance":
            continue
        risk = access_risk(book, res, _name_tag(res), force_unknown_access)
        if risk is not None:
            held.append(res)
            report.outcomes.append(Outcome(res, reason, "skipped", risk.reason))
    keep = _held_by_instances(due_list, held)
    held_ids = {r.id for r in held}
    due: dict[str, list[tuple[Resource, str]]] = {kind: [] for kind in ORDER}
    for res, reason in due_list:
        if res.id in held_ids:
            continue
        if res.id in keep:
            report.outcomes.append(Outcome(res, reason, "skipped", (
                f"kept while instance {keep[res.id]} runs in it (it may still hold access)"),
                held_by=keep[res.id]))
            continue
        due[res.kind].append((res, reason))
    deleter = _Deleter(ec2, delay, attempts)

    def record(res: Resource, reason: str, call: Callable[[], None]) -> None:
        if dry_run:
            report.outcomes.append(Outcome(res, reason, "would delete"))
            return
        try:
            call()
        except (ClientError, WaiterError) as exc:
            report.outcomes.append(Outcome(res, reason, "failed", str(exc)))
        else:
            report.outcomes.append(Outcome(res, reason, "deleted"))

    instances = due["instance"]
    if instances:
        if dry_run:
            for res, reason in instances:
                report.outcomes.append(Outcome(res, reason, "would delete"))
        else:
            try:
                deleter.instances([res for res, _ in instances])
            except (ClientError, WaiterError) as exc:
                report.outcomes.extend(Outcome(r, why, "failed", str(exc)) for r, why in instances)
            else:
                report.outcomes.extend(Outcome(r, why, "deleted") for r, why in instances)
    for res, reason in due["launch-template"]:
        record(res, reason, lambda r=res: deleter.launch_template(r))
    for res, reason in due["elastic-ip"]:
        record(res, reason, lambda r=res: deleter.elastic_ip(r))
    for res, reason in due["vpn-connection"]:
        record(res, reason, lambda r=res: deleter.vpn_connection(r))
    for res, reason in due["vpn-gateway"]:
        record(res, reason, lambda r=res: deleter.vpn_gateway(r))
    for res, reason in due["customer-gateway"]:
        record(res, reason, lambda r=res: deleter.customer_gateway(r))
    if not dry_run:
        for res, _ in due["security-group"]:
            with contextlib.suppress(ClientError):  # the delete below reports what is wrong
                deleter.security_group_rules(res)
    for res, reason in due["security-group"]:
        record(res, reason, lambda r=res: deleter.security_group(r))
    for res, reason in due["subnet"]:
        record(res, reason, lambda r=res: deleter.subnet(r))
    for res, reason in due["route-table"]:
        record(res, reason, lambda r=res: deleter.route_table(r))
    for res, reason in due["internet-gateway"]:
        record(res, reason, lambda r=res: deleter.internet_gateway(r))
    for res, reason in due["vpc"]:
        record(res, reason, lambda r=res: deleter.vpc(r))
    return report
