#!/usr/bin/python
# Copyright: hybridburst authors
# Apache License 2.0
"""Module hybridburst.platform.nft_set: elements of an nftables set, changed atomically."""

from __future__ import annotations

DOCUMENTATION = r"""
module: nft_set
short_description: Manage the elements of an nftables set, atomically
description:
  - Adds or removes elements of an existing nftables set in one nft transaction, so there is
    never a moment where the set is half-changed (no window where everything is open or every
    authorized host is cut off).
  - C(present) and C(absent) touch only the given elements, so runs that each hand the module
    a part of the elements (AWX job slices) never undo each other.
  - C(exact) makes the set hold exactly the given elements; C(query) changes nothing.
  - The family, table and set names and every element are checked before nft sees them; a
    bad one fails the task naming it.
version_added: 0.1.0
author: hybridburst authors
options:
  family:
    description: Table family.
    type: str
    default: inet
  table:
    description: Table name.
    type: str
    required: true
  set:
    description: Set name.
    type: str
    required: true
  elements:
    description:
      - Elements to add, remove, or hold exactly, written as nft lists them, the fields of a
        concatenation joined with C( . ) (C(eth1 . 10.201.0.11 . 02:42:0a:c9:00:0b)).
      - Each field is checked against the set's type (C(ipv4_addr), C(ipv6_addr),
        C(ether_addr), C(ifname), C(inet_service)); anything else is refused, so no element
        can carry an nft statement.
    type: list
    elements: str
    default: []
  state:
    description: What to do with the elements.
    type: str
    choices: [present, absent, exact, query]
    default: present
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
requirements:
  - nft (nftables) on the managed host
"""

EXAMPLES = r"""
- name: Authorize two burst hosts
  hybridburst.platform.nft_set:
    table: hybridburst
    set: burst_allowed
    elements: [10.201.0.11, 10.201.0.12]
  become: true
"""

RETURN = r"""
types:
  description: The set's field types.
  returned: always
  type: list
  elements: str
elements:
  description: The elements of the set after the change (or as they would be, in check mode).
  returned: always
  type: list
  elements: str
added:
  description: Elements added.
  returned: always
  type: list
  elements: str
removed:
  description: Elements removed.
  returned: always
  type: list
  elements: str
"""

import ipaddress
import json
import re

from ansible.module_utils.basic import AnsibleModule

# Names nft reads as identifiers: nothing that could end a statement or start another.
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}\Z")
FAMILIES = ("ip", "ip6", "inet", "arp", "bridge", "netdev")
IFNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,14}\Z")
MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}\Z")
SEPARATOR = " . "


def _part(kind: str, value: str) -> str:
    """One field of an element, checked against its set type and written as nft lists it."""
    if kind in ("ipv4_addr", "ipv6_addr"):
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            raise ValueError(f"not an {kind}") from None
        if address.version != (4 if kind == "ipv4_addr" else 6):
            raise ValueError(f"not an {kind}")
        return str(address)
    if kind == "ether_addr":
        if not MAC.match(value.lower()):
            raise ValueError("not a MAC address (six hex pairs separated by ':')")
        return value.lower()
    if kind == "ifname":
        if not IFNAME.match(value):
            raise ValueError("not an interface name")
        return value
    if kind == "inet_service":
        if not value.isdigit() or not 0 < int(value) < 65536:
            raise ValueError("not a port (1-65535)")
        return str(int(value))
    raise ValueError(f"set type {kind} is not one this module writes")


def element(value: object, types: list[str]) -> str:
    """``value`` as the canonical text of an element of a set of ``types``; ValueError names
    what is wrong. Nothing but checked fields reaches nft, so no element can carry a statement."""
    if not isinstance(value, str):
        raise ValueError(f"element {value!r} is not a string")
    parts = value.split(SEPARATOR)
    if len(parts) != len(types):
        raise ValueError(f"element {value!r} needs {len(types)} field(s) "
                         f"({SEPARATOR.join(types)})")
    out = []
    for kind, part in zip(types, parts, strict=True):
        try:
            out.append(_part(kind, part))
        except ValueError as exc:
            raise ValueError(f"element {value!r}: {part!r} is {exc}") from None
    return SEPARATOR.join(out)


