"""The reaper on OpenStack: the same rules as on AWS (:mod:`.reaper`), over an openstacksdk
``Connection`` (``conn.compute``, ``conn.network``).

What carries the tags: compute servers carry them as metadata (key to value; their ``tags``
as ``key=value`` strings too); Neutron networks, subnets, ports, routers and security groups
as ``key=value`` strings (:func:`..infra.tags.tag_strings`). Neutron's VPNaaS objects (VPN
service, endpoint groups, IKE and IPsec policies, site connections) have no tags: they are
found through the event's tagged router (the VPN service on it, its site connections, and the
endpoint groups and policies those use and no other site connection does), and take that
router's tags. A router interface goes with its router. Nothing else is ever touched.

Deletion order: servers, site connections, VPN services, endpoint groups, IKE and IPsec
policies, router interfaces, routers, ports, subnets, security groups, networks. Ports come
before subnets: a port with an address on a subnet blocks its deletion. A server that may still
hold access to the private network is skipped, and the rest of its event's network with it.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..errors import HybridburstError
from ..infra.tags import parse_tag_strings
from .access_book import AccessBook
from .reaper import TAG_EVENT, Outcome, ReapReport, Resource, access_risk, classify

ORDER = (
    "server",
    "vpn-site-connection",
    "vpn-service",
    "vpn-endpoint-group",
    "vpn-ike-policy",
    "vpn-ipsec-policy",
    "router-interface",
    "router",
    "port",
    "subnet",
    "security-group",
    "network",
)
ROUTER_INTERFACE_OWNERS = frozenset({
    "network:router_interface", "network:router_interface_distributed",
    "network:ha_router_replicated_interface",
})
#: Ports Neutron manages itself: they go with their router, network or server.
_MANAGED_PORT_OWNERS = ("network:router_", "network:ha_router", "network:dhcp",
                        "network:floatingip")


def connect(cloud: str | None = None, region: str | None = None) -> Any:
    """``openstack.connect`` (clouds.yaml entry ``cloud``, else the ``OS_*`` variables)."""
    try:
        import openstack  # type: ignore[import-not-found]
    except ImportError as exc:
        raise HybridburstError(
            "the OpenStack reaper needs openstacksdk, which is not installed: "
            "pip install openstacksdk (into the environment hybridburst runs in)") from exc
    try:
        return openstack.connect(cloud=cloud, region_name=region)
    except Exception as exc:  # openstacksdk raises its own config and auth errors
        raise HybridburstError(
            f"cannot connect to OpenStack cloud {cloud or '(from OS_* variables)'}: {exc}"
        ) from exc


def _attr(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def server_tags(server: Any) -> dict[str, str]:
    """A server's tags: its metadata (key to value), plus ``key=value`` tags."""
    tags = parse_tag_strings([str(t) for t in _attr(server, "tags") or []])
    tags.update({str(k): str(v) for k, v in (_attr(server, "metadata") or {}).items()})
    return tags


def _neutron_tags(obj: Any) -> dict[str, str]:
    return parse_tag_strings([str(t) for t in _attr(obj, "tags") or []])


def _query(event: str | None) -> dict[str, Any]:
    return {"tags": [f"{TAG_EVENT}={event}"]} if event else {}


def _ours(tags: dict[str, str], event: str | None) -> bool:
    return TAG_EVENT in tags and (event is None or tags[TAG_EVENT] == event)


