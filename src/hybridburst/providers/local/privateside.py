"""The private side of the local cloud: networks, the gateway, the load balancer and the
backend service. Shared by every event; created on first use, removed when none is left."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import string
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from ... import locks, sshkeys
from ...errors import HybridburstError
from ...paths import PLAYBOOKS, REPO
from ...runner import run_playbook
from ...workspace import EventDir
from . import hostprep, image, lxcfs, reservations
from .machines import ADMIN_USER, Machine, wait_for_ssh
from .podman import containers, inspect, nsenter_net, podman
from .topology import Topology

PRIVATE_NET = "hb-private"
BURST_NET = "hb-burst"
ROLE_LABEL = "hybridburst.role"
# The gateway's nftables allow list is the private_gateway role's, applied with this playbook;
# the gateway keeps the digest of what was applied last in this file.
GATEWAY_PLAYBOOK = "gateway.yml"
GATEWAY_ROLE = REPO / "roles" / "private_gateway"
GATEWAY_APPLIED = "/var/lib/hybridburst/private_gateway.applied"


def _data(name: str) -> str:
    return resources.files("hybridburst.providers.local").joinpath(f"data/{name}").read_text()


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def gateway_config(topo: Topology) -> str:
    """Digest of what the gateway's ruleset is made from: the private_gateway role, its
    playbook and the private inventory (network facts, services)."""
    digest = hashlib.sha256()
    for root, files in ((GATEWAY_ROLE, _files(GATEWAY_ROLE)),
                        (PLAYBOOKS, [PLAYBOOKS / GATEWAY_PLAYBOOK]),
                        (topo.inventory, _files(topo.inventory))):
        for path in files:
            digest.update(f"{path.relative_to(root)}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


class PrivateSide:
    def __init__(self, topo: Topology, log: Callable[[str], None]) -> None:
        self.topo = topo
        # The local cloud is one per machine (its containers and networks are), and so are
        # its keys: every state directory (demo, tests, an operator's) shares it.
        self.dir = locks.local_cloud_dir()
        self.log = log

    @property
    def private_key(self) -> Path:
        return self.dir / "ssh" / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.dir / "ssh" / "known_hosts"

    def _config_hash(self, image_tag: str) -> str:
        blob = json.dumps(
            [image_tag, self.topo.private_hosts, self.topo.gateway_burst,
             _data("backend.py"), _data("backend.service"),
             self.private_key.with_suffix(".pub").read_text()],
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def ensure(self) -> str:
        """Make sure the whole private side runs; returns the image tag for burst hosts.
        Under the machine lock; this process counts as a user of the private side."""
        with locks.machine():
            reservations.use_private_side()
            return self._ensure()

    def _ensure(self) -> str:
        tag = image.ensure(self.log)
        hostprep.ensure()
        lxcfs.ensure()
        self._ensure_network(PRIVATE_NET, self.topo.private_cidr)
        self._ensure_network(BURST_NET, self.topo.burst_cidr)
        pub = sshkeys.ensure_keypair(self.private_key, "hybridburst-local-private-cloud")
        config = self._config_hash(tag)
        for name, address in self.topo.private_hosts.items():
            info = inspect("container", name)
            current = bool(info and info["State"]["Running"]
                           and info["Config"]["Labels"].get("hybridburst.config") == config)
            if not current:
                if info and info["State"]["Running"]:
                    self.log(f"{name}: its configuration changed; restarting it (a restarted "
                             "gateway starts with an empty allow set: `up` authorizes the live "
                             "hosts again)")
                self.log(f"starting private-side host {name} ({address})")
                self._start(name, address, tag, config, pub)
            if name in self.topo.groups["gateway"]:
                self.configure_gateway(name)
        return tag

    def configure_gateway(self, name: str) -> None:
        """Apply the private_gateway role (playbooks/gateway.yml) to the running gateway when
        the role, its playbook or the private inventory changed since it was last applied.
        The role keeps the allow set, so authorized hosts keep their access."""
        want = gateway_config(self.topo)
        applied = podman("exec", name, "cat", GATEWAY_APPLIED, check=False).strip()
        if applied == want:
            return
        self.log(f"{name}: setting up the gateway's allow list (role private_gateway)")
        run = run_playbook(EventDir(self.dir / "gateway"), GATEWAY_PLAYBOOK,
                           extravars=self.connection_vars(), limit=name,
                           inventory=self.topo.inventory.resolve())
        if run.rc != 0 or name not in run.ok:
            why = run.failed.get(name) or run.unreachable.get(name) or f"status {run.status}"
            raise HybridburstError(f"{name}: the private_gateway role failed: {why} "
                                   f"(runner artifacts: {run.private_data_dir})")
        podman("exec", name, "sh", "-c",
               f"mkdir -p {Path(GATEWAY_APPLIED).parent} && echo {want} > {GATEWAY_APPLIED}")

    def connection_vars(self) -> dict[str, str]:
        """How Ansible reaches the private side: its key, strict checking of its host keys."""
        ssh = self.ssh_vars()
        return {
            "ansible_user": ssh["user"],
            "ansible_ssh_private_key_file": ssh["private_key_file"],
            "ansible_ssh_common_args": sshkeys.ssh_common_args(Path(ssh["known_hosts_file"])),
            "ansible_python_interpreter": "/usr/bin/python3",
        }

    def _ensure_network(self, name: str, cidr: str) -> None:
        info = inspect("network", name)
        if info:
            subnets = [s.get("subnet") for s in info.get("subnets", [])]
            if cidr in subnets and info.get("internal"):
                return
            podman("network", "rm", "-f", name)
        net = ipaddress.IPv4Network(cidr)
        podman("network", "create", "--internal", "--disable-dns", "--subnet", cidr,
               "--gateway", str(net.network_address + 1), "--label", "hybridburst=1", name)

    def _start(self, name: str, address: str, tag: str, config: str, pub: Path) -> None:
        networks = [(PRIVATE_NET, address)]
        extra: list[str] = []
        role = next(g for g in ("gateway", "lb", "backend") if name in self.topo.groups[g])
        if role == "gateway":
            networks.append((BURST_NET, self.topo.gateway_burst))
            extra = ["--cap-add", "NET_ADMIN", "--sysctl", "net.ipv4.ip_forward=1"]
        keys = self.dir / "ssh" / "authorized_keys"
        keys.write_text(pub.read_text())
        keys.chmod(0o644)
        machine = Machine(
            name=name, hostname=name, networks=networks, image=tag,
            labels={ROLE_LABEL: f"private-{role}", "hybridburst.config": config},
            authorized_keys=str(keys), extra=extra, memory_mb=512, own_net_sysctls=False,
        )
        machine.start()
        host_key = wait_for_ssh(name, address)
        # The gateway's ruleset comes from the private_gateway role (configure_gateway).
        if role != "gateway":
            nsenter_net(name, "ip", "route", "replace", "default", "via", self.topo.gateway_private)
        if role == "backend":
            for service in self.topo.services:
                if service.address != address:
                    continue
                unit = string.Template(_data("backend.service")).substitute(port=service.port)
                podman("exec", "-i", name, "sh", "-c", "cat > /usr/local/bin/hb-backend",
                       stdin=_data("backend.py").encode())
                podman("exec", "-i", name, "sh", "-c",
                       "cat > /etc/systemd/system/hb-backend.service && "
                       "systemctl enable --quiet --now hb-backend", stdin=unit.encode())
        sshkeys.record_host_key(self.known_hosts, [name, address], host_key)

    def ssh_vars(self) -> dict[str, str]:
        return {
            "user": ADMIN_USER,
            "private_key_file": str(self.private_key),
            "known_hosts_file": str(self.known_hosts),
        }

    def remove_if_unused(self) -> bool:
        """Remove the private side and networks when no burst host of any event is left and
        no other command is using it (under the machine lock)."""
        with locks.machine():
            if containers(f"{ROLE_LABEL}=burst") or reservations.other_users():
                return False
            return self._remove()

    def _remove(self) -> bool:
        names = [c["Names"][0] for c in containers("hybridburst=1")]
        if names:
            podman("rm", "-f", "-t", "0", *names)
        for net in (BURST_NET, PRIVATE_NET):
            if inspect("network", net):
                podman("network", "rm", "-f", net)
        return True


def require_running(name: str) -> None:
    info = inspect("container", name)
    if not info or not info["State"]["Running"]:
        raise HybridburstError(f"{name} is not running")
