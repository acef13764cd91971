"""The local cloud on real hosts: inventory, strict SSH, hardware views, the gateway."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from pathlib import Path

from tests.conftest import hybridburst, podman
from tests.e2e.conftest import FAULTS, HEALTHY, Fleet, allow_set

SUBSET = "gather_subset=!all,!min,hardware,network,distribution"


def plain(value: object) -> object:
    """ansible-inventory marks values from the manifest as unsafe (never templated)."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def facts(fleet: Fleet, pattern: str = "burst") -> dict[str, dict]:
    proc = fleet.ansible(pattern, "-m", "ansible.builtin.setup", "-a", SUBSET, "-o")
    result = {}
    for line in proc.stdout.splitlines():
        if " => " not in line:
            continue
        name, rest = line.split(" | ", 1)
        status, body = rest.split(" => ", 1)
        assert status == "SUCCESS", line[:300]
        result[name] = json.loads(body)["ansible_facts"]
    return result


def test_inventory_lists_every_host_with_groups_and_vars(fleet: Fleet) -> None:
    proc = subprocess.run(["ansible-inventory", "-i", str(fleet.inventory), "--list"],
                          capture_output=True, text=True, check=True)
    inv = plain(json.loads(proc.stdout))
    assert isinstance(inv, dict)
    burst = set(inv["burst"]["hosts"])
    assert burst == {f"e2e-web-{i:02d}" for i in range(1, 7)} | {"e2e-cache-01"}
    assert set(inv["pool_web"]["hosts"]) == {f"e2e-web-{i:02d}" for i in range(1, 7)}
    assert inv["type_local_small"]["hosts"] == ["e2e-cache-01"]
    assert inv["gateway"]["hosts"] == ["hb-gateway"]
    hostvars = inv["_meta"]["hostvars"]
    web1 = hostvars["e2e-web-01"]
    assert web1["ansible_host"] == fleet.host("e2e-web-01")["address"]
    assert web1["hybridburst_expected"]["memory_mb"] == 1024
    assert "StrictHostKeyChecking=yes" in web1["ansible_ssh_common_args"]
    assert str(fleet.dir / "ssh" / "known_hosts") in web1["ansible_ssh_common_args"]
    assert hostvars["hb-backend"]["ansible_host"] == "10.200.0.20"


def test_ansible_reaches_every_host_with_strict_host_keys(fleet: Fleet) -> None:
    proc = fleet.ansible("all", "-m", "ansible.builtin.ping", "-o")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("SUCCESS") == 7 + 3  # burst hosts and the private side


def test_unknown_host_key_is_refused(fleet: Fleet, tmp_path: Path) -> None:
    # A known_hosts that knows web-01 under another key, and does not know web-02 at all.
    # The copy is the event's directory too: a manifest lives in the directory of its event.
    shutil.copytree(fleet.dir, tmp_path / fleet.event, ignore=shutil.ignore_patterns("runs"))
    known = tmp_path / fleet.event / "ssh" / "known_hosts"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")],
                   check=True)
    other = (tmp_path / "other.pub").read_text()
    lines = []
    for line in known.read_text().splitlines():
        names = line.split()[0]
        if "e2e-web-01" in names:
            lines.append(f"{names} {' '.join(other.split()[:2])}")
        elif "e2e-web-02" not in names:
            lines.append(line)
    known.write_text("\n".join(lines) + "\n")
    data = json.loads((tmp_path / fleet.event / "manifest.json").read_text())
    data["ssh"]["known_hosts_file"] = str(known)
    (tmp_path / fleet.event / "manifest.json").write_text(json.dumps(data))
    inventory = tmp_path / fleet.event / "fleet.yml"
    inventory.write_text(
        f"plugin: hybridburst.platform.fleet\nmanifest: {tmp_path / fleet.event / 'manifest.json'}\n"
    )
    # Fresh SSH connections: a master connection of an earlier test must not be reused.
    proc = fleet.ansible("e2e-web-01:e2e-web-02:e2e-web-03", "-m", "ansible.builtin.ping", "-o",
                         inventory=inventory,
                         env={"ANSIBLE_SSH_CONTROL_PATH_DIR": str(tmp_path / "cp")})
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "e2e-web-03 | SUCCESS" in out
    assert "e2e-web-01 | UNREACHABLE" in out and "e2e-web-02 | UNREACHABLE" in out
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in out or "Host key verification failed" in out


