"""cloud-init user data of a burst host: the fleet SSH key, the data disk, the host key.

The host keys are written to the serial console between markers. The console is readable only
with the cloud's API credentials, so it is a trusted channel for filling ``known_hosts``
(``aws ec2 get-console-output``, ``openstack console log show``) without ever trusting a key
offered over the network on first contact; :func:`host_keys_from_console` reads it back.
"""

from __future__ import annotations

import json
import re

from ..catalog import DATA_MOUNT

BEGIN = "-----BEGIN HYBRIDBURST HOST KEYS {name}-----"
END = "-----END HYBRIDBURST HOST KEYS {name}-----"

_DATA_DISK_SCRIPT = r"""#!/bin/sh
# Format and mount the one data disk that has neither partitions nor a file system.
set -eu
mount_point="$1"
if findmnt -rn "$mount_point" >/dev/null; then exit 0; fi
for dev in $(lsblk -dnpo NAME,TYPE | awk '$2 == "disk" {print $1}'); do
  if [ -n "$(lsblk -npo NAME "$dev" | sed 1d)" ]; then continue; fi
  if blkid "$dev" >/dev/null 2>&1; then continue; fi
  if lsblk -npo MOUNTPOINT "$dev" | grep -q .; then continue; fi
  mkfs.ext4 -q -L hbdata "$dev"
  break
done
mkdir -p "$mount_point"
grep -q '^LABEL=hbdata ' /etc/fstab || echo "LABEL=hbdata $mount_point ext4 defaults,nofail 0 2" >> /etc/fstab
mount "$mount_point"
"""


def _quote(value: str) -> str:
    # JSON strings are valid YAML scalars: safe quoting without a YAML emitter.
    return json.dumps(value)


def render(hostname: str, ssh_user: str, ssh_public_key: str,
           data_mount: str = DATA_MOUNT) -> str:
    """The cloud-config document of one host."""
    begin, end = BEGIN.format(name=hostname), END.format(name=hostname)
    publish = (
        f"echo {_quote(begin)} >/dev/console; "
        "cat /etc/ssh/ssh_host_ed25519_key.pub /etc/ssh/ssh_host_ecdsa_key.pub >/dev/console; "
        f"echo {_quote(end)} >/dev/console"
    )
    script = "\n".join("      " + line if line else "" for line in _DATA_DISK_SCRIPT.splitlines())
    return "\n".join([
        "#cloud-config",
        f"hostname: {_quote(hostname)}",
        "preserve_hostname: false",
        "ssh_pwauth: false",
        "disable_root: true",
        "users:",
        f"  - name: {_quote(ssh_user)}",
        "    shell: /bin/bash",
        "    sudo: \"ALL=(ALL) NOPASSWD:ALL\"",
        "    lock_passwd: true",
        "    ssh_authorized_keys:",
        f"      - {_quote(ssh_public_key.strip())}",
        "write_files:",
        "  - path: /usr/local/sbin/hybridburst-data-disk",
        "    permissions: \"0755\"",
        "    content: |",
        script,
        "runcmd:",
        f"  - [/usr/local/sbin/hybridburst-data-disk, {_quote(data_mount)}]",
        f"  - [sh, -c, {_quote(publish)}]",
        "",
    ])


def host_keys_from_console(console: str, hostname: str) -> list[str]:
    """The host public keys a host printed on its console (last block wins)."""
    pattern = re.compile(
        re.escape(BEGIN.format(name=hostname)) + r"\s*\n(.*?)" + re.escape(END.format(name=hostname)),
        re.S,
    )
    blocks = pattern.findall(console)
    if not blocks:
        return []
    keys = []
    for line in blocks[-1].splitlines():
        parts = line.strip().split()
        if len(parts) >= 2 and parts[0].startswith(("ssh-", "ecdsa-")):
            keys.append(f"{parts[0]} {parts[1]}")
    return keys
