"""The emulated cloud: each instance a stack program declares becomes a local-cloud host.

EMULATED, and it says so: no AWS or OpenStack API is called. What is real: the host (a podman
container with systemd and sshd, presenting the instance type's hardware through lxcfs and a
sized data disk), its address in the subnet the program put it in, the VPC router of that
subnet (the local gateway answers at the subnet's router address), the user data the program
wrote (its user and SSH key are installed, its host-key publishing step runs and prints to
the instance's console log), and the console log itself, read back by the provider through
the same interface it reads ``ec2:GetConsoleOutput`` or Nova's console log with.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from ... import catalog, locks
from ...errors import HybridburstError
from ...spec import Fault
from ..local import reservations
from ..local.machines import ADMIN_USER, Machine, wait_for_ssh
from ..local.podman import containers, inspect, nsenter_net, podman
from ..local.privateside import BURST_NET, ROLE_LABEL, PrivateSide
from ..local.provider import CODENAMES, EVENT_LABEL, HOST_LABEL, OS_RELEASE, container_name

EMULATED_LABEL = "hybridburst.emulated"
INSTANCE_LABEL = "hybridburst.instance-id"
#: Addresses AWS keeps in every subnet (network, router, DNS, future; broadcast at the end).
FIRST_USABLE = 10


class EmulationError(HybridburstError):
    pass


def _tags(inputs: Mapping[str, Any]) -> dict[str, str]:
    tags = inputs.get("tags")
    if isinstance(tags, Mapping):
        return {str(k): str(v) for k, v in tags.items()}
    meta = inputs.get("metadata")
    if isinstance(meta, Mapping):
        return {str(k): str(v) for k, v in meta.items()}
    return {}


def _user_data(name: str, inputs: Mapping[str, Any]) -> tuple[str, list[str], list[list[str]]]:
    """The login user, its keys and the run commands of the instance's cloud-config."""
    text = inputs.get("userData") or ""
    try:
        doc = yaml.safe_load(text) if text else None
    except yaml.YAMLError as exc:
        raise EmulationError(f"{name}: the user data is not valid YAML: {exc}") from exc
    if not isinstance(doc, dict) or not text.startswith("#cloud-config"):
        raise EmulationError(f"{name}: the user data is not a #cloud-config document")
    users = doc.get("users") or []
    if not users or not isinstance(users[0], dict):
        raise EmulationError(f"{name}: the user data creates no login user")
    user = str(users[0].get("name"))
    keys = [str(k) for k in users[0].get("ssh_authorized_keys") or []]
    runcmd = [[str(a) for a in c] if isinstance(c, list) else ["sh", "-c", str(c)]
              for c in doc.get("runcmd") or []]
    return user, keys, runcmd


