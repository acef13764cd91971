"""lxcfs gives each container its own /proc/meminfo, cpuinfo and stat (from its limits)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from ...errors import HybridburstError

MOUNT = Path("/var/lib/lxcfs")
PROC_FILES = ("meminfo", "cpuinfo", "stat", "uptime", "swaps", "loadavg", "diskstats")


def _mounted(mountinfo: Path = Path("/proc/self/mountinfo")) -> bool:
    """True if anything is mounted on MOUNT, including a dead FUSE mount.

    `mountpoint` stats the path, which fails with ENOTCONN once lxcfs died, so the
    kernel's mount table is read instead.
    """
    target = str(MOUNT)
    for line in mountinfo.read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if len(fields) > 4 and fields[4] == target:
            return True
    return False


def _healthy() -> bool:
    try:
        return _mounted() and (MOUNT / "proc" / "meminfo").read_text().startswith("MemTotal")
    except OSError:
        return False


def ensure() -> None:
    """Start lxcfs unless it already serves; clears a stale mount left by a dead lxcfs."""
    if _healthy():
        return
    while _mounted():  # stale (possibly stacked) mounts of a dead lxcfs
        if subprocess.run(["umount", "-l", str(MOUNT)], check=False).returncode != 0:
            raise HybridburstError(f"cannot unmount the stale lxcfs mount on {MOUNT}")
    MOUNT.mkdir(parents=True, exist_ok=True)
    log = open("/var/log/hybridburst-lxcfs.log", "ab")  # noqa: SIM115 (kept by the daemon)
    subprocess.Popen(
        ["lxcfs", str(MOUNT)], stdout=log, stderr=log, stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if _healthy():
            return
        time.sleep(0.2)
    raise HybridburstError(f"lxcfs did not come up on {MOUNT}; see /var/log/hybridburst-lxcfs.log")


def mounts() -> list[str]:
    return [f"{MOUNT}/proc/{name}:/proc/{name}:ro" for name in PROC_FILES]
