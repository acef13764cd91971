"""The platform: `up` bursts an event (bake → provision → validate → authorize → verify or
baseline → deploy), `down` gives it back (drain → revoke → deprovision → settle).

Bake once, verify everywhere: on the local cloud each pool's hosts launch from its baked
image (baked first when stale: hybridburst.images); a host launched from the pool's current
image is verified by the baseline's probe in one task and converged only where it differs;
a host launched from any other image (the plain host image, or one a role or release change
has made stale since) gets the full baseline. ``converge=True`` is the path without images.

Every step picks its hosts by their journaled state, so a rerun after a crash (SIGKILL at any
point) continues where the journal stands: a slot never gets a second host, a host never
skips a step, access is never granted without a verdict and always revoked before destroy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from . import providers, spec
from .atomic import write_atomic
from .errors import HybridburstError
from .images.bake import PoolImage
from .journal import Journal
from .plan import Plan, make_plan
from .reporting import Reporter
from .runner import PlaybookRunner, run_playbook
from .stages import access, health
from .stages import baseline as baseline_stage
from .stages import deploy as deploy_stage
from .stages import validate as validate_stage
from .stages.capacity import provider_for
from .stages.status import status_rows
from .states import HOLDS_ACCESS, HostState
from .workspace import EventDir, load_event_meta, save_event_meta, write_inventory_config

S = HostState
GONE = {S.DESTROYED}
HEALTHY = {S.VALIDATED, *HOLDS_ACCESS}


@dataclass
class Burst:
    """One event being burst: its plan and files, and what does the work (the provider
    creates and destroys hosts, the runner runs the stages' playbooks; tests inject fakes)."""

    plan: Plan
    event_dir: EventDir
    journal: Journal
    provider: providers.Provider
    reporter: Reporter
    runner: PlaybookRunner = run_playbook
    images: Mapping[str, PoolImage] = field(default_factory=dict)  # pool -> current image

    def hosts_in(self, *states: HostState) -> list[str]:
        current = self.journal.current()
        planned = {h.name for h in self.plan.hosts}
        return sorted(h for h, e in current.items() if e.state in states and h in planned)

    # -- give up on hosts at once: revoke, then destroy ------------------------------------
    def retire(self, hosts: list[str], why: str) -> None:
        if not hosts:
            return
        self.reporter.say(f"retiring {len(hosts)} host(s) ({why}): revoke, then destroy")
        access.revoke(self.event_dir, hosts, runner=self.runner)
        destroy = getattr(self.provider, "destroy_hosts", None)
        if destroy is None:
            self.reporter.say("this provider destroys hosts only with the whole event (`down`)")
            return
        destroy(self.plan.event, self.event_dir, self.journal, set(hosts))

    def short_pools(self, healthy: set[HostState] | None = None) -> list[str]:
        """Pools below their minimum healthy share of the planned count (a retired host's
        slot stays empty, so it counts against its pool)."""
        current = self.journal.current()
        good_states = healthy or HEALTHY
        counts: dict[str, tuple[int, int]] = {}
        for pool in self.plan.spec.pools:
            names = [h.name for h in self.plan.hosts if h.pool == pool.name]
            good = sum(1 for n in names if n in current and current[n].state in good_states)
            counts[pool.name] = (good, pool.count)
        return health.short_pools(counts, {p.name: p.min_healthy_share for p in self.plan.spec.pools})


def _slots_to_launch(plan: Plan, journal: Journal) -> Plan:
    """Hosts to (re)launch: all of them for a fresh event; a slot whose host was retired
    (quarantined or failed, then destroyed) stays empty within one burst."""
    current = journal.current()
    planned = [h for h in plan.hosts if h.name in current]
    fresh_burst = not planned or all(current[h.name].state in GONE for h in planned)
    if fresh_burst:
        return plan
    return Plan(plan.spec, tuple(h for h in plan.hosts
                                 if h.name not in current or current[h.name].state not in GONE))


Baker = Callable[[Path, spec.EventSpec, Reporter], dict[str, PoolImage]]


def up(spec_path: Path, console: Console, reporter: Reporter, *, over_budget_ok: bool = False,
       skip: tuple[str, ...] = (), provider: providers.Provider | None = None,
       runner: PlaybookRunner = run_playbook, converge: bool = False,
       baker: Baker | None = None) -> int:
    """Burst the event of ``spec_path``; 0 when every pool reached its minimum healthy share.
    ``provider`` (default: the spec's), ``runner`` and ``baker`` (default: bake the local
    cloud's stale images) do the work; tests inject fakes. ``converge``: no images, every
    host gets the full baseline (the path before images, kept to compare)."""
    event_spec = spec.load(spec_path)
    plan = make_plan(event_spec)
    from .costs import enforce_budget, estimate

    est = estimate(plan)
    enforce_budget(est, event_spec, over_budget_ok=over_budget_ok)
    event_dir = EventDir.of(event_spec.event)
    save_event_meta(event_dir, event_spec)
    journal = Journal(event_dir.journal)
    if provider is None:
        provider = providers.get(event_spec.provider, event_spec.private_inventory,
                                 log=reporter.say, emulated=event_spec.emulated,
                                 region=event_spec.region, faults=event_spec.faults)
    if event_spec.emulated:
        reporter.say(f"[bold yellow]EMULATED {event_spec.provider}[/]: the real stack programs run "
                     "under Pulumi's mocks through the Automation API seam; every instance is a "
                     "local-cloud host. No cloud API is called.")
    burst = Burst(plan, event_dir, journal, provider, reporter, runner)
    reporter.emit("up_started", event=plan.event, hosts=len(plan.hosts), estimate=str(est.total))
    if not converge and "baseline" not in skip:
        burst.images = (baker or bake_step)(spec_path, event_spec, reporter)
    provision_step(burst)
    validate_step(burst)
    authorize_step(burst)
    if "baseline" not in skip:
        baseline_step(burst)
    if "deploy" not in skip:
        deploy_step(burst)
    short = burst.short_pools({S.READY} if "deploy" not in skip else None)
    summary(burst.event_dir, console, reporter)
    reporter.emit("up_finished", event=plan.event, short=short)
    return 1 if short else 0


def bake_step(spec_path: Path, event_spec: spec.EventSpec,
              reporter: Reporter) -> dict[str, PoolImage]:
    """0. The image of each pool, baked first where it is stale or missing (local cloud
    only: a cloud's images come from their own pipeline; no image means the full baseline)."""
    if event_spec.provider != "local" or event_spec.emulated:
        return {}
    from .images import bake as bake_mod

    have = bake_mod.current(event_spec)
    stale = sorted(pool for pool, image in have.items() if image is None)
    if stale:
        with reporter.step("bake", len(stale)) as rep:
            for result in bake_mod.bake(spec_path, None, pools=stale, log=reporter.say):
                rep.advance(f"pool {result.pool}", "baked", result.tag)
        have = bake_mod.current(event_spec)
    return {pool: image for pool, image in have.items() if image is not None}


def provision_step(burst: Burst) -> None:
    """1. Launch the slots that need a host (a pool with an image: from it); retire the
    hosts whose launch failed."""
    launch = _slots_to_launch(burst.plan, burst.journal)
    images = {pool: image.tag for pool, image in burst.images.items()}
    with burst.reporter.step("provision", len(launch.hosts)) as rep:
        if images:
            manifest = burst.provider.provision(launch, burst.event_dir, burst.journal,
                                                images=images)
        else:
            manifest = burst.provider.provision(launch, burst.event_dir, burst.journal)
        write_inventory_config(burst.event_dir)
        for host in manifest["hosts"]:
            rep.advance(host["name"], "launched")
    burst.retire(burst.hosts_in(S.FAILED), "launch failed")


def validate_step(burst: Burst) -> None:
    """2. Validate the launched hosts; quarantined ones are revoked and destroyed at once.
    Stop (the rest stays as it is) when a pool is below its minimum healthy share."""
    targets = burst.hosts_in(S.LAUNCHED)
    if targets:
        with burst.reporter.step("validate", len(targets)) as rep:
            result = validate_stage.validate(burst.event_dir, targets, runner=burst.runner)
            for record in result.report["hosts"]:
                rep.advance(record["host"], record["verdict"], "; ".join(record["reasons"]))
    burst.retire(burst.hosts_in(S.QUARANTINED), "quarantined")
    short = burst.short_pools()
    if short:
        for line in short:
            burst.reporter.say(f"[red]{line}[/]")
        raise HybridburstError("not enough healthy hosts; the rest stays as it is "
                               f"(`hybridburst down {burst.plan.event}` gives it back)")


def authorize_step(burst: Burst) -> None:
    """3. Authorize the validated hosts, and the hosts that hold access again (it is
    idempotent, and it restores access a restarted gateway lost); retire the refused."""
    targets = burst.hosts_in(S.VALIDATED, *HOLDS_ACCESS)
    if not targets:
        return
    with burst.reporter.step("authorize", len(targets)) as rep:
        result = access.authorize(burst.event_dir, targets, runner=burst.runner)
        for host in targets:
            ok = burst.journal.state_of(host) in HOLDS_ACCESS
            why = result.problems.get(host) or result.untouched.get(host, "")
            rep.advance(host, "authorized" if ok else "refused", "" if ok else why)
    burst.retire(sorted(set(burst.hosts_in(S.VALIDATED)) & set(targets)), "authorize failed")


def launched_from(journal: Journal) -> dict[str, str]:
    """host -> the image its current machine was launched from (journaled at launch)."""
    images: dict[str, str] = {}
    for entry in journal.entries():
        if entry.state is S.LAUNCHED:
            images[entry.host] = str(entry.data.get("image") or "")
    return images


def from_current_image(burst: Burst, hosts: list[str]) -> dict[str, bool]:
    """Each of ``hosts`` whose pool has an image: launched from that (current) image?"""
    pools = {h.name: h.pool for h in burst.plan.hosts}
    origin = launched_from(burst.journal)
    return {host: origin.get(host) == burst.images[pools[host]].tag
            for host in hosts if pools[host] in burst.images}


def baseline_step(burst: Burst) -> None:
    """4. Verify the authorized hosts launched from their pool's current image (one probe
    task each; the full role only where one differs); baseline the others in full (no image,
    or a stale one); retire the hosts either failed on."""
    targets = burst.hosts_in(S.AUTHORIZED)
    if not targets:
        return
    current = from_current_image(burst, targets)
    verified = [host for host, yes in current.items() if yes]
    origin = launched_from(burst.journal)
    pools = {h.name: h.pool for h in burst.plan.hosts}
    for host in (host for host, yes in current.items() if not yes):
        burst.reporter.say(f"{host}: launched from {origin.get(host) or 'the plain host image'}, "
                           f"not the current image {burst.images[pools[host]].tag}: "
                           "full baseline")
    if verified:
        verify_step(burst, verified)
    targets = [h for h in targets if h not in verified]
    if not targets:
        return
    with burst.reporter.step("baseline", len(targets)) as rep:
        result = baseline_stage.baseline(burst.event_dir, targets, runner=burst.runner)
        failed = result.problems
        for host in targets:
            rep.advance(host, "failed" if host in failed else "baselined", failed.get(host, ""))
    burst.retire(sorted(failed), "baseline failed")


def verify_step(burst: Burst, targets: list[str]) -> None:
    """4a. The baseline's probe on hosts from a current image; drifted ones converged."""
    from .images.verify import verify_by_pool

    with burst.reporter.step("verify", len(targets)) as rep:
        result, _ = verify_by_pool(burst.event_dir, targets, burst.images, runner=burst.runner)
        failed = result.problems
        for host in targets:
            rep.advance(host, "failed" if host in failed else "baselined",
                        failed.get(host) or result.ok.get(host, ""))
    burst.retire(sorted(failed), "baseline failed")


def deploy_step(burst: Burst) -> None:
    """5. Roll the release out to the baselined hosts (fresh hosts: one batch)."""
    targets = burst.hosts_in(S.BASELINED)
    if not targets:
        return
    failed: dict[str, str] = {}
    with burst.reporter.step("deploy", len(targets)) as rep:
        # A host that dies during the rollout stops it (its batch failed), though the release
        # is not to blame: it is failed and retired at once, and the rollout goes on without
        # it. A release failing its health check stops the rollout for good.
        # Hosts from the current image have their pool's release: they only join the LB.
        baked = [host for host, yes in from_current_image(burst, targets).items() if yes]
        while True:
            result = deploy_stage.deploy(burst.event_dir, runner=burst.runner, from_image=baked)
            dead = {h: f"unreachable: {m}" for h, m in result.unreachable.items()
                    if h in targets and h not in failed}
            broken = {h: m for h, m in result.failed.items() if h in targets and h not in failed}
            for host, why in {**broken, **dead}.items():
                failed[host] = why
                burst.journal.record(host, S.FAILED, f"deploy: {why}")
            burst.retire(sorted({**broken, **dead}), "deploy failed")
            if broken or not dead or not burst.hosts_in(S.BASELINED):
                break
            burst.reporter.say(f"{', '.join(sorted(dead))} died during the rollout: "
                               "it goes on with the other hosts")
        for host in targets:
            state = burst.journal.state_of(host)
            rep.advance(host, state.value if state else "?", failed.get(host, ""))
    # A host whose release failed its health check was rolled back and failed; hosts the
    # stopped rollout never reached stay baselined (a rerun of `up` tries them again).


def down(event: str, console: Console, reporter: Reporter, *, provider_name: str | None = None,
         region: str | None = None, cloud: str | None = None,
         provider: providers.Provider | None = None,
         runner: PlaybookRunner = run_playbook) -> int:
    """Give the event back: drain, revoke, destroy, settle. ``provider`` (default: the
    event's) and ``runner`` do the work; tests inject fakes."""
    event_dir = EventDir.of(event)
    if not (event_dir.root / "event.json").exists():
        return _down_without_state(event, reporter, provider_name, region, cloud)
    meta = load_event_meta(event_dir)
    journal = Journal(event_dir.journal)
    if provider is None:
        provider = provider_for(meta, reporter.say)
    live = sorted(h for h, e in journal.current().items() if e.state not in GONE)
    status = 0
    # 1. drain: failures are reported, never stop the revocation
    ready = sorted(h for h, e in journal.current().items() if e.state is S.READY)
    if ready:
        with reporter.step("drain", len(ready)) as rep:
            try:
                failed = deploy_stage.drain(event_dir, ready, runner=runner).problems
            except HybridburstError as exc:
                failed = dict.fromkeys(ready, str(exc))
            for host in ready:
                rep.advance(host, "drained" if host not in failed else "drain failed",
                            failed.get(host, ""))
            if failed:
                status = 1
    # 2. revoke, always, before anything is destroyed
    if live:
        with reporter.step("revoke", len(live)) as rep:
            access.revoke(event_dir, live, runner=runner)
            for host in live:
                rep.advance(host, "revoked")
    # 3. deprovision
    with reporter.step("destroy", len(live)) as rep:
        provider.deprovision(event, event_dir, journal)
        for host in live:
            rep.advance(host, "destroyed")
    # 4. settle
    settle(event, event_dir, console, reporter)
    reporter.emit("down_finished", event=event)
    return status


def _down_without_state(event: str, reporter: Reporter, provider_name: str | None,
                        region: str | None, cloud: str | None) -> int:
    """No local record of the event: never say "nothing to give back" while capacity may
    run and bill. Look for it (local cloud: containers labelled with the event; aws and
    openstack: resources tagged with it) and say what still runs and how to remove it."""
    reporter.say(f"no local state for {event} under {EventDir.of(event).root.parent}")
    from .providers.local.podman import containers

    try:
        local = containers(f"hybridburst.event={event}")
    except (OSError, HybridburstError):
        local = []
    for c in local:
        reporter.say(f"  container {c['Names'][0]}: {c.get('State', '?')}")
    if local:
        reporter.say(f"{len(local)} host(s) of {event} still run on this machine's local cloud; "
                     "revoke their addresses at the gateway, then `podman rm -f` them")
    if provider_name in (None, "local"):
        if not local and provider_name is None:
            reporter.say(f"if {event} ran in a cloud, `hybridburst down {event} --provider aws "
                         "--region REGION` (or --provider openstack --cloud NAME) looks its "
                         "resources up by their tags")
            return 1
        return 1 if local else 0
    from .costs.lookup import find_event_resources, leftover_report

    found = find_event_resources(event, provider_name, region=region, cloud=cloud)
    if not found and not local:
        reporter.say(f"{provider_name}: nothing tagged hybridburst:event={event} exists")
        return 0
    for line in leftover_report(event, provider_name, found, region=region, cloud=cloud):
        reporter.say(line)
    return 1


def settle(event: str, event_dir: EventDir, console: Console, reporter: Reporter) -> None:
    from .costs.report import render, render_table
    from .costs.settlement import settle_event

    settlement = settle_event(event, event_dir=event_dir)
    for fmt in ("json", "csv", "html"):
        write_atomic(event_dir.root / f"settlement.{fmt}", render(settlement, fmt))
    if reporter.as_json:
        reporter.emit("settlement", report=str(event_dir.root / "settlement.json"))
    else:
        render_table(settlement, console)
        console.print(f"settlement reports: {event_dir.root}/settlement.{{json,csv,html}}",
                      soft_wrap=True)


def summary(event_dir: EventDir, console: Console, reporter: Reporter) -> None:
    rows = status_rows(event_dir)
    if reporter.as_json:
        reporter.emit("summary", hosts=rows)
        return
    table = Table(title=f"{event_dir.root.name}: {len(rows)} host(s)")
    for column in ("host", "address", "pool", "state", "reason"):
        table.add_column(column)
    for r in rows:
        table.add_row(*(str(r.get(c, "")) for c in ("host", "address", "pool", "state", "reason")))
    console.print(table)
