"""The local provider: burst hosts as podman containers presenting their instance type's
hardware (lxcfs for memory and CPUs, a sized tmpfs for the data disk)."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ... import locks, sshkeys
from ... import manifest as manifest_mod
from ...errors import HybridburstError
from ...journal import Journal
from ...plan import Plan, PlannedHost
from ...states import HostState
from ...workspace import EventDir, state_root
from . import reservations, topology
from .machines import ADMIN_USER, Machine, wait_for_ssh
from .podman import containers, inspect, nsenter_net, podman
from .privateside import BURST_NET, ROLE_LABEL, PrivateSide

EVENT_LABEL = "hybridburst.event"
HOST_LABEL = "hybridburst.host"
OS = {"distribution": "Debian", "major_version": "12"}
FIRST_HOST = 11  # .1 is the machine's bridge, .2 the gateway, .3-.10 reserved
PARALLEL = 6

OS_RELEASE = """PRETTY_NAME="Debian GNU/Linux {v} ({c})"
NAME="Debian GNU/Linux"
VERSION_ID="{v}"
VERSION="{v} ({c})"
VERSION_CODENAME={c}
ID=debian
"""
CODENAMES = {"10": "buster", "11": "bullseye", "12": "bookworm", "13": "trixie"}


def container_name(host: str) -> str:
    return f"hb-{host}"


def set_login_password(container: str, host: str, event_dir: EventDir) -> None:
    """A host launched from a baked image: its login user's sudo asks for a password (the
    baseline confined it) that the image does not carry; set the event's become password, as
    cloud-init sets a user's password from user data. Given on stdin, never on a command line,
    hashed on the host the way roles/baseline/tasks/accounts.yml does (SHA-512, salt from the
    host's inventory name and the user), so a later converge of the role finds it unchanged."""
    from ...runner import become_password_file

    path = become_password_file(event_dir)
    if path is None:
        raise HybridburstError(f"{container}: the event has no become password file")
    salt = hashlib.sha256(f"{host}:{ADMIN_USER}".encode()).hexdigest()[:16]
    # chpasswd rewrites /etc/shadow- with the mode of /etc/shadow: its own mode is kept.
    script = (f"set -e; keep=$(stat -c %a:%u:%g /etc/shadow-); "
              f"hash=$(openssl passwd -6 -salt {salt} -stdin); "
              f"printf '%s:%s\\n' {ADMIN_USER} \"$hash\" | chpasswd -e; "
              "chmod \"${keep%%:*}\" /etc/shadow-; chown \"${keep#*:}\" /etc/shadow-")
    podman("exec", "-i", container, "sh", "-c", script,
           stdin=path.read_text().strip().encode() + b"\n")


class LocalProvider:
    name = "local"

    def __init__(self, inventory: Path, state: Path | None = None,
                 log: Callable[[str], None] = print) -> None:
        self.topo = topology.load(inventory)
        self.state = state or state_root()
        self.log = log
        self.private = PrivateSide(self.topo, log)

    # -- addresses -------------------------------------------------------------------------
    def _used_addresses(self) -> set[str]:
        """Addresses taken: by any burst container, manifest or live reservation (call it
        under the machine lock, and reserve what you take before you let go of it)."""
        used = {self.topo.gateway_burst, *reservations.reserved_addresses()}
        for c in containers(f"{ROLE_LABEL}=burst"):
            info = inspect("container", c["Id"]) or {}
            nets = info.get("NetworkSettings", {}).get("Networks", {})
            used.update(n.get("IPAddress") for n in nets.values() if n.get("IPAddress"))
        return used | self.manifest_addresses(self.state)

    @staticmethod
    def manifest_addresses(state: Path) -> set[str]:
        """Addresses the manifests under ``state`` hold (events of any provider)."""
        used: set[str] = set()
        for path in (state / "events").glob("*/manifest.json"):
            try:
                used.update(h["address"] for h in manifest_mod.read(path)["hosts"])
            except HybridburstError:
                continue
        return used

    def _allocate(self, count: int, used: set[str], from_top: bool = False) -> list[str]:
        net = self.topo.burst_network
        candidates = [str(a) for a in net.hosts() if int(a) - int(net.network_address) >= FIRST_HOST]
        if from_top:
            candidates.reverse()
        free = [a for a in candidates if a not in used]
        if len(free) < count:
            raise HybridburstError(f"burst network {net} has only {len(free)} free addresses")
        used.update(free[:count])
        return free[:count]

    # -- provision -------------------------------------------------------------------------
    def provision(self, plan: Plan, event_dir: EventDir, journal: Journal,
                  images: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Launch the plan's hosts; a pool named in ``images`` launches from that image (a
        baked one, hybridburst.images) instead of the base host image."""
        spec = plan.spec
        images = dict(images or {})
        pub = sshkeys.ensure_keypair(event_dir.private_key, f"hybridburst-{spec.event}")
        keys = event_dir.ssh_dir / "authorized_keys"
        keys.write_text(pub.read_text())
        keys.chmod(0o644)

        previous = {}
        if event_dir.manifest.exists():
            previous = {h["name"]: h for h in manifest_mod.read(event_dir.manifest)["hosts"]}
        # The shared parts under the machine lock: the private side runs, and the addresses
        # are chosen and reserved before another command may look at what is free.
        with locks.machine():
            tag = self.private.ensure()
            running = {
                c["Labels"].get(HOST_LABEL): c
                for c in containers(f"{EVENT_LABEL}={spec.event}") if c.get("State") == "running"
            }
            # A crash between a host's launch and the manifest's write leaves a running host
            # the journal knows as launched: adopt it (a second launch would replace it).
            current = journal.current()
            for h in plan.hosts:
                entry = current.get(h.name)
                if (h.name not in previous and h.name in running and entry is not None
                        and entry.state is HostState.LAUNCHED and entry.data.get("address")):
                    previous[h.name] = self._record(h, plan, entry.data["address"],
                                                    entry.time.isoformat())
            used = self._used_addresses()
            todo = [h for h in plan.hosts if not (h.name in previous and h.name in running)]
            fresh = [h for h in todo if h.name not in previous]
            addresses = {h.name: previous[h.name]["address"] for h in todo if h.name in previous}
            addresses.update(zip([h.name for h in fresh], self._allocate(len(fresh), used),
                                 strict=True))
            wrong = [h for h in todo if h.fault and h.fault.wrong_address]
            wrong_addresses = dict(
                zip([h.name for h in wrong], self._allocate(len(wrong), used, from_top=True),
                    strict=True)
            )
            reservations.reserve([*addresses.values(), *wrong_addresses.values()], spec.event)
        records = dict(previous)
        if todo:
            self.log(f"launching {len(todo)} host(s) of {spec.event} on the local cloud")
        for host in todo:
            if journal.state_of(host.name) in (None, HostState.DESTROYED, HostState.FAILED):
                journal.record(host.name, HostState.REQUESTED, "planned",
                               {"pool": host.pool, "instance_type": host.instance_type})

        def launch(host: PlannedHost) -> dict[str, Any]:
            return self._launch(host, plan, event_dir, images.get(host.pool, tag), keys,
                                addresses[host.name], wrong_addresses.get(host.name),
                                baked=host.pool in images)

        failures: list[str] = []
        with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
            futures = {h.name: pool.submit(launch, h) for h in todo}
            for name, future in futures.items():
                try:
                    records[name] = future.result()
                except HybridburstError as exc:
                    failures.append(f"{name}: {exc}")
                    journal.record(name, HostState.FAILED, f"launch failed: {exc}")
                    continue
                host = plan.by_name()[name]
                how = (f"container started from image {images[host.pool]}, sshd up"
                       if host.pool in images else "container started, sshd up")
                journal.record(name, HostState.LAUNCHED, how, {
                    "event": spec.event, "team": spec.team, "pool": host.pool, "provider": "local",
                    "instance_type": host.instance_type, "address": records[name]["address"],
                    "provider_id": records[name]["provider_id"],
                    **({"image": images[host.pool]} if host.pool in images else {}),
                })
        data = self._manifest(plan, event_dir, [records[h.name] for h in plan.hosts
                                                if h.name in records])
        manifest_mod.write(event_dir.manifest, data)
        if failures:
            self.log("some hosts failed to launch:\n  " + "\n  ".join(failures))
        return data

    def _launch(self, host: PlannedHost, plan: Plan, event_dir: EventDir, tag: str,
                keys: Path, address: str, wrong_address: str | None,
                baked: bool = False) -> dict[str, Any]:
        hw, fault = host.hardware, host.fault
        extra: list[str] = []
        if fault and fault.os_version:
            release = event_dir.root / "faults" / f"{host.name}.os-release"
            release.parent.mkdir(parents=True, exist_ok=True)
            major = fault.os_version.split(".")[0]
            release.write_text(OS_RELEASE.format(v=major, c=CODENAMES.get(major, "unknown")))
            version = event_dir.root / "faults" / f"{host.name}.debian_version"
            version.write_text(f"{fault.os_version if '.' in fault.os_version else major + '.0'}\n")
            extra += ["-v", f"{release}:/usr/lib/os-release:ro",
                      "-v", f"{version}:/etc/debian_version:ro"]
        name = container_name(host.name)
        machine = Machine(
            name=name, hostname=host.name,
            networks=[(BURST_NET, wrong_address or address)], image=tag,
            labels={ROLE_LABEL: "burst", EVENT_LABEL: plan.event, HOST_LABEL: host.name,
                    "hybridburst.pool": host.pool},
            cpus=(fault.cpus if fault and fault.cpus else hw.cpus),
            memory_mb=(fault.memory_mb if fault and fault.memory_mb else hw.memory_mb),
            disk_mb=(fault.disk_mb if fault and fault.disk_mb else hw.disk_mb),
            data_mount=hw.data_mount, authorized_keys=str(keys), extra=extra,
        )
        machine.start()
        if wrong_address:
            # The host answers at the manifest's address too, but its own address is another.
            prefix = self.topo.burst_network.prefixlen
            nsenter_net(name, "ip", "addr", "add", f"{address}/{prefix}", "dev", "eth0")
        nsenter_net(name, "ip", "route", "replace", "default", "via", self.topo.gateway_burst)
        if baked:
            set_login_password(name, host.name, event_dir)
        host_key = wait_for_ssh(name, address)
        sshkeys.record_host_key(event_dir.known_hosts, [host.name, address], host_key)
        return self._record(host, plan, address, dt.datetime.now(dt.UTC).isoformat())

    @staticmethod
    def _record(host: PlannedHost, plan: Plan, address: str, launched_at: str) -> dict[str, Any]:
        """The manifest's record of a launched host."""
        hw = host.hardware
        return {
            "name": host.name,
            "address": address,
            "pool": host.pool,
            "instance_type": host.instance_type,
            "release": host.release,
            "launched_at": launched_at,
            "provider_id": container_name(host.name),
            "expected": {**hw.as_dict(), "os": OS, "interface": "eth0", "address": address,
                         "hostname": host.name},
            "tags": {"hybridburst:event": plan.event, "hybridburst:team": plan.spec.team,
                     "hybridburst:pool": host.pool},
        }

    def _manifest(self, plan: Plan, event_dir: EventDir,
                  hosts: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "version": manifest_mod.VERSION,
            "event": plan.event,
            "team": plan.spec.team,
            "provider": self.name,
            "region": plan.spec.region or "local",
            "written_at": dt.datetime.now(dt.UTC).isoformat(),
            "network": {
                "private_cidrs": [self.topo.private_cidr],
                "burst_cidr": self.topo.burst_cidr,
                "gateway": {"private_address": self.topo.gateway_private,
                            "burst_address": self.topo.gateway_burst},
            },
            "ssh": {"user": ADMIN_USER, "private_key_file": str(event_dir.private_key),
                    "known_hosts_file": str(event_dir.known_hosts)},
            "private_ssh": self.private.ssh_vars(),
            "private_inventory": str(self.topo.inventory),
            "hosts": hosts,
        }

    # -- destroy ---------------------------------------------------------------------------
    def destroy_hosts(self, event: str, event_dir: EventDir, journal: Journal,
                      names: set[str] | None = None) -> list[str]:
        """Remove the containers of ``names`` (all of the event when None)."""
        found = containers(f"{EVENT_LABEL}={event}")
        victims = [c for c in found if names is None or c["Labels"].get(HOST_LABEL) in names]
        if victims:
            podman("rm", "-f", "-t", "0", *[c["Id"] for c in victims])
        gone = {c["Labels"].get(HOST_LABEL) for c in victims}
        if names is not None:
            gone |= names
        for host, entry in journal.current().items():
            if (names is None or host in names) and entry.state is not HostState.DESTROYED:
                journal.record(host, HostState.DESTROYED, "container removed")
        sshkeys.forget_hosts(event_dir.known_hosts, gone)
        if names is not None and event_dir.manifest.exists():
            data = manifest_mod.read(event_dir.manifest)
            data["hosts"] = [h for h in data["hosts"] if h["name"] not in gone]
            manifest_mod.write(event_dir.manifest, data)
        return sorted(h for h in gone if h)

    def deprovision(self, event: str, event_dir: EventDir, journal: Journal) -> None:
        self.destroy_hosts(event, event_dir, journal)
        shutil.rmtree(event_dir.ssh_dir, ignore_errors=True)
        shutil.rmtree(event_dir.root / "faults", ignore_errors=True)
        event_dir.manifest.unlink(missing_ok=True)
        if self.private.remove_if_unused():
            self.log("no event left on the local cloud: private side and networks removed")


