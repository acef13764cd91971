"""The bad-input table (issue 14 §3): one row per malformed or hostile input, and its runner.

Each row names the files it writes (text with ``{inventory}``, ``{tmp}`` placeholders, or bytes),
the command, the exit status expected and a fragment the error must carry (with ``{spec}``,
``{tmp}``... placeholders: the file and line). ``tests/unit/test_bad_input.py`` runs every row;
this file also runs the table against any code tree and counts how each row ends:

    python tests/unit/bad_input_cases.py [--tree DIR]   # DIR: a checkout (default: this one)

clean      the expected status and the fragment (file:line and problem), no traceback
unclear    refused, but not with the expected status or without the location
traceback  an exception escaped (or "Traceback" on stderr)
accepted   exit 0: the bad input was taken
touched    refused, but the state directory changed
hang       more than the time or memory limit (bench mode only)

Nothing here imports hybridburst at module level, so the runner can pick the tree first.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

GOOD = """\
event: d11
team: shop
provider: local
private_inventory: {inventory}
pools:
  - name: web
    count: 2
    instance_type: local.medium
    release: "1.0.0"
"""
# Lines of GOOD: event 1, team 2, provider 3, private_inventory 4, pools 5, name 6, count 7,
# instance_type 8, release 9.


@dataclass(frozen=True)
class Case:
    id: str
    family: str
    argv: tuple[str, ...]  # "hybridburst" or "ansible-inventory" first
    expect: str  # fragment of stderr, with placeholders
    files: dict[str, str | bytes] = field(default_factory=dict)  # relative to the row's tmp dir
    status: int = 2
    env: dict[str, str] = field(default_factory=dict)
    subprocess: bool = False  # run `python -m hybridburst.cli` (stderr checked for tracebacks)


def spec(text: str | bytes) -> dict[str, str | bytes]:
    return {"spec.yml": text}


def sub(old: str, new: str) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new, 1)


def plan(id_: str, family: str, text: str | bytes, expect: str, **kw: object) -> Case:
    return Case(id_, family, ("hybridburst", "plan", "{tmp}/spec.yml"), expect, spec(text),
                **kw)  # type: ignore[arg-type]


def up(id_: str, family: str, text: str | bytes, expect: str) -> Case:
    return Case(id_, family, ("hybridburst", "up", "{tmp}/spec.yml"), expect, spec(text))


JOURNAL = "".join(
    json.dumps({"time": f"2026-11-11T1{i}:00:00+00:00", "host": "d11-web-01", "state": s,
                "previous": p, "reason": "", "data": d}) + "\n"
    for i, (s, p, d) in enumerate([
        ("requested", None, {}),
        ("launched", "requested", {"instance_type": "local.medium", "provider": "local",
                                   "team": "shop", "pool": "web"}),
        ("destroyed", "launched", {}),
    ])
)
EVENT_FILES: dict[str, str | bytes] = {"state/events/d11/journal.jsonl": JOURNAL}


def settle_spec(id_: str, family: str, text: str | bytes, expect: str) -> Case:
    return Case(id_, family, ("hybridburst", "settle", "d11", "--spec", "{tmp}/spec.yml",
                              "--as-of", "2026-11-12T00:00:00Z"), expect,
                {**EVENT_FILES, "spec.yml": text})


def settle_rates(id_: str, family: str, text: str | bytes, expect: str) -> Case:
    return Case(id_, family, ("hybridburst", "settle", "d11", "--as-of", "2026-11-12T00:00:00Z"),
                expect, {**EVENT_FILES, "prices/rates.yml": text})


def inventory_dir(hosts: str | bytes, name: str = "inv") -> dict[str, str | bytes]:
    return {f"{name}/hosts.yml": hosts}


def with_inventory(id_: str, family: str, hosts: str | bytes, expect: str) -> Case:
    return Case(id_, family, ("hybridburst", "plan", "{tmp}/spec.yml"), expect,
                {**inventory_dir(hosts), "spec.yml": sub("{inventory}", "{tmp}/inv")})


def bomb(levels: int = 9, fan: int = 9, indent: str = "") -> str:
    lines = [f'{indent}a0: &a0 ["lol"]']
    for i in range(1, levels + 1):
        refs = ", ".join([f"*a{i - 1}"] * fan)
        lines.append(f"{indent}a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


def deep_flow(n: int = 5000) -> str:
    return "[" * n + "]" * n


def deep_block(n: int = 5000) -> str:
    return "".join(f"{' ' * i}k{i}:\n" for i in range(n)) + " " * n + "x\n"


LATIN1 = "team: caf\u00e9\n".encode("latin-1")
GOOD_B = GOOD.encode()
MANIFEST_HOST = {
    "name": "d11-web-01", "address": "10.201.0.11", "pool": "web",
    "instance_type": "local.medium", "release": "1.0.0",
    "launched_at": "2026-11-10T20:00:00+00:00",
    "expected": {"cpus": 2, "memory_mb": 1024, "disk_mb": 2048, "data_mount": "/srv/data",
                 "os": {"distribution": "Debian", "major_version": "12"}, "interface": "eth0",
                 "address": "10.201.0.11"},
    "tags": {"hybridburst:event": "d11"},
}
MANIFEST = json.dumps({
    "version": 1, "event": "d11", "team": "shop", "provider": "local",
    "written_at": "2026-11-10T20:00:00+00:00",
    "network": {"private_cidrs": ["10.200.0.0/24"], "burst_cidr": "10.201.0.0/24",
                "gateway": {"private_address": "10.200.0.2", "burst_address": "10.201.0.2"}},
    "ssh": {"user": "admin", "private_key_file": "/k", "known_hosts_file": "/kh"},
    "hosts": [MANIFEST_HOST],
}, indent=1)


# Rows run ``ansible-inventory`` for real (the repository's ansible.cfg, unparsed_is_failed);
# the others call the plugin's parse in-process, as ansible-inventory would.
FLEET_PROCESS = ("fleet-inventory-etc", "fleet-manifest-garbage", "fleet-unknown-option")


def fleet(id_: str, family: str, expect: str, files: dict[str, str | bytes],
          extra: str = "") -> Case:
    source = ("plugin: hybridburst.platform.fleet\nmanifest: {tmp}/d11/manifest.json\n" + extra)
    return Case(id_, family, ("ansible-inventory", "-i", "{tmp}/d11.fleet.yml", "--list"), expect,
                {"d11.fleet.yml": source, "d11/manifest.json": MANIFEST, **files}, status=1,
                subprocess=id_ in FLEET_PROCESS)


def event_arg(command: str, event: str, expect: str = "not an event name") -> Case:
    extra = ("--as-of", "2026-11-12T00:00:00Z") if command == "settle" else ()
    return Case(f"{command}-event-{event!r}", "event argument", ("hybridburst", command, event,
                                                                 *extra), expect,
                {**EVENT_FILES, "state/events/x/event.json": '{"event": "x", "provider": "local"}'})


S = "{spec}"
CASES: list[Case] = [
    # ---- non-UTF-8
    plan("latin1-value", "non-UTF-8", GOOD_B.replace(b"team: shop\n", LATIN1), f"{S}:2: not UTF-8"),
    plan("latin1-comment", "non-UTF-8", GOOD_B + b"# r\xe9sum\xe9\n", f"{S}:10: not UTF-8"),
    plan("utf16", "non-UTF-8", GOOD.encode("utf-16"), f"{S}:1: not UTF-8"),
    plan("control-char", "non-UTF-8", GOOD.replace("shop", "sh\x07op"), f"{S}:2: not valid YAML"),
    up("up-latin1", "non-UTF-8", GOOD_B.replace(b"team: shop\n", LATIN1), f"{S}:2: not UTF-8"),
    settle_spec("settle-spec-latin1", "non-UTF-8", GOOD_B.replace(b"team: shop\n", LATIN1),
                f"{S}:2: not UTF-8"),
    settle_rates("settle-rates-latin1", "non-UTF-8", b"local:\n  currency: \xa3\n",
                 "{tmp}/prices/rates.yml:2: not UTF-8"),
    with_inventory("inventory-latin1", "non-UTF-8", b"all:\n  children:\n    caf\xe9: {}\n",
                   "{tmp}/inv/hosts.yml:3: not UTF-8"),
    fleet("fleet-manifest-latin1", "non-UTF-8", "{tmp}/d11/manifest.json",
          {"d11/manifest.json": MANIFEST.encode().replace(b'"shop"', b'"sh\xf6p"')}),
    # ---- counts
    plan("count-float", "count", sub("count: 2", "count: 4.0"), f"{S}:7: pools.0.count"),
    plan("count-bool", "count", sub("count: 2", "count: true"), f"{S}:7: pools.0.count"),
    plan("count-negative", "count", sub("count: 2", "count: -3"), f"{S}:7: pools.0.count"),
    plan("count-zero", "count", sub("count: 2", "count: 0"), f"{S}:7: pools.0.count"),
    plan("count-huge", "count", sub("count: 2", "count: 100000000000000000000000"),
         f"{S}:7: pools.0.count"),
    plan("count-exp", "count", sub("count: 2", "count: 1e3"), f"{S}:7: pools.0.count"),
    plan("count-string", "count", sub("count: 2", 'count: "2"'), f"{S}:7: pools.0.count"),
    plan("count-null", "count", sub("count: 2", "count:"), f"{S}:7: pools.0.count"),
    plan("fault-memory-float", "count",
         GOOD + "faults:\n  - host: d11-web-01\n    memory_mb: 512.0\n",
         f"{S}:12: faults.0.memory_mb"),
    plan("fault-cpus-bool", "count", GOOD + "faults:\n  - host: d11-web-01\n    cpus: true\n",
         f"{S}:12: faults.0.cpus"),
    # ---- NaN and infinities
    plan("budget-nan", "NaN/inf", GOOD + "budget:\n  amount: .nan\n", f"{S}:11: budget.amount"),
    plan("budget-inf", "NaN/inf", GOOD + "budget:\n  amount: .inf\n", f"{S}:11: budget.amount"),
    plan("budget-minus-inf", "NaN/inf", GOOD + "budget:\n  amount: -.Inf\n",
         f"{S}:11: budget.amount"),
    plan("budget-bool", "NaN/inf", GOOD + "budget:\n  amount: true\n", f"{S}:11: budget.amount"),
    plan("share-nan", "NaN/inf", GOOD + "    min_healthy_share: .NaN\n",
         f"{S}:10: pools.0.min_healthy_share"),
    plan("share-inf", "NaN/inf", GOOD + "    min_healthy_share: .inf\n",
         f"{S}:10: pools.0.min_healthy_share"),
    plan("share-bool", "NaN/inf", GOOD + "    min_healthy_share: true\n",
         f"{S}:10: pools.0.min_healthy_share"),
    settle_spec("settle-spec-budget-nan", "NaN/inf", GOOD + "budget:\n  amount: .nan\n",
                f"{S}:11: budget.amount"),
    settle_rates("settle-rates-nan", "NaN/inf",
                 "local:\n  instance_types:\n    local.medium: .nan\n",
                 "{tmp}/prices/rates.yml:3: local.instance_types.local.medium"),
    settle_rates("settle-rates-billing-float", "NaN/inf",
                 "local:\n  billing:\n    minimum_seconds: 60.5\n",
                 "{tmp}/prices/rates.yml:3: local.billing.minimum_seconds"),
    settle_rates("settle-rates-billing-bool", "NaN/inf",
                 "local:\n  billing:\n    increment_seconds: true\n",
                 "{tmp}/prices/rates.yml:3: local.billing.increment_seconds"),
    # ---- aliases
    plan("billion-laughs", "alias", GOOD + bomb(), f"{S}:11: alias"),
    plan("billion-laughs-nested", "alias", GOOD + "x:\n" + bomb(indent="  "), f"{S}:12: alias"),
    plan("alias-small", "alias", sub("team: shop", "team: &t shop\nregion: *t"), f"{S}:3: alias"),
    plan("merge-key", "alias",
         sub("  - name: web", "  - &p\n    name: web") + "  - <<: *p\n    name: api\n",
         f"{S}:11: alias"),
    up("up-billion-laughs", "alias", GOOD + bomb(), f"{S}:11: alias"),
    settle_rates("settle-rates-bomb", "alias", bomb(), "{tmp}/prices/rates.yml:2: alias"),
    with_inventory("inventory-bomb", "alias", "all:\n  vars:\n" + bomb(indent="    "),
                   "{tmp}/inv/hosts.yml:4: alias"),
    settle_spec("settle-spec-bomb", "alias", GOOD + bomb(), f"{S}:11: alias"),
    # ---- keys
    plan("key-sequence", "keys", GOOD + "? [a, b]\n: 1\n", f"{S}:10: "),
    plan("key-mapping", "keys", GOOD + "? {a: 1}\n: 1\n", f"{S}:10: "),
    plan("key-int", "keys", GOOD + "1: x\n", f"{S}:10: "),
    plan("key-null", "keys", GOOD + "null: x\n", f"{S}:10: "),
    plan("key-bool", "keys", GOOD + "true: x\n", f"{S}:10: "),
    plan("key-date", "keys", GOOD + "2026-11-11: x\n", f"{S}:10: "),
    plan("key-in-pool", "keys", GOOD + "    ? [x]\n    : 1\n", f"{S}:10: "),
    up("up-key-sequence", "keys", GOOD + "? [a, b]\n: 1\n", f"{S}:10: "),
    settle_rates("settle-rates-key", "keys", "? [local]\n: 1\n", "{tmp}/prices/rates.yml:1: "),
    with_inventory("inventory-key", "keys", "all:\n  children:\n    ? [a]\n    : {}\n",
                   "{tmp}/inv/hosts.yml:3: "),
    plan("huge-file", "nesting", GOOD + "# " + "x" * (2 * 1024 * 1024) + "\n",
         f"{S}: larger than 1024 KiB"),
    # ---- nesting
    plan("deep-flow", "nesting", GOOD + "x: " + deep_flow() + "\n", f"{S}:10: nest"),
    plan("deep-flow-map", "nesting", GOOD + "x: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n",
         f"{S}:10: nest"),
    plan("deep-block", "nesting", GOOD + deep_block(), f"{S}:"),
    up("up-deep-flow", "nesting", GOOD + "x: " + deep_flow() + "\n", f"{S}:10: nest"),
    settle_rates("settle-rates-deep", "nesting", "local: " + deep_flow() + "\n",
                 "{tmp}/prices/rates.yml:1: nest"),
    with_inventory("inventory-deep", "nesting", "all: " + deep_flow() + "\n",
                   "{tmp}/inv/hosts.yml:1: nest"),
    Case("deep-subprocess", "nesting", ("hybridburst", "plan", "{tmp}/spec.yml"), f"{S}:10: nest",
         spec(GOOD + "x: " + deep_flow() + "\n"), subprocess=True),
    # ---- trailing newlines
    plan("event-newline", "newline", sub("event: d11", 'event: "d11\\n"'), f"{S}:1: event"),
    plan("team-newline", "newline", sub("team: shop", 'team: "shop\\n"'), f"{S}:2: team"),
    plan("pool-newline", "newline", sub("name: web", 'name: "web\\n"'), f"{S}:6: pools.0.name"),
    plan("currency-newline", "newline", GOOD + 'budget:\n  amount: 5\n  currency: "USD\\n"\n',
         f"{S}:12: budget.currency"),
    plan("os-version-newline", "newline",
         GOOD + 'faults:\n  - host: d11-web-01\n    os_version: "12\\n"\n',
         f"{S}:12: faults.0.os_version"),
    plan("release-newline", "newline", sub('release: "1.0.0"', 'release: "1.0.0\\n"'),
         f"{S}:9: pools.0.release"),
    plan("region-newline", "newline", sub("provider: local", 'provider: local\nregion: "x\\n"'),
         f"{S}:4: region"),
    Case("event-newline-subprocess", "newline", ("hybridburst", "plan", "{tmp}/spec.yml"),
         f"{S}:1: event", spec(sub("event: d11", 'event: "d11\\n"')), subprocess=True),
    # ---- host limit
    plan("hosts-100000", "host limit",
         GOOD.split("pools:")[0] + "pools:\n" + "".join(
             f"  - {{name: p{i}, count: 200, instance_type: local.small}}\n" for i in range(500)),
         f"{S}:5: pools: 100000 hosts"),
    plan("hosts-5200", "host limit",
         GOOD.split("pools:")[0] + "pools:\n" + "".join(
             f"  - {{name: p{i}, count: 200, instance_type: local.small}}\n" for i in range(26)),
         f"{S}:5: pools: 5200 hosts"),
    plan("hosts-env-limit", "host limit", sub("count: 2", "count: 20"), f"{S}:5: pools: 20 hosts",
         env={"HYBRIDBURST_MAX_HOSTS": "10"}),
    plan("hosts-env-garbage", "host limit", GOOD, "HYBRIDBURST_MAX_HOSTS",
         env={"HYBRIDBURST_MAX_HOSTS": "lots"}),
    plan("hosts-env-zero", "host limit", GOOD, "HYBRIDBURST_MAX_HOSTS",
         env={"HYBRIDBURST_MAX_HOSTS": "0"}),
    plan("hosts-env-newline", "host limit", GOOD, "HYBRIDBURST_MAX_HOSTS",
         env={"HYBRIDBURST_MAX_HOSTS": "10\n0"}),
    # ---- private_inventory
    plan("inventory-etc", "private_inventory", sub("{inventory}", "/etc"),
         f"{S}:4: private_inventory"),
    Case("inventory-empty-dir", "private_inventory", ("hybridburst", "plan", "{tmp}/spec.yml"),
         f"{S}:4: private_inventory", {"spec.yml": sub("{inventory}", "{tmp}/empty"),
                                       "empty/.keep": ""}),
    Case("inventory-not-one", "private_inventory", ("hybridburst", "plan", "{tmp}/spec.yml"),
         "{tmp}/notes.txt:1: not an Ansible YAML inventory",
         {"spec.yml": sub("{inventory}", "{tmp}/notes.txt"),
                                       "notes.txt": "hello\n"}),
    plan("inventory-dev-null", "private_inventory", sub("{inventory}", "/dev/null"),
         f"{S}:4: private_inventory"),
    plan("inventory-missing", "private_inventory", sub("{inventory}", "/nonexistent/inv"),
         f"{S}:4: private_inventory"),
    plan("inventory-empty-string", "private_inventory", sub("{inventory}", '""'),
         f"{S}:4: private_inventory"),
    with_inventory("inventory-no-lb", "private_inventory",
                   "all:\n  children:\n    gateway:\n      hosts:\n        g: {}\n",
                   f"{S}:4: private_inventory"),
    with_inventory("inventory-list", "private_inventory", "- a\n- b\n",
                   "{tmp}/inv/hosts.yml:1:"),
    with_inventory("inventory-bad-yaml", "private_inventory", "all: [\n",
                   "{tmp}/inv/hosts.yml:2: not valid YAML"),
    fleet("fleet-inventory-etc", "private_inventory", "/etc", {}, "private_inventory: /etc\n"),
    fleet("fleet-inventory-missing", "private_inventory", "/nonexistent/inv", {},
          "private_inventory: /nonexistent/inv\n"),
    fleet("fleet-inventory-empty-dir", "private_inventory", "{tmp}/empty",
          {"empty/.keep": ""}, "private_inventory: {tmp}/empty\n"),
    fleet("fleet-inventory-group-vars", "private_inventory", "{tmp}/inv/group_vars/lb.yml:2: not valid YAML",
          {"inv/hosts.yml": "all:\n  children:\n    gateway: {hosts: {g: {}}}\n"
                            "    lb: {hosts: {l: {}}}\n    backend: {hosts: {b: {}}}\n",
           "inv/group_vars/lb.yml": "x: [\n"}, "private_inventory: {tmp}/inv\n"),
    # ---- release
    plan("release-path", "release", sub('"1.0.0"', '"../../etc/passwd"'), f"{S}:9: pools.0.release"),
    plan("release-shell", "release", sub('"1.0.0"', '"1.0; rm -rf /"'), f"{S}:9: pools.0.release"),
    plan("release-dash", "release", sub('"1.0.0"', '"-rc1"'), f"{S}:9: pools.0.release"),
    plan("release-float", "release", sub('"1.0.0"', "1.0"), f"{S}:9: pools.0.release"),
    plan("release-empty", "release", sub('"1.0.0"', '""'), f"{S}:9: pools.0.release"),
    plan("release-long", "release", sub('"1.0.0"', "1" * 80), f"{S}:9: pools.0.release"),
    # ---- the EVENT argument
    *(event_arg(c, e) for c in ("status", "settle", "deprovision")
      for e in ("../x", "/etc", "a/b", "x\n", "")),
    event_arg("status", ".."), event_arg("status", "D11"), event_arg("status", "d" * 40),
    event_arg("deprovision", "../events/x"),
    Case("status-event-subprocess", "event argument", ("hybridburst", "status", "../x"),
         "not an event name", subprocess=True),
    Case("status-event-json-garbage", "hostile", ("hybridburst", "status", "d11"),
         "events/d11/event.json:1: not valid JSON",
         {**EVENT_FILES, "state/events/d11/event.json": "{not json"}),
    Case("status-event-json-list", "hostile", ("hybridburst", "status", "d11"),
         "events/d11/event.json:1: not an event record",
         {**EVENT_FILES, "state/events/d11/event.json": "[1, 2]"}),
    # ---- inventory plugin: broken sources
    Case("fleet-manifest-missing", "inventory plugin",
         ("ansible-inventory", "-i", "{tmp}/d11.fleet.yml", "--list"), "{tmp}/none.json",
         {"d11.fleet.yml": "plugin: hybridburst.platform.fleet\nmanifest: {tmp}/none.json\n"},
         status=1, subprocess=True),
    fleet("fleet-manifest-garbage", "inventory plugin", "{tmp}/d11/manifest.json",
          {"d11/manifest.json": "{not json"}),
    fleet("fleet-manifest-schema", "inventory plugin", "{tmp}/d11/manifest.json",
          {"d11/manifest.json": MANIFEST.replace('"version": 1', '"version": 7')}),
    fleet("fleet-verdicts-garbage", "inventory plugin", "{tmp}/v.json", {"v.json": "[1, 2"},
          "verdicts: {tmp}/v.json\n"),
    fleet("fleet-verdicts-latin1", "inventory plugin", "{tmp}/v.json",
          {"v.json": b'{"hosts": [{"host": "\xe9"}]}'}, "verdicts: {tmp}/v.json\n"),
    fleet("fleet-unknown-option", "inventory plugin", "d11.fleet.yml: unknown option 'colour'",
          {}, "colour: blue\n"),
    # ---- hostile names and paths in general
    plan("team-path", "hostile", sub("team: shop", "team: ../../x"), f"{S}:2: team"),
    plan("region-path", "hostile", sub("provider: local", "provider: local\nregion: ../../etc"),
         f"{S}:4: region"),
    Case("spec-is-dir", "hostile", ("hybridburst", "plan", "/etc"), "/etc: cannot read"),
    Case("spec-missing", "hostile", ("hybridburst", "plan", "{tmp}/none.yml"),
         "{tmp}/none.yml: cannot read"),
    plan("spec-list", "hostile", "- event: d11\n", f"{S}:1: "),
    plan("spec-empty", "hostile", "", f"{S}:1: "),
    plan("spec-two-docs", "hostile", GOOD + "---\n" + GOOD, f"{S}:10: "),
    plan("python-tag", "hostile", sub("team: shop", "team: !!python/object:os.system ls"),
         f"{S}:2: "),
    plan("binary-tag", "hostile", sub("team: shop", "team: !!binary c2hvcA=="), f"{S}:2: team"),
    plan("set-tag", "hostile", sub("team: shop", "team: !!set {a, b}"), f"{S}:2: team"),
    plan("fault-host-newline", "hostile",
         GOOD + 'faults:\n  - host: "d11-web-01\\n"\n    cpus: 1\n', f"{S}:11: "),
]


def fill(text: str, tmp: Path) -> str:
    return (text.replace("{inventory}", str(REPO / "inventory" / "local"))
            .replace("{tmp}", str(tmp)).replace("{spec}", str(tmp / "spec.yml")))


def prepare(case: Case, tmp: Path) -> tuple[list[str], str]:
    """Write the row's files under ``tmp``; the argv and the expected fragment, filled in."""
    (tmp / "state").mkdir(parents=True, exist_ok=True)
    (tmp / "prices").mkdir(exist_ok=True)
    for name, content in case.files.items():
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(fill(content, tmp), encoding="utf-8")
    return [fill(a, tmp) for a in case.argv], fill(case.expect, tmp)


