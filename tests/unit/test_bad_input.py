"""Every bad input: exit 2 (ansible-inventory: 1), file and line in the message, nothing touched.

The rows live in ``bad_input_cases.py`` (one home; ``python tests/unit/bad_input_cases.py -v``
counts them against any code tree). Most rows run through ``hybridburst.cli.main`` in-process;
rows marked ``subprocess`` and the inventory plugin's run as real commands, so a traceback on
stderr would show.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from hybridburst import cli
from tests.unit.bad_input_cases import CASES, REPO, Case, Outcome, prepare, run, snapshot

BIN = Path(sys.executable).parent


SLOW = [c for c in CASES if c.subprocess]


@pytest.fixture(scope="module")
def slow_outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Outcome]]:
    """The rows that start a process (ansible-inventory, python -m), run side by side."""
    dirs = {c.id: tmp_path_factory.mktemp(c.id[:20]) for c in SLOW}
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {c.id: pool.submit(run, c, dirs[c.id]) for c in SLOW}
        return {k: (dirs[k], f.result()) for k, f in futures.items()}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_refused_with_file_and_line(
        case: Case, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if case in SLOW:
        tmp_path, out = request.getfixturevalue("slow_outcomes")[case.id]
    else:
        out = run(case, tmp_path)
    _, expect = prepare(case, tmp_path)
    assert out.verdict == "clean", (
        f"{case.id}: {out.verdict}, exit {out.status}; expected exit {case.status} with "
        f"{expect!r} in:\n{out.stderr}")


def test_the_table_covers_every_family_and_command() -> None:
    families = {c.family for c in CASES}
    assert {"non-UTF-8", "count", "NaN/inf", "alias", "keys", "nesting", "newline", "host limit",
            "private_inventory", "release", "event argument", "inventory plugin"} <= families
    commands = {c.argv[1] if c.argv[0] == "hybridburst" else c.argv[0] for c in CASES}
    assert {"plan", "up", "status", "settle", "deprovision", "ansible-inventory"} <= commands
    assert len(CASES) >= 100


def test_up_with_a_bad_spec_creates_no_event_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "state"
    state.mkdir()
    monkeypatch.setenv("HYBRIDBURST_STATE_DIR", str(state))
    spec = tmp_path / "spec.yml"
    spec.write_text("event: d11\nteam: shop\nprovider: local\nprivate_inventory: /etc\n"
                    "pools:\n  - {name: web, count: 1, instance_type: local.small}\n")
    assert cli.main(["up", str(spec)]) == 2
    assert f"{spec}:4: private_inventory" in capsys.readouterr().err
    assert snapshot(state) == {}


def test_the_host_limit_is_settable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    pools = "".join(f"  - {{name: p{i}, count: 200, instance_type: local.small}}\n"
                    for i in range(26))
    spec = tmp_path / "spec.yml"
    spec.write_text(f"event: d11\nteam: shop\nprovider: local\n"
                    f"private_inventory: {REPO / 'inventory' / 'local'}\npools:\n{pools}")
    assert cli.main(["plan", str(spec)]) == 2
    assert "5200 hosts, more than the limit of 5000" in capsys.readouterr().err
    spec.write_text(spec.read_text().replace("count: 200", "count: 2"))
    monkeypatch.setenv("HYBRIDBURST_MAX_HOSTS", "51")
    assert cli.main(["plan", str(spec)]) == 2
    assert "52 hosts, more than the limit of 51" in capsys.readouterr().err
    monkeypatch.setenv("HYBRIDBURST_MAX_HOSTS", "52")
    assert cli.main(["plan", str(spec)]) == 0
    assert "52 host(s)" in capsys.readouterr().out


def _inventory(tmp_path: Path, extra: str) -> dict[str, object]:
    from tests.unit.bad_input_cases import MANIFEST

    manifest = json.loads(MANIFEST)
    manifest["private_inventory"] = str(REPO / "inventory" / "local")
    (tmp_path / "d11").mkdir(exist_ok=True)
    (tmp_path / "d11" / "manifest.json").write_text(json.dumps(manifest))
    source = tmp_path / "d11.fleet.yml"
    source.write_text(f"plugin: hybridburst.platform.fleet\nmanifest: {tmp_path}/d11/manifest.json\n"
                      + extra)
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
           "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".collections")}
    proc = subprocess.run([str(BIN / "ansible-inventory"), "-i", str(source), "--list"],
                          capture_output=True, text=True, check=False, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def test_an_empty_private_inventory_option_means_none(tmp_path: Path) -> None:
    merged = _inventory(tmp_path, "")
    assert "hb-gateway" in merged["gateway"]["hosts"]  # type: ignore[index]
    alone = _inventory(tmp_path, 'private_inventory: ""\n')
    assert "gateway" not in alone and "lb" not in alone
    assert alone["burst"]["hosts"] == ["d11-web-01"]  # type: ignore[index]
