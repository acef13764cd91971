"""Settings of this machine that many systemd hosts need. Only ever raised, never lowered.

Every systemd in a container takes several inotify instances; the kernel's default of 128
per user stops booting at about 30 hosts ("Failed to create inotify object")."""

from __future__ import annotations

from pathlib import Path

MINIMUMS = {
    "fs/inotify/max_user_instances": 8192,
    "fs/inotify/max_user_watches": 524288,
}


def ensure() -> dict[str, int]:
    changed = {}
    for key, minimum in MINIMUMS.items():
        path = Path("/proc/sys") / key
        if int(path.read_text()) < minimum:
            path.write_text(str(minimum))
            changed[key.replace("/", ".")] = minimum
    return changed
