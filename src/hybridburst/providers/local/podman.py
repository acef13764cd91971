"""Run podman with the settings this machine needs (runc, cgroupfs, ulimits)."""

from __future__ import annotations

import json
import os
import subprocess
from importlib import resources
from typing import Any

from ...errors import HybridburstError


def containers_conf() -> str:
    return str(resources.files("hybridburst.providers.local").joinpath("data/containers.conf"))


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["CONTAINERS_CONF"] = containers_conf()
    return env


class PodmanError(HybridburstError):
    pass


def podman(*args: str, check: bool = True, stdin: bytes | None = None) -> str:
    proc = subprocess.run(
        ["podman", *args], input=stdin, capture_output=True, env=environment(), check=False
    )
    if check and proc.returncode != 0:
        raise PodmanError(
            f"podman {' '.join(args[:3])} failed ({proc.returncode}): "
            f"{proc.stderr.decode(errors='replace').strip()[-600:]}"
        )
    return proc.stdout.decode(errors="replace")


def inspect(kind: str, name: str) -> dict[str, Any] | None:
    out = subprocess.run(
        ["podman", kind, "inspect", name], capture_output=True, env=environment(), check=False
    )
    if out.returncode != 0:
        return None
    data = json.loads(out.stdout or b"[]")
    return data[0] if data else None


def containers(label: str) -> list[dict[str, Any]]:
    out = podman("ps", "-a", "--filter", f"label={label}", "--format", "json")
    return json.loads(out or "[]")


def pid_of(name: str) -> int:
    info = inspect("container", name)
    if not info or not info["State"]["Running"]:
        raise PodmanError(f"container {name} is not running")
    return int(info["State"]["Pid"])


def nsenter_net(name: str, *command: str) -> None:
    """Run a command in a container's network namespace, from outside (the host's tools)."""
    proc = subprocess.run(
        ["nsenter", "-t", str(pid_of(name)), "-n", *command], capture_output=True, check=False
    )
    if proc.returncode != 0:
        raise PodmanError(f"{name}: {' '.join(command)}: {proc.stderr.decode().strip()}")
