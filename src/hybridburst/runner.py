"""Run a playbook through ansible-runner: one absolute private_data_dir per run, artifacts
kept (the last KEEP runs of an event), host key checking on, no secret written into them.
Inventories carry key *paths*, never keys; no password or vault secret is passed (the become
password of an event's hosts is a file beside its SSH key, given to Ansible by its path)."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shlex
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import ansible_runner

from .errors import HybridburstError
from .paths import ANSIBLE_CFG, COLLECTIONS, PLAYBOOKS, REPO
from .workspace import EventDir

KEEP = 30
BIN = Path(sys.executable).parent


# Playbooks of many tasks per host, where mitogen's one Python per host for the whole play
# pays (10 hosts, baseline: 117 s -> 40 s). The others run a few tasks per host, where its
# single connection multiplexer costs more than it saves: on 30 hosts, stock `linear` did
# validate.yml in 15.7 s against 20.6 s, authorize.yml in 13.4 s against 22.3 s and
# verify_baseline.yml in 14.1 s against 28.8 s (forks 10, one run each; docs/scale.md §4).
MITOGEN_PLAYBOOKS = frozenset({"baseline.yml", "bake.yml", "deploy.yml", "burst.yml"})


def strategy_env(playbook: str | None = None) -> dict[str, str]:
    """The strategy for ``playbook``: mitogen's persistent-interpreter strategy (when it is
    installed) for the playbooks of many tasks per host, Ansible's ``linear`` for the others.
    ``HYBRIDBURST_STRATEGY`` (``linear``, ``mitogen_linear``) sets one for every playbook;
    AWX and Jenkins runs of the playbooks use whatever their own ansible.cfg says."""
    wanted = os.environ.get("HYBRIDBURST_STRATEGY") or (
        "mitogen_linear" if playbook is None or Path(playbook).name in MITOGEN_PLAYBOOKS
        else "linear")
    if not wanted.startswith("mitogen"):
        return {"ANSIBLE_STRATEGY": wanted}
    try:
        import ansible_mitogen
    except ImportError:
        return {"ANSIBLE_STRATEGY": "linear"}
    plugins = Path(ansible_mitogen.__file__).parent / "plugins" / "strategy"
    return {"ANSIBLE_STRATEGY_PLUGINS": str(plugins), "ANSIBLE_STRATEGY": wanted}


@dataclass
class RunResult:
    playbook: str
    status: str
    rc: int
    private_data_dir: Path
    ok: set[str] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)  # host -> message
    unreachable: dict[str, str] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    # What the playbook handed back as data: its ``ansible.builtin.set_stats`` with
    # ``per_host: false`` (ansible-runner's ``artifact_data``; AWX shows it as the job's
    # artifacts). The playbooks' outcome comes from here, never from task titles.
    outcome: dict[str, Any] = field(default_factory=dict)

    def hosts(self, key: str) -> set[str]:
        """The hosts the playbook listed under ``key`` of its outcome (a list of host names,
        or a mapping keyed by host name); none when it handed back nothing under ``key``."""
        value = self.outcome.get(key) or []
        return {str(h) for h in value}


class PlaybookRunner(Protocol):
    """How stages run a playbook (``run_playbook``; tests inject a fake)."""

    def __call__(self, event_dir: EventDir, playbook: str,
                 extravars: dict[str, Any] | None = None,
                 limit: str | None = None) -> RunResult: ...


def keep_last(root: Path, keep: int = KEEP) -> None:
    """Remove all but the ``keep`` newest run folders under ``root`` (named by UTC time)."""
    runs = sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []
    for old in runs[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def become_password_file(event_dir: EventDir) -> Path | None:
    """The become password of an event's burst hosts (after the baseline their login user's
    sudo asks for it): made once, beside the event's SSH key, mode 0600. None without a key
    (the private side's runs)."""
    if not event_dir.private_key.exists():
        return None
    path = event_dir.ssh_dir / "become_password"
    if not path.exists():
        tmp = path.with_name(f".become_password.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
        try:
            os.link(tmp, path)  # atomic; a concurrent command's file wins
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path


def run_playbook(
    event_dir: EventDir,
    playbook: str,
    extravars: dict[str, Any] | None = None,
    limit: str | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    inventory: Path | None = None,
) -> RunResult:
    # `make bench` runs a copy of the playbooks written the stock way (facts in every play).
    playbooks = Path(os.environ.get("HYBRIDBURST_PLAYBOOKS", PLAYBOOKS))
    if not (playbooks / playbook).exists():
        raise HybridburstError(f"no playbook {playbook} in {playbooks}")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    private_data_dir = (event_dir.artifacts / f"{stamp}-{Path(playbook).stem}").resolve()
    private_data_dir.mkdir(parents=True)
    keep_last(event_dir.artifacts)
    if str(BIN) not in os.environ.get("PATH", "").split(os.pathsep):
        # ansible-runner finds ansible-playbook on PATH: the one beside this interpreter.
        os.environ["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    result = RunResult(playbook, "", 0, private_data_dir)

    def handle(event: dict[str, Any]) -> bool:
        data = event.get("event_data", {})
        host = data.get("host")
        kind = event.get("event")
        if kind == "playbook_on_stats":
            result.outcome = dict(data.get("artifact_data") or {})
        if host and kind == "runner_on_failed" and not data.get("ignore_errors"):
            result.failed[host] = _message(data)
        elif host and kind == "runner_on_unreachable":
            result.unreachable[host] = _message(data)
        if on_event:
            on_event(event)
        return True

    run = ansible_runner.run(
        private_data_dir=str(private_data_dir),
        project_dir=str(REPO),
        # ansible-playbook under a guard that kills it when this process dies (see
        # playbook_guard): a crashed controller leaves no playbook running on.
        binary=sys.executable,
        cmdline=shlex.join(["-m", "hybridburst.playbook_guard", str(BIN / "ansible-playbook"),
                            str(playbooks / playbook)]),
        inventory=str(inventory or event_dir.inventory_config),
        extravars=extravars or {},
        limit=limit,
        envvars={
            "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            # `make bench` compares with stock settings through HYBRIDBURST_ANSIBLE_CONFIG.
            "ANSIBLE_CONFIG": os.environ.get("HYBRIDBURST_ANSIBLE_CONFIG", str(ANSIBLE_CFG)),
            "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
            "ANSIBLE_HOST_KEY_CHECKING": "True",
            "ANSIBLE_NOCOLOR": "1",
            **({"ANSIBLE_BECOME_PASSWORD_FILE": str(become)}
               if (become := become_password_file(event_dir)) else {}),
            "HYBRIDBURST_CONTROLLER_PID": str(os.getpid()),
            **strategy_env(playbook),
        },
        quiet=True,
        event_handler=handle,
        json_mode=False,
    )
    result.status, result.rc = run.status, run.rc
    result.stats = run.stats or {}
    result.ok = set((run.stats or {}).get("ok", {})) - set(result.failed) - set(result.unreachable)
    return result


def _message(data: dict[str, Any]) -> str:
    res = data.get("res", {}) or {}
    msg = res.get("msg") or res.get("stderr") or res.get("reason") or "failed"
    return str(msg).strip().splitlines()[0][:500] if str(msg).strip() else "failed"
