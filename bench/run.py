"""`make bench`: time to capacity on the local cloud (issue 15).

Modes, at each size, in turns (so that the machine's noise falls on all of them alike):

- ``baked``: ``hybridburst bake SPEC`` (timed on its own line), then ``hybridburst up SPEC``:
  the hosts launch from the pool's baked image and their baseline is verified, not converged;
- ``converge``: ``hybridburst up SPEC --converge``: today's path, from the plain host image,
  the full baseline role on every host, the canary deploy;
- ``stock``: ``up --converge`` with stock Ansible settings: ``bench/stock-ansible.cfg`` (forks
  5, no pipelining, facts gathered in every play), the playbooks without their
  ``gather_facts: false`` and Ansible's own ``linear`` strategy instead of mitogen's.

The phases are timed from ``up --json``'s step_started/step_finished events (whatever steps
appear, in the order they appear); "up total" is the wall time of the command. Every run
checks that all of its hosts ended ``ready`` (``status --json``) and stops the bench loudly
otherwise. ``down`` is timed for every run. Then the 10,000-host fleet manifest through the
inventory plugin (``bench/fleet_manifest.py``), the Pulumi mock run and the journal append.

    bench/run.py [--sizes 10,30,100] [--modes baked,converge,stock] [--quick]
    bench/run.py --from-json [MODE:]UP.jsonl [DOWN.jsonl] ...   (tables of recorded runs only)

Run it alone on the machine (``flock /tmp/hb-localcloud.lock make bench`` where the local
cloud is shared). The machine is shared and noisy: compare figures of one run (ratios), not
across runs. The output is Markdown, to paste into bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MODES = ("baked", "converge", "stock")
DEFAULT_SIZES = {"baked": (10, 30, 100), "converge": (10, 30), "stock": (10, 30)}
QUICK_SIZE = 2
NONE = "-"  # a table cell without a figure
UP_ARGS = {"baked": (), "converge": ("--converge",), "stock": ("--converge",)}
# The host configuration steps, whatever the path calls them: one row of their union too.
HOST_CONFIG = ("baseline", "verify")
# Seconds per host may wobble by this much on a noisy machine and still count as flat.
FLAT_TOLERANCE = 0.10
# Goals of issue 15.
GOAL_UP_30 = 90.0
GOAL_DOWN_30 = 30.0
GOAL_SPEEDUP = 3.0
GOAL_INVENTORY_10K = 2.0
# Memory: a local host (systemd, sshd, nginx, the app) takes 60-75 MB once deployed
# (podman stats); the estimate leaves room for the controller's Ansible forks beside them.
MEM_PER_HOST_MIB = 128
MEM_RESERVE_MIB = 2048


class BenchError(SystemExit):
    """The bench cannot give figures: say why, exit 1."""

    def __init__(self, message: str) -> None:
        super().__init__(f"\nBENCH FAILED: {message}")


# -- events -------------------------------------------------------------------------------

@dataclass
class Steps:
    """The steps of one `--json` run: name -> seconds, in the order they first started."""

    seconds: dict[str, float] = field(default_factory=dict)
    times: dict[str, int] = field(default_factory=dict)   # how often each step ran
    intervals: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    span: float | None = None                             # up_started -> up_finished
    hosts: int | None = None                              # up_started's host count

    def union(self, names: Iterable[str]) -> float | None:
        """Wall time during which any of these steps ran (overlaps counted once)."""
        spans = sorted(i for n in names for i in self.intervals.get(n, []))
        if not spans:
            return None
        total, (start, end) = 0.0, spans[0]
        for s, e in spans[1:]:
            if s > end:
                total += end - start
                start, end = s, e
            else:
                end = max(end, e)
        return total + end - start


def events(text: str) -> list[dict[str, object]]:
    """The JSON objects of a `--json` output; other lines (settlement tables) are skipped."""
    found = []
    for line in text.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and "type" in doc and "time" in doc:
            found.append(doc)
    return found


def parse_steps(text: str, source: str) -> Steps:
    """Steps timed from step_started/step_finished. A step may run more than once (batches,
    retries) and runs of one step may overlap: its figure is the wall time of their union."""
    result = Steps()
    open_steps: dict[str, list[float]] = {}
    first: float | None = None
    for doc in events(text):
        at = dt.datetime.fromisoformat(str(doc["time"])).timestamp()
        first = at if first is None else first
        kind, step = doc["type"], str(doc.get("step", ""))
        if kind == "up_started":
            result.hosts = int(str(doc.get("hosts", 0)))
            first = at
        elif kind == "up_finished":
            result.span = at - first
        elif kind == "step_started":
            open_steps.setdefault(step, []).append(at)
            result.intervals.setdefault(step, [])
            result.times[step] = result.times.get(step, 0) + 1
        elif kind == "step_finished":
            if not open_steps.get(step):
                raise BenchError(f"{source}: step {step!r} finished but never started")
            result.intervals[step].append((open_steps[step].pop(0), at))
    unfinished = sorted(s for s, starts in open_steps.items() if starts)
    if unfinished:
        raise BenchError(f"{source}: step(s) {', '.join(unfinished)} started and never "
                         "finished (the command failed inside them)")
    for step in result.intervals:
        result.seconds[step] = result.union([step]) or 0.0
    return result


# -- commands ---------------------------------------------------------------------------

@dataclass
class Run:
    mode: str
    size: int
    up: float                        # wall time of `up`
    steps: Steps
    down: float | None = None        # wall time of `down`
    down_steps: Steps = field(default_factory=Steps)
    bake: float | None = None        # wall time of `bake` (baked mode)
    bake_said: str = ""              # the last line `bake` printed (e.g. that it was current)
    ready: int = 0
    tasks: str = ""                  # task results per host in the host configuration run


def hb(args: Sequence[str], env: dict[str, str], *, check: bool = True
       ) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    proc = subprocess.run([str(BIN / "hybridburst"), *args], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, **env}, check=False)
    elapsed = time.perf_counter() - start
    if check and proc.returncode != 0:
        raise BenchError(f"hybridburst {' '.join(args)} exited {proc.returncode}\n"
                         f"{proc.stderr[-3000:]}{last_lines(proc.stdout, 20)}")
    return elapsed, proc


def last_lines(text: str, count: int) -> str:
    return "\n".join(text.strip().splitlines()[-count:])


def spec_file(folder: Path, event: str, count: int) -> Path:
    path = folder / f"{event}.yml"
    path.write_text(
        f"event: {event}\nteam: bench\nprovider: local\n"
        f"private_inventory: {REPO / 'inventory' / 'local'}\n"
        f"pools:\n  - name: web\n    count: {count}\n    instance_type: local.small\n"
        f"    release: \"1.0.0\"\n"
    )
    return path


def host_states(event: str, env: dict[str, str]) -> list[dict[str, str]]:
    _, proc = hb(["status", event, "--json"], env)
    hosts: list[dict[str, str]] = json.loads(proc.stdout)["hosts"]
    return hosts


def check_ready(event: str, size: int, env: dict[str, str]) -> int:
    """All `size` hosts of the event ended `ready`, or the bench stops here."""
    hosts = host_states(event, env)
    ready = [h for h in hosts if h["state"] == "ready"]
    if len(ready) != size:
        lines = [f"  {h['host']}: {h['state']} {h.get('reason', '')}".rstrip()
                 for h in hosts if h["state"] != "ready"]
        raise BenchError(f"{event}: {len(ready)} of {size} hosts ready; figures void\n"
                         + "\n".join(lines))
    return len(ready)


def config_tasks_per_host(event: str) -> str:
    """Task results per host in the event's last host configuration run (baseline or
    verify), from its runner artifacts; informative only, empty when not found."""
    runs = Path(os.environ["HYBRIDBURST_STATE_DIR"]) / "events" / event / "runs"
    folders = sorted(p for p in runs.glob("*") if p.name.endswith(HOST_CONFIG))
    if not folders:
        return ""
    for path in folders[-1].glob("artifacts/*/job_events/*.json"):
        doc = json.loads(path.read_text())
        if doc.get("event") == "playbook_on_stats":
            data = doc["event_data"]
            per_host = [sum(data.get(k, {}).get(h, 0) for k in ("ok", "skipped", "failures"))
                        for h in data.get("ok", {})]
            if per_host:
                return f"{folders[-1].name.split('-')[-1]} {min(per_host)}-{max(per_host)} " \
                       "tasks per host"
    return ""


def check_memory(size: int, per_host_mib: int) -> None:
    """Refuse a run the machine's free memory cannot hold (100 hosts: ~100 containers)."""
    meminfo = Path("/proc/meminfo").read_text()
    match = re.search(r"^MemAvailable:\s+(\d+) kB", meminfo, re.M)
    if match is None:
        return
    available = int(match.group(1)) // 1024
    needed = size * per_host_mib + MEM_RESERVE_MIB
    if available < needed:
        raise BenchError(f"{size} hosts need about {needed} MiB free ({per_host_mib} MiB per "
                         f"host + {MEM_RESERVE_MIB} MiB for the controller); "
                         f"{available} MiB available. Stop other work or run fewer hosts "
                         "(--sizes).")


