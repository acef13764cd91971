"""The host image: Debian bookworm by debootstrap, systemd as PID 1, sshd, python3.

Cached under a tag that carries the hash of its recipe: rebuilt only when the recipe changes.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from .podman import PodmanError, environment, podman

REPOSITORY = "localhost/hybridburst-host"


def recipe() -> bytes:
    return (
        resources.files("hybridburst.providers.local").joinpath("data/image-recipe.sh").read_bytes()
    )


def tag() -> str:
    return f"{REPOSITORY}:{hashlib.sha256(recipe()).hexdigest()[:12]}"


def _exists_rc(name: str) -> bool:
    return subprocess.run(["podman", "image", "exists", name], env=environment()).returncode == 0


def ensure(log: Callable[[str], None] = print) -> str:
    """Build the image unless its current tag exists; returns the tag.

    ``:latest`` always names the current build (molecule scenarios use it)."""
    wanted = tag()
    if _exists_rc(wanted):
        podman("tag", wanted, f"{REPOSITORY}:latest")
        return wanted
    log(f"building host image {wanted} with debootstrap (about a minute)")
    workdir = Path(tempfile.mkdtemp(prefix="hybridburst-image-", dir="/var/tmp"))
    try:
        script = workdir / "recipe.sh"
        script.write_bytes(recipe())
        rootfs = workdir / "rootfs"
        build = subprocess.run(["bash", str(script), str(rootfs)], capture_output=True, check=False)
        if build.returncode != 0:
            raise PodmanError(
                "host image recipe failed:\n" + build.stderr.decode(errors="replace")[-2000:]
            )
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        imp = subprocess.run(
            ["podman", "import", "--change", 'CMD ["/sbin/init"]',
             "--change", "STOPSIGNAL=SIGRTMIN+3", "-", wanted],
            stdin=tar.stdout, capture_output=True, env=environment(), check=False,
        )
        tar.wait()
        if imp.returncode != 0 or tar.returncode != 0:
            raise PodmanError(f"podman import failed: {imp.stderr.decode(errors='replace')}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    podman("tag", wanted, f"{REPOSITORY}:latest")
    return wanted
