#!/usr/bin/python3
# Copyright: hybridburst authors
# Apache License 2.0
"""Read-only probe of what the baseline role can apply on this host.

Run by the role's preflight (ansible.builtin.script) WITHOUT become, as the login user, so
that it sees this session as the operator does (SSH_CONNECTION, which sudo strips), with
one argument, a JSON object:
  sysctl       {key: value} wanted
  limits       [{domain, type, item, value}] wanted
  files        [{path, owner, group, mode}] wanted
  services     systemd units whose state to report
  users        accounts whose existence to report
  ssh_sources  CIDRs the firewall will let reach SSH
It prints one JSON object and never writes anything:
  container            container manager (podman, docker, lxc ...), "" on a VM or bare metal
  capabilities         {net_admin, sys_time, sys_resource} that root can have here (the
                       bounding set: a container's lacks what was not granted to it)
  login                {user, groups, has_authorized_keys, key_blobs, ssh_client}: the account of this
                       session; ssh_client is "" when the connection is not SSH (podman, local)
  sysctl               {key: {apply, reason, current, differs}}; a key applies when it exists,
                       is not on a read-only mount and, in a container, is net.* with
                       CAP_NET_ADMIN (kernel.*, fs.*, vm.* are machine-wide: never set from a
                       container)
  limits               the limits with apply and reason; one above the current hard limit
                       does not apply without CAP_SYS_RESOURCE (PAM would refuse every
                       session of its domain)
  not_applied          one line per sysctl or limit that does not apply, with the reason
  files                {path: {present, fix}}: fix when owner, group or mode differ
  services             {unit: {active, enabled, missing_links}}: enabled when systemd says
                       so AND every WantedBy=/RequiredBy= link of its [Install] is in place
  users_present, client_in_ssh_sources (null when not over SSH), os
"""

from __future__ import annotations

import contextlib
import grp
import ipaddress
import json
import os
import pwd
import resource
import subprocess
import sys

CAPS = {"net_admin": 12, "sys_resource": 24, "sys_time": 25}
RLIMITS = {
    "core": resource.RLIMIT_CORE,
    "data": resource.RLIMIT_DATA,
    "fsize": resource.RLIMIT_FSIZE,
    "memlock": resource.RLIMIT_MEMLOCK,
    "nofile": resource.RLIMIT_NOFILE,
    "nproc": resource.RLIMIT_NPROC,
    "stack": resource.RLIMIT_STACK,
    "as": resource.RLIMIT_AS,
    "cpu": resource.RLIMIT_CPU,
}