def snapshot(root: Path) -> dict[str, str]:
    """Every path under ``root`` and a digest of each file: what "nothing touched" compares."""
    seen: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        seen[rel] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return seen


@dataclass(frozen=True)
class Outcome:
    status: int | None  # None: an exception escaped
    stderr: str
    verdict: str


def classify(case: Case, status: int | None, stderr: str, expect: str, touched: bool) -> str:
    if status is None or "Traceback (most recent call last)" in stderr:
        return "traceback"
    if status == 0:
        return "accepted"
    if touched:
        return "touched"
    if status == case.status and expect in stderr:
        return "clean"
    return "unclear"


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def row_env(case: Case, tmp: Path) -> dict[str, str]:
    return {"HYBRIDBURST_STATE_DIR": str(tmp / "state"),
            "HYBRIDBURST_PRICES_DIR": str(tmp / "prices"), **case.env}


def collections_for(tree: Path, tmp: Path) -> str:
    """A collections path whose hybridburst.platform is ``tree`` (then the repo's others)."""
    link = tmp / "coll" / "ansible_collections" / "hybridburst" / "platform"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.exists():
        link.symlink_to(tree)
    return f"{tmp / 'coll'}:{REPO / '.collections'}"


def run_subprocess(case: Case, tmp: Path, tree: Path) -> Outcome:
    argv, expect = prepare(case, tmp)
    env = {**os.environ, **row_env(case, tmp), "PYTHONPATH": str(tree / "src"),
           "ANSIBLE_CONFIG": str(tree / "ansible.cfg"),
           "ANSIBLE_COLLECTIONS_PATH": collections_for(tree, tmp),
           "ANSIBLE_LOCAL_TEMP": str(tmp / "ansible-tmp"), "NO_COLOR": "1"}
    binary = Path(sys.executable).parent
    if argv[0] == "ansible-inventory":
        cmd = [str(binary / "ansible-inventory"), *argv[1:]]
    else:
        cmd = [sys.executable, "-m", "hybridburst.cli", *argv[1:]]
    before = snapshot(tmp / "state")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp, timeout=120,
                          check=False)
    touched = snapshot(tmp / "state") != before
    stderr = " ".join(proc.stderr.split()) if argv[0] == "ansible-inventory" else proc.stderr
    if argv[0] == "ansible-inventory":
        expect = " ".join(expect.split())
    return Outcome(proc.returncode, proc.stderr,
                   classify(case, proc.returncode, stderr, expect, touched))


