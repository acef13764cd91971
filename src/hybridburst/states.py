"""Host states, modelled on how Karpenter tracks a node claim (see design.md)."""

from __future__ import annotations

from enum import StrEnum


class HostState(StrEnum):
    REQUESTED = "requested"
    LAUNCHED = "launched"
    VALIDATED = "validated"
    QUARANTINED = "quarantined"
    AUTHORIZED = "authorized"
    BASELINED = "baselined"
    READY = "ready"
    DRAINING = "draining"
    REVOKED = "revoked"
    DESTROYED = "destroyed"
    FAILED = "failed"


S = HostState

# Allowed transitions. FAILED is reachable from every state; DESTROYED ends everything.
TRANSITIONS: dict[HostState, frozenset[HostState]] = {
    S.REQUESTED: frozenset({S.LAUNCHED, S.DESTROYED, S.REQUESTED}),
    # REVOKED from launched/validated: a crash between the gateway's change and the journal's
    # record leaves an address allowed that the journal does not know of; `down` revokes all.
    S.LAUNCHED: frozenset({S.VALIDATED, S.QUARANTINED, S.DESTROYED, S.LAUNCHED, S.REVOKED}),
    S.VALIDATED: frozenset({S.AUTHORIZED, S.QUARANTINED, S.VALIDATED, S.DESTROYED, S.REVOKED}),
    S.QUARANTINED: frozenset({S.REVOKED, S.DESTROYED, S.QUARANTINED, S.VALIDATED}),
    S.AUTHORIZED: frozenset({S.BASELINED, S.DRAINING, S.REVOKED, S.AUTHORIZED}),
    S.BASELINED: frozenset({S.READY, S.DRAINING, S.REVOKED, S.BASELINED}),
    S.READY: frozenset({S.DRAINING, S.REVOKED, S.READY}),
    S.DRAINING: frozenset({S.REVOKED, S.DRAINING}),
    S.REVOKED: frozenset({S.DESTROYED, S.REVOKED, S.VALIDATED}),
    S.DESTROYED: frozenset({S.REQUESTED}),  # a new incarnation of the same slot
    S.FAILED: frozenset({S.REVOKED, S.DESTROYED, S.FAILED, S.REQUESTED, S.LAUNCHED}),
}

# States in which a host may hold access to the private network.
HOLDS_ACCESS = frozenset({S.AUTHORIZED, S.BASELINED, S.READY, S.DRAINING})


def allowed(old: HostState | None, new: HostState) -> bool:
    if new is S.FAILED:
        return old is not S.DESTROYED
    if old is None:
        return new in (S.REQUESTED, S.LAUNCHED)
    return new in TRANSITIONS[old]