def discover(conn: Any, label: str, *, event: str | None = None) -> list[Resource]:
    """Every resource of ours (``event``'s only, when given), in deletion order."""
    found: list[Resource] = []
    for server in conn.compute.servers():
        tags = server_tags(server)
        if _ours(tags, event):
            found.append(Resource(label, "server", str(server.id), tags, server))
    networks = _tagged(conn.network.networks(**_query(event)), "network", label, event)
    subnets = _tagged(conn.network.subnets(**_query(event)), "subnet", label, event)
    routers = _tagged(conn.network.routers(**_query(event)), "router", label, event)
    groups = _tagged(conn.network.security_groups(**_query(event)), "security-group", label,
                     event)
    ports = [p for p in _tagged(conn.network.ports(**_query(event)), "port", label, event)
             if not str(_attr(p.raw, "device_owner") or "").startswith(_MANAGED_PORT_OWNERS)]
    found.extend(_vpn(conn, label, routers))
    for router in routers:
        for port in conn.network.ports(device_id=router.id):
            if _attr(port, "device_owner") in ROUTER_INTERFACE_OWNERS:
                found.append(Resource(label, "router-interface", str(port.id), router.tags,
                                      {"router_id": router.id, "port": port}))
    found.extend(routers + ports + subnets + groups + networks)
    return sorted(found, key=lambda r: ORDER.index(r.kind))


def discover_checked(conn: Any, label: str, *, event: str | None = None) -> list[Resource]:
    """:func:`discover`; a cloud that refuses (auth, endpoints) is a clear error."""
    try:
        return discover(conn, label, event=event)
    except Exception as exc:  # openstacksdk's SDKException family, keystoneauth's errors
        raise HybridburstError(f"openstack {label}: cannot list the tagged resources: "
                               f"{exc}") from exc


def _tagged(items: Iterable[Any], kind: str, label: str, event: str | None) -> list[Resource]:
    out = []
    for item in items:
        tags = _neutron_tags(item)
        if _ours(tags, event):  # the query asks for it; check anyway
            out.append(Resource(label, kind, str(item.id), tags, item))
    return out


def _vpn(conn: Any, label: str, routers: list[Resource]) -> list[Resource]:
    """The untagged VPNaaS objects hanging off our routers, with their router's tags."""
    by_router = {r.id: r for r in routers}
    services = {str(s.id): (s, by_router[str(s.router_id)]) for s in conn.network.vpn_services()
                if str(_attr(s, "router_id")) in by_router}
    if not services:
        return []
    connections = list(conn.network.vpn_ipsec_site_connections())
    ours = [c for c in connections if str(_attr(c, "vpnservice_id")) in services]
    found = [Resource(label, "vpn-site-connection", str(c.id),
                      services[str(c.vpnservice_id)][1].tags, c) for c in ours]
    found += [Resource(label, "vpn-service", sid, router.tags, s)
              for sid, (s, router) in services.items()]
    others = [c for c in connections if c not in ours]
    for kind, listing, fields in (
        ("vpn-endpoint-group", conn.network.vpn_endpoint_groups,
         ("local_ep_group_id", "peer_ep_group_id")),
        ("vpn-ike-policy", conn.network.vpn_ike_policies, ("ikepolicy_id",)),
        ("vpn-ipsec-policy", conn.network.vpn_ipsec_policies, ("ipsecpolicy_id",)),
    ):
        used = {str(_attr(c, f)): c for c in ours for f in fields if _attr(c, f)}
        shared = {str(_attr(c, f)) for c in others for f in fields if _attr(c, f)}
        for item in listing():
            if str(item.id) in used and str(item.id) not in shared:
                owner = services[str(used[str(item.id)].vpnservice_id)][1]
                found.append(Resource(label, kind, str(item.id), owner.tags, item))
    return found


def _status(exc: Exception) -> int | None:
    code = getattr(exc, "status_code", None)
    return code if isinstance(code, int) else None


