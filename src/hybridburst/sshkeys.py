"""SSH key pairs and known_hosts files. Host keys are always checked: a host enters a
known_hosts file only with the key read from the host itself (the console of a cloud
instance, the container for the local provider), never trusted on first use."""

from __future__ import annotations

import fcntl
import os
import shlex
import subprocess
from pathlib import Path

from .errors import HybridburstError


def ensure_keypair(private_key: Path, comment: str) -> Path:
    """Create an ed25519 key pair (0600, in a 0700 directory) unless one exists; a missing
    public half is derived from the private key. Returns the public key's path. The one
    place that runs ssh-keygen for a key pair (every provider's fleet key, the private side)."""
    private_key.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(private_key.parent, 0o700)
    public = private_key.with_suffix(".pub")
    try:
        if not private_key.exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment,
                            "-f", str(private_key)], check=True, capture_output=True)
        if not public.exists():
            out = subprocess.run(["ssh-keygen", "-y", "-f", str(private_key)],
                                 check=True, capture_output=True, text=True)
            public.write_text(out.stdout)
    except FileNotFoundError as exc:
        raise HybridburstError("ssh-keygen is needed to create SSH keys "
                               "(apt-get install openssh-client)") from exc
    except subprocess.CalledProcessError as exc:
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) \
            else exc.stderr
        raise HybridburstError(f"ssh-keygen failed for {private_key}: {stderr.strip()}") from exc
    os.chmod(private_key, 0o600)
    return public


def record_host_key(known_hosts: Path, names: list[str], public_key: str) -> None:
    """Replace the entries of ``names`` in ``known_hosts`` with ``public_key``."""
    record_host_keys(known_hosts, names, [public_key])


def record_host_keys(known_hosts: Path, names: list[str], public_keys: list[str]) -> None:
    """Replace the entries of ``names`` in ``known_hosts`` with ``public_keys`` (one line
    per key type: ed25519, ecdsa ...)."""
    pairs = [tuple(k.split()[:2]) for k in public_keys]
    known_hosts.parent.mkdir(parents=True, exist_ok=True)
    with open(known_hosts, "a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        kept = [
            line for line in handle.read().splitlines()
            if line and not set(line.split()[0].split(",")) & set(names)
        ]
        kept.extend(f"{','.join(names)} {kind} {key}" for kind, key in pairs)
        handle.seek(0)
        handle.truncate()
        handle.write("\n".join(kept) + "\n")
    os.chmod(known_hosts, 0o644)


def known_names(known_hosts: Path) -> set[str]:
    """Every host name and address that has an entry in ``known_hosts``."""
    if not known_hosts.exists():
        return set()
    names: set[str] = set()
    for line in known_hosts.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            names.update(line.split()[0].split(","))
    return names


def forget_hosts(known_hosts: Path, names: set[str]) -> None:
    if not known_hosts.exists():
        return
    with open(known_hosts, "r+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        kept = [
            line for line in handle.read().splitlines()
            if line and not set(line.split()[0].split(",")) & names
        ]
        handle.seek(0)
        handle.truncate()
        handle.write("".join(line + "\n" for line in kept))


def ssh_common_args(known_hosts: Path) -> str:
    """Arguments for every SSH connection: strict checking against our own known_hosts.

    Ansible splits these as a shell would (shlex), so the path is quoted: whatever it holds
    stays one argument. Whitespace and what ssh itself would expand are refused before a
    path gets here, when the manifest is read (manifest.ssh_path_problem)."""
    option = shlex.quote(f"UserKnownHostsFile={known_hosts}")
    return (
        f"-o {option} -o StrictHostKeyChecking=yes "
        "-o GlobalKnownHostsFile=/dev/null -o PasswordAuthentication=no "
        "-o ControlMaster=auto -o ControlPersist=120s -o ConnectTimeout=10"
    )
