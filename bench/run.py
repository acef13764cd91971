"""`make bench`: wall-clock time of each phase of the lifecycle on the local cloud, for 10 and
30 hosts, once with the project's Ansible settings and once with stock settings (forks 5, no
pipelining, facts gathered in every play), plus a Pulumi mock run of 1,000 instances.

The machine is shared and noisy: compare figures of one run (ratios), not across runs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PHASES = ["provision", "validate", "authorize", "baseline", "deploy", "down"]


def hb(*args: str, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    proc = subprocess.run([str(BIN / "hybridburst"), *args], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, **(env or {})}, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"hybridburst {' '.join(args)}: {proc.returncode}\n{proc.stderr[-2000:]}")
    return elapsed


def spec_file(folder: Path, event: str, count: int) -> Path:
    path = folder / f"{event}.yml"
    path.write_text(
        f"event: {event}\nteam: bench\nprovider: local\n"
        f"private_inventory: {REPO / 'inventory' / 'local'}\n"
        f"pools:\n  - name: web\n    count: {count}\n    instance_type: local.small\n"
        f"    release: \"1.0.0\"\n"
    )
    return path


def lifecycle(folder: Path, count: int, label: str, env: dict[str, str]) -> dict[str, float]:
    event = f"b{label}{count}"
    spec = spec_file(folder, event, count)
    figures = {"provision": hb("provision", str(spec), env=env)}
    for phase in ("validate", "authorize", "baseline", "deploy"):
        figures[phase] = hb(phase, event, env=env)
    figures["down"] = hb("down", event, env=env)
    return figures


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
            env = {"HYBRIDBURST_ANSIBLE_CONFIG": str(REPO / "bench" / "stock-ansible.cfg")}
            stock = {n: lifecycle(Path(tmp), n, "s", env) for n in sizes}
        hb("deprovision", "benchwarm")
    table("project settings (ansible.cfg)", ours)
    if stock:
        table("stock settings (bench/stock-ansible.cfg)", stock)
        print("\nstock / project, per phase and size (>1: the project's settings are faster)")
        for phase in PHASES[1:-1]:
            print(f"{phase:<11}" + "".join(
                f"{stock[n][phase] / max(ours[n][phase], 1e-9):>14.2f}x" for n in sizes))
    print()
    subprocess.run([str(BIN / "python"), str(REPO / "bench" / "bench_pulumi.py")], check=True)


if __name__ == "__main__":
    main()
