"""May this cloud host still reach the private network? The reaper asks before it deletes one.

The answer comes from the event's journal in the state directory (``states.HOLDS_ACCESS``):
a host the journal calls authorized, baselined, ready or draining (or failed after one of
those: a failure revokes nothing) may still be in the private gateway's allow list, and
destroying it first would break the rule "access is revoked before a host is destroyed". A
cloud host is matched to its journal host by its provider ID (the manifest's ``provider_id``,
or the ``LAUNCHED`` entry's reason ``"<provider>: <id>"``) or by its name. An event without a
journal here is *unknown*: nothing says its hosts hold no access.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .. import manifest
from ..errors import HybridburstError
from ..journal import Entry, Journal
from ..spec import EVENT_PATTERN
from ..states import HOLDS_ACCESS, HostState
from ..workspace import EventDir, state_root

FORCE_OPTION = "--force-unknown-access"
_EVENT_NAME = re.compile(EVENT_PATTERN)  # the spec's rule: a cloud tag never becomes a path


@dataclass(frozen=True)
class AccessRisk:
    """Why a host is not deleted; ``unknown`` when no journal of its event is here."""

    unknown: bool
    reason: str


@dataclass
class _EventView:
    current: dict[str, Entry]
    by_id: dict[str, str]
    before_failure: dict[str, HostState]  # the last state of each host other than FAILED

    def holds(self, host: str) -> str | None:
        """The journal state that says ``host`` may hold access, or None."""
        state = self.current[host].state
        if state in HOLDS_ACCESS:
            return state.value
        earlier = self.before_failure.get(host)
        if state is HostState.FAILED and earlier in HOLDS_ACCESS:
            return f"failed after {earlier.value}"  # failing revoked nothing
        return None

    @property
    def holding(self) -> list[str]:
        return sorted(h for h in self.current if self.holds(h))


@dataclass
class AccessBook:
    """The journals of the state directory, read once per event."""

    base: Path | None = None
    _views: dict[str, _EventView | None] = field(default_factory=dict)
    _unreadable: dict[str, str] = field(default_factory=dict)

    def _view(self, event: str) -> _EventView | None:
        if event not in self._views:
            self._views[event] = self._load(event)
        return self._views[event]

    def _load(self, event: str) -> _EventView | None:
        if not _EVENT_NAME.match(event):  # a tag value from the cloud: never a path
            self._unreadable[event] = "not an event name of this tool"
            return None
        event_dir = EventDir.of(event, self.base or state_root())
        try:
            entries = list(Journal(event_dir.journal).entries())
        except (OSError, HybridburstError, KeyError, ValueError, TypeError) as exc:
            self._unreadable[event] = f"{type(exc).__name__}: {exc}"
            return None
        current = {e.host: e for e in entries}
        if not current:
            return None
        by_id: dict[str, str] = {}
        before_failure: dict[str, HostState] = {}
        for entry in entries:
            if entry.state is HostState.LAUNCHED and ": " in entry.reason:
                by_id[entry.reason.rpartition(": ")[2].strip()] = entry.host
            if entry.state is not HostState.FAILED:
                before_failure[entry.host] = entry.state
        if event_dir.manifest.exists():
            try:
                doc = manifest.read(event_dir.manifest)
            except HybridburstError:
                doc = {"hosts": []}  # an unreadable manifest only loses the ID hints
            for host in doc.get("hosts", []):
                if host.get("provider_id"):
                    by_id[str(host["provider_id"])] = host["name"]
        return _EventView(current, by_id, before_failure)

    def risk(self, event: str, provider_id: str, names: Iterable[str] = ()) -> AccessRisk | None:
        """None when the journal says this host holds no access; else why it must stay."""
        revoke = f"revoke first (`hybridburst revoke {event}`), then reap again"
        view = self._view(event)
        if view is None:
            if event in self._unreadable:
                what = f"the journal of event {event!r} is unreadable ({self._unreadable[event]})"
            else:
                where = EventDir.of(event, self.base or state_root()).journal
                what = f"no journal of event {event} here ({where})"
            return AccessRisk(True, (
                f"{what}: whether it still holds access to "
                f"the private network is unknown; revoke it where the event's state is kept, or "
                f"at the private gateway, then rerun with {FORCE_OPTION}"))
        host = view.by_id.get(provider_id)
        if host not in view.current:
            host = next((n for n in names if n in view.current), None)
        if host is not None:
            state = view.holds(host)
            if state:
                return AccessRisk(False, (
                    f"host {host} may still hold access to the private network "
                    f"(journal: {state}); {revoke}"))
            return None
        if view.holding:
            return AccessRisk(False, (
                f"not matched to a host of the journal, while {', '.join(view.holding)} may still "
                f"hold access to the private network; {revoke}"))
        return None