def lifecycle(folder: Path, mode: str, size: int, env: dict[str, str],
              per_host_mib: int) -> Run:
    check_memory(size, per_host_mib)
    event = f"{mode}{size}"
    spec = spec_file(folder, event, size)
    bake: float | None = None
    bake_said = ""
    try:
        if mode == "baked":
            bake, proc = hb(["bake", str(spec)], env)
            bake_said = last_lines(proc.stdout, 1)
        up, proc = hb(["up", str(spec), "--json", *UP_ARGS[mode]], env, check=False)
        if proc.returncode != 0:
            _, status = hb(["status", event], env, check=False)
            raise BenchError(f"{event}: `up` exited {proc.returncode}\n{proc.stderr[-3000:]}"
                             f"{last_lines(proc.stdout, 10)}\n{status.stdout}")
        steps = parse_steps(proc.stdout, f"{event} up --json")
        ready = check_ready(event, size, env)
        tasks = config_tasks_per_host(event)
    except BaseException:
        give_back(event, env)
        raise
    down, proc = hb(["down", event, "--json"], env)
    run = Run(mode, size, up, steps, down, parse_steps(proc.stdout, f"{event} down --json"),
              bake, bake_said, ready, tasks)
    bake_note = f"; bake {bake:.1f} s ({bake_said})" if bake is not None else ""
    print(f"  {event}: {ready}/{size} hosts ready; up {up:.1f} s, down {down:.1f} s"
          f"{bake_note}{'; ' + tasks if tasks else ''}", flush=True)
    return run


