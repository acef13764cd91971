"""The event spec: the one YAML file a person writes for a burst.

Checked completely before anything is touched; every problem is reported as
``file:line: problem`` and the CLI exits with status 2.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from . import catalog, yamlsrc
from .errors import InputError, InputErrors

PROVIDERS = ("local", "aws", "openstack")
FAULT_KINDS = ("memory_mb", "cpus", "disk_mb", "os_version", "wrong_address", "silent_console")

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["event", "team", "provider", "pools"],
    "properties": {
        "event": {"type": "string", "pattern": r"^[a-z][a-z0-9-]{0,23}$"},
        "team": {"type": "string", "pattern": r"^[a-z][a-z0-9-]{0,31}$"},
        "provider": {"enum": list(PROVIDERS)},
        "region": {"type": "string", "minLength": 1},
        # aws/openstack only: run the real stack programs on the emulated cloud (local hosts).
        "emulated": {"type": "boolean"},
        "window": {
            "type": "object",
            "additionalProperties": False,
            "required": ["start", "end"],
            "properties": {"start": {"type": "string"}, "end": {"type": "string"}},
        },
        "budget": {
            "type": "object",
            "additionalProperties": False,
            "required": ["amount"],
            "properties": {
                "amount": {"type": "number", "exclusiveMinimum": 0},
                "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
            },
        },
        "private_inventory": {"type": "string", "minLength": 1},
        "pools": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "count", "instance_type"],
                "properties": {
                    "name": {"type": "string", "pattern": r"^[a-z][a-z0-9]{0,11}$"},
                    "count": {"type": "integer", "minimum": 1, "maximum": 200},
                    "instance_type": {"type": "string"},
                    "release": {"type": "string", "minLength": 1},
                    "min_healthy_share": {"type": "number", "minimum": 0, "maximum": 1},
                },
            },
        },
        "faults": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["host"],
                "minProperties": 2,
                "properties": {
                    "host": {"type": "string"},
                    "memory_mb": {"type": "integer", "minimum": 64},
                    "cpus": {"type": "integer", "minimum": 1},
                    "disk_mb": {"type": "integer", "minimum": 16},
                    "os_version": {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"},
                    "wrong_address": {"const": True},
                    # emulated cloud only: the instance never prints its host keys
                    "silent_console": {"const": True},
                },
            },
        },
    },
}


@dataclass(frozen=True)
class Pool:
    name: str
    count: int
    instance_type: str
    release: str | None = None
    min_healthy_share: float = 1.0


@dataclass(frozen=True)
class Fault:
    """A deliberate hardware fault the local provider injects into one host."""

    host: str
    memory_mb: int | None = None
    cpus: int | None = None
    disk_mb: int | None = None
    os_version: str | None = None
    wrong_address: bool = False
    silent_console: bool = False


@dataclass(frozen=True)
class EventSpec:
    source: str
    event: str
    team: str
    provider: str
    pools: tuple[Pool, ...]
    region: str | None = None
    window_start: dt.datetime | None = None
    window_end: dt.datetime | None = None
    budget: float | None = None
    currency: str = "USD"
    private_inventory: Path | None = None
    faults: tuple[Fault, ...] = field(default_factory=tuple)
    emulated: bool = False

    def host_names(self) -> list[str]:
        return [host_name(self.event, p.name, i) for p in self.pools for i in range(1, p.count + 1)]


def host_name(event: str, pool: str, index: int) -> str:
    return f"{event}-{pool}-{index:02d}"


def _normalise(value: Any) -> Any:
    """YAML turns unquoted timestamps into datetimes; the schema speaks JSON."""
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def _parse_time(doc: yamlsrc.SourcedDocument, path: tuple[str, ...], text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise doc.error(path, f"{'.'.join(path)}: {text!r} is not an ISO 8601 time") from exc
    if moment.tzinfo is None:
        raise doc.error(path, f"{'.'.join(path)}: {text!r} needs a time zone (e.g. Z)")
    return moment


def _error_path(error: jsonschema.ValidationError) -> tuple[str | int, ...]:
    """Where the operator must look: an unknown key's own line, else the value's."""
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        if extra:
            return (*path, extra[0])
    return path


def _describe(error: jsonschema.ValidationError) -> str:
    where = ".".join(str(p) for p in error.absolute_path) or "the spec"
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return f"{where}: unknown key {', '.join(map(repr, extra))}"
    if error.validator == "required":
        return f"{where}: {error.message}"
    if error.validator == "pattern":
        return f"{where}: {error.instance!r} is not a valid name (expected {error.validator_value})"
    return f"{where}: {error.message}"


def parse(doc: yamlsrc.SourcedDocument) -> EventSpec:
    """Check a parsed spec document and build the EventSpec; all problems at once."""
    data = _normalise(doc.data)
    if not isinstance(data, dict):
        raise doc.error((), "an event spec must be a mapping (event, team, provider, pools)")
    validator = jsonschema.Draft202012Validator(SCHEMA)
    problems = [
        doc.error(_error_path(e), _describe(e))
        for e in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    ]
    if problems:
        raise InputErrors(sorted(problems, key=lambda e: int(e.where or 0)))

    provider = data["provider"]
    known = catalog.instance_types(provider)
    pools: list[Pool] = []
    seen: set[str] = set()
    for i, raw in enumerate(data["pools"]):
        if raw["name"] in seen:
            problems.append(doc.error(("pools", i, "name"), f"duplicate pool name {raw['name']!r}"))
        seen.add(raw["name"])
        if raw["instance_type"] not in known:
            problems.append(
                doc.error(
                    ("pools", i, "instance_type"),
                    f"unknown instance type {raw['instance_type']!r} for provider {provider!r}"
                    f" (known: {', '.join(sorted(known))})",
                )
            )
        pools.append(Pool(**raw))

    window_start = window_end = None
    if "window" in data:
        try:
            window_start = _parse_time(doc, ("window", "start"), data["window"]["start"])
            window_end = _parse_time(doc, ("window", "end"), data["window"]["end"])
        except InputError as exc:
            problems.append(exc)
        else:
            if window_end <= window_start:
                problems.append(doc.error(("window", "end"), "window.end must be after window.start"))

    faults: list[Fault] = []
    names = {host_name(data["event"], p.name, i) for p in pools for i in range(1, p.count + 1)}
    for i, raw in enumerate(data.get("faults", [])):
        if provider != "local" and not data.get("emulated"):
            problems.append(doc.error(("faults", i), "faults can only be injected by the local "
                                      "provider or on the emulated cloud (emulated: true)"))
        if raw.get("silent_console") and not data.get("emulated"):
            problems.append(doc.error(("faults", i, "silent_console"), "silent_console: only "
                                      "an emulated cloud instance has a console to keep silent"))
        if raw.get("wrong_address") and data.get("emulated"):
            problems.append(doc.error(("faults", i, "wrong_address"), "wrong_address: the "
                                      "emulated cloud assigns addresses itself; use it with "
                                      "the local provider"))
        if raw["host"] not in names:
            problems.append(
                doc.error(("faults", i, "host"), f"fault for {raw['host']!r}: no such host in the plan")
            )
        faults.append(Fault(**raw))
    fault_hosts = [f.host for f in faults]
    for i, f in enumerate(faults):
        if fault_hosts.index(f.host) != i:
            problems.append(doc.error(("faults", i, "host"), f"second fault entry for {f.host!r}"))

    if data.get("emulated") and provider == "local":
        problems.append(doc.error(("emulated",), "emulated: only the aws and openstack providers "
                                  "are emulated (the local provider is the local cloud itself)"))
    if data.get("emulated") and "private_inventory" not in data:
        problems.append(doc.error(("emulated",), "emulated: needs private_inventory (the local "
                                  "private cloud the emulated hosts join, e.g. ../inventory/local)"))

    private_inventory = None
    if "private_inventory" in data:
        private_inventory = (Path(doc.source).parent / data["private_inventory"]).resolve()
        if not private_inventory.exists():
            problems.append(
                doc.error(("private_inventory",), f"private_inventory: {private_inventory} does not exist")
            )
    if problems:
        raise InputErrors(sorted(problems, key=lambda e: int(e.where or 0)))

    budget = data.get("budget", {})
    return EventSpec(
        source=doc.source,
        event=data["event"],
        team=data["team"],
        provider=provider,
        pools=tuple(pools),
        region=data.get("region"),
        window_start=window_start,
        window_end=window_end,
        budget=budget.get("amount"),
        currency=budget.get("currency", "USD"),
        private_inventory=private_inventory,
        faults=tuple(faults),
        emulated=bool(data.get("emulated", False)),
    )


def load(path: Path) -> EventSpec:
    return parse(yamlsrc.load(path))


