"""Start a systemd host container and wait until its SSH host key and port are there.

A burst host gets the ``net.*`` sysctls of its own network namespace, like a VM: it runs with
CAP_NET_ADMIN and an unmasked ``/proc/sys``, and before its systemd starts every other
``/proc/sys`` folder (``kernel``, ``fs``, ``vm``: this machine's own) is bind-remounted
read-only in its mount namespace from outside, which it cannot undo (no CAP_SYS_ADMIN). Its
bridge port is locked to its own MAC (a cloud's source check): with NET_ADMIN it could
otherwise take another host's MAC and address, which the gateway's allow set binds together."""

from __future__ import annotations

import ipaddress
import json
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import HybridburstError
from . import lxcfs
from .podman import pid_of, podman

ADMIN_USER = "admin"
LABEL = "hybridburst"
DATA_DEVICE = "/dev/nvme1n1"
# The first process waits for this file, written from outside once /proc/sys is fenced.
PROCSYS_READY = "/run/hybridburst-procsys-ro"
INIT = "/sbin/init"


def mac_for(address: str) -> str:
    """A fixed MAC per address: a reused address is reachable at once (no stale ARP)."""
    octets = ipaddress.IPv4Address(address).packed
    return "02:42:" + ":".join(f"{b:02x}" for b in octets)


@dataclass
class Machine:
    name: str  # container name
    hostname: str
    networks: list[tuple[str, str]]  # (podman network, address)
    image: str
    labels: dict[str, str]
    cpus: int | None = None
    memory_mb: int | None = None
    disk_mb: int | None = None
    data_mount: str = "/srv/data"
    authorized_keys: str | None = None  # host path, mounted read-only
    extra: list[str] = field(default_factory=list)
    # Writable net.* sysctls of its own network namespace (NET_ADMIN, kernel.* read-only).
    own_net_sysctls: bool = True

    def run_args(self) -> list[str]:
        args = ["run", "-d", "--replace", "--name", self.name, "--hostname", self.hostname,
                "--systemd=always", "--stop-timeout", "5"]
        for network, address in self.networks:
            args += ["--network", f"{network}:ip={address},mac={mac_for(address)}"]
        for key, value in {LABEL: "1", **self.labels}.items():
            args += ["--label", f"{key}={value}"]
        if self.memory_mb:
            args += ["--memory", f"{self.memory_mb}m", "--memory-swap", f"{self.memory_mb}m"]
        if self.cpus:
            args += ["--cpuset-cpus", f"0-{self.cpus - 1}" if self.cpus > 1 else "0"]
        for mount in lxcfs.mounts():
            args += ["-v", mount]
        if self.authorized_keys:
            args += ["-v", f"{self.authorized_keys}:/home/{ADMIN_USER}/.ssh/authorized_keys:ro"]
        command = [INIT]
        if self.own_net_sysctls:
            args += ["--cap-add", "NET_ADMIN", "--security-opt", "unmask=/proc/sys"]
            command = ["/bin/sh", "-c",
                       f"while [ ! -e {PROCSYS_READY} ]; do sleep 0.05; done; exec {INIT}"]
        return [*args, *self.extra, self.image, *command]

    def outside_setup(self) -> str:
        """The shell script run in the host's mount namespace, from outside, before its
        systemd starts: the read-only /proc/sys folders, then the data disk."""
        steps = ["set -eu"]
        if self.own_net_sysctls:
            steps.append('for d in /proc/sys/*; do [ "$d" = /proc/sys/net ] && continue; '
                         'mount --bind "$d" "$d"; mount -o remount,bind,ro "$d"; done')
        if self.disk_mb:
            # A data disk of the instance type's size: a tmpfs (free until written) mounted
            # under a device name, so the OS and Ansible's mount facts see a disk.
            steps.append(f"mkdir -p {self.data_mount}; mountpoint -q {self.data_mount} || "
                         f"mount -t tmpfs -o size={self.disk_mb}m,mode=0755 {DATA_DEVICE} "
                         f"{self.data_mount}")
        if self.own_net_sysctls:
            steps.append(f"touch {PROCSYS_READY}")
        return "\n".join(steps)

    def start(self) -> None:
        podman(*self.run_args())
        if not (self.own_net_sysctls or self.disk_mb):
            return
        pid = str(pid_of(self.name))
        proc = subprocess.run(["nsenter", "-t", pid, "-m", "--", "sh", "-c", self.outside_setup()],
                              capture_output=True, check=False)
        if proc.returncode != 0:
            podman("rm", "-f", "-t", "0", self.name, check=False)
            raise HybridburstError(f"{self.name}: /proc/sys or data disk set-up failed: "
                                   f"{proc.stderr.decode(errors='replace').strip()}")
        if self.own_net_sysctls:
            lock_port(self.name, pid, self.networks)


def _links(*nsenter: str) -> list[dict[str, Any]]:
    proc = subprocess.run([*nsenter, "ip", "-j", "link", "show"], capture_output=True, check=False)
    if proc.returncode != 0:
        raise HybridburstError(f"ip link: {proc.stderr.decode(errors='replace').strip()}")
    links: list[dict[str, Any]] = json.loads(proc.stdout or b"[]")
    return links


def lock_port(name: str, pid: str, networks: list[tuple[str, str]]) -> None:
    """Lock each of the host's bridge ports to the MAC it was given: the bridge drops frames
    from any other source MAC (with NET_ADMIN the host could change its own)."""
    try:
        inside = {link.get("address"): link for link in _links("nsenter", "-t", pid, "-n")}
        outside = {link["ifindex"]: link["ifname"] for link in _links()}
        for _, address in networks:
            mac = mac_for(address)
            peer = inside.get(mac, {}).get("link_index")
            port = outside.get(peer) if peer is not None else None
            if port is None:
                raise HybridburstError(f"no bridge port found for {mac}")
            for argv in (["bridge", "fdb", "replace", mac, "dev", port, "master", "static"],
                         ["bridge", "link", "set", "dev", port, "learning", "off", "locked", "on"]):
                proc = subprocess.run(argv, capture_output=True, check=False)
                if proc.returncode != 0:
                    raise HybridburstError(proc.stderr.decode(errors="replace").strip())
    except HybridburstError as exc:
        podman("rm", "-f", "-t", "0", name, check=False)
        raise HybridburstError(f"{name}: cannot lock its bridge port to its MAC: {exc}") from exc


def wait_for_ssh(container: str, address: str, timeout: float = 60.0) -> str:
    """Wait for the host's first-boot host key and its sshd; returns the ed25519 public key.

    The key is read from the machine itself (as a cloud publishes it on the console), never
    scanned over the network: from its root file system through /proc/PID/root (a podman
    exec per poll costs about half a second of CPU, which 30 booting hosts cannot spare)."""
    deadline = time.monotonic() + timeout
    key_file = Path(f"/proc/{pid_of(container)}/root/etc/ssh/ssh_host_ed25519_key.pub")
    key = ""
    while time.monotonic() < deadline:
        if not key:
            key = _host_key(key_file)
        if key:
            try:
                with socket.create_connection((address, 22), timeout=1) as sock:
                    if sock.recv(64).startswith(b"SSH-"):
                        return key
            except OSError:
                pass
        time.sleep(0.2)
    raise HybridburstError(f"{container}: sshd did not come up on {address} in {timeout:.0f}s")


def _host_key(path: Path) -> str:
    """The public host key once it is whole (a line ending in a newline), else ""."""
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return ""
    if not text.endswith("\n") or not text.startswith("ssh-ed25519 ") or len(text.split()) < 2:
        return ""
    return text.strip()
