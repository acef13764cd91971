"""Deprovision leaves nothing of the event; twice is fine. Runs after the other e2e tests."""

from __future__ import annotations

from tests.conftest import REPO, hybridburst, podman, state_dir


def test_deprovision_leaves_nothing_and_is_idempotent(tmp_path) -> None:  # noqa: ANN001
    spec = tmp_path / "gone.yml"
    spec.write_text(
        f"event: gone\nteam: t\nprovider: local\nprivate_inventory: {REPO / 'inventory/local'}\n"
        "pools:\n  - name: web\n    count: 2\n    instance_type: local.small\n"
    )
    hybridburst("provision", str(spec), check=True)
    event_dir = state_dir() / "events" / "gone"
    assert podman("ps", "-q", "--filter", "label=hybridburst.event=gone").split()
    assert (event_dir / "ssh" / "id_ed25519").exists()
    first = hybridburst("deprovision", "gone")
    assert first.returncode == 0, first.stderr
    assert podman("ps", "-aq", "--filter", "label=hybridburst.event=gone").split() == []
    assert not (event_dir / "ssh").exists()
    assert not (event_dir / "manifest.json").exists()
    journal = (event_dir / "journal.jsonl").read_text()
    assert journal.count('"state": "destroyed"') == 2
    second = hybridburst("deprovision", "gone")
    assert second.returncode == 0, second.stderr
