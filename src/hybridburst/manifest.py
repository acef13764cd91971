"""The fleet manifest: the only contract between provisioning and configuration.

Versioned JSON written by every provider, read by the inventory plugin and the CLI.
The schema below is the documentation of the format (see README, "Fleet manifest");
every read checks it and names the JSON path of the first problems.
"""

from __future__ import annotations

import ipaddress
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import jsonschema

from .errors import InputError, InputErrors

VERSION = 1

_ADDRESS = {"type": "string", "format": "ipv4"}
_CIDR = {"type": "string", "pattern": r"^\d{1,3}(\.\d{1,3}){3}/\d{1,2}$"}

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
                    "name": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9-]*$"},
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


def _json_path(path: Any) -> str:
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def check(data: Any, source: str) -> dict[str, Any]:
    """Check a manifest document; raise InputErrors naming each JSON path that is wrong."""
    errors = sorted(_VALIDATOR.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        raise InputErrors(
            [InputError(source, _json_path(e.absolute_path), e.message) for e in errors[:20]]
        )
    names = [h["name"] for h in data["hosts"]]
    addresses = [h["address"] for h in data["hosts"]]
    problems = []
    for i, host in enumerate(data["hosts"]):
        if names.index(host["name"]) != i:
            problems.append(InputError(source, f"$.hosts[{i}].name", f"duplicate host {host['name']!r}"))
        if addresses.index(host["address"]) != i:
            problems.append(
                InputError(source, f"$.hosts[{i}].address", f"duplicate address {host['address']}")
            )
    problems += _gateway_problems(data, source)
    if problems:
        raise InputErrors(problems)
    return data


def _gateway_problems(data: dict[str, Any], source: str) -> list[InputError]:
    """A host's own gateway must lie in the burst network (its next hop is on its link)."""
    if not any("gateway" in host for host in data["hosts"]):
        return []
    try:
        burst = ipaddress.IPv4Network(data["network"]["burst_cidr"], strict=False)
    except ValueError as exc:
        return [InputError(source, "$.network.burst_cidr", f"not an IPv4 network: {exc}")]
    return [
        InputError(source, f"$.hosts[{i}].gateway",
                   f"gateway {host['gateway']} is outside the burst network {burst}")
        for i, host in enumerate(data["hosts"])
        if "gateway" in host and ipaddress.ip_address(host["gateway"]) not in burst
    ]


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
    return check(data, source)


def write(path: Path, data: dict[str, Any]) -> None:
    """Check and write atomically: a reader never sees half a manifest."""
    check(data, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".manifest-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
