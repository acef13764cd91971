"""Time one journal append at 10 and at 20,000 lines (issue 14: the same cost either way).

    .venv/bin/python bench/bench_journal.py [APPENDS]     (default: 300)

Each append is done by a fresh ``Journal`` (as the next command would: no cache in memory),
on a journal of five hosts. Prints the median time per append at each size, their ratio,
and for comparison one full strict read of the large journal (what every append cost before
the index). Not part of the test suite.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from hybridburst.journal import Journal
from hybridburst.states import HostState

HOSTS = [f"bench-web-{i:02d}" for i in range(1, 6)]
T = "2026-11-10T20:00:00+00:00"


def line(host: str, previous: str | None) -> str:
    return json.dumps({"data": {}, "host": host, "previous": previous, "reason": "",
                       "state": "launched", "time": T}, sort_keys=True) + "\n"


def journal_of(folder: Path, lines: int) -> Path:
    path = folder / f"j{lines}" / "journal.jsonl"
    path.parent.mkdir()
    out = [line(h, None) for h in HOSTS]
    out += [line(HOSTS[i % 5], "launched") for i in range(lines - 5)]
    path.write_text("".join(out))
    Journal(path).record(HOSTS[0], HostState.LAUNCHED, "index")  # the first append builds it
    return path


def per_append(paths: list[Path], appends: int) -> list[float]:
    """Median seconds per append to each of ``paths``, taken in turns (the machine's noise
    falls on both alike)."""
    times: list[list[float]] = [[] for _ in paths]
    for i in range(appends):
        for path, spent in zip(paths, times, strict=True):
            start = time.perf_counter()
            Journal(path).record(HOSTS[i % 5], HostState.LAUNCHED, "bench")
            spent.append(time.perf_counter() - start)
    return [statistics.median(spent) for spent in times]


def main() -> None:
    appends = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    with tempfile.TemporaryDirectory(prefix="hybridburst-bench-journal-") as tmp:
        small, large = journal_of(Path(tmp), 10), journal_of(Path(tmp), 20_000)
        per_append([small, large], 20)  # warm-up
        t_small, t_large = per_append([small, large], appends)
        start = time.perf_counter()
        entries = sum(1 for _ in Journal(large).entries())
        full = time.perf_counter() - start
    print(f"journal append (median of {appends}, a fresh Journal each, 5 hosts)")
    print(f"{'10 lines':<14}{t_small * 1e3:>9.3f} ms")
    print(f"{'20,000 lines':<14}{t_large * 1e3:>9.3f} ms   {t_large / t_small:.2f}x")
    print(f"full strict read of {entries:,} lines (each append's cost before the index): "
          f"{full * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
