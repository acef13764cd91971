"""Where the project's Ansible content lives (the repository root is the collection)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PLAYBOOKS = REPO / "playbooks"
ANSIBLE_CFG = REPO / "ansible.cfg"
COLLECTIONS = REPO / ".collections"
