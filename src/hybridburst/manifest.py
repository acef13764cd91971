"""The fleet manifest: the only contract between provisioning and configuration.

Versioned JSON written by every provider, read by the inventory plugin and the CLI.
The schema below is the documentation of the format (see README, "Fleet manifest");
every read checks it and names the JSON path of the first problems.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema

from . import spec
from .errors import InputError, InputErrors
from .infra import network as netcalc

VERSION = 1

# Addresses and networks are checked as such (ipaddress) below, not by pattern.
_ADDRESS = {"type": "string", "format": "ipv4"}
_CIDR = {"type": "string", "minLength": 1}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "hybridburst fleet manifest",
    "type": "object",
    "additionalProperties": False,
    "required": ["version", "event", "team", "provider", "written_at", "network", "ssh", "hosts"],
    "properties": {
        "version": {"const": VERSION},
        "event": {"type": "string", "minLength": 1},
        "team": {"type": "string", "minLength": 1},
        "provider": {"enum": ["local", "aws", "openstack"]},
        "region": {"type": ["string", "null"]},
        "written_at": {"type": "string", "format": "date-time"},
        "network": {
            "type": "object",
            "additionalProperties": False,
            "required": ["private_cidrs", "burst_cidr", "gateway"],
            "properties": {
                "private_cidrs": {"type": "array", "minItems": 1, "items": _CIDR},
                "burst_cidr": _CIDR,
                "gateway": {
                    "type": "object",
                    "required": ["private_address", "burst_address"],
                    "properties": {"private_address": _ADDRESS, "burst_address": _ADDRESS},
                },
            },
        },
        "ssh": {
            "type": "object",
            "additionalProperties": False,
            "required": ["user", "private_key_file", "known_hosts_file"],
            "properties": {
                "user": {"type": "string", "minLength": 1},
                "private_key_file": {"type": "string", "minLength": 1},
                "known_hosts_file": {"type": "string", "minLength": 1},
            },
        },
        "private_inventory": {"type": ["string", "null"]},
        "private_ssh": {
            "description": "connection of the private-side hosts, when the provider made them",
            "type": "object",
            "additionalProperties": False,
            "required": ["user", "private_key_file", "known_hosts_file"],
            "properties": {
                "user": {"type": "string"},
                "private_key_file": {"type": "string"},
                "known_hosts_file": {"type": "string"},
            },
        },
        "hosts": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": [
                    "name", "address", "pool", "instance_type", "expected", "launched_at", "tags",
                ],
                "properties": {
                    "name": {"type": "string", "minLength": 1},  # the spec's rule, below
                    "address": _ADDRESS,
                    "pool": {"type": "string"},
                    "instance_type": {"type": "string"},
                    "release": {"type": ["string", "null"]},
                    "launched_at": {"type": "string", "format": "date-time"},
                    "provider_id": {"type": "string"},
                    "gateway": {
                        **_ADDRESS,
                        "description": "the host's own next hop to the private cloud (the "
                                       "router of its subnet); network.gateway.burst_address "
                                       "when absent",
                    },
                    "expected": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["cpus", "memory_mb", "disk_mb", "data_mount", "os",
                                     "interface", "address"],
                        "properties": {
                            "cpus": {"type": "integer", "minimum": 1},
                            "memory_mb": {"type": "integer", "minimum": 1},
                            "disk_mb": {"type": "integer", "minimum": 1},
                            "data_mount": {"type": "string", "pattern": "^/"},
                            "interface": {"type": "string"},
                            "address": _ADDRESS,
                            "hostname": {"type": "string"},
                            "os": {
                                "type": "object",
                                "required": ["distribution", "major_version"],
                                "properties": {
                                    "distribution": {"type": "string"},
                                    "major_version": {"type": "string"},
                                },
                            },
                        },
                    },
                    "tags": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            },
        },
    },
}

_VALIDATOR = jsonschema.Draft202012Validator(
    SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)


# Checking 10,000 hosts with jsonschema costs seconds (its per-keyword machinery runs for every
# value). SCHEMA is therefore also compiled once into plain closures that say only whether a
# document is valid: a valid one (the usual case) is done; an invalid one goes to jsonschema for
# the exact JSON paths and messages. The closures follow jsonschema's own type and format
# checks and delegate every keyword they do not know, so they never accept what it refuses.
Check = Callable[[Any], bool]
_ANNOTATIONS = {"$schema", "title", "description"}


def _compile(schema: dict[str, Any]) -> Check:
    checks: list[Check] = []
    fmt = _VALIDATOR.format_checker
    delegated = {k: v for k, v in schema.items()
                 if k not in _ANNOTATIONS and k not in _COMPILED_KEYWORDS}
    if delegated:  # const, enum, ...: jsonschema itself, on this value only
        sub = _VALIDATOR.evolve(schema=delegated)
        checks.append(sub.is_valid)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if all(t in _PLAIN_TYPES for t in types):  # jsonschema's own test for these types
            plain = tuple(_PLAIN_TYPES[t] for t in types)
            checks.append(lambda v: isinstance(v, plain))
        else:
            checks.append(lambda v, t=types: any(_VALIDATOR.is_type(v, x) for x in t))
    if "format" in schema and fmt is not None:
        checks.append(lambda v, f=schema["format"]: fmt.conforms(v, f))
    if "minLength" in schema:
        checks.append(lambda v, n=schema["minLength"]: not isinstance(v, str) or len(v) >= n)
    if "pattern" in schema:
        rx = re.compile(schema["pattern"])
        checks.append(lambda v: not isinstance(v, str) or rx.search(v) is not None)
    if "minimum" in schema:
        checks.append(lambda v, n=schema["minimum"]: not _VALIDATOR.is_type(v, "number")
                      or v >= n)
    if "minItems" in schema:
        checks.append(lambda v, n=schema["minItems"]: not isinstance(v, list) or len(v) >= n)
    if "items" in schema:
        item = _compile(schema["items"])
        checks.append(lambda v: not isinstance(v, list) or all(map(item, v)))
    if "required" in schema:
        required = frozenset(schema["required"])
        checks.append(lambda v: not isinstance(v, dict) or required <= v.keys())
    if "properties" in schema or "additionalProperties" in schema:
        props = {k: _compile(sub) for k, sub in schema.get("properties", {}).items()}
        extra = schema.get("additionalProperties", True)
        other: Check | None = None
        if extra is False:
            other = lambda _v: False  # noqa: E731
        elif isinstance(extra, dict):
            other = _compile(extra)

        def members(v: Any) -> bool:
            if not isinstance(v, dict):
                return True
            for key, value in v.items():
                check = props.get(key, other)
                if check is not None and not check(value):
                    return False
            return True
        checks.append(members)
    if len(checks) == 1:
        return checks[0]
    return lambda v: all(check(v) for check in checks)


_PLAIN_TYPES: dict[str, type] = {"string": str, "object": dict, "array": list,
                                  "null": type(None)}
_COMPILED_KEYWORDS = {"type", "format", "minLength", "pattern", "minimum", "minItems", "items",
                      "required", "properties", "additionalProperties"}
_FAST = _compile(SCHEMA)


def _json_path(path: Any) -> str:
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def check(data: Any, source: str) -> dict[str, Any]:
    """Check a manifest document; raise InputErrors naming each JSON path that is wrong."""
    if not _FAST(data):
        errors = sorted(_VALIDATOR.iter_errors(data),
                        key=lambda e: list(map(str, e.absolute_path)))
        if errors:
            raise InputErrors(
                [InputError(source, _json_path(e.absolute_path), e.message) for e in errors[:20]]
            )
    problems = [InputError(source, where, problem) for where, problem in (
        *_name_problems(data), *_network_problems(data), *_ssh_problems(data))]
    names: set[str] = set()
    addresses: set[str] = set()
    for i, host in enumerate(data["hosts"]):
        if host["name"] in names:
            problems.append(InputError(source, f"$.hosts[{i}].name", f"duplicate host {host['name']!r}"))
        if host["address"] in addresses:
            problems.append(
                InputError(source, f"$.hosts[{i}].address", f"duplicate address {host['address']}")
            )
        names.add(host["name"])
        addresses.add(host["address"])
    if problems:
        raise InputErrors(problems)
    return data


Problems = list[tuple[str, str]]  # (JSON path, problem)


def _spec_rule(*path: str) -> str:
    """A name pattern of the event spec's schema: one home for each naming rule."""
    node: Any = spec.SCHEMA
    for key in path:
        node = node[key]
    return str(node["pattern"])


