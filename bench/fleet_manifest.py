"""A fleet manifest of N hosts, and the time and peak memory of listing it.

``make(n, folder)`` writes ``folder/events/EVENT/manifest.json`` (N valid hosts in three
pools, as a provider writes them, with the repository's local private inventory) and the
event's ``fleet.yml``, and returns the path of that inventory config.

``python bench/fleet_manifest.py N`` runs ``ansible-inventory -i <fleet.yml>`` with
``--list`` (every host's variables flattened, group variables merged in), ``--list --export``
(group variables once on their groups: what AWX's inventory import runs) and ``--graph`` (the
parse alone, as ansible-playbook does it) on such a manifest and prints, for each, one line
with its wall time, CPU time and peak RSS (the child's ru_maxrss)."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import tempfile
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


MODES = (("--list",), ("--list", "--export"), ("--graph",))


def measure(config: Path, mode: tuple[str, ...]) -> tuple[float, float, float, int]:
    """(wall seconds, CPU seconds, peak RSS in MiB, hosts listed) of
    ``ansible-inventory MODE`` (the machine is shared: CPU time says what load hides)."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
           "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".collections"),
           "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    # ru_maxrss of RUSAGE_CHILDREN is the largest child so far: each mode in a child of its own.
    code = ("import resource, subprocess, sys, time\n"
            "start = time.monotonic()\n"
            "proc = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)\n"
            "took = time.monotonic() - start\n"
            "use = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
            "sys.stderr.buffer.write(proc.stderr[-2000:])\n"
            "sys.stdout.buffer.write(b'%d %f %f %d\\n' % (proc.returncode, took,\n"
            "    use.ru_utime + use.ru_stime, use.ru_maxrss))\n"
            "sys.stdout.buffer.write(proc.stdout)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(BIN / "ansible-inventory"),
                           "-i", str(config), *mode],
                          capture_output=True, text=True, env=env, cwd=REPO, check=False)
    head, _, out = proc.stdout.partition("\n")
    if proc.returncode != 0 or not head or head.split()[0] != "0":
        raise SystemExit(f"ansible-inventory {' '.join(mode)} failed:\n{proc.stderr[-2000:]}")
    _, seconds, cpu, maxrss = head.split()
    if mode[0] == "--graph":
        listed = len({line.lstrip(" |-") for line in out.splitlines()
                      if not line.lstrip(" |-").startswith("@")})
    else:
        listed = len(json.loads(out)["_meta"]["hostvars"])
    return float(seconds), float(cpu), int(maxrss) / 1024, listed


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory(prefix="hb-fleet-") as tmp:
        config = make(n, Path(tmp))
        for mode in MODES:
            seconds, cpu, peak, listed = measure(config, mode)
            # bench/run.py reads the "--list," line: "... S s, peak RSS M MiB".
            print(f"ansible-inventory {' '.join(mode)}, {n} burst hosts ({listed} hosts listed, "
                  f"{cpu:.2f} s CPU): {seconds:.2f} s, peak RSS {peak:.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
