"""The event spec: good specs load; bad ones get file:line, exit status 2, and nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from hybridburst import cli, spec
from hybridburst.errors import InputError
from hybridburst.plan import make_plan

REPO = Path(__file__).resolve().parents[2]
GOOD = """\
event: sale
team: storefront
provider: local
private_inventory: {inventory}
pools:
  - name: web
    count: 3
    instance_type: local.medium
  - name: cache
    count: 1
    instance_type: local.small
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "event.yml"
    path.write_text(text.format(inventory=REPO / "inventory" / "local"))
    return path


def test_example_spec_loads_and_plans() -> None:
    event = spec.load(REPO / "examples" / "double11-local.yml")
    plan = make_plan(event)
    assert event.event == "double11" and event.provider == "local"
    assert [h.name for h in plan.hosts][:2] == ["double11-web-01", "double11-web-02"]
    web = plan.by_name()["double11-web-01"]
    assert (web.hardware.cpus, web.hardware.memory_mb, web.hardware.disk_mb) == (2, 1024, 2048)
    assert plan.by_name()["double11-web-03"].fault.memory_mb == 512


def test_good_spec(tmp_path: Path) -> None:
    event = spec.load(write(tmp_path, GOOD))
    assert event.host_names() == ["sale-web-01", "sale-web-02", "sale-web-03", "sale-cache-01"]


@pytest.mark.parametrize(
    ("old", "new", "line", "words"),
    [
        ("instance_type: local.medium", "instance_type: m9.huge", 8, "unknown instance type 'm9.huge'"),
        ("count: 3", "count: -1", 7, "pools.0.count"),
        ("count: 3", "count: three", 7, "'three' is not of type 'integer'"),
        ("provider: local", "provider: gcp", 3, "provider"),
        ("team: storefront", "team: storefront\ncolour: blue", 3, "unknown key 'colour'"),
        ("  - name: cache", "  - name: web", 9, "duplicate pool name 'web'"),
        ("pools:", "pools:\n  extra: [", 7, "not valid YAML"),
        ("team: storefront", "team: storefront\nteam: other", 3, "duplicate key 'team'"),
    ],
)
def test_bad_spec_names_file_and_line(
    tmp_path: Path, old: str, new: str, line: int, words: str
) -> None:
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(InputError) as caught:
        spec.load(path)
    message = str(caught.value)
    assert f"{path}:{line}:" in message, message
    assert words in message


def test_fault_for_unknown_host(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "faults:\n  - host: sale-web-09\n    memory_mb: 256\n")
    with pytest.raises(InputError, match=r"event\.yml:13: fault for 'sale-web-09': no such host"):
        spec.load(path)


def test_window_must_end_after_start(tmp_path: Path) -> None:
    text = GOOD + "window:\n  start: 2026-11-11T00:00:00Z\n  end: 2026-11-10T00:00:00Z\n"
    with pytest.raises(InputError, match=r"event\.yml:14: window.end must be after window.start"):
        spec.load(write(tmp_path, text))


def test_cli_exits_2_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    monkeypatch.setenv("HYBRIDBURST_STATE_DIR", str(state))
    path = write(tmp_path, GOOD.replace("local.medium", "local.gigantic"))
    assert cli.main(["provision", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:8: unknown instance type 'local.gigantic'" in err
    assert not state.exists()
