"""Where hybridburst keeps its state: manifests, journals, keys, runner artifacts, and the
event's own record (event.json, the spec copy, the inventory source)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .atomic import write_atomic
from .errors import HybridburstError, InputError
from .spec import EventSpec, check_event_name


def state_root() -> Path:
    """``$HYBRIDBURST_STATE_DIR``, else ``$XDG_STATE_HOME/hybridburst`` (~/.local/state)."""
    explicit = os.environ.get("HYBRIDBURST_STATE_DIR")
    if explicit:
        return Path(explicit).resolve()
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return (Path(xdg) / "hybridburst").resolve()


@dataclass(frozen=True)
class EventDir:
    """The files of one event. Keys live under ssh/ with mode 0700."""

    root: Path

    @classmethod
    def of(cls, event: str, base: Path | None = None) -> EventDir:
        """The directory of ``event``. Every command's EVENT comes here: a name that is no
        event name (``../x``, ``/etc``, ``a/b``, ``x\\n``, empty) is an InputError (exit 2)."""
        return cls((base or state_root()) / "events" / check_event_name(event))

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    @property
    def journal(self) -> Path:
        return self.root / "journal.jsonl"

    @property
    def ssh_dir(self) -> Path:
        return self.root / "ssh"

    @property
    def private_key(self) -> Path:
        return self.ssh_dir / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.ssh_dir / "known_hosts"

    @property
    def artifacts(self) -> Path:
        return self.root / "runs"

    @property
    def inventory_config(self) -> Path:
        return self.root / "fleet.yml"

    @property
    def spec_copy(self) -> Path:
        return self.root / "spec.yml"


def save_event_meta(event_dir: EventDir, event_spec: EventSpec) -> None:
    """Record the event (event.json) and a copy of its spec as it was used."""
    event_dir.root.mkdir(parents=True, exist_ok=True)
    meta = {
        "event": event_spec.event,
        "team": event_spec.team,
        "provider": event_spec.provider,
        "emulated": event_spec.emulated,
        "region": event_spec.region,
        "spec": str(Path(event_spec.source).resolve()),
        "private_inventory": str(event_spec.private_inventory)
        if event_spec.private_inventory else None,
    }
    write_atomic(event_dir.root / "event.json", json.dumps(meta, indent=2) + "\n")
    # The spec as it was used, loadable from the event directory (settlement reads it).
    text = Path(event_spec.source).read_text()
    data = yaml.safe_load(text)
    if event_spec.private_inventory:
        data["private_inventory"] = str(event_spec.private_inventory)
    write_atomic(
        event_dir.spec_copy,
        f"# copy of {Path(event_spec.source).resolve()} as used for this event\n"
        + yaml.safe_dump(data, sort_keys=False))


def write_inventory_config(event_dir: EventDir) -> None:
    """The event's inventory source for ansible-inventory, ansible-playbook and the runner."""
    write_atomic(
        event_dir.inventory_config,
        "# Inventory of this event's fleet: ansible-inventory -i THIS_FILE --graph\n"
        "plugin: hybridburst.platform.fleet\n"
        f"manifest: {event_dir.manifest}\n"
    )


def load_event_meta(event_dir: EventDir) -> dict[str, Any]:
    """The event's record; no event: HybridburstError; a damaged record: InputError."""
    path = event_dir.root / "event.json"
    if not path.exists():
        raise HybridburstError(f"no event {event_dir.root.name!r} in {event_dir.root.parent}")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(str(path), None, "not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise InputError(str(path), exc.lineno, f"not valid JSON: {exc.msg}") from exc
    if not isinstance(meta, dict) or not isinstance(meta.get("provider"), str):
        raise InputError(str(path), 1, "not an event record (an object with a provider)")
    return meta
