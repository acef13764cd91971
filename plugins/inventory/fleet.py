# Copyright: hybridburst authors
# Apache License 2.0
"""Inventory plugin: a hybridburst fleet manifest, merged with the private-cloud inventory."""

from __future__ import annotations

DOCUMENTATION = r"""
name: fleet
short_description: Burst hosts from a hybridburst fleet manifest, with the private cloud
description:
  - Reads a fleet manifest (versioned JSON written by every hybridburst provider) and
    the private-cloud inventory it names, and turns them into one inventory.
  - Burst hosts are grouped as C(burst), C(event_<event>), C(pool_<pool>) and
    C(type_<instance type>); the private inventory keeps its own groups and group_vars.
  - Every burst host gets its connection (user, key, a known_hosts file with strict host
    key checking) and its expected hardware as C(hybridburst_expected). What all burst hosts
    of the event share (connection, event, team, provider, networks, gateway) is set once as
    variables of the group C(event_<event>), the pool and its tags on C(pool_<pool>), the
    instance type on C(type_<instance type>); each host carries only its own values (and those
    that differ from its group's).
  - The configuration file name must end with C(fleet.yml) or C(fleet.yaml).
requirements:
  - the hybridburst Python package (it checks the manifest against its schema)
extends_documentation_fragment:
  - constructed
options:
  plugin:
    description: The name of this plugin.
    required: true
    choices: ['hybridburst.platform.fleet']
  manifest:
    description: Path of the fleet manifest (JSON).
    required: true
    type: path
  verdicts:
    description:
      - The validation report (C(validation.json) of C(playbooks/validate.yml)) whose record
        of each host becomes C(hybridburst_validation). Defaults to C(validation/validation.json)
        beside the manifest; a missing file means no host has a verdict yet.
    type: path
  private_inventory:
    description:
      - Directory (holding C(hosts.yml)) or YAML file of the private-cloud inventory to merge;
        it must have a host in each of the groups gateway, lb and backend.
      - Defaults to the one the manifest names; set to an empty string to merge none.
      - A broken source (manifest, private inventory, group_vars, verdicts) fails the run with
        its file and reason (C(unparsed_is_failed) in the repository's C(ansible.cfg)).
    type: path
"""

EXAMPLES = r"""
# double11.fleet.yml
plugin: hybridburst.platform.fleet
manifest: /var/lib/hybridburst/events/double11/manifest.json
keyed_groups:
  - key: hybridburst_release
    prefix: release
"""

import json
import re
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleParserError
from ansible.inventory.manager import InventoryManager
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable

try:
    from hybridburst import manifest as _manifest
    from hybridburst import yamlsrc as _yamlsrc
    from hybridburst.errors import InputError as _InputError
    from hybridburst.spec import private_inventory_problem as _private_inventory_problem
    from hybridburst.sshkeys import ssh_common_args as _ssh_common_args
except ImportError:  # pragma: no cover - reported when the plugin is used
    _manifest = None


def _group_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


