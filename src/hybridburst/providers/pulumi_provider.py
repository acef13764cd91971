"""What the aws and openstack providers share: the burst stack, the private-side peering
stack, the journal and the fleet manifest.

provision: burst stack (select or create, config from the plan, refresh, up, outputs), then the
private cloud's peering stack (its tunnels point at the burst stack's outputs), then the
journal (LAUNCHED with pool, instance type, team and event) and the fleet manifest.
deprovision: refused while any host of the event may still hold access to the private
network (access is revoked before destroy); otherwise peering stack, then burst stack
(refresh, destroy), then DESTROYED in the journal.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import string
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .. import manifest, sshkeys
from ..errors import HybridburstError
from ..infra import fleet
from ..infra.programs import PROJECTS
from ..infra.tags import format_expiry
from ..journal import Journal, now
from ..plan import Plan
from ..states import HOLDS_ACCESS, HostState
from ..workspace import EventDir
from .consoles import Consoles, harvest_host_keys
from .pulumi_driver import CommandFactory, ConfigInput, StackDriver, default_command, stacks_dir

#: How long after the event window the reaper leaves the capacity alone.
EXPIRY_GRACE = dt.timedelta(hours=12)
#: Without a window in the spec: how long the capacity may live.
DEFAULT_LIFETIME = dt.timedelta(hours=72)
#: How long a new instance may take to print its host keys on the console (boot, cloud-init).
HOST_KEY_TIMEOUT = 600.0
#: CLI output lines worth the operator's display (the rest goes to the event's pulumi.log).
_STEP = re.compile(r"\b(creating|created|updating|updated|deleting|deleted|replacing|"
                   r"replaced|importing|imported|error|Resources:|Duration:)")


def host_key_timeout_from_env(default: float = HOST_KEY_TIMEOUT) -> float:
    """``$HYBRIDBURST_HOST_KEY_TIMEOUT`` (seconds) when set, else ``default``."""
    raw = os.environ.get("HYBRIDBURST_HOST_KEY_TIMEOUT")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise HybridburstError(f"HYBRIDBURST_HOST_KEY_TIMEOUT: {raw!r} is not a number of "
                               "seconds") from None
    if not 0 < value <= 3600:
        raise HybridburstError("HYBRIDBURST_HOST_KEY_TIMEOUT: must be within 1..3600 seconds")
    return value

_PSK_FIRST = string.ascii_letters
_PSK_REST = string.ascii_letters + string.digits + "._"


def new_psk(length: int = 48) -> str:
    """A pre-shared key both AWS and strongSwan accept."""
    return secrets.choice(_PSK_FIRST) + "".join(
        secrets.choice(_PSK_REST) for _ in range(length - 1))


def ensure_fleet_key(event: str, event_dir: EventDir) -> str:
    """The fleet SSH key of the event (created once, mode 0600); returns the public key."""
    public = sshkeys.ensure_keypair(event_dir.private_key, f"hybridburst-{event}")
    event_dir.known_hosts.touch(exist_ok=True)
    return public.read_text().strip()


def config_list(config: Mapping[str, Any], key: str) -> list[str]:
    """A list config value as the CLI returns it: one JSON value under ``key`` (set with
    ``--path``, shown whole), or flattened ``key[0]``, ``key[1]`` entries."""
    out: list[str] = []
    if key in config:
        try:
            value = json.loads(config[key].value)
        except (TypeError, ValueError):
            value = None
        if isinstance(value, list):
            out += [str(v) for v in value]
    flat = sorted((k for k in config if k.startswith(key + "[")),
                  key=lambda k: int(k[len(key) + 1:-1]) if k[len(key) + 1:-1].isdigit() else 0)
    return out + [str(config[k].value) for k in flat]


def burst_expiry(plan: Plan, at: dt.datetime) -> str:
    end = plan.spec.window_end
    return format_expiry(end + EXPIRY_GRACE if end else at + DEFAULT_LIFETIME)


class PulumiProvider:
    """Base of the aws and openstack providers (see the module doc)."""

    name = "pulumi"
    burst_stack = ""  # directory under pulumi_stacks/
    peering_stack = "private_peering"

    def __init__(
        self,
        *,
        command_factory: CommandFactory | None = None,
        stacks_root: Path | None = None,
        site_config: Mapping[str, ConfigInput] | None = None,
        peering_config: Mapping[str, ConfigInput] | None = None,
        peering: bool = True,
        env_vars: Mapping[str, str] | None = None,
        clock: Callable[[], dt.datetime] = now,
        consoles: Consoles | None = None,
        host_key_timeout: float | None = None,
        host_key_interval: float = 10.0,
        private_ssh: Mapping[str, str] | None = None,
        label: str = "",
        log: Callable[[str], None] = print,
    ) -> None:
        self._command_factory = command_factory or (lambda: default_command(self.name))
        self._stacks_root = stacks_root
        self.site_config = dict(site_config or {})
        self.peering_config = dict(peering_config or {})
        self.peering = peering
        self.env_vars = dict(env_vars or {})
        self.clock = clock
        self._consoles = consoles
        self.host_key_timeout = host_key_timeout or host_key_timeout_from_env()
        self.host_key_interval = host_key_interval
        self.private_ssh = dict(private_ssh) if private_ssh else None
        #: Printed before every line this provider says ("EMULATED aws" on the emulated cloud).
        self.label = label or self.name
        self.log = log

    def consoles(self, plan_region: str | None) -> Consoles:
        """Where host keys are read: the cloud's console API (see :mod:`.consoles`)."""
        raise NotImplementedError

    def say(self, message: str) -> None:
        self.log(f"{self.label}: {message}")

    # Stacks.
    def _driver(self, stack_dir: str, stack_name: str) -> StackDriver:
        command = self._command_factory()
        root = self._stacks_root or stacks_dir()
        return StackDriver(root / stack_dir, PROJECTS[stack_dir], stack_name, command,
                           self.env_vars)

    def burst_config(self, plan: Plan, public_key: str, at: dt.datetime,
                     current: Mapping[str, str] | None = None) -> dict[str, ConfigInput]:
        """The keys the plan decides; the rest is the stack's own (site) configuration.

        The burst expiry is decided once per event and kept in the stack's configuration
        (``current``): with no window end in the spec it would otherwise move on every `up`,
        change the launch template and replace every instance."""
        spec = plan.spec
        kept = (current or {}).get("burstExpiry")
        return {
            "event": spec.event,
            "team": spec.team,
            "burstExpiry": kept if kept and not spec.window_end else burst_expiry(plan, at),
            "pools": [
                f"{p.name}:{p.count}:{p.instance_type}" + (f":{p.release}" if p.release else "")
                for p in spec.pools
            ],
            "sshPublicKey": public_key,
        }

    @staticmethod
    def peer_addresses(outputs: Mapping[str, Any]) -> list[str]:
        raise NotImplementedError

    # Provider protocol.
    def provision(self, plan: Plan, event_dir: EventDir, journal: Journal) -> dict[str, Any]:
        spec = plan.spec
        if spec.provider != self.name:
            raise HybridburstError(f"{spec.source}: provider is {spec.provider!r}, not {self.name}")
        planned = plan.by_name()
        current = journal.current()
        gone = sorted(h for h in planned if h in current and current[h].state is HostState.DESTROYED)
        if gone:
            raise HybridburstError(
                f"{spec.event}: {', '.join(gone)} were destroyed already; a destroyed event "
                "cannot be brought back, use a new event name")
        dropped = {h: e for h, e in current.items() if h not in planned}
        holding = sorted(h for h, e in dropped.items() if e.state in HOLDS_ACCESS)
        if holding:
            raise HybridburstError(
                f"{spec.event}: {', '.join(holding)} left the plan but may still hold access to "
                "the private network; revoke their access (playbooks/revoke.yml) first")

        at = self.clock()
        public_key = ensure_fleet_key(spec.event, event_dir)
        burst = self._driver(self.burst_stack, spec.event)
        burst.open()
        existing = burst.config()
        prefix = f"{burst.project}:"
        stack_config = {name.removeprefix(prefix): value.value
                        for name, value in existing.items() if name.startswith(prefix)}
        values = {**self.site_config, **self.burst_config(plan, public_key, at, stack_config)}
        secret_keys = ["vpnPsk"]
        psk = values.get("vpnPsk")
        if psk is None:
            if "vpnPsk" not in stack_config:
                values["vpnPsk"] = psk = new_psk()
            else:
                psk = stack_config["vpnPsk"]
        burst.set_config(values, secrets=secret_keys)
        region = self.stack_region(spec.region, existing)
        excluded = set(config_list(existing, burst.key("excludedHosts")))

        journal.record_many(
            (h.name, HostState.REQUESTED, f"{self.name}: pulumi up {burst.where}")
            for h in plan.hosts if h.name not in current
        )
        progress = self.progress(event_dir, burst.where)
        for line in burst.resolve_pending(find=self.find_pending(spec.event, region),
                                          on_output=progress):
            self.say(line)
            progress(f"pending operation: {line}")
        burst.refresh(on_output=progress)
        outputs = burst.up(on_output=progress)

        if self.peering:
            peering = self._driver(self.peering_stack, spec.event)
            peering.open()
            peering.set_config(
                {**self.peering_config,
                 "event": spec.event, "team": spec.team,
                 "burstExpiry": str(outputs["burstExpiry"]),
                 "burstCidr": str(outputs["burstCidr"]),
                 "peerAddresses": self.peer_addresses(outputs),
                 "vpnPsk": str(psk)},
                secrets=secret_keys,
            )
            progress = self.progress(event_dir, peering.where)
            for line in peering.resolve_pending(on_output=progress):
                self.say(line)
            peering.refresh(on_output=progress)
            peering.up(on_output=progress)

        by_name = {h["name"]: h for h in outputs.get("hosts") or []}
        # A host left out of the stack (excludedHosts) by a retirement that was interrupted
        # before its journal record: the stack destroyed it, the journal learns it now.
        current = journal.current()
        for name in sorted(excluded & set(planned) - set(by_name)):
            if name in current and current[name].state in HOLDS_ACCESS:
                continue  # never while it may hold access; the missing-host error says so
            if name in current:
                journal.record(name, HostState.DESTROYED,
                               f"{self.name}: left out of the stack (excludedHosts)")
            sshkeys.forget_hosts(event_dir.known_hosts, {name})
            del planned[name]
        missing = sorted(set(planned) - set(by_name))
        if missing:
            raise HybridburstError(
                f"{burst.where}: the stack has no host {', '.join(missing)}; its config does "
                "not match the plan")
        current = journal.current()
        for name, host in planned.items():
            state = current[name].state if name in current else None
            if state in (None, HostState.REQUESTED):
                journal.record(name, HostState.LAUNCHED, f"{self.name}: {by_name[name]['id']}",
                               {"pool": host.pool, "instance_type": host.instance_type,
                                "team": spec.team, "event": spec.event})
        for name, entry in dropped.items():
            if entry.state is not HostState.DESTROYED:
                journal.record(name, HostState.DESTROYED, f"{self.name}: left the plan")

        launched = {}
        for entry in journal.entries():
            if entry.state is HostState.LAUNCHED:
                launched[entry.host] = entry.time
        kept = [name for name, _ in planned.items()
                if journal.state_of(name) is not HostState.DESTROYED]
        doc = fleet.build_manifest(
            {**outputs, "hosts": [by_name[name] for name in kept]},
            private_key_file=str(event_dir.private_key),
            known_hosts_file=str(event_dir.known_hosts),
            written_at=self.clock(),
            launched_at=launched,
            private_inventory=str(spec.private_inventory) if spec.private_inventory else None,
            source=f"{burst.where} outputs",
        )
        if self.private_ssh:
            doc["private_ssh"] = dict(self.private_ssh)
            doc = manifest.check(doc, f"{burst.where} outputs")
        manifest.write(event_dir.manifest, doc)
        self.learn_host_keys(doc, event_dir, journal, outputs.get("region") or region)
        return doc

    def stack_region(self, spec_region: str | None, config: Mapping[str, Any]) -> str | None:
        """The region the stack runs in: the spec's, else the stack's own ``<cloud>:region``."""
        key = f"{self.name}:region"
        return spec_region or (str(config[key].value) if key in config else None)

    # Host keys from the console, never trusted on first use.
    def learn_host_keys(self, doc: Mapping[str, Any], event_dir: EventDir, journal: Journal,
                        region: str | None) -> None:
        """Known_hosts entries for launched hosts that have none, read from each instance's
        console; a host whose keys never appear is quarantined with that reason."""
        known = sshkeys.known_names(event_dir.known_hosts)
        todo = [h for h in doc["hosts"] if h["name"] not in known
                and journal.state_of(h["name"]) is HostState.LAUNCHED]
        if not todo:
            return
        consoles = self._consoles or self.consoles(region)
        self.say(f"reading the SSH host keys of {len(todo)} host(s) from the "
                 f"{consoles.label} (at most {self.host_key_timeout:.0f}s)")
        harvest = harvest_host_keys(todo, consoles, timeout=self.host_key_timeout,
                                    interval=self.host_key_interval)
        for host in todo:
            name = host["name"]
            if name in harvest.keys:
                sshkeys.record_host_keys(event_dir.known_hosts, [name, host["address"]],
                                         harvest.keys[name])
            else:
                journal.record(name, HostState.QUARANTINED, harvest.missing[name])
                self.say(f"{name} quarantined: {harvest.missing[name]}")

    # Single hosts (quarantined, failed) go at once, through the stack.
    def destroy_hosts(self, event: str, event_dir: EventDir, journal: Journal,
                      names: set[str]) -> list[str]:
        """Leave ``names`` out of the burst stack (``excludedHosts``) and run `up`: the engine
        deletes exactly those instances, the others keep their ids and addresses."""
        current = journal.current()
        holding = sorted(h for h in names if h in current and current[h].state in HOLDS_ACCESS)
        if holding:
            raise HybridburstError(
                f"{event}: access is revoked before destroy; {', '.join(holding)} may still "
                "hold access to the private network")
        burst = self._driver(self.burst_stack, event)
        if burst.open(create=False) is None:
            return []
        excluded = set(config_list(burst.config(), burst.key("excludedHosts")))
        wanted = sorted(excluded | set(names))
        self.say(f"destroying {', '.join(sorted(names))} through the stack "
                 f"(excludedHosts: {len(wanted)} host(s)), the others untouched")
        burst.set_config({"excludedHosts": wanted})
        burst.up(on_output=self.progress(event_dir, burst.where))
        for host in sorted(names):
            if journal.state_of(host) not in (None, HostState.DESTROYED):
                journal.record(host, HostState.DESTROYED,
                               f"{self.name}: left out of the stack (excludedHosts), pulumi up")
        sshkeys.forget_hosts(event_dir.known_hosts, set(names))
        if event_dir.manifest.exists():
            data = manifest.read(event_dir.manifest)
            data["hosts"] = [h for h in data["hosts"] if h["name"] not in names]
            manifest.write(event_dir.manifest, data)
        return sorted(names)

    # What the CLI prints: every line to the event's pulumi.log, the resource steps to the
    # operator's display (a VPN connection takes minutes; silence looks like a hang).
    def progress(self, event_dir: EventDir, where: str) -> Callable[[str], None]:
        log = event_dir.root / "pulumi.log"

        def forward(line: str) -> None:
            text = line.rstrip("\n")
            if not text.strip():
                return
            event_dir.root.mkdir(parents=True, exist_ok=True)
            with open(log, "a", encoding="utf-8") as handle:
                handle.write(f"{now().isoformat()} {where}: {text}\n")
            if _STEP.search(text):
                self.say(f"{where}: {text.strip()}")

        return forward

    def find_pending(self, event: str, region: str | None
                     ) -> Callable[[str, str, str], str | None] | None:
        """How to find, in the cloud, a resource an interrupted `up` was creating (by its
        tags); None: this provider cannot look, pending creates are left for the operator."""
        return None

    def deprovision(self, event: str, event_dir: EventDir, journal: Journal) -> None:
        current = journal.current()
        holding = sorted(h for h, e in current.items() if e.state in HOLDS_ACCESS)
        if holding:
            raise HybridburstError(
                f"{event}: access is revoked before destroy; {', '.join(holding)} may still "
                "hold access to the private network (states: "
                f"{', '.join(sorted({current[h].state.value for h in holding}))}). "
                "Drain and revoke them first (playbooks/reclaim.yml, or drain.yml then "
                "revoke.yml)")
        if current and all(e.state is HostState.DESTROYED for e in current.values()):
            return
        stacks = ([self.peering_stack] if self.peering else []) + [self.burst_stack]
        for stack_dir in stacks:
            driver = self._driver(stack_dir, event)
            if driver.open(create=False) is None:
                continue
            progress = self.progress(event_dir, driver.where)
            # An interrupted `up` may have left pending creates that `destroy` would ignore
            # (and leave running): import or clear them first.
            find = (self.find_pending(event, self.stack_region(None, driver.config()))
                    if stack_dir == self.burst_stack else None)
            for line in driver.resolve_pending(find=find, on_output=progress):
                self.say(line)
            driver.refresh(on_output=progress)
            driver.destroy(on_output=progress)
        for host, entry in current.items():
            if entry.state is not HostState.DESTROYED:
                journal.record(host, HostState.DESTROYED, f"{self.name}: pulumi destroy")
