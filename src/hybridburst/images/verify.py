"""Verify, don't converge: the baseline role's own probe (one task per host, read-only) on
hosts launched from a baked image; only the hosts that differ get the full role."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .. import manifest as manifest_mod
from ..errors import HybridburstError
from ..journal import Journal
from ..runner import PlaybookRunner, run_playbook
from ..stages.result import StageResult
from ..states import HostState
from ..workspace import EventDir
from .bake import PoolImage, expected_sha256

OUTCOME = "baseline_probe"  # verify_baseline.yml's set_stats: {host: verdict}
VERIFIABLE = (HostState.AUTHORIZED, HostState.BASELINED, HostState.READY)


def probe(event_dir: EventDir, hosts: Iterable[str], *, expected: dict[str, str] | None = None,
          snapshot: bool = False,
          runner: PlaybookRunner = run_playbook) -> dict[str, dict[str, Any]]:
    """Run playbooks/verify_baseline.yml on ``hosts``; per host the probe's verdict
    (``differences``, ``checked``, ``not_applied``, with ``snapshot`` also ``observed``).
    A host whose probe did not run has one difference saying why."""
    targets = sorted(hosts)
    if not targets:
        return {}
    run = runner(event_dir, "verify_baseline.yml",
                 {"verify_hosts": ",".join(targets),
                  "baseline_probe_expected_sha256": expected or {},
                  "baseline_probe_snapshot": snapshot},
                 limit=",".join(targets))
    verdicts = run.outcome.get(OUTCOME) or {}
    out: dict[str, dict[str, Any]] = {}
    for host in targets:
        if host in verdicts:
            out[host] = verdicts[host]
        else:
            why = run.failed.get(host) or run.unreachable.get(host) or f"no verdict ({run.status})"
            out[host] = {"differences": [f"probe did not run: {why}"], "checked": 0,
                         "not_applied": [], "observed": {}, "probe_failed": True}
    return out


def verify(event_dir: EventDir, hosts: Iterable[str], digest: str,
           runner: PlaybookRunner = run_playbook) -> dict[str, list[str]]:
    """{host: [differences]} against the image ``digest`` (empty list: at the baseline)."""
    verdicts = probe(event_dir, hosts, expected=expected_sha256(digest), runner=runner)
    return {h: list(v["differences"]) for h, v in verdicts.items()}


def _summary(differences: list[str], limit: int = 4) -> str:
    more = f" (+{len(differences) - limit} more)" if len(differences) > limit else ""
    return "; ".join(differences[:limit]) + more


def verify_then_converge(event_dir: EventDir, hosts: Iterable[str], digest: str,
                         runner: PlaybookRunner = run_playbook) -> StageResult:
    """Verify ``hosts`` (AUTHORIZED, launched from the image ``digest``) in one task each;
    run the full baseline role (stage baseline) only on those that differ. Journals
    AUTHORIZED -> BASELINED with the verdict, like validation's: "baseline verified against
    image <digest12>", or "drift from image <digest12>: ...; converged"; a host whose
    converge failed goes to FAILED (by the stage). Returns per host what it reached."""
    from ..stages.baseline import baseline

    journal = Journal(event_dir.journal)
    current = journal.current()
    targets = sorted(h for h in hosts if h in current and current[h].state in VERIFIABLE)
    if not targets:
        raise HybridburstError(f"{event_dir.root.name}: no authorized host to verify")
    found = verify(event_dir, targets, digest, runner=runner)
    short = digest[:12]
    result = StageResult("verify")
    for host in targets:
        if found[host]:
            continue
        reason = f"baseline verified against image {short}"
        if current[host].state is HostState.AUTHORIZED:
            journal.record(host, HostState.BASELINED, reason, {"image": digest, "verified": True})
        result.ok[host] = reason
    drifted = {h: d for h, d in found.items() if d}
    if drifted:
        converged = baseline(event_dir, sorted(drifted), runner=runner)
        result.runs += converged.runs
        result.failed.update(converged.failed)
        result.unreachable.update(converged.unreachable)
        result.untouched.update(converged.untouched)
        for host in converged.ok:
            reason = f"drift from image {short}: {_summary(drifted[host])}; converged"
            journal.record(host, HostState.BASELINED, reason,
                           {"image": digest, "verified": False, "differences": drifted[host]})
            result.ok[host] = reason
    return result


def verify_by_pool(event_dir: EventDir, hosts: Iterable[str],
                   images: Mapping[str, PoolImage | None],
                   runner: PlaybookRunner = run_playbook) -> tuple[StageResult, list[str]]:
    """For ``up``: the hosts of pools launched from a current image (``images``, as
    :func:`hybridburst.images.bake.current` returns) are verified (and converged where they
    differ), per image; returns that result and the hosts left for the full baseline (pools
    without an image)."""
    pools = {h["name"]: h["pool"] for h in manifest_mod.read(event_dir.manifest)["hosts"]}
    by_digest: dict[str, list[str]] = {}
    rest = []
    for host in sorted(hosts):
        image = images.get(pools.get(host, ""))
        if image is None:
            rest.append(host)
        else:
            by_digest.setdefault(image.digest, []).append(host)
    result = StageResult("verify")
    for digest, group in by_digest.items():
        part = verify_then_converge(event_dir, group, digest, runner=runner)
        for name in ("ok", "failed", "unreachable", "untouched"):
            getattr(result, name).update(getattr(part, name))
        result.runs += part.runs
    return result, rest