def give_back(event: str, env: dict[str, str]) -> None:
    """Before the bench fails: `down`, else `deprovision`, else say what is left."""
    for args in (["down", event], ["deprovision", event]):
        _, proc = hb(args, env, check=False)
        if proc.returncode == 0:
            return
        print(f"hybridburst {' '.join(args)} exited {proc.returncode}: "
              f"{last_lines(proc.stderr, 3)}", file=sys.stderr)
    print(f"LEFT RUNNING: the hosts of {event} (podman ps --filter "
          f"label=hybridburst.event={event}); state kept in {os.environ['HYBRIDBURST_STATE_DIR']}",
          file=sys.stderr)


def stock_playbooks(folder: Path) -> Path:
    """The project's playbooks as stock playbooks are written: no `gather_facts: false`."""
    target = folder / "stock-playbooks"
    shutil.copytree(REPO / "playbooks", target)
    for playbook in target.glob("*.yml"):
        text = re.sub(r"^\s*gather_facts: false\n", "", playbook.read_text(), flags=re.M)
        playbook.write_text(text)
    return target


def mode_env(mode: str, folder: Path) -> dict[str, str]:
    if mode != "stock":
        return {}
    return {"HYBRIDBURST_ANSIBLE_CONFIG": str(REPO / "bench" / "stock-ansible.cfg"),
            "HYBRIDBURST_PLAYBOOKS": str(stock_playbooks(folder)),
            "HYBRIDBURST_STRATEGY": "linear"}


# -- tables -----------------------------------------------------------------------------