class EmulatedCloud:
    """Launches and destroys emulated instances on the local cloud (see the module doc)."""

    def __init__(self, provider: str, private: PrivateSide, state: Path, state_root: Path,
                 faults: Mapping[str, Fault] | None = None,
                 log: Callable[[str], None] = print) -> None:
        self.provider = provider
        self.private = private
        self.topo = private.topo
        self.state = state
        self.state_root = state_root
        self.faults = dict(faults or {})
        self.log = log
        self._lock = threading.Lock()
        self._image_lock = threading.Lock()
        self._taken: set[str] = set()
        self._image: str | None = None
        self._routers: set[str] = set()

    # -- the private side, the image and the subnet routers ------------------------------------
    def image(self) -> str:
        """The private side runs (gateway, load balancer, backend); the golden image's tag."""
        with self._image_lock:
            if self._image is None:
                self._image = self.private.ensure()
            return self._image

    def ensure_router(self, gateway: str) -> None:
        """The subnet's router address answered by the local gateway (the emulated VPC router),
        added again when the gateway was restarted."""
        self.image()  # the private side runs (started again if it was stopped)
        with self._lock:
            self._routers.discard(gateway)
        self._router(gateway)

    def _router(self, gateway: str) -> None:
        with self._lock:
            if gateway in self._routers:
                return
            gw = self.topo.host_in("gateway")
            info = inspect("container", gw) or {}
            nets = info.get("NetworkSettings", {}).get("Networks", {})
            if BURST_NET not in nets:
                raise EmulationError(f"{gw} is not on the burst network {BURST_NET}")
            device = "eth1" if list(nets).index(BURST_NET) == 1 else "eth0"
            if gateway != self.topo.gateway_burst:
                prefix = self.topo.burst_network.prefixlen
                nsenter_net(gw, "ip", "addr", "replace", f"{gateway}/{prefix}", "dev", device)
            self._routers.add(gateway)

    # -- InstanceHost ---------------------------------------------------------------------------
    def _used(self) -> set[str]:
        used = {self.topo.gateway_burst, *self._taken}
        net = self.topo.burst_network
        used.add(str(net.network_address + 1))
        for c in containers(f"{ROLE_LABEL}=burst"):
            info = inspect("container", c["Id"]) or {}
            for n in info.get("NetworkSettings", {}).get("Networks", {}).values():
                if n.get("IPAddress"):
                    used.add(n["IPAddress"])
        from ..local.provider import LocalProvider

        used |= LocalProvider.manifest_addresses(self.state_root)
        return used

    def allocate(self, typ: str, name: str, inputs: Mapping[str, Any],
                 subnet_cidr: str | None) -> str:
        if not subnet_cidr:
            raise EmulationError(f"{name}: the instance is in no subnet the program declared")
        subnet = ipaddress.IPv4Network(subnet_cidr)
        if not subnet.subnet_of(self.topo.burst_network):  # type: ignore[arg-type]
            raise EmulationError(
                f"{name}: subnet {subnet} is outside the local cloud's burst network "
                f"{self.topo.burst_network}; the emulated stack must use a range inside it")
        # Chosen and reserved under the machine lock: another command's allocation sees it.
        with self._lock, locks.machine():
            used = self._used() | reservations.reserved_addresses()
            for address in list(subnet.hosts())[FIRST_USABLE - 1:]:
                if str(address) not in used:
                    self._taken.add(str(address))
                    reservations.reserve([str(address)], _tags(inputs).get("hybridburst:event", ""))
                    return str(address)
        raise EmulationError(f"{name}: subnet {subnet} has no free address")

    def launch(self, typ: str, name: str, instance_id: str, address: str,
               inputs: Mapping[str, Any], gateway: str) -> None:
        kind = "aws" if typ.startswith("aws:") else "openstack"
        instance_type = inputs.get("instanceType") or inputs.get("flavorName") or ""
        try:
            hw = catalog.hardware(kind, str(instance_type))
        except KeyError as exc:
            raise EmulationError(f"{name}: unknown {kind} instance type {instance_type!r}") from exc
        user, keys, runcmd = _user_data(name, inputs)
        if user != ADMIN_USER:
            raise EmulationError(
                f"{name}: the emulated image has the login user {ADMIN_USER!r}; set the stack's "
                f"sshUser to {ADMIN_USER} (got {user!r})")
        tags = _tags(inputs)
        fault = self.faults.get(name)
        cpus = fault.cpus if fault and fault.cpus else hw.cpus
        import os

        if cpus > (os.cpu_count() or 1):
            raise EmulationError(f"{name}: {instance_type} has {cpus} CPUs; this machine has "
                                 f"{os.cpu_count()}: choose a smaller type for the emulation")
        home = self.state / "instances" / instance_id
        home.mkdir(parents=True, exist_ok=True)
        authorized = home / "authorized_keys"
        authorized.write_text("".join(k.strip() + "\n" for k in keys))
        authorized.chmod(0o644)
        extra: list[str] = []
        if fault and fault.os_version:
            major = fault.os_version.split(".")[0]
            release = home / "os-release"
            release.write_text(OS_RELEASE.format(v=major, c=CODENAMES.get(major, "unknown")))
            extra += ["-v", f"{release}:/usr/lib/os-release:ro"]
        container = container_name(name)
        machine = Machine(
            name=container, hostname=name, networks=[(BURST_NET, address)], image=self.image(),
            labels={ROLE_LABEL: "burst", EVENT_LABEL: tags.get("hybridburst:event", ""),
                    HOST_LABEL: name, "hybridburst.pool": tags.get("hybridburst:pool", ""),
                    EMULATED_LABEL: self.provider, INSTANCE_LABEL: instance_id},
            cpus=cpus,
            memory_mb=fault.memory_mb if fault and fault.memory_mb else hw.memory_mb,
            disk_mb=fault.disk_mb if fault and fault.disk_mb else hw.disk_mb,
            data_mount=hw.data_mount, authorized_keys=str(authorized),
            extra=["-t", *extra],  # a terminal: the instance's serial console
        )
        self._router(gateway)
        machine.start()
        # The VPC route table: the subnet's router is every host's next hop.
        nsenter_net(container, "ip", "route", "replace", "default", "via", gateway)
        wait_for_ssh(container, address)
        if not (fault and fault.silent_console):
            self._run_user_commands(container, runcmd)

    def _run_user_commands(self, container: str, runcmd: list[list[str]]) -> None:
        """cloud-init's runcmd, emulated: the host-key publishing step runs unchanged on the
        instance and prints to its console (``/dev/console``, the container's terminal,
        whose log the emulated console API serves). The data-disk step is the emulator's own
        (the data disk is mounted from outside), so it is not run."""
        for command in runcmd:
            if not command or command[0].endswith("hybridburst-data-disk"):
                continue
            podman("exec", container, *command, check=False)

    def destroy(self, typ: str, name: str, instance_id: str) -> None:
        found = [c for c in containers(f"{INSTANCE_LABEL}={instance_id}")]
        if found:
            podman("rm", "-f", "-t", "0", *[c["Id"] for c in found])
        home = self.state / "instances" / instance_id
        for child in home.glob("*"):
            child.unlink()
        if home.exists():
            home.rmdir()

    def console(self, instance_id: str) -> str:
        """The console log of an instance: what its terminal printed since boot."""
        found = containers(f"{INSTANCE_LABEL}={instance_id}")
        if not found:
            return ""
        return podman("logs", found[0]["Id"], check=False)

    # -- what still runs -----------------------------------------------------------------------
    def running(self, event: str) -> dict[str, str]:
        """Host name -> container state of the event's emulated instances."""
        return {c["Labels"].get(HOST_LABEL, ""): c.get("State", "")
                for c in containers(f"{EVENT_LABEL}={event}")
                if c["Labels"].get(EMULATED_LABEL) == self.provider}