def names(family: str, table: str, name: str) -> None:
    """Refuse a family, table or set name nft could read as more than a name."""
    if family not in FAMILIES:
        raise ValueError(f"family {family!r} is not one of {', '.join(FAMILIES)}")
    for what, value in (("table", table), ("set", name)):
        if not isinstance(value, str) or not NAME.match(value):
            raise ValueError(f"{what} name {value!r} is not an nftables name "
                             "(a letter, then letters, digits or _; at most 32)")


def _listed(elem: object) -> str:
    """An element as ``nft -j`` lists it, in the text this module writes."""
    if isinstance(elem, dict) and "elem" in elem:
        elem = elem["elem"].get("val")
    if isinstance(elem, dict) and "concat" in elem:
        return SEPARATOR.join(str(p) for p in elem["concat"])
    if isinstance(elem, str | int):
        return str(elem)
    return json.dumps(elem, sort_keys=True)


def current_elements(module: AnsibleModule, family: str, table: str,
                     name: str) -> tuple[list[str], list[str]]:
    """The set's field types and elements."""
    rc, out, err = module.run_command(["nft", "-j", "list", "set", family, table, name])
    if rc != 0:
        module.fail_json(msg=f"cannot read set {family} {table} {name}: {err.strip()}")
    types: list[str] = []
    elements: list[str] = []
    for item in json.loads(out).get("nftables", []):
        found = item.get("set")
        if not found:
            continue
        types = found["type"] if isinstance(found["type"], list) else [found["type"]]
        elements.extend(_listed(e) for e in found.get("elem", []))
    return types, elements


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "family": {"type": "str", "default": "inet"},
            "table": {"type": "str", "required": True},
            "set": {"type": "str", "required": True},
            "elements": {"type": "list", "elements": "str", "default": []},
            "state": {"type": "str", "default": "present",
                      "choices": ["present", "absent", "exact", "query"]},
        },
        supports_check_mode=True,
    )
    family, table, name = module.params["family"], module.params["table"], module.params["set"]
    try:
        names(family, table, name)
    except ValueError as exc:
        module.fail_json(msg=f"refused: {exc}")
    types, before = current_elements(module, family, table, name)
    try:
        wanted = list(dict.fromkeys(element(e, types) for e in module.params["elements"]))
    except ValueError as exc:
        module.fail_json(msg=f"refused: set {family} {table} {name}: {exc}")
    state = module.params["state"]
    if state == "present":
        add, remove = [e for e in wanted if e not in before], []
    elif state == "absent":
        add, remove = [], [e for e in wanted if e in before]
    elif state == "exact":
        add = [e for e in wanted if e not in before]
        remove = [e for e in before if e not in wanted]
    else:
        add, remove = [], []
    after = [e for e in before if e not in remove] + add
    result = {
        "changed": bool(add or remove),
        "types": types,
        "elements": sorted(after),
        "added": add,
        "removed": remove,
        "diff": {"before": "\n".join(sorted(before)) + "\n", "after": "\n".join(sorted(after)) + "\n"},
    }
    try:  # what the kernel listed is written back only as checked text too
        add, remove = [element(e, types) for e in add], [element(e, types) for e in remove]
    except ValueError as exc:
        module.fail_json(msg=f"refused: set {family} {table} {name} holds {exc}", **result)
    if result["changed"] and not module.check_mode:
        script = ""
        if add:
            script += f"add element {family} {table} {name} {{ {', '.join(add)} }}\n"
        if remove:
            script += f"delete element {family} {table} {name} {{ {', '.join(remove)} }}\n"
        rc, _, err = module.run_command(["nft", "-f", "-"], data=script, binary_data=True)
        if rc != 0:
            module.fail_json(msg=f"nft refused the change: {err.strip()}", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