def run_in_process(case: Case, tmp: Path) -> Outcome:
    """Through ``hybridburst.cli.main``, as the CLI would: argparse exits count as statuses."""
    from hybridburst import cli

    argv, expect = prepare(case, tmp)
    before = snapshot(tmp / "state")
    err = io.StringIO()
    status: int | None
    with environment(row_env(case, tmp)), contextlib.redirect_stderr(err), \
            contextlib.redirect_stdout(io.StringIO()):
        _clear_caches()
        try:
            status = cli.main(argv[1:])
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            traceback.print_exc(file=err)
            status = None
        finally:
            _clear_caches()
    touched = snapshot(tmp / "state") != before
    return Outcome(status, err.getvalue(), classify(case, status, err.getvalue(), expect, touched))


def _clear_caches() -> None:
    with contextlib.suppress(ImportError, AttributeError):
        from hybridburst.costs import prices

        prices.clear_cache()


_PLUGIN_LOADER: list[str] = []


def run_plugin_in_process(case: Case, tmp: Path, tree: Path) -> Outcome:
    """The fleet plugin's ``parse`` as ``ansible-inventory`` calls it, without a new process:
    any exception of the plugin is a parse failure (Ansible prints it as a warning, no
    traceback); it ends the run with status 1 when the tree's ansible.cfg sets
    ``unparsed_is_failed``, else ansible-inventory goes on with an empty inventory (0)."""
    import configparser

    from ansible.inventory.data import InventoryData
    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins.loader import init_plugin_loader, inventory_loader

    if not _PLUGIN_LOADER:
        init_plugin_loader(collections_for(tree, tmp).split(":"))
        _PLUGIN_LOADER.append(str(tree))
    argv, expect = prepare(case, tmp)
    config = configparser.ConfigParser(interpolation=None)
    config.read(tree / "ansible.cfg")
    fatal = config.getboolean("inventory", "unparsed_is_failed", fallback=False)
    plugin = inventory_loader.get("hybridburst.platform.fleet")
    before = snapshot(tmp / "state")
    try:
        plugin.parse(InventoryData(), DataLoader(), argv[argv.index("-i") + 1], cache=False)
        status, stderr = 0, ""
    except Exception as exc:  # ansible-inventory reports any of them the same way
        status, stderr = (1 if fatal else 0), f"[WARNING]: Failed to parse: {exc}"
    touched = snapshot(tmp / "state") != before
    return Outcome(status, stderr, classify(case, status, stderr, expect, touched))


