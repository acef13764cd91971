"""The platform: `up` bursts an event (provision → validate → authorize → baseline → deploy),
`down` gives it back (drain → revoke → deprovision → settle).

Every step picks its hosts by their journaled state, so a rerun after a crash (SIGKILL at any
point) continues where the journal stands: a slot never gets a second host, a host never
skips a step, access is never granted without a verdict and always revoked before destroy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from . import providers, spec
from .atomic import write_atomic
from .commands import access, fleet
from .commands import baseline as baseline_cmd
from .commands import validate as validate_cmd
from .errors import HybridburstError
from .journal import Journal
from .plan import Plan, make_plan
from .reporting import Reporter
from .states import HOLDS_ACCESS, HostState
from .workspace import EventDir

S = HostState
GONE = {S.DESTROYED}


@dataclass
class Burst:
    plan: Plan
    event_dir: EventDir
    journal: Journal
    provider: providers.Provider
    reporter: Reporter
    console: Console

    def hosts_in(self, *states: HostState) -> list[str]:
        current = self.journal.current()
        planned = {h.name for h in self.plan.hosts}
        return sorted(h for h, e in current.items() if e.state in states and h in planned)

    # -- give up on hosts at once: revoke, then destroy ------------------------------------
    def retire(self, hosts: list[str], why: str) -> None:
        if not hosts:
            return
        self.reporter.say(f"retiring {len(hosts)} host(s) ({why}): revoke, then destroy")
        access.revoke(self.event_dir, self.console, hosts)
        destroy = getattr(self.provider, "destroy_hosts", None)
        if destroy is None:
            self.reporter.say("this provider destroys hosts only with the whole event (`down`)")
            return
        destroy(self.plan.event, self.event_dir, self.journal, set(hosts))


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


def _short_pools(burst: Burst, healthy: set[HostState] | None = None) -> list[str]:
    """Pools below their minimum healthy share of the planned count."""
    current = burst.journal.current()
    healthy = healthy or {S.VALIDATED, *HOLDS_ACCESS, S.BASELINED, S.READY}
    short = []
    for pool in burst.plan.spec.pools:
        names = [h.name for h in burst.plan.hosts if h.pool == pool.name]
        good = sum(1 for n in names if n in current and current[n].state in healthy)
        need = math.ceil(pool.min_healthy_share * pool.count - 1e-9)
        if good < need:
            short.append(f"pool {pool.name}: {good}/{pool.count} healthy, {need} needed")
    return short


def up(spec_path: Path, console: Console, reporter: Reporter, *, over_budget_ok: bool = False,
       skip: tuple[str, ...] = ()) -> int:
    event_spec = spec.load(spec_path)
    plan = make_plan(event_spec)
    from .costs import enforce_budget, estimate

    est = estimate(plan)
    enforce_budget(est, event_spec, over_budget_ok=over_budget_ok)
    event_dir = EventDir.of(event_spec.event)
    fleet.save_event_meta(event_dir, event_spec)
    journal = Journal(event_dir.journal)
    provider = providers.get(event_spec.provider, event_spec.private_inventory, log=reporter.say,
                             emulated=event_spec.emulated, region=event_spec.region,
                             faults=event_spec.faults)
    if event_spec.emulated:
        reporter.say(f"[bold yellow]EMULATED {event_spec.provider}[/]: the real stack programs run "
                     "under Pulumi's mocks through the Automation API seam; every instance is a "
                     "local-cloud host. No cloud API is called.")
    burst = Burst(plan, event_dir, journal, provider, reporter, console)
    reporter.emit("up_started", event=plan.event, hosts=len(plan.hosts), estimate=str(est.total))

    # 1. provision
    launch = _slots_to_launch(plan, journal)
    with reporter.step("provision", len(launch.hosts)) as rep:
        manifest = provider.provision(launch, event_dir, journal)
        fleet.write_inventory_config(event_dir)
        for host in manifest["hosts"]:
            rep.advance(host["name"], "launched")
    burst.retire(burst.hosts_in(S.FAILED), "launch failed")

    # 2. validate; quarantined hosts are revoked and destroyed at once
    targets = burst.hosts_in(S.LAUNCHED)
    if targets:
        with reporter.step("validate", len(targets)) as rep:
            report = validate_cmd.validate(event_dir, console, targets)
            for record in report["hosts"]:
                rep.advance(record["host"], record["verdict"], "; ".join(record["reasons"]))
    burst.retire(burst.hosts_in(S.QUARANTINED), "quarantined")
    short = _short_pools(burst)
    if short:
        for line in short:
            reporter.say(f"[red]{line}[/]")
        raise HybridburstError("not enough healthy hosts; the rest stays as it is "
                               f"(`hybridburst down {plan.event}` gives it back)")

    # 3. authorize (hosts that hold access again too: it is idempotent, and it restores
    #    access a restarted gateway lost)
    targets = burst.hosts_in(S.VALIDATED, *HOLDS_ACCESS)
    if targets:
        with reporter.step("authorize", len(targets)) as rep:
            run = access.authorize(event_dir, console, targets)
            for host in targets:
                ok = journal.state_of(host) in HOLDS_ACCESS
                rep.advance(host, "authorized" if ok else "refused",
                            "" if ok else run.failed.get(host, ""))
    burst.retire(sorted(set(burst.hosts_in(S.VALIDATED)) & set(targets)), "authorize failed")

    # 4. baseline, 5. deploy
    targets = burst.hosts_in(S.AUTHORIZED)
    if "baseline" not in skip and targets:
        with reporter.step("baseline", len(targets)) as rep:
            _, failed = baseline_cmd.baseline(event_dir, console, targets)
            for host in targets:
                rep.advance(host, "failed" if host in failed else "baselined",
                            failed.get(host, ""))
        burst.retire(sorted(failed), "baseline failed")
    if "deploy" not in skip:
        _deploy(burst)
    short = _short_pools(burst, {S.READY} if "deploy" not in skip else None)
    summary(burst.event_dir, console, reporter)
    reporter.emit("up_finished", event=plan.event, short=short)
    return 1 if short else 0


def _deploy(burst: Burst) -> None:
    targets = burst.hosts_in(S.BASELINED)
    if not targets:
        return
    from .commands import app

    failed: dict[str, str] = {}
    with burst.reporter.step("deploy", len(targets)) as rep:
        # A host that dies during the rollout stops it (its batch failed), though the release
        # is not to blame: it is failed and retired at once, and the rollout goes on without
        # it. A release failing its health check stops the rollout for good.
        while True:
            run = app.deploy(burst.event_dir, burst.console)
            dead = {h: f"unreachable: {m}" for h, m in run.unreachable.items()
                    if h in targets and h not in failed}
            broken = {h: m for h, m in run.failed.items() if h in targets and h not in failed}
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
         region: str | None = None, cloud: str | None = None) -> int:
    event_dir = EventDir.of(event)
    if not (event_dir.root / "event.json").exists():
        return _down_without_state(event, reporter, provider_name, region, cloud)
    meta = fleet.load_event_meta(event_dir)
    journal = Journal(event_dir.journal)
    provider = fleet.provider_for(meta, console, log=reporter.say)
    live = sorted(h for h, e in journal.current().items() if e.state not in GONE)
    status = 0
    # 1. drain: failures are reported, never stop the revocation
    ready = sorted(h for h, e in journal.current().items() if e.state is S.READY)
    if ready:
        with reporter.step("drain", len(ready)) as rep:
            try:
                from .commands import app

                run = app.drain(event_dir, console, ready)
                failed = {**run.failed, **run.unreachable}
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
            access.revoke(event_dir, console, live)
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
    rows = fleet.status_rows(event_dir)
    if reporter.as_json:
        reporter.emit("summary", hosts=rows)
        return
    table = Table(title=f"{event_dir.root.name}: {len(rows)} host(s)")
    for column in ("host", "address", "pool", "state", "reason"):
        table.add_column(column)
    for r in rows:
        table.add_row(*(str(r.get(c, "")) for c in ("host", "address", "pool", "state", "reason")))
    console.print(table)
