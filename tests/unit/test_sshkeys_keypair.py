"""The one place that makes SSH key pairs (every provider's fleet key, the private side)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hybridburst import sshkeys
from hybridburst.errors import HybridburstError
from hybridburst.providers.pulumi_provider import ensure_fleet_key
from hybridburst.workspace import EventDir


def test_a_key_pair_is_made_once_private_and_its_lost_public_half_restored(tmp_path: Path) -> None:
    key = tmp_path / "ssh" / "id_ed25519"
    public = sshkeys.ensure_keypair(key, "hybridburst-sale")
    assert (key.stat().st_mode & 0o777, key.parent.stat().st_mode & 0o777) == (0o600, 0o700)
    first = public.read_text().split()
    assert first[0] == "ssh-ed25519" and first[2] == "hybridburst-sale"
    public.unlink()
    assert sshkeys.ensure_keypair(key, "other").read_text().split()[:2] == first[:2]
    derived = subprocess.run(["ssh-keygen", "-y", "-f", str(key)], capture_output=True,
                             text=True, check=True).stdout.split()[:2]
    assert derived == first[:2]


def test_the_cloud_providers_fleet_key_is_the_same_key_pair(tmp_path: Path) -> None:
    event_dir = EventDir(tmp_path / "sale")
    public = ensure_fleet_key("sale", event_dir)
    assert public == event_dir.private_key.with_suffix(".pub").read_text().strip()
    assert public.endswith(" hybridburst-sale")
    assert event_dir.known_hosts.exists()
    assert ensure_fleet_key("sale", event_dir) == public


def test_without_ssh_keygen_the_error_says_what_to_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(HybridburstError, match=r"ssh-keygen is needed.*openssh-client"):
        sshkeys.ensure_keypair(tmp_path / "ssh" / "id_ed25519", "x")
