"""What a stage returns: per host, what it reached or why not."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..runner import RunResult


@dataclass
class StageResult:
    """The outcome of one stage for each host it took on.

    ``ok``: host -> what it reached; ``failed``: host -> why the playbook failed on it (or
    refused it); ``unreachable``: host -> the connection error; ``untouched``: host -> why
    the stage left it as it was (the rollout stopped before it, the journal cannot move).
    ``runs``: the playbook runs, in order (their ``private_data_dir`` hold the artifacts)."""

    stage: str
    ok: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    unreachable: dict[str, str] = field(default_factory=dict)
    untouched: dict[str, str] = field(default_factory=dict)
    runs: list[RunResult] = field(default_factory=list)

    @property
    def problems(self) -> dict[str, str]:
        """Failed and unreachable hosts, with why."""
        return {**self.failed, **self.unreachable}

    @property
    def private_data_dir(self) -> Path | None:
        """The runner's folder of the last playbook run (None: nothing ran)."""
        return self.runs[-1].private_data_dir if self.runs else None

    @property
    def rc(self) -> int:
        """0 when every playbook run succeeded (or none was needed)."""
        return next((r.rc for r in self.runs if r.rc != 0), 0)

    @property
    def changed(self) -> int:
        """Changes the runs made, summed over hosts (from the runner's stats)."""
        return sum(sum((r.stats.get("changed") or {}).values()) for r in self.runs)
