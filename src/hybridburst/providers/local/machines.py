"""Start a systemd host container and wait until its SSH host key and port are there."""

from __future__ import annotations

import ipaddress
import socket
import subprocess
import time
from dataclasses import dataclass, field

from ...errors import HybridburstError
from . import lxcfs
from .podman import pid_of, podman

ADMIN_USER = "admin"
LABEL = "hybridburst"
DATA_DEVICE = "/dev/nvme1n1"


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
        return [*args, *self.extra, self.image, "/sbin/init"]

    def start(self) -> None:
        podman(*self.run_args())
        if self.disk_mb:
            self._attach_data_disk()

    def _attach_data_disk(self) -> None:
        """A data disk of the instance type's size: a tmpfs (free until written) mounted from
        outside under a device name, so the OS and Ansible's mount facts see a disk."""
        command = (f"mkdir -p {self.data_mount} && mountpoint -q {self.data_mount} || "
                   f"mount -t tmpfs -o size={self.disk_mb}m,mode=0755 {DATA_DEVICE} {self.data_mount}")
        proc = subprocess.run(["nsenter", "-t", str(pid_of(self.name)), "-m", "--", "sh", "-c", command],
                              capture_output=True, check=False)
        if proc.returncode != 0:
            raise HybridburstError(f"{self.name}: data disk: {proc.stderr.decode().strip()}")


def wait_for_ssh(container: str, address: str, timeout: float = 60.0) -> str:
    """Wait for the host's first-boot host key and its sshd; returns the ed25519 public key.

    The key is read from the machine itself (as a cloud publishes it on the console),
    never scanned over the network."""
    deadline = time.monotonic() + timeout
    key = ""
    while time.monotonic() < deadline:
        if not key:
            key = podman("exec", container, "cat", "/etc/ssh/ssh_host_ed25519_key.pub",
                         check=False).strip()
        if key:
            try:
                with socket.create_connection((address, 22), timeout=1) as sock:
                    if sock.recv(64).startswith(b"SSH-"):
                        return key
            except OSError:
                pass
        time.sleep(0.3)
    raise HybridburstError(f"{container}: sshd did not come up on {address} in {timeout:.0f}s")
