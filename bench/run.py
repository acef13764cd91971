"""`make bench`: wall-clock figures of the lifecycle on the local cloud.

Run on a shared, noisy 2-core machine: compare figures of one run (ratios), not across runs.
Each section provisions its own event and gives it back.
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


def run(*args: str) -> float:
    start = time.perf_counter()
    subprocess.run([str(BIN / "hybridburst"), *args], check=True, capture_output=True, cwd=REPO)
    return time.perf_counter() - start


def spec_file(folder: Path, event: str, count: int) -> Path:
    path = folder / f"{event}.yml"
    path.write_text(
        f"event: {event}\nteam: bench\nprovider: local\n"
        f"private_inventory: {REPO / 'inventory' / 'local'}\n"
        f"pools:\n  - name: web\n    count: {count}\n    instance_type: local.small\n"
    )
    return path


def lifecycle(folder: Path, count: int) -> dict[str, float]:
    event = f"bench{count}"
    spec = spec_file(folder, event, count)
    figures = {"provision": run("provision", str(spec))}
    for name, step in STEPS:
        figures[name] = step(event)
    figures["deprovision"] = run("deprovision", event)
    return figures


STEPS: list[tuple[str, object]] = []  # later phases register here: (name, callable(event) -> s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10,30")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hybridburst-bench-") as tmp:
        os.environ["HYBRIDBURST_STATE_DIR"] = str(Path(tmp) / "state")
        subprocess.run([str(BIN / "python"), "-m", "hybridburst.providers.local.setup"], check=True)
        # Warm-up: the private side is created once and shared; not part of the figures.
        spec = spec_file(Path(tmp), "benchwarm", 1)
        run("provision", str(spec))
        results = {int(n): lifecycle(Path(tmp), int(n)) for n in args.sizes.split(",")}
        run("deprovision", "benchwarm")
    phases = list(next(iter(results.values())))
    print(f"{'phase':<14}" + "".join(f"{n:>10} hosts" for n in results) + "   ratio (largest/smallest)")
    sizes = sorted(results)
    for phase in phases:
        cells = "".join(f"{results[n][phase]:>14.1f}s" for n in sizes)
        ratio = results[sizes[-1]][phase] / max(results[sizes[0]][phase], 1e-9)
        print(f"{phase:<14}{cells}   {ratio:5.2f}x for {sizes[-1] / sizes[0]:.0f}x hosts")


if __name__ == "__main__":
    main()
