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
    description: Elements (addresses) to add, remove, or hold exactly.
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

import json

from ansible.module_utils.basic import AnsibleModule


def current_elements(module: AnsibleModule, family: str, table: str, name: str) -> list[str]:
    rc, out, err = module.run_command(["nft", "-j", "list", "set", family, table, name])
    if rc != 0:
        module.fail_json(msg=f"cannot read set {family} {table} {name}: {err.strip()}")
    elements: list[str] = []
    for item in json.loads(out).get("nftables", []):
        for elem in item.get("set", {}).get("elem", []):
            elements.append(elem if isinstance(elem, str) else json.dumps(elem, sort_keys=True))
    return elements


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
    wanted = list(dict.fromkeys(module.params["elements"]))
    state = module.params["state"]
    before = current_elements(module, family, table, name)
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
        "elements": sorted(after),
        "added": add,
        "removed": remove,
        "diff": {"before": "\n".join(sorted(before)) + "\n", "after": "\n".join(sorted(after)) + "\n"},
    }
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