POOL_PATTERN = _spec_rule("properties", "pools", "items", "properties", "name")


def _name_problems(data: dict[str, Any]) -> Problems:
    """The event, pools and hosts are named as the spec names them: hosts EVENT-POOL-NN."""
    event = data["event"]
    if not re.fullmatch(spec.EVENT_PATTERN, event):
        return [("$.event", f"{event!r} is not an event name ({spec.EVENT_RULE})")]
    out: Problems = []
    for i, host in enumerate(data["hosts"]):
        pool, name = host["pool"], host["name"]
        if not re.fullmatch(POOL_PATTERN, pool):
            out.append((f"$.hosts[{i}].pool",
                        f"{pool!r} is not a pool name (the spec's rule: {POOL_PATTERN})"))
            continue
        number = name.removeprefix(f"{event}-{pool}-")
        if not (re.fullmatch(r"[0-9]{1,4}", number) and int(number) >= 1
                and name == spec.host_name(event, pool, int(number))):
            out.append((f"$.hosts[{i}].name",
                        f"{name!r} is not a host name of pool {pool!r} of event {event!r} "
                        f"(the spec names hosts {spec.host_name(event, pool, 1)}, "
                        f"{spec.host_name(event, pool, 2)} ...)"))
    return out


def _network(text: str) -> ipaddress.IPv4Network | str:
    try:
        return netcalc.parse_cidr(text)
    except ValueError as exc:
        return f"not an IPv4 network: {exc}"


