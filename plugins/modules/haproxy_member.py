#!/usr/bin/python
# Copyright: hybridburst authors
# Apache License 2.0
"""Module: one server of an HAProxy backend, through the runtime API (no reload)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: haproxy_member
short_description: Add, drain, disable or remove one server of an HAProxy backend at runtime
description:
  - Talks to HAProxy's runtime API (stats socket, level admin): C(add server), C(set server
    ... state ready|drain|maint), C(del server). No reload: no connection is ever dropped.
  - C(absent) drains first, waits until the server has no session left (at most
    I(drain_timeout) seconds), puts it in maintenance, then deletes it.
  - Membership is also recorded in I(members_file) (JSON, under a lock), so that a
    configuration rendered from it brings the same servers back after a restart.
  - Supports check mode.
  - The backend and server names, the address, the port and the server options are checked
    before anything is sent (nothing that could end one runtime command and start another).
options:
  socket:
    description: Path of the runtime API socket (level admin).
    type: path
    default: /run/haproxy/admin.sock
  backend:
    description: The backend.
    type: str
    required: true
  name:
    description: The server's name in the backend.
    type: str
    required: true
  address:
    description: Address of the server (required for C(ready), C(drain), C(maint)).
    type: str
  port:
    description: Port of the server.
    type: int
  state:
    description: C(ready) takes traffic, C(drain) no new traffic, C(maint) none, C(absent) gone.
    type: str
    choices: [ready, drain, maint, absent]
    default: ready
  check:
    description: Let HAProxy health-check the server.
    type: bool
    default: true
  server_options:
    description: Options of C(add server) after C(check) (inter, rise, fall...).
    type: str
    default: inter 2s rise 2 fall 2
  wait_up_timeout:
    description: With C(ready), seconds to wait until HAProxy reports the server UP (0, do not wait).
    type: int
    default: 30
  drain_timeout:
    description: With C(drain) and C(absent), seconds to wait until the server has no session.
    type: int
    default: 60
  force:
    description:
      - With C(absent), when sessions remain after I(drain_timeout), shut them down and
        remove the server anyway. Otherwise the module fails and leaves the server drained.
    type: bool
    default: false
  members_file:
    description: JSON file recording the members of every backend (none, do not record).
    type: path
author: hybridburst authors
"""

EXAMPLES = r"""
- name: Put the host in the load balancer
  hybridburst.platform.haproxy_member:
    backend: storefront
    name: web-01
    address: 10.201.0.5
    port: 8080
    state: ready
  delegate_to: lb-01
"""

RETURN = r"""
before:
  description: State before (ready, drain, maint, absent).
  type: str
  returned: always
after:
  description: State after.
  type: str
  returned: always
sessions:
  description: Sessions the server still had when drained (absent, drain).
  type: int
  returned: when drained
drained_seconds:
  description: How long draining took.
  type: float
  returned: when drained
members:
  description: The recorded members of the backend, name to address and port.
  type: dict
  returned: when members_file is set
"""

import fcntl
import ipaddress
import json
import os
import re
import socket
import tempfile
import time
from typing import Any

from ansible.module_utils.basic import AnsibleModule

