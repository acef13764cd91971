"""A fleet manifest of N hosts, and the time and peak memory of listing it.

``make(n, folder)`` writes ``folder/events/EVENT/manifest.json`` (N valid hosts in three
pools, as a provider writes them, with the repository's local private inventory) and the
event's ``fleet.yml``, and returns the path of that inventory config.

``python bench/fleet_manifest.py N`` runs ``ansible-inventory -i <fleet.yml> --list`` on
such a manifest and prints its wall time and peak RSS (the child's ru_maxrss)."""

from __future__ import annotations

import ipaddress
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BIN = REPO / ".venv" / "bin"
EVENT = "bench10k"
POOLS = (("web", "local.medium", 2, 1024), ("cache", "local.small", 1, 512),
         ("api", "local.large", 4, 2048))
BURST = ipaddress.IPv4Network("10.210.0.0/16")


def manifest(n: int, folder: Path) -> dict[str, Any]:
    """The manifest document of ``n`` hosts (addresses from .11 of a /16)."""
    ssh_dir = folder / "events" / EVENT / "ssh"
    addresses = (str(a) for a in BURST.hosts() if int(a) - int(BURST.network_address) >= 11)
    hosts = []
    per_pool = -(-n // len(POOLS))
    for i in range(n):
        pool, itype, cpus, memory = POOLS[i // per_pool]
        address = next(addresses)
        hosts.append({
            "name": f"{EVENT}-{pool}-{i % per_pool + 1:02d}",
            "address": address,
            "pool": pool,
            "instance_type": itype,
            "release": "1.0.0",
            "launched_at": "2026-11-10T20:00:00+00:00",
            "provider_id": f"hb-{EVENT}-{pool}-{i % per_pool + 1:02d}",
            "expected": {"cpus": cpus, "memory_mb": memory, "disk_mb": 2048,
                         "data_mount": "/srv/data", "interface": "eth0", "address": address,
                         "hostname": f"{EVENT}-{pool}-{i % per_pool + 1:02d}",
                         "os": {"distribution": "Debian", "major_version": "12"}},
            "tags": {"hybridburst:event": EVENT, "hybridburst:team": "bench",
                     "hybridburst:pool": pool},
        })
    return {
        "version": 1, "event": EVENT, "team": "bench", "provider": "local", "region": "local",
        "written_at": "2026-11-10T20:00:00+00:00",
        "network": {"private_cidrs": ["10.200.0.0/24"], "burst_cidr": str(BURST),
                    "gateway": {"private_address": "10.200.0.2", "burst_address": "10.210.0.2"}},
        "ssh": {"user": "admin", "private_key_file": str(ssh_dir / "id_ed25519"),
                "known_hosts_file": str(ssh_dir / "known_hosts")},
        "private_ssh": {"user": "admin", "private_key_file": str(ssh_dir / "private_id"),
                        "known_hosts_file": str(ssh_dir / "private_known_hosts")},
        "private_inventory": str(REPO / "inventory" / "local"),
        "hosts": hosts,
    }


def make(n: int, folder: Path) -> Path:
    """Write an event of ``n`` hosts under ``folder``; the path of its inventory config."""
    event_dir = folder / "events" / EVENT
    event_dir.mkdir(parents=True, exist_ok=True)
    path = event_dir / "manifest.json"
    path.write_text(json.dumps(manifest(n, folder), indent=2, sort_keys=True) + "\n")
    config = event_dir / "fleet.yml"
    config.write_text(f"plugin: hybridburst.platform.fleet\nmanifest: {path}\n")
    return config


def measure(config: Path) -> tuple[float, float, float, int]:
    """(wall seconds, CPU seconds, peak RSS in MiB, hosts listed) of
    ``ansible-inventory --list`` (the machine is shared: CPU time says what load hides)."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
           "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".collections"),
           "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.run([str(BIN / "ansible-inventory"), "-i", str(config), "--list"],
                          capture_output=True, text=True, env=env, cwd=REPO, check=False)
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"ansible-inventory failed:\n{proc.stderr[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    listed = len(json.loads(proc.stdout)["_meta"]["hostvars"])
    return seconds, cpu, after.ru_maxrss / 1024, listed


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory(prefix="hb-fleet-") as tmp:
        config = make(n, Path(tmp))
        seconds, cpu, peak, listed = measure(config)
    print(f"ansible-inventory --list, {n} burst hosts ({listed} hosts listed): "
          f"{seconds:.2f} s ({cpu:.2f} s CPU), peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()