def secs(value: float | None) -> str:
    return NONE if value is None else f"{value:.1f} s"


def ratio(num: float | None, den: float | None) -> str:
    if num is None or den is None or den <= 0:
        return NONE
    return f"{num / den:.2f}x"


def merged_order(sequences: Iterable[list[str]]) -> list[str]:
    """One order of the steps of several runs: a step one run adds comes right after the
    step that ran before it there (converge's baseline lands where baked's verify is)."""
    names: list[str] = []
    for seq in sequences:
        for i, name in enumerate(seq):
            if name in names:
                continue
            before = [n for n in seq[:i] if n in names]
            names.insert(names.index(before[-1]) + 1 if before else 0, name)
    return names


def phase_rows(runs: Sequence[Run]) -> list[tuple[str, dict[tuple[str, int], float | None]]]:
    """(row label, {(mode, size): seconds}) for every step that appeared, in order."""
    names = merged_order(list(r.steps.seconds) for r in runs)
    config = [n for n in names if n in HOST_CONFIG]
    rows: list[tuple[str, dict[tuple[str, int], float | None]]] = []
    for name in names:
        rows.append((name, {(r.mode, r.size): r.steps.seconds.get(name) for r in runs}))
        if len(config) > 1 and name == config[-1]:
            # One path verifies, the other converges: compare them on one row.
            rows.append((" / ".join(config) + " (either)",
                         {(r.mode, r.size): r.steps.union(HOST_CONFIG) for r in runs}))
    rows.append(("**up total**", {(r.mode, r.size): r.up for r in runs}))
    down_names = merged_order(list(r.down_steps.seconds) for r in runs)
    rows.append(("**down**", {(r.mode, r.size): r.down for r in runs}))
    for name in down_names:
        rows.append((f"down: {name}",
                     {(r.mode, r.size): r.down_steps.seconds.get(name) for r in runs}))
    return rows


def print_size_table(runs: Sequence[Run], size: int) -> None:
    here = [r for r in runs if r.size == size]
    modes = [m for m in (*MODES, "recorded") if any(r.mode == m for r in here)]
    compare = [m for m in modes if m != "baked" and "baked" in modes]
    head = [f"{m} {size}" for m in modes] + [f"{m}/baked" for m in compare]
    print(f"\n### {size} hosts\n")
    print("| phase | " + " | ".join(head) + " |")
    print("| --- |" + " ---: |" * len(head))
    bakes = {r.mode: r for r in here if r.bake is not None}
    if bakes:
        cells = [secs(bakes[m].bake) if m in bakes else "" for m in modes]
        print("| bake (once, before up) | " + " | ".join(cells + [""] * len(compare)) + " |")
    for label, values in phase_rows(here):
        cells = [secs(values.get((m, size))) for m in modes]
        cells += [ratio(values.get((m, size)), values.get(("baked", size))) for m in compare]
        print(f"| {label} | " + " | ".join(cells) + " |")
    for run in bakes.values():
        print(f"\n`bake` ({run.mode} {size}) said: {run.bake_said or '(nothing)'}")


def print_scaling(runs: Sequence[Run]) -> list[str]:
    """Seconds per host of `up`, per mode and size; returns the modes that did not scale."""
    sizes = sorted({r.size for r in runs})
    modes = [m for m in (*MODES, "recorded") if any(r.mode == m for r in runs)]
    print("\n### Seconds per host (`up` total / hosts)\n")
    print("| mode | " + " | ".join(f"{n} hosts" for n in sizes) + " | falls or flat |")
    print("| --- |" + " ---: |" * len(sizes) + " --- |")
    failed = []
    for mode in modes:
        per = {r.size: r.up / r.size for r in runs if r.mode == mode}
        seq = [per[n] for n in sizes if n in per]
        flat = all(b <= a * (1 + FLAT_TOLERANCE) for a, b in itertools.pairwise(seq))
        verdict = NONE if len(seq) < 2 else ("yes" if flat else "**no**")
        if len(seq) >= 2 and not flat:
            failed.append(mode)
        cells = [f"{per[n]:.2f} s" if n in per else NONE for n in sizes]
        print(f"| {mode} | " + " | ".join(cells) + f" | {verdict} |")
    print(f"\n(flat: each size within {FLAT_TOLERANCE:.0%} of the smaller size's figure)")
    return failed


