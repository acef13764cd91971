#!/usr/bin/python
# Copyright: hybridburst authors
# Apache License 2.0
"""Module hybridburst.platform.baseline_probe: compare a host to the baseline, read-only."""

from __future__ import annotations

DOCUMENTATION = r"""
module: baseline_probe
short_description: Compare a host to the production baseline in one task, changing nothing
description:
  - Reads what the baseline role manages on the host and returns every difference from what
    it expects, in one task (managed files (present or absent, sha256 of their content, mode,
    owner, group), live sysctl values from C(/proc/sys), packages installed or not per dpkg,
    services enabled and active, accounts present).
  - The role's entry point C(tasks_from=probe) builds the expectation from the role's own
    variables, so the probe follows the role. A host launched from a baked image is verified
    with it; only a host that differs needs the full role.
  - A sysctl that cannot take effect on this host (absent in its kernel or network namespace,
    on a read-only mount, or machine-wide in a container) is reported in RV(not_applied), not
    as a difference, like the role's own preflight.
  - It never writes anything; check mode changes nothing either.
version_added: 0.2.0
author: hybridburst authors
options:
  files:
    description:
      - Managed paths, dicts with C(path) and optional C(state) (C(present), the default, or
        C(absent)), C(sha256) (content), C(mode) (octal string), C(owner), C(group),
        C(optional) (true means a missing file is no difference, as the role skips absent paths),
        C(content) (false to never hash it, for files whose content is the host's own such as
        C(/etc/shadow)), C(capability) (compared only where root may have this capability, one of
        C(net_admin), C(sys_time) or C(sys_resource), like the role applies it).
      - A missing C(sha256) is not compared; with O(snapshot) the observed one is returned.
    type: list
    elements: dict
    default: []
  absent:
    description: Paths that must not exist (same as a C(files) entry with C(state=absent)).
    type: list
    elements: path
    default: []
  expected_sha256:
    description: The sha256 of file contents by path, applied to the O(files) entries without a
      C(sha256) of their own (the expectation recorded when an image was baked).
    type: dict
    default: {}
  sysctl:
    description: Wanted live values by key; whitespace inside a value is normalized.
    type: dict
    default: {}
  packages_present:
    description: Packages that must be installed (dpkg status C(install ok installed)).
    type: list
    elements: str
    default: []
  packages_absent:
    description: Packages that must not be installed.
    type: list
    elements: str
    default: []
  services:
    description: Dicts with C(name), C(enabled) and C(active) (booleans) wanted for the unit, and
      optional C(capability) (compared only where root may have it).
    type: list
    elements: dict
    default: []
  users:
    description: Dicts with C(name) and optional C(state) (C(present), the default, or C(absent));
      other keys (the role's C(baseline_users) entries) are ignored.
    type: list
    elements: dict
    default: []
  snapshot:
    description: Also return what was observed (sha256 of each present file), to record as the
      expectation of a baked image.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
notes:
  - Run it with become, C(/etc/shadow) and friends are read for their sha256 only when listed.
"""

EXAMPLES = r"""
- name: Compare this host to the baseline (one task)
  hybridburst.platform.baseline_probe:
    files:
      - {path: /etc/ssh/sshd_config, sha256: "{{ expected_sha }}", mode: "0600", owner: root}
      - {path: /etc/sudoers.d/90-cloud-admin, state: absent}
    sysctl: {net.core.somaxconn: 8192}
    packages_present: [chrony]
    packages_absent: [telnet]
    services: [{name: rsyslog, enabled: true, active: true}]
  register: probe
"""

RETURN = r"""
differences:
  description: Every difference found, one line each (empty when the host is at the baseline).
  returned: always
  type: list
  elements: str
  sample: ["sysctl net.core.somaxconn: 4096, wanted 8192", "package chrony: not installed"]
checked:
  description: How many settings were compared.
  returned: always
  type: int
not_applied:
  description: Sysctls that cannot take effect here, with the reason (not differences).
  returned: always
  type: list
  elements: str
observed:
  description: With O(snapshot), the sha256 of each present file by path, under C(files).
  returned: when snapshot
  type: dict
"""

import grp
import hashlib
import os
import pwd
import subprocess
from typing import Any

from ansible.module_utils.basic import AnsibleModule


def _container() -> str:
    try:
        with open("/run/systemd/container", encoding="utf-8") as handle:
            name = handle.read().strip()
    except OSError:
        name = ""
    if name:
        return name
    return "podman" if os.path.exists("/run/.containerenv") else ""


CAPS = {"net_admin": 12, "sys_resource": 24, "sys_time": 25}