# What may reach the runtime API: one command per line, words separated by spaces, so a
# name, address or option with a space, newline or ';' could smuggle in another command.
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,63}\Z")
HOSTNAME = re.compile(r"(?=.{1,253}\Z)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
                      r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")
OPTION = re.compile(r"[A-Za-z0-9_.:/-]+\Z")


def check_params(p: dict[str, Any]) -> list[str]:
    """What is wrong with the parameters that reach HAProxy (empty when nothing is)."""
    problems = []
    for key in ("backend", "name"):
        value = p.get(key)
        if not isinstance(value, str) or not NAME.match(value):
            problems.append(f"{key} {value!r} is not an HAProxy name (letters, digits, "
                            "'_', '.', ':', '-'; at most 64)")
    address = p.get("address")
    if address is not None:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            if not isinstance(address, str) or not HOSTNAME.match(address):
                problems.append(f"address {address!r} is neither an IP address nor a host name")
    port = p.get("port")
    if port is not None and not (isinstance(port, int) and 0 < port < 65536):
        problems.append(f"port {port!r} is not 1-65535")
    options = p.get("server_options")
    if options is not None and (not isinstance(options, str) or not all(
            OPTION.match(word) for word in options.split(" "))):
        problems.append(f"server_options {options!r} are not words of letters, digits, "
                        "'_', '.', ':', '/', '-' separated by single spaces")
    return problems


MAINT_BITS = 0x01 | 0x20 | 0x40  # forced, resolution, health-check-forced maintenance
DRAIN_BIT = 0x08


class Runtime:
    def __init__(self, path: str) -> None:
        self.path = path

    def cmd(self, line: str) -> str:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(10)
        try:
            sock.connect(self.path)
            sock.sendall(line.encode() + b"\n")
            chunks = []
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
        finally:
            sock.close()
        return b"".join(chunks).decode()

    def server(self, backend: str, name: str) -> tuple[str, str, int, int] | None:
        """(state, address, port, op_state) of the server, or None when it is not there."""
        out = self.cmd(f"show servers state {backend}")
        lines = [x for x in out.splitlines() if x.strip()]
        header = next((x[1:].split() for x in lines if x.startswith("#")), None)
        if header is None:
            raise RuntimeError(out.strip() or "no answer to show servers state")
        for line in lines:
            if line.startswith("#") or not line[0].isdigit():
                continue
            row = dict(zip(header, line.split(), strict=False))
            if row.get("be_name") == backend and row.get("srv_name") == name:
                admin = int(row["srv_admin_state"])
                state = "maint" if admin & MAINT_BITS else "drain" if admin & DRAIN_BIT else "ready"
                return state, row["srv_addr"], int(row["srv_port"]), int(row["srv_op_state"])
        return None

    def stat(self, backend: str, name: str) -> dict[str, str] | None:
        out = self.cmd("show stat")
        lines = out.splitlines()
        if not lines or not lines[0].startswith("# "):
            raise RuntimeError(out.strip() or "no answer to show stat")
        header = lines[0][2:].split(",")
        for line in lines[1:]:
            row = dict(zip(header, line.split(","), strict=False))
            if row.get("pxname") == backend and row.get("svname") == name:
                return row
        return None

    def sessions(self, backend: str, name: str) -> int:
        row = self.stat(backend, name) or {}
        return int(row.get("scur") or 0) + int(row.get("qcur") or 0)


def expect(answer: str, *accepted: str) -> str:
    text = answer.strip()
    if text and not any(a in text for a in accepted):
        raise RuntimeError(text)
    return text


def update_members(path: str, backend: str, name: str, entry: dict[str, Any] | None,
                   check_mode: bool) -> tuple[bool, dict[str, Any]]:
    """Record (entry) or forget (None) the server; return (changed, members of the backend)."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(path) as handle:
                data = json.load(handle)
        except FileNotFoundError:
            data = {}
        members = dict(data.get(backend, {}))
        if entry is None:
            changed = members.pop(name, None) is not None
        else:
            changed = members.get(name) != entry
            members[name] = entry
        if changed and not check_mode:
            data[backend] = dict(sorted(members.items()))
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".members-")
            with os.fdopen(fd, "w") as handle:
                json.dump(data, handle, indent=2, sort_keys=True)
                handle.write("\n")
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        return changed, dict(sorted(members.items()))


def wait_drained(rt: Runtime, backend: str, name: str, timeout: int) -> tuple[int, float]:
    start = time.monotonic()
    left = rt.sessions(backend, name)
    while left and time.monotonic() - start < timeout:
        time.sleep(0.5)
        left = rt.sessions(backend, name)
    return left, round(time.monotonic() - start, 1)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "socket": {"type": "path", "default": "/run/haproxy/admin.sock"},
            "backend": {"type": "str", "required": True},
            "name": {"type": "str", "required": True},
            "address": {"type": "str"},
            "port": {"type": "int"},
            "state": {"type": "str", "default": "ready",
                      "choices": ["ready", "drain", "maint", "absent"]},
            "check": {"type": "bool", "default": True},
            "server_options": {"type": "str", "default": "inter 2s rise 2 fall 2"},
            "wait_up_timeout": {"type": "int", "default": 30},
            "drain_timeout": {"type": "int", "default": 60},
            "force": {"type": "bool", "default": False},
            "members_file": {"type": "path"},
        },
        required_if=[("state", "ready", ("address", "port"))],
        supports_check_mode=True,
    )
    p = module.params
    problems = check_params(p)
    if problems:
        module.fail_json(msg="refused: " + "; ".join(problems))
    rt = Runtime(p["socket"])
    be, name, state = p["backend"], p["name"], p["state"]
    ident = f"{be}/{name}"
    result = {"changed": False, "backend": be, "name": name}
    try:
        if state != "ready" and not os.path.exists(p["socket"]):
            # No HAProxy running here: nothing sends the server traffic, nothing to drain.
            current = None
            result["msg"] = f"no runtime API at {p['socket']}: HAProxy is not running"
        else:
            current = rt.server(be, name)
        result["before"] = current[0] if current else "absent"
        if state == "absent":
            if current:
                result["changed"] = True
                if not module.check_mode:
                    if current[0] != "maint":
                        expect(rt.cmd(f"set server {ident} state drain"))
                    left, took = wait_drained(rt, be, name, p["drain_timeout"])
                    result.update(sessions=left, drained_seconds=took)
                    if left and not p["force"]:
                        module.fail_json(msg=f"{ident} still has {left} session(s) after "
                                             f"{p['drain_timeout']}s of draining; left drained",
                                         **result)
                    if left:
                        expect(rt.cmd(f"shutdown sessions server {ident}"))
                    expect(rt.cmd(f"set server {ident} state maint"))
                    deadline = time.monotonic() + 10
                    while True:  # idle connections close within a moment
                        answer = rt.cmd(f"del server {ident}").strip()
                        if "deleted" in answer or "No such server" in answer:
                            break
                        if time.monotonic() > deadline:
                            raise RuntimeError(f"del server {ident}: {answer}")
                        time.sleep(0.3)
            result["after"] = "absent"
        else:
            address = p["address"] or (current[1] if current else None)
            port = p["port"] or (current[2] if current else None)
            if current is None and state != "ready":
                # Nothing to drain or disable: never add a server only to keep it out.
                result["after"] = "absent"
                module.exit_json(**result)
            if not address or not port:
                module.fail_json(msg=f"{ident}: address and port are needed", **result)
            if current is None:
                result["changed"] = True
                if not module.check_mode:
                    options = f"check {p['server_options']}" if p["check"] else ""
                    expect(rt.cmd(f"add server {ident} {address}:{port} {options}".strip()),
                           "New server registered")
                    if p["check"]:
                        expect(rt.cmd(f"enable health {ident}"))
                    current = ("maint", address, port, 0)
            elif (current[1], current[2]) != (address, port):
                result["changed"] = True
                if not module.check_mode:
                    expect(rt.cmd(f"set server {ident} addr {address} port {port}"),
                           "no need to change", "changed from")
            if current and current[0] != state:
                result["changed"] = True
                if not module.check_mode:
                    expect(rt.cmd(f"set server {ident} state {state}"))
            if state == "drain" and not module.check_mode:
                left, took = wait_drained(rt, be, name, p["drain_timeout"])
                result.update(sessions=left, drained_seconds=took)
                if left:
                    module.fail_json(msg=f"{ident} still has {left} session(s) after "
                                         f"{p['drain_timeout']}s of draining", **result)
            if state == "ready" and p["check"] and p["wait_up_timeout"] and not module.check_mode:
                deadline = time.monotonic() + p["wait_up_timeout"]
                status = ""
                while time.monotonic() < deadline:
                    status = (rt.stat(be, name) or {}).get("status", "")
                    if status == "UP":
                        break
                    time.sleep(0.5)
                else:
                    module.fail_json(msg=f"{ident} is not UP for HAProxy after "
                                         f"{p['wait_up_timeout']}s (status {status!r})", **result)
            result["after"] = state
            result["address"], result["port"] = address, port
        if p["members_file"]:
            entry = None if state == "absent" else {"address": result["address"],
                                                    "port": result["port"]}
            changed, result["members"] = update_members(p["members_file"], be, name, entry,
                                                        module.check_mode)
            result["changed"] = result["changed"] or changed
    except (OSError, RuntimeError) as exc:
        module.fail_json(msg=f"{ident}: HAProxy runtime API ({p['socket']}): {exc}", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