def _network_problems(data: dict[str, Any]) -> Problems:
    """Networks are networks (host bits zero); the burst network is apart from the private
    ones; every address lies in the network it is used on."""
    net = data["network"]
    out: Problems = []
    private: list[ipaddress.IPv4Network] = []
    for i, text in enumerate(net["private_cidrs"]):
        parsed = _network(text)
        if isinstance(parsed, str):
            out.append((f"$.network.private_cidrs[{i}]", parsed))
        else:
            private.append(parsed)
    burst = _network(net["burst_cidr"])
    if isinstance(burst, str):
        return [*out, ("$.network.burst_cidr", burst)]
    clash = [str(p) for p in private if p.overlaps(burst)]
    if clash:
        out.append(("$.network.burst_cidr",
                    f"burst network {burst} overlaps the private network(s) {', '.join(clash)}"))
    gateway = net["gateway"]
    if private and not any(ipaddress.ip_address(gateway["private_address"]) in p for p in private):
        out.append(("$.network.gateway.private_address",
                    f"{gateway['private_address']} is outside the private network(s) "
                    f"{', '.join(map(str, private))}"))
    if not _is_host_of(gateway["burst_address"], burst):
        out.append(("$.network.gateway.burst_address",
                    f"{gateway['burst_address']} is not a host address of the burst network "
                    f"{burst}"))
    for i, host in enumerate(data["hosts"]):
        where = f"$.hosts[{i}]"
        if not _is_host_of(host["address"], burst):
            out.append((f"{where}.address", f"address {host['address']} is not a host address "
                                             f"of the burst network {burst}"))
        elif host["address"] == gateway["burst_address"]:
            out.append((f"{where}.address", f"address {host['address']} is the gateway's"))
        if not _is_host_of(host["expected"]["address"], burst):
            out.append((f"{where}.expected.address",
                        f"address {host['expected']['address']} is not a host address of the "
                        f"burst network {burst}"))
        if "gateway" in host and ipaddress.ip_address(host["gateway"]) not in burst:
            # A host's own gateway must lie in the burst network (its next hop is on its link).
            out.append((f"{where}.gateway",
                        f"gateway {host['gateway']} is outside the burst network {burst}"))
    return out


def _is_host_of(address: str, net: ipaddress.IPv4Network) -> bool:
    """Whether ``address`` is a host address of ``net``: in it, and neither its network nor
    its broadcast address (a /31 or /32 has no such two)."""
    ip = ipaddress.IPv4Address(address)
    if ip not in net:
        return False
    return net.prefixlen >= 31 or ip not in (net.network_address, net.broadcast_address)


# Characters ssh or Ansible would read as more than a path: whitespace and control characters
# split or end an option; quotes and backslashes quote; ssh expands %-tokens and ${VARIABLES}.
_PATH_UNSAFE = set("\"'\\%$")
USER_RULE = r"[a-z_][a-z0-9_-]{0,31}"


def ssh_path_problem(value: str) -> str | None:
    """Why a key or known_hosts path may not go into an SSH option, or None when it may."""
    if not value.startswith("/"):
        return f"{value!r} is not an absolute path"
    bad = sorted({c for c in value if c.isspace() or not c.isprintable() or c in _PATH_UNSAFE})
    if bad:
        return (f"{value!r} holds {', '.join(map(repr, bad))}: a key or known_hosts path must "
                "be absolute, without whitespace, control characters, quotes, \\, % or $")
    return None


def _ssh_problems(data: dict[str, Any]) -> Problems:
    """Paths and users from the manifest become SSH options: nothing in them may be read
    as another option."""
    out: Problems = []
    for key in ("ssh", "private_ssh"):
        ssh = data.get(key)
        if ssh is None:
            continue
        if not re.fullmatch(USER_RULE, ssh["user"]):
            out.append((f"$.{key}.user", f"{ssh['user']!r} is not a user name ({USER_RULE})"))
        for field in ("private_key_file", "known_hosts_file"):
            problem = ssh_path_problem(ssh[field])
            if problem:
                out.append((f"$.{key}.{field}", problem))
    return out


def _in_its_directory(path: Path, data: dict[str, Any]) -> None:
    """A manifest lives in its event's directory (``events/EVENT/manifest.json``)."""
    if path.parent.name != data["event"]:
        raise InputError(str(path), "$.event",
                         f"event {data['event']!r} does not match the manifest's directory "
                         f"{path.parent.name!r} (a manifest lives in its event's directory)")


def read(path: Path) -> dict[str, Any]:
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(source, None, f"cannot read the manifest: {exc.strerror}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(source, exc.lineno, f"not valid JSON: {exc.msg}") from exc
    check(data, source)
    _in_its_directory(path, data)
    return data


def write(path: Path, data: dict[str, Any]) -> None:
    """Check and write atomically: a reader never sees half a manifest."""
    check(data, str(path))
    _in_its_directory(path, data)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".manifest-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