def print_goals(runs: Sequence[Run]) -> None:
    by = {(r.mode, r.size): r for r in runs}
    print("\n### Goals of issue 15 in this run\n")
    lines = []
    baked30 = by.get(("baked", 30))
    if baked30:
        lines.append((f"baked `up` of 30 hosts ≤ {GOAL_UP_30:.0f} s", f"{baked30.up:.1f} s",
                      baked30.up <= GOAL_UP_30))
        if baked30.down is not None:
            lines.append((f"baked `down` of 30 hosts ≤ {GOAL_DOWN_30:.0f} s",
                          f"{baked30.down:.1f} s", baked30.down <= GOAL_DOWN_30))
    for size in sorted({r.size for r in runs}):
        base = by.get(("baked", size))
        for mode in ("converge", "stock"):
            other = by.get((mode, size))
            if base and other:
                factor = other.up / base.up
                lines.append((f"{mode}/baked `up` at {size} hosts ≥ {GOAL_SPEEDUP:.0f}x",
                              f"{factor:.2f}x", factor >= GOAL_SPEEDUP))
    if not lines:
        print("(no baked run to compare)")
        return
    print("| goal | this run | met |")
    print("| --- | ---: | --- |")
    for goal, figure, met in lines:
        print(f"| {goal} | {figure} | {'yes' if met else '**no**'} |")


def report(runs: Sequence[Run]) -> list[str]:
    print(f"\n## {dt.date.today().isoformat()}: `bench/run.py` on {machine()}\n")
    for size in sorted({r.size for r in runs}):
        print_size_table(runs, size)
    failed = print_scaling(runs)
    print_goals(runs)
    notes = [f"{r.mode}{r.size}: {r.tasks}" for r in runs if r.tasks]
    if notes:
        print("\nHost configuration: " + "; ".join(notes) + ".")
    return failed


