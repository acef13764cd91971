"""Playbooks hand their outcome to Python as data (ansible.builtin.set_stats, not per host):
run_playbook returns it, under the mitogen strategy the runner uses by default and under
Ansible's stock linear strategy, across serial batches, without the hosts that failed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hybridburst.runner import run_playbook, strategy_env
from hybridburst.workspace import EventDir

# Three local hosts in two batches; h2 fails before it records anything.
PLAYBOOK = """\
- name: Hand back an outcome
  hosts: fleet
  gather_facts: false
  serial: [1, 2]
  tasks:
    - name: Fail on h2
      ansible.builtin.fail:
        msg: h2 is broken
      when: inventory_hostname == 'h2'

    - name: Record the host in a list
      ansible.builtin.set_stats:
        data:
          test_done: "{{ [inventory_hostname] }}"
        per_host: false
        aggregate: true

    - name: Record the host in a mapping
      ansible.builtin.set_stats:
        data:
          test_serving: "{{ {inventory_hostname: 'release-' ~ inventory_hostname} }}"
        per_host: false
        aggregate: true

- name: Once, from the controller
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Hand back a report that replaces
      ansible.builtin.set_stats:
        data:
          test_report: {version: 1, hosts: [{host: h1}]}
        per_host: false
        aggregate: false
"""


@pytest.mark.parametrize("strategy", ["mitogen_linear", "linear"])
def test_set_stats_outcome_reaches_python(tmp_path: Path, strategy: str,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "outcome.yml").write_text(PLAYBOOK)
    inventory = tmp_path / "hosts"
    inventory.write_text("[fleet]\n" + "".join(
        f"{h} ansible_connection=local ansible_python_interpreter={sys.executable}\n"
        for h in ("h1", "h2", "h3")) + "[controller]\n"
        f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    monkeypatch.setenv("HYBRIDBURST_PLAYBOOKS", str(tmp_path / "playbooks"))
    monkeypatch.setenv("HYBRIDBURST_STRATEGY", strategy)
    assert strategy_env()["ANSIBLE_STRATEGY"] == strategy
    if strategy.startswith("mitogen"):  # mitogen's own plugin, not a silent fallback
        assert "ansible_mitogen" in strategy_env()["ANSIBLE_STRATEGY_PLUGINS"]
    run = run_playbook(EventDir(tmp_path / "event"), "outcome.yml", inventory=inventory,
                       limit="h1,h2,h3,localhost")
    assert set(run.failed) == {"h2"}
    assert sorted(run.outcome["test_done"]) == ["h1", "h3"]
    assert run.hosts("test_done") == {"h1", "h3"}
    assert run.outcome["test_serving"] == {"h1": "release-h1", "h3": "release-h3"}
    assert run.hosts("test_serving") == {"h1", "h3"}
    assert run.outcome["test_report"] == {"version": 1, "hosts": [{"host": "h1"}]}
    assert run.hosts("test_absent") == set()


def test_strategy_follows_the_playbook(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mitogen where a play runs many tasks per host; stock linear for the short playbooks;
    HYBRIDBURST_STRATEGY sets one for all."""
    monkeypatch.delenv("HYBRIDBURST_STRATEGY", raising=False)
    assert strategy_env("baseline.yml")["ANSIBLE_STRATEGY"] == "mitogen_linear"
    assert "ansible_mitogen" in strategy_env("deploy.yml")["ANSIBLE_STRATEGY_PLUGINS"]
    for short in ("validate.yml", "authorize.yml", "verify_baseline.yml", "revoke.yml"):
        assert strategy_env(short) == {"ANSIBLE_STRATEGY": "linear"}
    monkeypatch.setenv("HYBRIDBURST_STRATEGY", "linear")
    assert strategy_env("baseline.yml") == {"ANSIBLE_STRATEGY": "linear"}
    monkeypatch.setenv("HYBRIDBURST_STRATEGY", "mitogen_linear")
    assert strategy_env("validate.yml")["ANSIBLE_STRATEGY"] == "mitogen_linear"
