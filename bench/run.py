"""`make bench`: wall-clock time of each phase of the lifecycle on the local cloud, for 10 and
30 hosts, once with the project's Ansible settings and once with stock settings (forks 5, no
pipelining, facts gathered in every play), plus a Pulumi mock run of 1,000 instances and one
journal append at 10 and at 20,000 lines.

The machine is shared and noisy: compare figures of one run (ratios), not across runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PHASES = ["provision", "validate", "authorize", "baseline", "deploy", "down", "  destroy"]


def hb(*args: str, env: dict[str, str] | None = None) -> float:
    return hb_output(*args, env=env)[0]


def hb_output(*args: str, env: dict[str, str] | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run([str(BIN / "hybridburst"), *args], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, **(env or {})}, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"hybridburst {' '.join(args)}: {proc.returncode}\n{proc.stderr[-2000:]}")
    return elapsed, proc.stdout


def step_seconds(json_lines: str, step: str) -> float:
    """Duration of one step of a `--json` run, from its step_started/step_finished events."""
    times: dict[str, dt.datetime] = {}
    for line in json_lines.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:  # the settlement table and other human lines
            continue
        if not isinstance(doc, dict):
            continue
        if doc.get("step") == step and doc.get("type") in ("step_started", "step_finished"):
            times[doc["type"]] = dt.datetime.fromisoformat(doc["time"])
    if len(times) != 2:
        raise SystemExit(f"no complete {step!r} step in the --json output")
    return (times["step_finished"] - times["step_started"]).total_seconds()


def spec_file(folder: Path, event: str, count: int) -> Path:
    path = folder / f"{event}.yml"
    path.write_text(
        f"event: {event}\nteam: bench\nprovider: local\n"
        f"private_inventory: {REPO / 'inventory' / 'local'}\n"
        f"pools:\n  - name: web\n    count: {count}\n    instance_type: local.small\n"
        f"    release: \"1.0.0\"\n"
    )
    return path


def ready_hosts(event: str, env: dict[str, str]) -> int:
    proc = subprocess.run([str(BIN / "hybridburst"), "status", event, "--json"], cwd=REPO,
                          capture_output=True, text=True, env={**os.environ, **env}, check=True)
    return sum(1 for h in json.loads(proc.stdout)["hosts"] if h["state"] == "ready")


def baseline_tasks_per_host(event: str) -> tuple[int, int]:
    """(min, max) task results per host in the event's last baseline run, from its artifacts."""
    runs = Path(os.environ["HYBRIDBURST_STATE_DIR"]) / "events" / event / "runs"
    last = sorted(runs.glob("*-baseline"))[-1]
    for path in last.glob("artifacts/*/job_events/*.json"):
        event_doc = json.loads(path.read_text())
        if event_doc.get("event") == "playbook_on_stats":
            data = event_doc["event_data"]
            per_host = [data["ok"].get(h, 0) + data["skipped"].get(h, 0)
                        + data["failures"].get(h, 0) for h in data["ok"]]
            return min(per_host), max(per_host)
    raise SystemExit(f"no playbook_on_stats event under {last}")


def lifecycle(folder: Path, count: int, label: str, env: dict[str, str]) -> dict[str, float]:
    event = f"b{label}{count}"
    spec = spec_file(folder, event, count)
    figures = {"provision": hb("provision", str(spec), env=env)}
    for phase in ("validate", "authorize", "baseline", "deploy"):
        figures[phase] = hb(phase, event, env=env)
    ready = ready_hosts(event, env)
    low, high = baseline_tasks_per_host(event)
    figures["down"], out = hb_output("down", event, "--json", env=env)
    figures["  destroy"] = step_seconds(out, "destroy")  # deprovision alone, inside `down`
    print(f"  {event}: {ready}/{count} hosts ready; baseline {low}-{high} tasks per host",
          flush=True)
    if ready != count:
        raise SystemExit(f"{event}: only {ready} of {count} hosts became ready; figures void")
    return figures


def stock_playbooks(folder: Path) -> Path:
    """The project's playbooks as stock playbooks are written: no `gather_facts: false`."""
    target = folder / "stock-playbooks"
    shutil.copytree(REPO / "playbooks", target)
    for playbook in target.glob("*.yml"):
        text = re.sub(r"^\s*gather_facts: false\n", "", playbook.read_text(), flags=re.M)
        playbook.write_text(text)
    return target


def table(title: str, results: dict[int, dict[str, float]]) -> None:
    sizes = sorted(results)
    print(f"\n{title}")
    print(f"{'phase':<11}" + "".join(f"{n:>9} hosts" for n in sizes) + "   ratio")
    for phase in PHASES:
        cells = "".join(f"{results[n][phase]:>14.1f}s" for n in sizes)
        ratio = results[sizes[-1]][phase] / max(results[sizes[0]][phase], 1e-9)
        print(f"{phase:<11}{cells}   {ratio:5.2f}x for {sizes[-1] / sizes[0]:.0f}x hosts")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10,30")
    parser.add_argument("--no-stock", action="store_true", help="skip the stock-settings run")
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="hybridburst-bench-") as tmp:
        os.environ["HYBRIDBURST_STATE_DIR"] = str(Path(tmp) / "state")
        subprocess.run([str(BIN / "python"), "-m", "hybridburst.providers.local.setup"], check=True)
        # Warm-up: the private side is created once and shared; not part of the figures.
        warm = spec_file(Path(tmp), "benchwarm", 1)
        hb("provision", str(warm))
        ours = {n: lifecycle(Path(tmp), n, "p", {}) for n in sizes}
        stock = {}
        if not args.no_stock:
            env = {"HYBRIDBURST_ANSIBLE_CONFIG": str(REPO / "bench" / "stock-ansible.cfg"),
                   "HYBRIDBURST_PLAYBOOKS": str(stock_playbooks(Path(tmp)))}
            stock = {n: lifecycle(Path(tmp), n, "s", env) for n in sizes}
        hb("deprovision", "benchwarm")
    table("project settings (ansible.cfg)", ours)
    if stock:
        table("stock settings (bench/stock-ansible.cfg)", stock)
        print("\nstock / project, per phase and size (>1: the project's settings are faster)")
        for phase in PHASES[1:6]:
            print(f"{phase:<11}" + "".join(
                f"{stock[n][phase] / max(ours[n][phase], 1e-9):>14.2f}x" for n in sizes))
    print()
    subprocess.run([str(BIN / "python"), str(REPO / "bench" / "bench_pulumi.py")], check=True)
    print()
    subprocess.run([str(BIN / "python"), str(REPO / "bench" / "bench_journal.py")], check=True)


if __name__ == "__main__":
    main()
