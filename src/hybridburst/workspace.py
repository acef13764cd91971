"""Where hybridburst keeps its state: manifests, journals, keys, runner artifacts."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .spec import check_event_name


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