class InventoryModule(BaseInventoryPlugin, Constructable):
    NAME = "hybridburst.platform.fleet"

    def verify_file(self, path: str) -> bool:
        return super().verify_file(path) and path.endswith(("fleet.yml", "fleet.yaml"))

    def parse(self, inventory: Any, loader: Any, path: str, cache: bool = True) -> None:
        super().parse(inventory, loader, path, cache)
        if _manifest is None:
            raise AnsibleParserError(
                "hybridburst.platform.fleet needs the hybridburst Python package: "
                "pip install hybridburst"
            )
        config = self._read_config_data(path) or {}
        unknown = sorted(set(config) - set(self._options))
        if unknown:
            raise AnsibleParserError(f"{path}: unknown option {', '.join(map(repr, unknown))} "
                                     f"(known: {', '.join(sorted(self._options))})")
        manifest_path = Path(self.get_option("manifest"))
        try:
            data = _manifest.read(manifest_path)
        except _InputError as exc:
            raise AnsibleParserError(str(exc)) from exc
        except (OSError, ValueError) as exc:  # e.g. bytes that are not UTF-8
            raise AnsibleParserError(f"{manifest_path}: not a fleet manifest: {exc}") from exc
        # An empty string means no private inventory (type path would make it the cwd).
        private = config.get("private_inventory")
        where = f"{path}: private_inventory"
        if private is None:
            private = data.get("private_inventory")
            where = f"{manifest_path}: private_inventory"
        elif private:
            private = self.get_option("private_inventory")
        self._private_hosts: set[str] = set()
        if private:
            self._merge_private(Path(private), data.get("private_ssh"), where)
        verdicts_file = self.get_option("verdicts")
        if not verdicts_file:
            verdicts_file = str(manifest_path.parent / "validation" / "validation.json")
        self._add_burst_hosts(data, self._verdicts(Path(verdicts_file)))

    def _verdicts(self, path: Path) -> dict[str, dict[str, Any]]:
        if not path.is_file():
            return {}
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
            return {r["host"]: r for r in report["hosts"]}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise AnsibleParserError(f"{path}: not a validation report: {exc}") from exc

    def _merge_private(self, source: Path, ssh: dict[str, str] | None, where: str) -> None:
        try:
            problem = _private_inventory_problem(source)
        except _InputError as exc:
            raise AnsibleParserError(f"{where}: {exc}") from exc
        if problem:
            raise AnsibleParserError(f"{where}: {problem}")
        private = InventoryManager(loader=self.loader, sources=[str(source)])
        for group in private.groups.values():
            if group.name in ("all", "ungrouped"):
                continue
            self.inventory.add_group(group.name)
        for group in private.groups.values():
            for child in group.child_groups:
                self.inventory.add_child(group.name, child.name)
            for key, value in group.get_vars().items():
                self.inventory.set_variable(group.name, key, value)
        self._private_hosts = set(private.hosts)
        for host in private.hosts.values():
            for group in host.get_groups():
                if group.name != "all":
                    self.inventory.add_host(host.name, group=group.name)
            self.inventory.add_host(host.name)
            for key, value in host.get_vars().items():
                if key not in ("inventory_file", "inventory_dir"):
                    self.inventory.set_variable(host.name, key, value)
            if ssh:
                self._set_connection(host.name, ssh, host.get_vars())
        self._load_group_vars(source if source.is_dir() else source.parent, private)

    def _load_group_vars(self, base: Path, private: InventoryManager) -> None:
        """group_vars of the private inventory: the fleet file's own directory is not theirs."""
        folder = base / "group_vars"
        for group in private.groups.values():
            files = [folder / f"{group.name}.yml", folder / f"{group.name}.yaml"]
            if (folder / group.name).is_dir():
                files += sorted((folder / group.name).glob("*.y*ml"))
            for file in files:
                if not file.is_file():
                    continue
                try:
                    values = _yamlsrc.load(file).data or {}
                except _InputError as exc:
                    raise AnsibleParserError(str(exc)) from exc
                if not isinstance(values, dict):
                    raise AnsibleParserError(f"{file}:1: group_vars must be a mapping")
                for key, value in values.items():
                    self.inventory.set_variable(group.name, key, value)

    def _set_connection(self, host: str, ssh: dict[str, str], existing: dict[str, Any]) -> None:
        defaults = {
            "ansible_user": ssh["user"],
            "ansible_ssh_private_key_file": ssh["private_key_file"],
            "ansible_ssh_common_args": _ssh_common_args(Path(ssh["known_hosts_file"])),
            "ansible_python_interpreter": "/usr/bin/python3",
        }
        for key, value in defaults.items():
            if key not in existing:
                self.inventory.set_variable(host, key, value)

    def _add_burst_hosts(self, data: dict[str, Any], verdicts: dict[str, dict[str, Any]]) -> None:
        event = data["event"]
        inventory = self.inventory
        # The manifest is plain JSON already checked against its schema: its values go in as
        # they are, never trusted as templates, without the per-value origin tagging that
        # Ansible's proxy gives a plugin's set_variable (seconds for thousands of hosts).
        data_store = getattr(inventory, "__wrapped__", inventory)
        event_group = f"event_{_group_name(event)}"
        for group in ("burst", event_group):
            inventory.add_group(group)
        network = data["network"]
        ssh = data["ssh"]
        # What every burst host of the event shares lives once on the event's group (Ansible
        # merges it into each host's variables; the event group, a child of all, wins over the
        # private inventory's group_vars of all). Not on burst: that group is shared when
        # several events' inventories are used together.
        shared = {
            "hybridburst_event": event,
            "hybridburst_team": data["team"],
            "hybridburst_provider": data["provider"],
            "hybridburst_private_cidrs": list(network["private_cidrs"]),
            "hybridburst_burst_cidr": network["burst_cidr"],
            "hybridburst_gateway_burst_address": network["gateway"]["burst_address"],
            "ansible_user": ssh["user"],
            "ansible_ssh_private_key_file": ssh["private_key_file"],
            "ansible_ssh_common_args": _ssh_common_args(Path(ssh["known_hosts_file"])),
            "ansible_python_interpreter": "/usr/bin/python3",
        }
        for key, value in shared.items():  # plain values, as the hosts' below
            data_store.groups[event_group].set_variable(key, value)
        compose, groups, keyed = (self.get_option("compose"), self.get_option("groups"),
                                  self.get_option("keyed_groups"))
        strict = self.get_option("strict")
        seen_groups: set[str] = set()
        for host in data["hosts"]:
            name = host["name"]
            pool_group = f"pool_{_group_name(host['pool'])}"
            type_group = f"type_{_group_name(host['instance_type'])}"
            for group in ("burst", event_group, pool_group, type_group):
                if group not in seen_groups:
                    inventory.add_group(group)
                    seen_groups.add(group)
                inventory.add_host(name, group=group)
            hostvars = {
                "ansible_host": host["address"],
                "hybridburst_release": host.get("release"),
                "hybridburst_launched_at": host["launched_at"],
                "hybridburst_expected": host["expected"],
            }
            # What the hosts of a pool (an instance type) share, once on its group: the pool's
            # hosts of another event's inventory may share the group, so a group keeps the
            # first value it was given and a host whose value differs carries its own.
            grouped = dict(shared)
            for group, key, value in ((pool_group, "hybridburst_pool", host["pool"]),
                                      (type_group, "hybridburst_instance_type",
                                       host["instance_type"]),
                                      (pool_group, "hybridburst_tags", host["tags"])):
                if self._on_group(group, key, value):
                    grouped[key] = value
                else:
                    hostvars[key] = value
            if host.get("gateway"):  # the host's own next hop (its subnet's router)
                hostvars["hybridburst_gateway_burst_address"] = host["gateway"]
            if name in verdicts:
                record = verdicts[name]
                hostvars["hybridburst_validation"] = {
                    "verdict": record.get("verdict"),
                    "launched_at": record.get("launched_at"),
                    "reasons": record.get("reasons", []),
                }
            entry = data_store.get_host(name)
            for key, value in hostvars.items():
                if key in entry.vars:  # a private host of the same name: Ansible's merge
                    entry.set_variable(key, value)
                else:  # names of this plugin's own (valid), values plain JSON
                    entry.vars[key] = value
            if name in self._private_hosts:
                # A private host of the same name: its own variables and its groups' would win
                # over the burst groups', so the burst values go on the host as they always did.
                for key, value in grouped.items():
                    if key not in hostvars:
                        entry.set_variable(key, value)
            if compose or groups or keyed:
                merged = {**grouped, **entry.get_vars()}
                self._set_composite_vars(compose, merged, name, strict=strict)
                self._add_host_to_composed_groups(groups, merged, name, strict=strict)
                self._add_host_to_keyed_groups(keyed, merged, name, strict=strict)

    def _on_group(self, group: str, key: str, value: Any) -> bool:
        """Whether ``group`` carries ``key`` as ``value`` (set here if it has no value yet)."""
        entry = getattr(self.inventory, "__wrapped__", self.inventory).groups[group]
        if key not in entry.vars:  # plain values, as the hosts'
            entry.set_variable(key, value)
            return True
        return bool(entry.vars[key] == value)