def capabilities() -> set[str]:
    """What root may have here (the bounding set: a container lacks what it was not granted)."""
    bounding = 0
    with open("/proc/self/status", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("CapBnd:"):
                bounding = int(line.split()[1], 16)
    return {name for name, bit in CAPS.items() if bounding >> bit & 1}


def applies(item: dict[str, Any], caps: set[str]) -> bool:
    return not item.get("capability") or str(item["capability"]) in caps


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_files(wanted: list[dict[str, Any]], observed: dict[str, str]) -> list[str]:
    out = []
    for item in wanted:
        path = str(item["path"])
        state = item.get("state", "present")
        try:
            info = os.lstat(path)
        except OSError:
            if state != "absent" and not item.get("optional"):
                out.append(f"file {path}: missing")
            continue
        if state == "absent":
            out.append(f"file {path}: present, must be absent")
            continue
        if "mode" in item and item["mode"] is not None:
            mode = info.st_mode & 0o7777
            if mode != int(str(item["mode"]), 8):
                out.append(f"file {path}: mode {mode:04o}, wanted {int(str(item['mode']), 8):04o}")
        for key, lookup, actual in (("owner", pwd.getpwnam, info.st_uid),
                                    ("group", grp.getgrnam, info.st_gid)):
            if item.get(key) is None:
                continue
            try:
                wanted_id = lookup(str(item[key]))[2]
            except KeyError:
                wanted_id = -1
            if wanted_id != actual:
                out.append(f"file {path}: {key} id {actual}, wanted {item[key]}")
        if os.path.isfile(path) and item.get("content", True) is not False:
            sha = _sha256(path)
            observed[path] = sha
            if item.get("sha256") and item["sha256"] != sha:
                out.append(f"file {path}: content differs (sha256 {sha[:12]}, "
                           f"wanted {str(item['sha256'])[:12]})")
    return out


def check_sysctl(wanted: dict[str, Any], container: str) -> tuple[list[str], list[str]]:
    out, skipped = [], []
    for key, value in wanted.items():
        if value is None:
            continue
        path = "/proc/sys/" + key.replace(".", "/")
        if not os.path.exists(path):
            skipped.append(f"{key}: not present in this kernel or network namespace")
            continue
        if container and not key.startswith("net."):
            skipped.append(f"{key}: machine-wide setting, never set from a container")
            continue
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            skipped.append(f"{key}: read-only here")
            continue
        with open(path, encoding="utf-8") as handle:
            current = " ".join(handle.read().split())
        if current != " ".join(str(value).split()):
            out.append(f"sysctl {key}: {current}, wanted {value}")
    return out, skipped


def installed_packages(names: list[str]) -> set[str]:
    if not names:
        return set()
    proc = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\t${Status}\n", *names],
                          capture_output=True, text=True, check=False)
    return {line.split("\t")[0].split(":")[0] for line in proc.stdout.splitlines()
            if line.endswith("install ok installed")}


def check_packages(present: list[str], absent: list[str]) -> list[str]:
    have = installed_packages(sorted(set(present) | set(absent)))
    out = [f"package {p}: not installed" for p in present if p not in have]
    out += [f"package {p}: installed, must be absent" for p in absent if p in have]
    return out


def _systemctl(verb: str, unit: str) -> bool:
    return subprocess.run(["systemctl", verb, "--quiet", unit], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, check=False).returncode == 0


def check_services(wanted: list[dict[str, Any]]) -> list[str]:
    out = []
    for item in wanted:
        unit = str(item["name"])
        for verb, key in (("is-enabled", "enabled"), ("is-active", "active")):
            if key in item and item[key] is not None and _systemctl(verb, unit) != bool(item[key]):
                out.append(f"service {unit}: {'' if item[key] else 'not '}{key} wanted")
    return out


def check_users(wanted: list[dict[str, Any]]) -> list[str]:
    out = []
    for item in wanted:
        try:
            pwd.getpwnam(str(item["name"]))
            exists = True
        except KeyError:
            exists = False
        if exists != (item.get("state", "present") == "present"):
            out.append(f"user {item['name']}: {'present' if exists else 'missing'}, "
                       f"wanted {item.get('state', 'present')}")
    return out


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "files": {"type": "list", "elements": "dict", "default": []},
            "absent": {"type": "list", "elements": "path", "default": []},
            "expected_sha256": {"type": "dict", "default": {}},
            "sysctl": {"type": "dict", "default": {}},
            "packages_present": {"type": "list", "elements": "str", "default": []},
            "packages_absent": {"type": "list", "elements": "str", "default": []},
            "services": {"type": "list", "elements": "dict", "default": []},
            "users": {"type": "list", "elements": "dict", "default": []},
            "snapshot": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    p = module.params
    for item in p["files"]:
        if "path" not in item or item.get("state", "present") not in ("present", "absent"):
            module.fail_json(msg=f"files: each needs a path and state present/absent: {item}")
    caps = capabilities()
    sha = p["expected_sha256"] or {}
    files = [f if f.get("sha256") or f.get("content") is False or str(f["path"]) not in sha
             else {**f, "sha256": sha[str(f["path"])]}
             for f in p["files"] if applies(f, caps)]
    files += [{"path": path, "state": "absent"} for path in p["absent"]]
    services = [s for s in p["services"] if applies(s, caps)]
    observed: dict[str, str] = {}
    differences = check_files(files, observed)
    sysctl, not_applied = check_sysctl(p["sysctl"], _container())
    differences += sysctl
    differences += check_packages(p["packages_present"], p["packages_absent"])
    differences += check_services(services)
    differences += check_users(p["users"])
    checked = (len(files) + len(p["sysctl"]) - len(not_applied) + len(p["packages_present"])
               + len(p["packages_absent"]) + len(services) + len(p["users"]))
    result: dict[str, Any] = {"changed": False, "differences": differences, "checked": checked,
                              "not_applied": not_applied}
    if p["snapshot"]:
        result["observed"] = {"files": observed}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