class _Deleter:
    def __init__(self, conn: Any, delay: float, attempts: int) -> None:
        self.conn = conn
        self.delay = delay
        self.attempts = attempts

    def retry(self, call: Callable[[], Any]) -> None:
        """Run ``call``; a conflict (something still going away) is retried, 404 is done."""
        for attempt in range(self.attempts):
            try:
                call()
                return
            except Exception as exc:  # openstacksdk's HttpException carries status_code
                status = _status(exc)
                if status == 404:
                    return
                if status != 409 or attempt == self.attempts - 1:
                    raise
                time.sleep(self.delay)

    def delete(self, res: Resource) -> None:
        net, compute = self.conn.network, self.conn.compute
        calls: dict[str, Callable[[], Any]] = {
            "vpn-site-connection": lambda: net.delete_vpn_ipsec_site_connection(res.id),
            "vpn-service": lambda: net.delete_vpn_service(res.id),
            "vpn-endpoint-group": lambda: net.delete_vpn_endpoint_group(res.id),
            "vpn-ike-policy": lambda: net.delete_vpn_ike_policy(res.id),
            "vpn-ipsec-policy": lambda: net.delete_vpn_ipsec_policy(res.id),
            # positional (router, subnet, port): the keyword names changed in openstacksdk 4.14
            "router-interface": lambda: net.remove_interface_from_router(
                res.raw["router_id"], None, res.id),
            "router": lambda: net.delete_router(res.id),
            "port": lambda: net.delete_port(res.id),
            "subnet": lambda: net.delete_subnet(res.id),
            "security-group": lambda: net.delete_security_group(res.id),
            "network": lambda: net.delete_network(res.id),
            "server": lambda: compute.delete_server(res.id),
        }
        self.retry(calls[res.kind])

    def servers(self, items: list[Resource]) -> dict[str, str]:
        """Delete all, then wait for each to be gone; returns id -> error of those that failed."""
        errors: dict[str, str] = {}
        for res in items:
            try:
                self.delete(res)
            except Exception as exc:
                errors[res.id] = str(exc)
        wait = max(1, int(self.delay * self.attempts))
        for res in items:
            if res.id in errors:
                continue
            try:
                self.conn.compute.wait_for_delete(res.raw, interval=self.delay, wait=wait)
            except Exception as exc:
                if _status(exc) != 404:
                    errors[res.id] = str(exc)
        return errors


def reap(
    conn: Any,
    label: str,
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
    """Find and (unless ``dry_run``) delete what is due, in ``ORDER``. ``label`` names the
    cloud (and region) in the report."""
    report = ReapReport()
    book = access or AccessBook()
    due = classify(discover_checked(conn, label), report, now=now, destroyed=destroyed,
                   named=named)
    held: dict[str, str] = {}  # event -> a server of it that stays
    for res, reason in due:
        if res.kind != "server":
            continue
        risk = access_risk(book, res, [str(_attr(res.raw, "name") or "")], force_unknown_access)
        if risk is not None:
            held.setdefault(res.event or "", res.id)
            report.outcomes.append(Outcome(res, reason, "skipped", risk.reason))
    skipped = {o.resource.id for o in report.skipped()}
    todo: list[tuple[Resource, str]] = []
    for res, reason in due:
        if res.id in skipped:
            continue
        if res.kind != "server" and res.event in held:
            holder = held[res.event or ""]
            report.outcomes.append(Outcome(res, reason, "skipped", (
                f"kept while server {holder} of its event runs (it may still hold access)"),
                held_by=holder))
            continue
        todo.append((res, reason))
    if dry_run:
        report.outcomes.extend(Outcome(r, why, "would delete") for r, why in todo)
        return report
    deleter = _Deleter(conn, delay, attempts)
    servers = [(r, why) for r, why in todo if r.kind == "server"]
    errors = deleter.servers([r for r, _ in servers])
    for res, why in servers:
        report.outcomes.append(Outcome(res, why, "failed", errors[res.id]) if res.id in errors
                               else Outcome(res, why, "deleted"))
    for res, why in todo:
        if res.kind == "server":
            continue
        try:
            deleter.delete(res)
        except Exception as exc:
            report.outcomes.append(Outcome(res, why, "failed", str(exc)))
        else:
            report.outcomes.append(Outcome(res, why, "deleted"))
    return report
