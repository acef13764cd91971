"""Fixtures of the cost tests: an isolated state and prices directory, no AWS config."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hybridburst.costs import prices


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No test reads or writes the operator's state, prices or AWS configuration."""
    state = tmp_path / "state"
    monkeypatch.setenv("HYBRIDBURST_STATE_DIR", str(state))
    monkeypatch.setenv("HYBRIDBURST_PRICES_DIR", str(tmp_path / "prices"))
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    prices.clear_cache()
    yield state
    prices.clear_cache()
