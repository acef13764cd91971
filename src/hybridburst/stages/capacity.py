"""The provider an event was made with (from its record, event.json)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import providers


def provider_for(meta: dict[str, Any], log: Callable[[str], None]) -> providers.Provider:
    """The provider of an event's record (``workspace.load_event_meta``), logging to ``log``."""
    inventory = Path(meta["private_inventory"]) if meta.get("private_inventory") else None
    return providers.get(meta["provider"], inventory, log=log,
                         emulated=bool(meta.get("emulated")), region=meta.get("region"))