def machine() -> str:
    cores = os.cpu_count() or 0
    match = re.search(r"^MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
    mem = f"{int(match.group(1)) / 1024 / 1024:.0f} GiB" if match else "? GiB"
    load = os.getloadavg()[0]
    return f"{platform.node()} ({cores} cores, {mem}, load {load:.1f} at the start)"


# -- the other benches --------------------------------------------------------------------

def extras() -> list[str]:
    """Run the non-lifecycle benches; return what failed."""
    failed = []
    for script, args in (("fleet_manifest.py", ["10000"]), ("bench_pulumi.py", []),
                         ("bench_journal.py", [])):
        path = REPO / "bench" / script
        print(f"\n### {script} {' '.join(args)}\n", flush=True)
        if not path.exists():
            print(f"**missing: bench/{script}**")
            failed.append(f"bench/{script} is missing")
            continue
        proc = subprocess.run([str(BIN / "python"), str(path), *args], cwd=REPO, check=False,
                              stdout=subprocess.PIPE, text=True)
        print(proc.stdout, end="", flush=True)
        if proc.returncode != 0:
            failed.append(f"bench/{script} exited {proc.returncode}")
        elif script == "fleet_manifest.py":
            # Its line: "ansible-inventory --list, N burst hosts (...): S s, peak RSS M MiB".
            listed = re.search(r"([\d.]+) s, peak RSS", proc.stdout)
            if listed:
                took = float(listed.group(1))
                met = "met" if took <= GOAL_INVENTORY_10K else "**not met**"
                print(f"\nGoal: the 10,000-host manifest listed in ≤ {GOAL_INVENTORY_10K:.0f} s: "
                      f"{took:.2f} s, {met}.")
    return failed


# -- main ---------------------------------------------------------------------------------

def plan_runs(modes: Sequence[str], sizes: Sequence[int] | None, quick: bool
              ) -> list[tuple[str, int]]:
    """(mode, size) in the order they run: per size, every mode in turn."""
    wanted = {m: ((QUICK_SIZE,) if quick else tuple(sizes) if sizes else DEFAULT_SIZES[m])
              for m in modes}
    order = sorted({n for ns in wanted.values() for n in ns})
    return [(m, n) for n in order for m in modes if n in wanted[m]]


def from_json(specs: Sequence[str]) -> list[Run]:
    """Runs recorded with `up --json` (and `down --json`, matched by the order given);
    `MODE:FILE` labels a run with one of the modes, so that the ratio columns appear."""
    runs: list[Run] = []
    for item in specs:
        mode, _, name = item.partition(":")
        if mode not in MODES or not name:
            mode, name = "recorded", item
        path = Path(name)
        try:
            text = path.read_text()
        except OSError as exc:
            raise SystemExit(f"{path}: {exc.strerror}") from None
        steps = parse_steps(text, str(path))
        kinds = {d["type"] for d in events(text)}
        if "up_started" in kinds:
            if steps.span is None or steps.hosts is None:
                raise BenchError(f"{path}: `up --json` output without up_finished")
            runs.append(Run(mode, steps.hosts, steps.span, steps))
        elif "down_finished" in kinds and runs:
            stamps = [dt.datetime.fromisoformat(str(d["time"])).timestamp()
                      for d in events(text)]
            runs[-1].down = stamps[-1] - stamps[0]
            runs[-1].down_steps = steps
        else:
            raise BenchError(f"{path}: neither `up --json` output nor `down --json` output "
                             "after an `up`")
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", help="host counts for every mode, e.g. 10,30 "
                        "(default: baked 10,30,100; converge and stock 10,30)")
    parser.add_argument("--modes", default=",".join(MODES),
                        help=f"comma-separated, of {', '.join(MODES)} (default: all)")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_SIZE} hosts per mode: checks that the bench works")
    parser.add_argument("--no-extras", action="store_true",
                        help="skip the fleet manifest, Pulumi and journal benches")
    parser.add_argument("--mem-per-host-mib", type=int, default=MEM_PER_HOST_MIB,
                        help="free memory a run needs per host (default %(default)s)")
    parser.add_argument("--from-json", nargs="+", metavar="[MODE:]FILE",
                        help="print the tables of recorded `up --json` outputs (each "
                        "optionally followed by its `down --json` output); runs nothing")
    args = parser.parse_args()
    if args.from_json:
        report(from_json(args.from_json))
        return 0
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        parser.error(f"--modes: {', '.join(bad) or 'none given'}; choose from {', '.join(MODES)}")
    try:
        sizes = [int(n) for n in args.sizes.split(",")] if args.sizes else None
    except ValueError:
        parser.error(f"--sizes: {args.sizes!r} is not a comma-separated list of host counts")
    if sizes is not None and any(n < 1 for n in sizes):
        parser.error("--sizes: host counts start at 1")
    order = plan_runs(modes, sizes, args.quick)
    print(f"bench: {', '.join(f'{m} {n}' for m, n in order)} on {machine()}", flush=True)
    runs: list[Run] = []
    started = time.perf_counter()
    # The state stays where it is when the bench fails, to give back what a failure left.
    folder = Path(tempfile.mkdtemp(prefix="hybridburst-bench-"))
    os.environ["HYBRIDBURST_STATE_DIR"] = str(folder / "state")
    subprocess.run([str(BIN / "python"), "-m", "hybridburst.providers.local.setup"],
                   check=True)
    # Warm-up: the private side (gateway, load balancer, backend) is created with the first
    # event and removed with the last; this one keeps it up through the bench.
    hb(["provision", str(spec_file(folder, "benchwarm", 1))], {})
    try:
        envs = {m: mode_env(m, folder) for m in modes}
        for mode, size in order:
            runs.append(lifecycle(folder, mode, size, envs[mode], args.mem_per_host_mib))
    finally:
        give_back("benchwarm", {})
    shutil.rmtree(folder)
    not_flat = report(runs)
    print(f"\nLifecycle runs: {time.perf_counter() - started:.0f} s in all.")
    failed = [] if args.no_extras else extras()
    if not_flat:
        print(f"\nNote: seconds per host grew with the fleet for {', '.join(not_flat)}.")
    if failed:
        raise BenchError("; ".join(failed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
