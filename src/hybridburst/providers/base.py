"""The provider interface: every provider creates and destroys capacity and writes the
same fleet manifest. Playbooks never ask a provider anything."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from ..journal import Journal
from ..plan import Plan
from ..workspace import EventDir


class Provider(Protocol):
    name: str

    def provision(self, plan: Plan, event_dir: EventDir, journal: Journal,
                  images: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Create the plan's capacity (idempotently), journal each host's launch and
        write the fleet manifest; returns the manifest. ``images`` maps a pool to the image
        its hosts launch from (a baked one, hybridburst.images); other pools take the
        provider's base image. Only the local provider honours it today."""
        ...

    # Optional: ``destroy_hosts(event, event_dir, journal, names)`` retires single hosts
    # (quarantined, failed) at once; without it they go with the event.

    def deprovision(self, event: str, event_dir: EventDir, journal: Journal) -> None:
        """Destroy everything of the event; a second call is a no-op."""
        ...
