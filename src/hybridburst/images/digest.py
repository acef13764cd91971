"""The digest of a baked image: sha256 over everything that goes into the image of one pool.

Covered (each as a labelled part, so a change to any of them changes the digest):
- the files of the roles applied at bake time (roles/baseline, roles/app_deploy: tasks,
  templates, files, defaults, vars, meta), the collection's modules and filters those roles
  name (``hybridburst.platform.X`` found in their files: plugins/modules/X.py,
  plugins/filter/X.py), the playbooks the bake runs (baseline.yml, bake.yml), and the
  ``ansible_managed`` string of ansible.cfg (written into every template);
- the role variables that apply: every file of the pool's private inventory (group_vars,
  host_vars, hosts.yml: the hybridburst_* and baseline_* values the roles' defaults read, the
  load balancer addresses of the firewall, and, for the local cloud, the network the fleet
  plugin's per-host variables are derived from: private CIDRs, gateway);
- the pool's release name and the sha256 of its artifact;
- the base host image tag (which itself carries the hash of the image recipe);
- the login user the hosts are reached as, and the scrub the bake runs before the capture.

Not covered, on purpose: the fleet plugin's and the other modules' source (they put nothing
into the image; a change there would make every image stale for nothing); the event, its SSH
key and its become password (per-event secrets are kept out of the image: the provider sets
the login user's password at launch, the key is mounted); host names and addresses (nothing
the roles write depends on them); Ansible's own version (pinned by requirements.lock).
"""

from __future__ import annotations

import configparser
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..paths import REPO

ROLES = ("baseline", "app_deploy")
PLUGIN_DIRS = ("plugins/modules", "plugins/filter")
PLAYBOOKS = ("playbooks/baseline.yml", "playbooks/bake.yml")
LOGIN_USER = "admin"
FQCN = re.compile(rb"hybridburst\.platform\.([a-z_][a-z0-9_]*)")


@dataclass(frozen=True)
class Inputs:
    """What one pool's image is made of (no secret among them)."""

    release: str
    release_sha256: str
    base_image: str
    private_inventory: Path
    repo: Path = REPO
    login_user: str = LOGIN_USER
    recipe: str = ""  # what the bake itself runs on the builder (bake.SCRUB)


def _files(root: Path) -> Iterable[Path]:
    if root.is_file():
        yield root
        return
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            yield path


def _file_parts(label: str, root: Path, base: Path) -> list[tuple[str, bytes]]:
    return [(f"{label}:{p.relative_to(base)}", p.read_bytes()) for p in _files(root)]


def roles_digest(repo: Path = REPO) -> str:
    """sha256 of the code parts alone (roles, plugins, playbooks, ansible.cfg)."""
    return _hash(_code_parts(repo))


def _code_parts(repo: Path) -> list[tuple[str, bytes]]:
    parts: list[tuple[str, bytes]] = []
    for role in ROLES:
        parts += _file_parts("role", repo / "roles" / role, repo)
    named = sorted({m.decode() for _, data in parts for m in FQCN.findall(data)})
    for name in named:
        for folder in PLUGIN_DIRS:
            if (repo / folder / f"{name}.py").exists():
                parts += _file_parts("plugin", repo / folder / f"{name}.py", repo)
    for playbook in PLAYBOOKS:
        if (repo / playbook).exists():
            parts += _file_parts("playbook", repo / playbook, repo)
    parts.append(("ansible_managed", _ansible_managed(repo / "ansible.cfg").encode()))
    return parts


def _ansible_managed(cfg: Path) -> str:
    parser = configparser.ConfigParser(interpolation=None)
    if cfg.exists():
        parser.read(cfg)
    return parser.get("defaults", "ansible_managed", fallback="Ansible managed")


def parts(inputs: Inputs) -> list[tuple[str, bytes]]:
    """The labelled parts the digest is computed over, in a fixed order."""
    out = _code_parts(inputs.repo)
    out += _file_parts("inventory", inputs.private_inventory, inputs.private_inventory)
    out += [("release", inputs.release.encode()),
            ("release_sha256", inputs.release_sha256.encode()),
            ("base_image", inputs.base_image.encode()),
            ("login_user", inputs.login_user.encode()),
            ("bake_recipe", inputs.recipe.encode())]
    return out


def _hash(items: list[tuple[str, bytes]]) -> str:
    digest = hashlib.sha256()
    for label, data in items:
        # Length-prefixed: no two different part lists hash alike.
        for chunk in (label.encode(), data):
            digest.update(len(chunk).to_bytes(8, "big"))
            digest.update(chunk)
    return digest.hexdigest()


def compute(inputs: Inputs) -> str:
    return _hash(parts(inputs))
