"""A fake openstacksdk ``Connection`` for the OpenStack reaper and lookup tests.

Shaped like openstacksdk's (read from its source, openstack/compute/v2/_proxy.py and
openstack/network/v2/_proxy.py): ``conn.compute.servers()``, ``delete_server``,
``wait_for_delete``; ``conn.network.networks(**query)`` and the other listings with the
``tags`` query (all of them must match, as Neutron's ``?tags=`` does), ``delete_*``,
``remove_interface_from_router(router, subnet=None, port=None)`` and the VPNaaS calls.
Resources are objects with attributes (``id``, ``name``, ``tags``, ``metadata`` ...).

It refuses, with a 409 like Neutron and Nova, what the real clouds refuse: a subnet with ports
on it, a router with interfaces or a VPN service, a network with subnets or ports, a security
group in use, a VPN service with site connections, a policy or endpoint group in use.
Every mutating call is logged as ``(method, id)``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

from hybridburst.infra.tags import tag_strings

_ids = itertools.count(1)


class HttpError(Exception):
    """Like openstack.exceptions.HttpException: carries ``status_code``."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code


def _id(kind: str) -> str:
    return f"{kind}-{next(_ids):04d}"


class Cloud:
    """The state of the fake cloud; ``conn`` is the Connection-shaped view of it."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {k: {} for k in (
            "server", "network", "subnet", "router", "port", "security_group", "vpn_service",
            "site_connection", "endpoint_group", "ike_policy", "ipsec_policy")}
        self.log: list[tuple[str, str]] = []
        self.conn = SimpleNamespace(compute=_Compute(self), network=_Network(self))

    def add(self, kind: str, **attrs: Any) -> Any:
        attrs.setdefault("tags", [])
        obj = SimpleNamespace(id=_id(kind), name=attrs.pop("name", ""), **attrs)
        self.items[kind][obj.id] = obj
        return obj

    def exists(self, obj_id: str) -> bool:
        return any(obj_id in items for items in self.items.values())

    def delete(self, kind: str, obj_id: str, method: str) -> None:
        self.log.append((method, obj_id))
        if self.items[kind].pop(obj_id, None) is None:
            raise HttpError(404, f"{kind} {obj_id} not found")

    # ----------------------------------------------------- what one event's stack makes

    def event(self, event: str | None, expiry: str | None, *, servers: int = 1,
              ike: Any = None) -> dict[str, Any]:
        """What openstack_burst creates for one event (tags as it writes them)."""
        tags: dict[str, str] = {}
        if event is not None:
            tags = {"hybridburst:event": event, "hybridburst:team": "shop"}
            if expiry is not None:
                tags["hybridburst:burst-expiry"] = expiry
        strings = tag_strings(tags) if tags else ["owner=someone-else"]
        prefix = f"{event or 'foreign'}-burst"
        r: dict[str, Any] = {}
        r["network"] = self.add("network", name=prefix, status="ACTIVE")
        r["subnet"] = self.add("subnet", name=prefix, network_id=r["network"].id)
        r["router"] = self.add("router", name=prefix, status="ACTIVE")
        r["interface"] = self.add(
            "port", network_id=r["network"].id, device_id=r["router"].id,
            device_owner="network:router_interface",
            fixed_ips=[{"subnet_id": r["subnet"].id}], status="ACTIVE")
        r["dhcp"] = self.add("port", network_id=r["network"].id, device_id="dhcp",
                             device_owner="network:dhcp",
                             fixed_ips=[{"subnet_id": r["subnet"].id}], status="ACTIVE")
        r["sg"] = self.add("security_group", name=f"{prefix}-hosts")
        r["vip"] = self.add("port", name=f"{prefix}-vip", network_id=r["network"].id,
                            device_id="", device_owner="",
                            fixed_ips=[{"subnet_id": r["subnet"].id}], status="DOWN")
        for key in ("network", "subnet", "router", "sg", "vip"):
            r[key].tags = list(strings)
        r["ike"] = ike or self.add("ike_policy", name=f"{prefix}-ike")
        r["ipsec"] = self.add("ipsec_policy", name=f"{prefix}-ipsec")
        r["vpn"] = self.add("vpn_service", name=f"{prefix}-vpn", router_id=r["router"].id,
                            subnet_id=None, status="ACTIVE")
        r["local"] = self.add("endpoint_group", name=f"{prefix}-local", type="subnet",
                              endpoints=[r["subnet"].id])
        r["peer"] = self.add("endpoint_group", name=f"{prefix}-private", type="cidr",
                             endpoints=["10.0.0.0/16"])
        r["site"] = self.add(
            "site_connection", name=f"{prefix}-to-private", vpnservice_id=r["vpn"].id,
            ikepolicy_id=r["ike"].id, ipsecpolicy_id=r["ipsec"].id,
            local_ep_group_id=r["local"].id, peer_ep_group_id=r["peer"].id, status="ACTIVE")
        r["servers"] = []
        for i in range(1, servers + 1):
            server = self.add("server", name=f"{event or 'foreign'}-web-{i:02d}",
                              status="ACTIVE", metadata=dict(tags),
                              tags=tag_strings(tags) if tags else [],
                              security_groups=[{"name": r["sg"].name}])
            self.add("port", network_id=r["network"].id, device_id=server.id,
                     device_owner="compute:nova",
                     fixed_ips=[{"subnet_id": r["subnet"].id}],
                     security_group_ids=[r["sg"].id], status="ACTIVE")
            r["servers"].append(server)
        return r

    def ids(self, resources: dict[str, Any]) -> set[str]:
        out = set()
        for key, value in resources.items():
            if key == "dhcp":
                continue
            for obj in value if isinstance(value, list) else [value]:
                out.add(obj.id)
        return out


def _match(obj: Any, query: dict[str, Any]) -> bool:
    for key, want in query.items():
        if key == "tags":
            if not set(want) <= set(obj.tags or []):
                return False
        elif getattr(obj, key, None) != want:
            return False
    return True


class _Compute:
    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud

    def servers(self, details: bool = True, all_projects: bool = False,
                **query: Any) -> Iterator[Any]:
        yield from [s for s in self.cloud.items["server"].values() if _match(s, query)]

    def delete_server(self, server: Any, ignore_missing: bool = True,
                      force: bool = False) -> None:
        server_id = getattr(server, "id", server)
        self.cloud.delete("server", server_id, "delete_server")
        for port in list(self.cloud.items["port"].values()):  # Nova deletes the ports it made
            if port.device_id == server_id:
                del self.cloud.items["port"][port.id]

    def wait_for_delete(self, res: Any, interval: float | None = 2,
                        wait: int | None = 120, callback: Any = None) -> Any:
        if res.id in self.cloud.items["server"]:
            raise HttpError(0, f"timeout waiting for {res.id} to go")
        return res


class _Network:
    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud

    def _list(self, kind: str, query: dict[str, Any]) -> Iterator[Any]:
        yield from [o for o in self.cloud.items[kind].values() if _match(o, query)]

    def networks(self, **query: Any) -> Iterator[Any]:
        return self._list("network", query)

    def subnets(self, **query: Any) -> Iterator[Any]:
        return self._list("subnet", query)

    def routers(self, **query: Any) -> Iterator[Any]:
        return self._list("router", query)

    def ports(self, **query: Any) -> Iterator[Any]:
        return self._list("port", query)

    def security_groups(self, **query: Any) -> Iterator[Any]:
        return self._list("security_group", query)

    def vpn_services(self, **query: Any) -> Iterator[Any]:
        return self._list("vpn_service", query)

    def vpn_ipsec_site_connections(self, **query: Any) -> Iterator[Any]:
        return self._list("site_connection", query)

    def vpn_endpoint_groups(self, **query: Any) -> Iterator[Any]:
        return self._list("endpoint_group", query)

    def vpn_ike_policies(self, **query: Any) -> Iterator[Any]:
        return self._list("ike_policy", query)

    def vpn_ipsec_policies(self, **query: Any) -> Iterator[Any]:
        return self._list("ipsec_policy", query)

    # ------------------------------------------------------------ deleting, with 409s

    def _in_use(self, what: str, users: list[Any]) -> None:
        if users:
            raise HttpError(409, f"{what} is in use by {', '.join(u.id for u in users)}")

    def delete_vpn_ipsec_site_connection(self, ipsec_site_connection: Any,
                                         ignore_missing: bool = True) -> None:
        self.cloud.delete("site_connection", ipsec_site_connection,
                          "delete_vpn_ipsec_site_connection")

    def delete_vpn_service(self, vpn_service: Any, ignore_missing: bool = True) -> None:
        self._in_use(vpn_service, [c for c in self.cloud.items["site_connection"].values()
                                   if c.vpnservice_id == vpn_service])
        self.cloud.delete("vpn_service", vpn_service, "delete_vpn_service")

    def _policy_users(self, obj_id: str) -> list[Any]:
        return [c for c in self.cloud.items["site_connection"].values()
                if obj_id in (c.ikepolicy_id, c.ipsecpolicy_id, c.local_ep_group_id,
                              c.peer_ep_group_id)]

    def delete_vpn_endpoint_group(self, vpn_endpoint_group: Any,
                                  ignore_missing: bool = True) -> None:
        self._in_use(vpn_endpoint_group, self._policy_users(vpn_endpoint_group))
        self.cloud.delete("endpoint_group", vpn_endpoint_group, "delete_vpn_endpoint_group")

    def delete_vpn_ike_policy(self, ike_policy: Any, ignore_missing: bool = True) -> None:
        self._in_use(ike_policy, self._policy_users(ike_policy))
        self.cloud.delete("ike_policy", ike_policy, "delete_vpn_ike_policy")

    def delete_vpn_ipsec_policy(self, ipsec_policy: Any, ignore_missing: bool = True) -> None:
        self._in_use(ipsec_policy, self._policy_users(ipsec_policy))
        self.cloud.delete("ipsec_policy", ipsec_policy, "delete_vpn_ipsec_policy")

    def remove_interface_from_router(self, router: Any, subnet: str | None = None,
                                     port: str | None = None) -> dict[str, Any]:
        assert port is not None or subnet is not None
        found = [p for p in self.cloud.items["port"].values()
                 if p.device_id == router and (p.id == port or any(
                     ip["subnet_id"] == subnet for ip in p.fixed_ips))]
        if not found:
            raise HttpError(404, f"router {router} has no such interface")
        self.cloud.log.append(("remove_interface_from_router", found[0].id))
        del self.cloud.items["port"][found[0].id]
        return {"id": router}

    def delete_router(self, router: Any, ignore_missing: bool = True,
                      if_revision: int | None = None) -> None:
        self._in_use(router, [p for p in self.cloud.items["port"].values()
                              if p.device_id == router] + [
            s for s in self.cloud.items["vpn_service"].values() if s.router_id == router])
        self.cloud.delete("router", router, "delete_router")

    def delete_port(self, port: Any, ignore_missing: bool = True,
                    if_revision: int | None = None) -> None:
        self.cloud.delete("port", port, "delete_port")

    def delete_subnet(self, subnet: Any, ignore_missing: bool = True,
                      if_revision: int | None = None) -> None:
        self._in_use(subnet, [p for p in self.cloud.items["port"].values()
                              if p.device_owner != "network:dhcp"
                              and any(ip["subnet_id"] == subnet for ip in p.fixed_ips)])
        self.cloud.delete("subnet", subnet, "delete_subnet")
        for port in list(self.cloud.items["port"].values()):  # its DHCP port goes with it
            if any(ip["subnet_id"] == subnet for ip in port.fixed_ips):
                del self.cloud.items["port"][port.id]

    def delete_security_group(self, security_group: Any, ignore_missing: bool = True,
                              if_revision: int | None = None) -> None:
        self._in_use(security_group, [
            p for p in self.cloud.items["port"].values()
            if security_group in (getattr(p, "security_group_ids", None) or [])])
        self.cloud.delete("security_group", security_group, "delete_security_group")

    def delete_network(self, network: Any, ignore_missing: bool = True,
                       if_revision: int | None = None) -> None:
        self._in_use(network, [s for s in self.cloud.items["subnet"].values()
                               if s.network_id == network] + [
            p for p in self.cloud.items["port"].values() if p.network_id == network])
        self.cloud.delete("network", network, "delete_network")
