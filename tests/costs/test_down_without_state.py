"""`hybridburst down EVENT` where the event's state is not: it looks the event up (by tags on
AWS, by label on the local cloud) and never says "nothing to give back" while capacity runs."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from hybridburst import lifecycle
from hybridburst.reporting import Reporter
from tests.conftest import hybridburst
from tests.costs.test_costs_reaper import FUTURE, REGION, build_event
from tests.costs.test_costs_reaper import ec2 as ec2  # the moto fixture


def run_down(event: str, **kwargs: Any) -> tuple[int, str]:
    out = io.StringIO()
    console = Console(file=out, width=200)
    status = lifecycle.down(event, console, Reporter(console), **kwargs)
    return status, out.getvalue()


def test_a_running_event_without_local_state_is_found_and_reported(ec2: Any) -> None:
    ids = build_event(ec2, "ghost", FUTURE, 1)
    status, text = run_down("ghost", provider_name="aws", region=REGION)
    assert status == 1
    assert "no local state for ghost" in text
    assert f"instance {ids['instance']}" in text and "running" in text
    assert "hybridburst reap --provider aws" in text and "--event ghost" in text


def test_an_event_gone_from_the_cloud_too_is_nothing_to_give_back(ec2: Any) -> None:
    build_event(ec2, "other", FUTURE, 2)
    status, text = run_down("ghost", provider_name="aws", region=REGION)
    assert status == 0
    assert "nothing tagged hybridburst:event=ghost exists" in text


def test_without_a_provider_the_operator_is_told_where_to_look() -> None:
    proc = hybridburst("down", "neverseen")
    assert proc.returncode == 1
    assert "no local state for neverseen" in proc.stdout
    assert "--provider aws --region REGION" in proc.stdout
    assert "nothing to give back" not in proc.stdout
