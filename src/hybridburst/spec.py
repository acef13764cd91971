"""The event spec: the one YAML file a person writes for a burst.

Checked completely before anything is touched; every problem is reported as
``file:line: problem`` and the CLI exits with status 2.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from . import catalog, yamlsrc
from .app.release import check_release
from .errors import InputError, InputErrors

PROVIDERS = ("local", "aws", "openstack")
FAULT_KINDS = ("memory_mb", "cpus", "disk_mb", "os_version", "wrong_address", "silent_console")
# Names are anchored with \Z: "$" would let a trailing newline through ("d11\n").
EVENT_PATTERN = r"^[a-z][a-z0-9-]{0,23}\Z"
EVENT_RULE = "a-z, 0-9 and -, starting with a letter, at most 24 characters"
TEAM_PATTERN = r"^[a-z][a-z0-9-]{0,31}\Z"
POOL_PATTERN = r"^[a-z][a-z0-9]{0,11}\Z"
MAX_HOSTS_ENV = "HYBRIDBURST_MAX_HOSTS"
DEFAULT_MAX_HOSTS = 5000
# What the lifecycle needs of a private inventory: burst.yml and reclaim.yml assert gateway
# and lb; the local cloud and the storefront's backend URL need backend.
PRIVATE_GROUPS = ("gateway", "lb", "backend")

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["event", "team", "provider", "pools"],
    "properties": {
        "event": {"type": "string", "pattern": EVENT_PATTERN},
        "team": {"type": "string", "pattern": TEAM_PATTERN},
        "provider": {"enum": list(PROVIDERS)},
        "region": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z"},
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
                "currency": {"type": "string", "pattern": r"^[A-Z]{3}\Z"},
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
                    "name": {"type": "string", "pattern": POOL_PATTERN},
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
                    "host": {"type": "string", "pattern": r"^[a-z][a-z0-9-]{0,63}\Z"},
                    "memory_mb": {"type": "integer", "minimum": 64},
                    "cpus": {"type": "integer", "minimum": 1},
                    "disk_mb": {"type": "integer", "minimum": 16},
                    "os_version": {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?\Z"},
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


def _is_integer(_checker: Any, value: Any) -> bool:
    """A whole number written as one: not ``true`` (a bool), not ``4.0`` (a float)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(_checker: Any, value: Any) -> bool:
    """A finite number: not a bool, not ``.nan`` or ``.inf``."""
    return _is_integer(_checker, value) or (isinstance(value, float) and math.isfinite(value))


Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine_many(
        {"integer": _is_integer, "number": _is_number}),
)


def _describe(error: jsonschema.ValidationError) -> str:
    where = ".".join(str(p) for p in error.absolute_path) or "the spec"
    if (error.validator == "type" and isinstance(error.instance, float)
            and not math.isfinite(error.instance)):
        return f"{where}: {error.instance} is not a finite number"
    if error.validator == "type" and error.validator_value == "integer" and isinstance(
            error.instance, float | bool):
        return f"{where}: {error.instance!r} is not a whole number (write it without a point)"
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
    validator = Validator(SCHEMA)
    problems = [
        doc.error(_error_path(e), _describe(e))
        for e in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    ]
    if problems:
        raise InputErrors(sorted(problems, key=lambda e: int(e.where or 0)))

    # Before anything is built per host: a 100,000-host spec is refused at once.
    total = sum(p["count"] for p in data["pools"])
    limit = max_hosts()
    if total > limit:
        raise doc.error(("pools",), f"pools: {total} hosts, more than the limit of {limit} "
                        f"for one fleet (set {MAX_HOSTS_ENV} to change it)")

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
        if "release" in raw:  # checked now, not when the deploy reaches it
            try:
                check_release(raw["release"])
            except ValueError as exc:
                problems.append(doc.error(("pools", i, "release"), f"pools.{i}.release: {exc}"))
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
        try:
            problem = private_inventory_problem(private_inventory)
        except InputError as exc:  # the inventory's own file and line
            problems.append(exc)
        else:
            if problem:
                problems.append(doc.error(("private_inventory",), f"private_inventory: {problem}"))
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


def check_event_name(event: str, source: str = "EVENT") -> str:
    """``event`` if it is an event name (the spec's rule), else an InputError: an event name
    becomes a directory under the state directory, so it never carries a path."""
    if not isinstance(event, str) or not re.match(EVENT_PATTERN, event):
        raise InputError(source, None, f"{event!r} is not an event name ({EVENT_RULE})")
    return event


def max_hosts() -> int:
    """The fleet-wide host limit: ``$HYBRIDBURST_MAX_HOSTS``, else 5,000."""
    text = os.environ.get(MAX_HOSTS_ENV)
    if text is None or text == "":
        return DEFAULT_MAX_HOSTS
    if not re.fullmatch(r"[1-9][0-9]{0,8}", text):
        raise InputError(MAX_HOSTS_ENV, None, f"{text!r} is not a positive whole number of hosts")
    return int(text)


def _inventory_groups(doc: yamlsrc.SourcedDocument) -> dict[str, set[str]]:
    """Group -> hosts (its own and its children's) of a YAML inventory; shape errors located."""
    groups: dict[str, set[str]] = {}

    def walk(name: str, body: Any, path: tuple[str | int, ...]) -> set[str]:
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise doc.error(path, f"group {name!r} must be a mapping (hosts, children, vars)")
        hosts = body.get("hosts") or {}
        children = body.get("children") or {}
        if not isinstance(hosts, dict) or not isinstance(children, dict):
            raise doc.error(path, f"group {name!r}: hosts and children must be mappings")
        members = set(hosts)
        for child, child_body in children.items():
            members |= walk(child, child_body, (*path, "children", child))
        groups[name] = groups.get(name, set()) | members
        return members

    if not isinstance(doc.data, dict):
        raise doc.error((), "not an Ansible YAML inventory (expected a mapping of groups)")
    for name, body in doc.data.items():
        walk(name, body, (name,))
    return groups


def private_inventory_problem(path: Path) -> str | None:
    """Why ``path`` is not a private-cloud inventory the lifecycle can use, or None.

    It is a YAML inventory file, or a directory holding ``hosts.yml`` (or ``hosts.yaml``),
    with a host in each of the groups gateway, lb and backend. Problems inside the inventory
    file raise its own ``file:line`` InputError.
    """
    if not path.exists():
        return f"{path} does not exist"
    if path.is_dir():
        found = [f for f in (path / "hosts.yml", path / "hosts.yaml") if f.is_file()]
        if not found:
            return f"{path} holds no inventory (hosts.yml)"
        inventory = found[0]
    elif path.is_file():
        inventory = path
    else:
        return f"{path} is not an inventory file or directory"
    groups = _inventory_groups(yamlsrc.load(inventory))
    missing = [g for g in PRIVATE_GROUPS if not groups.get(g)]
    if missing:
        return (f"{inventory} is not an inventory with the groups the lifecycle needs: "
                f"no host in {', '.join(missing)}")
    return None


