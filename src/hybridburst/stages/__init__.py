"""The stages of a burst: plain functions over an event and its hosts.

Each stage (validate, authorize, revoke, reconcile-access, baseline, deploy, drain) takes an
:class:`~hybridburst.workspace.EventDir`, the hosts to work on (default: those the journal
says are due) and a playbook runner (default :func:`hybridburst.runner.run_playbook`; tests
inject a fake), records the journal's transitions, and returns a :class:`StageResult`: what
happened to each host. No argparse, no console: ``commands/`` parses and prints, and the
lifecycle (``up``, ``down``) chains the stages. Playbooks hand their outcome back as data
(``ansible.builtin.set_stats``), never through task titles.
"""

from __future__ import annotations

from .result import StageResult

__all__ = ["StageResult"]