def test_facts_show_instance_type_hardware_and_each_fault(fleet: Fleet) -> None:
    found = facts(fleet)
    assert len(found) == 7
    for name, f in found.items():
        expected = fleet.host(name)["expected"]
        fault = FAULTS.get(name, {})
        data = next(m for m in f["ansible_mounts"] if m["mount"] == "/srv/data")
        memory = fault.get("memory_mb", expected["memory_mb"])
        assert abs(f["ansible_memtotal_mb"] - memory) <= 1, (name, f["ansible_memtotal_mb"])
        assert f["ansible_processor_nproc"] == fault.get("cpus", expected["cpus"]), name
        assert data["size_total"] == fault.get("disk_mb", expected["disk_mb"]) * 2**20, name
        assert f["ansible_distribution"] == "Debian"
        assert f["ansible_distribution_major_version"] == fault.get("os_version", "12"), name
        if fault.get("wrong_address"):
            assert f["ansible_default_ipv4"]["address"] != expected["address"]
        else:
            assert f["ansible_default_ipv4"]["address"] == expected["address"], name
    assert found["e2e-cache-01"]["ansible_memtotal_mb"] == 512
    assert found["e2e-web-01"]["ansible_memtotal_mb"] == 1024


def test_burst_hosts_cannot_reach_private_service_while_allow_set_is_empty(fleet: Fleet) -> None:
    assert allow_set() == set()
    for host in [*HEALTHY, "e2e-web-02"]:
        assert not fleet.reaches_private_service(host), host
    # The service is up: the gateway's private side reaches it.
    out = podman("exec", "hb-gateway", "curl", "-s", "-m", "3", "http://10.200.0.20:8081/health")
    assert json.loads(out)["status"] == "ok"


def test_a_host_sets_its_own_net_sysctls_and_none_of_the_machine(fleet: Fleet) -> None:
    """net.* belongs to the host's own network namespace, like on a VM: its root sets it and
    the machine keeps its value. kernel.*, fs.*, vm.* stay read-only, and cannot be remounted."""
    host = HEALTHY[0]
    machine = Path("/proc/sys/net/ipv4/tcp_max_syn_backlog").read_text().strip()
    wanted = str(int(machine) + 1)
    proc = fleet.ssh(host, f"sudo -n sysctl -w net.ipv4.tcp_max_syn_backlog={wanted}")
    assert proc.returncode == 0, proc.stderr
    assert fleet.ssh(host, "cat /proc/sys/net/ipv4/tcp_max_syn_backlog").stdout.strip() == wanted
    assert Path("/proc/sys/net/ipv4/tcp_max_syn_backlog").read_text().strip() == machine
    pid_max = Path("/proc/sys/kernel/pid_max").read_text()
    for command in ("sudo -n sh -c 'echo 4194303 > /proc/sys/kernel/pid_max'",
                    "sudo -n umount /proc/sys/kernel",
                    "sudo -n mount -o remount,rw /proc/sys/kernel",
                    "sudo -n sh -c 'echo 1 > /proc/sys/fs/protected_regular'",
                    "sudo -n sh -c 'echo 1 > /proc/sys/vm/overcommit_memory'"):
        proc = fleet.ssh(host, command)
        assert proc.returncode != 0, (command, proc.stdout)
    assert "Read-only file system" in fleet.ssh(
        host, "sudo -n sh -c 'echo 4194303 > /proc/sys/kernel/pid_max'").stderr
    assert Path("/proc/sys/kernel/pid_max").read_text() == pid_max


def test_a_host_that_takes_another_mac_is_cut_off_by_its_bridge_port(fleet: Fleet) -> None:
    """With NET_ADMIN a host could take another host's MAC (and address, which the gateway's
    allow set binds to it): its bridge port drops every frame from a MAC not its own."""
    host, other = HEALTHY[0], "e2e-web-02"
    address = fleet.host(host)["address"]
    container = f"hb-{host}"

    def answers() -> bool:
        subprocess.run(["ip", "neigh", "flush", "to", address], check=False)
        try:
            with socket.create_connection((address, 22), timeout=2) as sock:
                return sock.recv(4).startswith(b"SSH")
        except OSError:
            return False

    own = podman("exec", container, "cat", "/sys/class/net/eth0/address").strip()
    foreign = podman("exec", f"hb-{other}", "cat", "/sys/class/net/eth0/address").strip()
    assert answers()
    try:
        podman("exec", container, "ip", "link", "set", "eth0", "address", foreign)
        assert not answers()
    finally:
        podman("exec", container, "ip", "link", "set", "eth0", "address", own)
    assert answers()


def test_status_lists_every_host_state(fleet: Fleet) -> None:
    proc = hybridburst("status", fleet.event, "--json", check=True)
    rows = json.loads(proc.stdout)["hosts"]
    assert len(rows) == 7
    assert {r["state"] for r in rows} >= {"launched"}
    assert all(r["address"] for r in rows)


def test_provision_again_changes_nothing(fleet: Fleet) -> None:
    before = fleet.manifest["hosts"]
    ids = podman("ps", "-q", "--filter", "label=hybridburst.event=e2e").split()
    proc = hybridburst("provision", str(fleet.spec), check=True)
    assert "launching" not in proc.stdout
    assert fleet.manifest["hosts"] == before
    assert podman("ps", "-q", "--filter", "label=hybridburst.event=e2e").split() == ids
