"""The reaper: no forgotten machine billing quietly for weeks.

It looks at the AWS resources the burst stacks tag (``hybridburst:event``,
``hybridburst:burst-expiry``) and deletes those that

* carry a ``hybridburst:burst-expiry`` (ISO 8601; UTC when no zone is written) that has
  passed, or
* belong to an event whose journal says it is destroyed (every host of it DESTROYED),

in dependency order: instances (and their Elastic IPs), VPN connections, VPN gateways,
customer gateways, security groups, subnets, route tables, internet gateways, and the VPC
last. A resource without the ``hybridburst:event`` tag is never touched, nor one of a live
event. A failure on one resource is reported and the others go on; the default security
group and the main route table go with their VPC.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError, WaiterError

from ..journal import Journal
from ..states import HostState
from ..workspace import state_root

TAG_EVENT = "hybridburst:event"
TAG_TEAM = "hybridburst:team"
TAG_POOL = "hybridburst:pool"
TAG_EXPIRY = "hybridburst:burst-expiry"

# Deletion order: what depends on something is deleted before it.
ORDER = (
    "instance",
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
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def event(self) -> str | None:
        return self.tags.get(TAG_EVENT)


@dataclass(frozen=True)
class Outcome:
    resource: Resource
    reason: str
    action: str  # "deleted", "would delete", "failed", "kept"
    detail: str = ""


@dataclass
class ReapReport:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.action == "failed"]

    def acted(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.action != "kept"]

    def kept(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.action == "kept"]


# ---------------------------------------------------------------- what is ours


def parse_expiry(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


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


def reason_to_reap(res: Resource, *, now: dt.datetime, destroyed: set[str]) -> str | None:
    """Why ``res`` goes, or None when it stays. Raises ValueError on a bad expiry tag."""
    if res.event is None:
        return None
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


_OURS = [{"Name": "tag-key", "Values": [TAG_EVENT]}]


def discover(ec2: Any, region: str) -> list[Resource]:
    """Every resource carrying the ``hybridburst:event`` tag, in deletion order."""
    found: list[Resource] = []

    def add(kind: str, items: Iterable[dict[str, Any]], id_key: str) -> None:
        for item in items:
            tags = _tags(item)
            if TAG_EVENT in tags:  # the filter asks for it; check anyway
                found.append(Resource(region, kind, str(item[id_key]), tags, item))

    reservations = _pages(ec2, "describe_instances", "Reservations", Filters=[
        *_OURS, {"Name": "instance-state-name",
                 "Values": ["pending", "running", "stopping", "stopped", "shutting-down"]}])
    add("instance", (i for r in reservations for i in r.get("Instances", [])), "InstanceId")
    add("elastic-ip", _pages(ec2, "describe_addresses", "Addresses", Filters=_OURS),
        "AllocationId")
    add("vpn-connection", (c for c in _pages(ec2, "describe_vpn_connections", "VpnConnections",
                                             Filters=_OURS) if c.get("State") != "deleted"),
        "VpnConnectionId")
    add("vpn-gateway", (g for g in _pages(ec2, "describe_vpn_gateways", "VpnGateways",
                                          Filters=_OURS) if g.get("State") != "deleted"),
        "VpnGatewayId")
    add("customer-gateway", (g for g in _pages(ec2, "describe_customer_gateways",
                                               "CustomerGateways", Filters=_OURS)
                             if g.get("State") != "deleted"), "CustomerGatewayId")
    add("security-group", (g for g in _pages(ec2, "describe_security_groups", "SecurityGroups",
                                             Filters=_OURS) if g.get("GroupName") != "default"),
        "GroupId")
    add("subnet", _pages(ec2, "describe_subnets", "Subnets", Filters=_OURS), "SubnetId")
    add("route-table", (t for t in _pages(ec2, "describe_route_tables", "RouteTables",
                                          Filters=_OURS)
                        if not any(a.get("Main") for a in t.get("Associations", []))),
        "RouteTableId")
    add("internet-gateway", _pages(ec2, "describe_internet_gateways", "InternetGateways",
                                   Filters=_OURS), "InternetGatewayId")
    add("vpc", _pages(ec2, "describe_vpcs", "Vpcs", Filters=_OURS), "VpcId")
    return found


# ---------------------------------------------------------------- deleting


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _gone(exc: ClientError) -> bool:
    return _code(exc).endswith(".NotFound")


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


def reap(
    ec2: Any,
    region: str,
    *,
    now: dt.datetime,
    destroyed: set[str],
    dry_run: bool = False,
    delay: float = 5.0,
    attempts: int = 60,
) -> ReapReport:
    """Find and (unless ``dry_run``) delete what is due, in ``ORDER``."""
    report = ReapReport()
    due: dict[str, list[tuple[Resource, str]]] = {kind: [] for kind in ORDER}
    for res in discover(ec2, region):
        try:
            reason = reason_to_reap(res, now=now, destroyed=destroyed)
        except ValueError:
            report.outcomes.append(Outcome(res, f"unreadable {TAG_EXPIRY} "
                                                f"{res.tags.get(TAG_EXPIRY)!r}", "kept"))
            continue
        if reason is None:
            expiry = res.tags.get(TAG_EXPIRY)
            why = f"live until {expiry}" if expiry else f"no {TAG_EXPIRY} tag, event not destroyed"
            report.outcomes.append(Outcome(res, why, "kept"))
        else:
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