def run(case: Case, tmp: Path, tree: Path = REPO) -> Outcome:
    """A row: as a process when it says so, else in this process (fast)."""
    if case.subprocess:
        return run_subprocess(case, tmp, tree)
    if case.argv[0] == "ansible-inventory":
        return run_plugin_in_process(case, tmp, tree)
    return run_in_process(case, tmp)


# ------------------------------------------------------------------ bench: one tree, all rows

VERDICTS = ("clean", "unclear", "traceback", "accepted", "touched", "hang")


def _forked(case: Case, tmp: Path, tree: Path, limit_s: int) -> Outcome:
    """One row in a forked child with a memory cap and a time limit (old code may explode)."""
    import resource
    import signal

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read)
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
        try:
            out = run(case, tmp, tree)
            payload = json.dumps([out.status, out.stderr[-2000:], out.verdict])
        except MemoryError:
            payload = json.dumps([None, "MemoryError", "hang"])
        except BaseException as exc:
            payload = json.dumps([None, repr(exc), "traceback"])
        os.write(write, payload.encode())
        os._exit(0)
    os.close(write)
    chunks: list[bytes] = []
    signal.signal(signal.SIGALRM, lambda *_: os.kill(pid, signal.SIGKILL))
    signal.alarm(limit_s)
    try:
        while chunk := os.read(read, 65536):
            chunks.append(chunk)
    finally:
        signal.alarm(0)
        os.close(read)
        os.waitpid(pid, 0)
    if not chunks:
        return Outcome(None, f"killed after {limit_s} s or out of memory", "hang")
    status, stderr, verdict = json.loads(b"".join(chunks))
    return Outcome(status, stderr, verdict)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import time

    parser = argparse.ArgumentParser(description="run the bad-input table against a code tree")
    parser.add_argument("--tree", type=Path, default=REPO)
    parser.add_argument("--limit", type=int, default=20, help="seconds per row")
    parser.add_argument("--verbose", "-v", action="store_true")
    args = parser.parse_args(argv)
    tree = args.tree.resolve()
    sys.path.insert(0, str(tree / "src"))
    import hybridburst

    print(f"code: {Path(hybridburst.__file__).parent}", file=sys.stderr)
    counts = dict.fromkeys(VERDICTS, 0)
    started = time.monotonic()
    for case in CASES:
        with tempfile.TemporaryDirectory(prefix="hb-bad-") as tmp:
            out = _forked(case, Path(tmp), tree, args.limit)
        counts[out.verdict] += 1
        if args.verbose:
            last = out.stderr.strip().splitlines()[-1:] or [""]
            print(f"{out.verdict:9} {case.family:17} {case.id:32} {out.status} {last[0][:110]}")
    print(" ".join(f"{k}={v}" for k, v in counts.items()), f"total={len(CASES)}",
          f"({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