def _read(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def container_name() -> str:
    name = _read("/run/systemd/container").strip()
    if name:
        return name
    if os.path.exists("/run/.containerenv"):
        return "podman"
    if os.path.exists("/.dockerenv"):
        return "docker"
    for entry in _read("/proc/1/environ").split("\0"):
        if entry.startswith("container="):
            return entry.split("=", 1)[1] or "container"
    return ""


def capabilities() -> dict[str, bool]:
    """What root can have here: the bounding set (the probe runs as the login user)."""
    bounding = 0
    for line in _read("/proc/self/status").splitlines():
        if line.startswith("CapBnd:"):
            bounding = int(line.split()[1], 16)
    return {name: bool(bounding >> bit & 1) for name, bit in CAPS.items()}


def login_session() -> tuple[str, str]:
    """(SSH client address, login user): the probe runs without become, as the login user."""
    client = os.environ.get("SSH_CONNECTION", "").split(" ")[0]
    return client, pwd.getpwuid(os.getuid()).pw_name


def user_info(user: str) -> tuple[list[str], list[str]]:
    """Groups of the user, and the key blobs of its authorized_keys."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return [], []
    groups = {g.gr_name for g in grp.getgrall() if user in g.gr_mem}
    with contextlib.suppress(KeyError):
        groups.add(grp.getgrgid(entry.pw_gid).gr_name)
    blobs = []
    for line in _read(os.path.join(entry.pw_dir, ".ssh", "authorized_keys")).splitlines():
        words = line.split()
        if line.lstrip().startswith("#"):
            continue
        blobs += [word for word in words if word.startswith("AAAA")][:1]
    return sorted(groups), blobs


def _user_exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
    except KeyError:
        return False
    return True


def sysctl_plan(wanted: dict, container: str, caps: dict) -> dict:
    plan = {}
    for key in wanted:
        path = "/proc/sys/" + key.replace(".", "/")
        current = _read(path).strip()
        if not os.path.exists(path):
            apply, reason = False, "not present in this kernel or network namespace"
        elif container and not key.startswith("net."):
            apply, reason = False, f"machine-wide setting: never set from a container ({container})"
        elif os.statvfs(path).f_flag & os.ST_RDONLY or (container and not caps["net_admin"]):
            apply, reason = False, "read-only here (a container without a writable /proc/sys/net)"
        else:
            apply, reason = True, "applied"
        current = " ".join(current.split())
        plan[key] = {"apply": apply, "reason": reason, "current": current,
                     "differs": current != " ".join(str(wanted[key]).split())}
    return plan


def limits_plan(wanted: list, caps: dict) -> list:
    plan = []
    for limit in wanted:
        entry = dict(limit)
        entry["apply"], entry["reason"] = True, "applied"
        rlimit = RLIMITS.get(str(limit.get("item")))
        if rlimit is not None and not caps["sys_resource"]:
            hard = resource.getrlimit(rlimit)[1]
            value = str(limit.get("value"))
            wanted_value = resource.RLIM_INFINITY if value in ("unlimited", "infinity", "-1") else None
            if wanted_value is None and value.isdigit():
                wanted_value = int(value)
            if wanted_value is not None and hard != resource.RLIM_INFINITY and (
                wanted_value == resource.RLIM_INFINITY or wanted_value > hard
            ):
                entry["apply"] = False
                entry["reason"] = (
                    f"above this host's hard limit {hard} and no CAP_SYS_RESOURCE: "
                    "PAM would refuse every session of this domain"
                )
        plan.append(entry)
    return plan


def files_plan(wanted: list) -> dict:
    plan = {}
    for item in wanted:
        path = item["path"]
        try:
            info = os.lstat(path)
        except OSError:
            plan[path] = {"present": False, "fix": False}
            continue
        fix = "mode" in item and (info.st_mode & 0o7777) != int(str(item["mode"]), 8)
        for key, lookup in (("owner", pwd.getpwnam), ("group", grp.getgrnam)):
            if key in item:
                try:
                    wanted_id = lookup(item[key])[2]
                except KeyError:
                    wanted_id = -1
                fix = fix or wanted_id != (info.st_uid if key == "owner" else info.st_gid)
        plan[path] = {"present": True, "fix": fix}
    return plan


UNIT_DIRS = ("/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system",
             "/usr/lib/systemd/system", "/lib/systemd/system")
INSTALL_LINKS = {"WantedBy": ".wants", "RequiredBy": ".requires", "UpheldBy": ".upholds"}


def install_links_missing(unit: str) -> list:
    """The links of the unit file's [Install] WantedBy=/RequiredBy=/UpheldBy= that do not exist.

    `systemctl is-enabled` says "enabled" as soon as ANY name of the [Install] section links
    to the unit: an Alias= (rsyslog's syslog.service) is enough, with no multi-user.target
    link, and such a unit does not start at boot. systemd reads [Install] from the unit file
    only (never from drop-ins)."""
    out = subprocess.run(["systemctl", "show", "-p", "FragmentPath", "--value", unit],
                         capture_output=True, text=True, check=False).stdout.strip()
    if not out:
        return []
    name, section, targets = os.path.basename(out), "", {}
    for raw in _read(out).splitlines():
        line = raw.strip()
        if line.startswith("["):
            section = line
        elif section == "[Install]" and "=" in line:
            key, value = (part.strip() for part in line.split("=", 1))
            if key in INSTALL_LINKS:
                targets[key] = (targets.get(key, []) + value.split()) if value else []
    links = [f"{target}{INSTALL_LINKS[key]}/{name}" for key, values in targets.items() for target in values]
    return [link for link in links
            if not any(os.path.lexists(os.path.join(folder, link)) for folder in UNIT_DIRS)]


def services_state(units: list) -> dict:
    """active, and enabled: for boot, every link of its [Install] section in place."""
    state = {}
    for unit in units:
        quiet = {"check": False, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        active = subprocess.run(["systemctl", "is-active", "--quiet", unit], **quiet).returncode == 0
        enabled = subprocess.run(["systemctl", "is-enabled", "--quiet", unit], **quiet).returncode == 0
        missing = install_links_missing(unit) if enabled else []
        state[unit] = {"active": active, "enabled": enabled and not missing, "missing_links": missing}
    return state


def in_networks(address: str, cidrs: list) -> bool | None:
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    for cidr in cidrs:
        try:
            network = ipaddress.ip_network(str(cidr), strict=False)
        except ValueError:
            continue
        mapped = getattr(ip, "ipv4_mapped", None)
        if ip in network or (mapped is not None and mapped in network):
            return True
    return False


def os_release() -> dict:
    values = {}
    for line in _read("/etc/os-release").splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            values[key] = value.strip().strip('"')
    return {"id": values.get("ID", ""), "id_like": values.get("ID_LIKE", ""),
            "version_id": values.get("VERSION_ID", "")}


def main() -> None:
    params = {"sysctl": {}, "limits": [], "files": [], "services": [], "users": [], "ssh_sources": []}
    params.update(json.loads(sys.argv[1]) if len(sys.argv) > 1 else {})
    container = container_name()
    caps = capabilities()
    client, user = login_session()
    groups, key_blobs = user_info(user)
    sysctl = sysctl_plan(params["sysctl"], container, caps)
    limits = limits_plan(params["limits"], caps)
    not_applied = [f"sysctl {key}={params['sysctl'][key]}: {plan['reason']}"
                   for key, plan in sysctl.items() if not plan["apply"]]
    not_applied += [f"limit {item['domain']} {item['type']} {item['item']} {item['value']}: {item['reason']}"
                    for item in limits if not item["apply"]]
    json.dump({
        "container": container,
        "capabilities": caps,
        "login": {"user": user, "groups": groups, "has_authorized_keys": bool(key_blobs),
                  "key_blobs": key_blobs, "ssh_client": client},
        "sysctl": sysctl,
        "limits": limits,
        "not_applied": not_applied,
        "files": files_plan(params["files"]),
        "services": services_state(params["services"]),
        "users_present": [name for name in params["users"] if _user_exists(name)],
        "client_in_ssh_sources": in_networks(client, params["ssh_sources"]),
        "os": os_release(),
    }, sys.stdout)


if __name__ == "__main__":
    main()
