"""Validation runs each get a folder of their own, and old ones do not pile up."""

from __future__ import annotations

from pathlib import Path

from hybridburst.runner import KEEP
from hybridburst.stages.validate import report_dir
from hybridburst.workspace import EventDir


def test_each_run_has_its_own_folder_and_only_the_newest_are_kept(tmp_path: Path) -> None:
    event_dir = EventDir(tmp_path / "events" / "d11")
    runs = event_dir.root / "validation" / "runs"
    for i in range(KEEP + 5):
        (runs / f"20261111T0000{i:02d}.000000Z-1").mkdir(parents=True)
    first, second = report_dir(event_dir), report_dir(event_dir)
    assert first != second and first.is_dir() and second.is_dir()
    kept = sorted(p.name for p in runs.iterdir())
    assert len(kept) == KEEP
    assert first.name in kept and second.name in kept
    assert "20261111T000000.000000Z-1" not in kept
