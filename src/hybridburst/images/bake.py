"""Bake a pool's image: one builder host of the local cloud goes through the real steps
(launch, validate, authorize, baseline, the release installed without the load balancer),
then is revoked, scrubbed of everything that is its own (SSH host keys, machine-id, login
password, logs), committed with ``podman commit``, and destroyed. The bake is recorded under
``/var/lib/hybridburst/local-cloud/images/<digest>.json`` (one store per machine, like the
images) with the probe's expectation, and an image is *current* for a pool when its digest
(digest.py) is the one the pool's inputs give today.

Per-event secrets stay out of the image: the login user's password is locked in it and the
provider sets the event's become password at launch (as cloud-init would), its SSH key is
mounted at launch, not baked.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import locks, providers, spec
from ..app import release as app_release
from ..atomic import write_atomic
from ..errors import HybridburstError, InputError
from ..journal import Journal
from ..paths import REPO
from ..plan import make_plan
from ..runner import run_playbook
from ..states import HostState
from ..workspace import EventDir
from . import digest as digest_mod

REPOSITORY = "localhost/hybridburst-baked"
LABEL_DIGEST = "hybridburst.image.digest"
LABEL_RELEASE = "hybridburst.image.release"
LABEL_ROLES = "hybridburst.image.roles-digest"

BUILDER_LABELS = ("hybridburst.event", "hybridburst.host", "hybridburst.pool", "hybridburst.role")

# Run as root in the builder just before the commit: nothing of the builder's own identity
# or of its event may be captured. Host keys are made again at first boot by the base image's
# ssh-hostkeys.service (it runs when /etc/ssh/ssh_host_ed25519_key is missing).
SCRUB = r"""
set -eu
rm -f /etc/ssh/ssh_host_*
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id
# usermod rewrites /etc/passwd- and friends with the modes of the originals: keep theirs.
keep=""
for f in /etc/passwd- /etc/group- /etc/shadow- /etc/gshadow-; do
  [ -e "$f" ] && keep="$keep $f:$(stat -c %a:%u:%g "$f")"
done
usermod -p '!' admin
cat /etc/shadow > /etc/shadow-
for entry in $keep; do
  f=${entry%%:*} rest=${entry#*:}
  chmod "${rest%%:*}" "$f" && chown "${rest#*:}" "$f"
done
rm -rf /home/admin/.ansible /root/.ansible /tmp/* /var/tmp/*
# The builder's logs, and rsyslog's queue of them for the log host, stay out of the image.
systemctl stop syslog.socket rsyslog.service 2>/dev/null || true
rm -rf /var/spool/rsyslog/*
find /var/log -type f \( -name '*.journal' -o -name '*.journal~' \) -delete
find /var/log -type f -exec truncate -s 0 {} +
"""


def images_dir() -> Path:
    """Bake records live beside the images themselves: one store per machine (the local
    cloud's directory), shared by every state directory, as an AMI belongs to the account."""
    return locks.local_cloud_dir() / "images"


def image_tag(digest: str) -> str:
    return f"{REPOSITORY}:{digest}"


@dataclass(frozen=True)
class PoolImage:
    pool: str
    release: str
    digest: str
    tag: str

    @property
    def record_path(self) -> Path:
        return images_dir() / f"{self.digest}.json"


def _base_image_tag() -> str:
    from ..providers.local import image

    return image.tag()


def _release_sha256(release: str) -> str:
    from ..stages.deploy import artifact

    return app_release.sha256(artifact(release))


def pool_images(event_spec: spec.EventSpec, repo: Path = REPO) -> dict[str, PoolImage]:
    """The image each pool of the spec would launch from, by the digest of today's inputs
    (``repo``: where the roles, plugins and playbooks are read from)."""
    if event_spec.private_inventory is None:
        inventory = providers.REPO_INVENTORY
    else:
        inventory = event_spec.private_inventory
    base = _base_image_tag()
    out = {}
    for pool in event_spec.pools:
        if not pool.release:
            raise InputError(event_spec.source, _pool_line(event_spec.source, pool.name),
                             f"pool {pool.name} has no release: its image cannot be baked")
        inputs = digest_mod.Inputs(release=pool.release,
                                   release_sha256=_release_sha256(pool.release),
                                   base_image=base, private_inventory=Path(inventory), repo=repo,
                                   recipe=SCRUB)
        d = digest_mod.compute(inputs)
        out[pool.name] = PoolImage(pool.name, pool.release, d, image_tag(d))
    return out


def _pool_line(source: str, pool: str) -> int | None:
    """The line of ``name: POOL`` in the spec (for the error message), if found."""
    wanted = re.compile(rf"^\s*(-\s*)?name:\s*[\"']?{re.escape(pool)}[\"']?\s*(#.*)?$")
    try:
        lines = Path(source).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    return next((n for n, line in enumerate(lines, 1) if wanted.match(line)), None)


def load_record(digest: str) -> dict[str, Any] | None:
    path = images_dir() / f"{digest}.json"
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) and data.get("digest") == digest else None


def _podman_rc(*args: str) -> int:
    import subprocess

    from ..providers.local.podman import environment

    return subprocess.run(["podman", *args], env=environment(), capture_output=True,
                          check=False).returncode


def current(event_spec: spec.EventSpec, repo: Path = REPO) -> dict[str, PoolImage | None]:
    """Per pool: its image when one is baked from today's inputs (recorded and present),
    else None (never baked, or stale: a role file, a variable, the release or the base image
    changed since, so the digest differs)."""
    out: dict[str, PoolImage | None] = {}
    for pool, image in pool_images(event_spec, repo).items():
        ok = load_record(image.digest) is not None and _podman_rc("image", "exists", image.tag) == 0
        out[pool] = image if ok else None
    return out


def expected_sha256(digest: str) -> dict[str, str]:
    record = load_record(digest) or {}
    return dict(record.get("expected", {}).get("files", {}))


def builder_event(image: PoolImage) -> str:
    return f"bk-{image.digest[:12]}"


def _builder_spec(event_spec: spec.EventSpec, image: PoolImage, folder: Path) -> Path:
    pool = next(p for p in event_spec.pools if p.name == image.pool)
    inventory = event_spec.private_inventory or providers.REPO_INVENTORY
    path = folder / f"{builder_event(image)}.yml"
    path.write_text(
        f"# image builder of pool {pool.name} of {event_spec.event} (hybridburst bake)\n"
        f"event: {builder_event(image)}\n"
        f"team: {event_spec.team}\n"
        "provider: local\n"
        f"private_inventory: {inventory}\n"
        "pools:\n"
        f"  - name: {pool.name}\n"
        "    count: 1\n"
        f"    instance_type: {_local_type(event_spec, pool.instance_type)}\n"
        f"    release: \"{pool.release}\"\n")
    return path


def _local_type(event_spec: spec.EventSpec, instance_type: str) -> str:
    """The builder's hardware does not go into the image: the local provider's smallest type
    that exists when the pool's type is a cloud's."""
    return instance_type if event_spec.provider == "local" else "local.small"


@dataclass
class BakeResult:
    pool: str
    digest: str
    tag: str
    seconds: float
    record: Path
    reused: bool = False


def bake(spec_path: Path, console: Any, *, pools: list[str] | None = None, force: bool = False,
         log: Callable[[str], None] = print) -> list[BakeResult]:
    """Bake the image of each pool of the spec (or of ``pools``) whose image is not current.
    Pools with the same inputs share one image."""
    event_spec = spec.load(spec_path)
    if event_spec.provider != "local" or event_spec.emulated:
        raise HybridburstError(
            f"{spec_path}: bake runs on the local cloud only; an AWS AMI comes from the "
            "hybridburst-image-aws program (infra/image_aws.py), an OpenStack image from "
            "images/openstack.py")
    if pools:
        unknown = sorted(set(pools) - {p.name for p in event_spec.pools})
        if unknown:
            raise InputError("--pool", None, f"{spec_path} has no pool {', '.join(unknown)}")
    wanted = pool_images(event_spec)
    if pools:
        wanted = {p: wanted[p] for p in pools}
    results: list[BakeResult] = []
    done: dict[str, BakeResult] = {}
    have = current(event_spec)
    for name, image in wanted.items():
        if image.digest in done:
            results.append(BakeResult(name, image.digest, image.tag, 0.0,
                                      done[image.digest].record, reused=True))
            continue
        if have.get(name) is not None and not force:
            log(f"pool {name}: image {image.digest[:12]} is current")
            result = BakeResult(name, image.digest, image.tag, 0.0, image.record_path, reused=True)
        else:
            result = _bake_one(event_spec, image, console, log, force=force)
        done[image.digest] = result
        results.append(result)
    return results


def _bake_one(event_spec: spec.EventSpec, image: PoolImage, console: Any,
              log: Callable[[str], None], *, force: bool = False) -> BakeResult:
    started = time.monotonic()
    images_dir().mkdir(parents=True, exist_ok=True)
    bake_spec = spec.load(_builder_spec(event_spec, image, images_dir()))
    event_dir = EventDir.of(bake_spec.event)
    event_dir.root.mkdir(parents=True, exist_ok=True)
    with locks.event_lock(bake_spec.event).hold():
        if not force and current(event_spec).get(image.pool) is not None:  # baked meanwhile
            log(f"pool {image.pool}: image {image.digest[:12]} was baked meanwhile")
            return BakeResult(image.pool, image.digest, image.tag, 0.0, image.record_path,
                              reused=True)
        if (event_dir.root / "event.json").exists():  # a bake that died: start from nothing
            _teardown(bake_spec, event_dir, console, log)
        return _build(event_spec, bake_spec, image, event_dir, console, log, started)


def _build(event_spec: spec.EventSpec, bake_spec: spec.EventSpec, image: PoolImage,
           event_dir: EventDir, console: Any, log: Callable[[str], None],
           started: float) -> BakeResult:
    from ..providers.local.podman import podman
    from ..providers.local.provider import container_name
    from ..stages import access
    from ..stages import baseline as baseline_stage
    from ..stages import validate as validate_stage
    from ..stages.deploy import artifact
    from ..workspace import save_event_meta, write_inventory_config

    plan = make_plan(bake_spec)
    host = plan.hosts[0].name
    save_event_meta(event_dir, bake_spec)
    journal = Journal(event_dir.journal)
    provider = providers.get("local", bake_spec.private_inventory, log=log)
    log(f"pool {image.pool}: baking image {image.digest[:12]} on builder {host}")
    try:
        provider.provision(plan, event_dir, journal)
        write_inventory_config(event_dir)
        _need(journal, host, HostState.LAUNCHED, "launch")
        validate_stage.validate(event_dir, [host])
        _need(journal, host, HostState.VALIDATED, "validation")
        access.authorize(event_dir, [host])
        _need(journal, host, HostState.AUTHORIZED, "authorize")
        applied = baseline_stage.baseline(event_dir, [host])
        if host not in applied.ok:
            why = applied.problems.get(host) or applied.untouched.get(host, "?")
            raise HybridburstError(f"builder {host}: baseline failed: {why}")
        path = artifact(image.release)
        published = run_playbook(event_dir, "publish_release.yml",
                                 {"publish_release_artifacts": [path]}, limit="lb")
        if published.rc != 0:
            raise HybridburstError(f"publishing {image.release} failed; see {published.private_data_dir}")
        run = run_playbook(event_dir, "bake.yml",
                           {"bake_hosts": host, "bake_release_sha256": app_release.sha256(path)},
                           limit=host)
        if run.rc != 0 or host not in run.ok:
            why = run.failed.get(host) or run.unreachable.get(host) or run.status
            raise HybridburstError(f"builder {host}: release {image.release}: {why}")
        from .verify import probe

        snapshot = probe(event_dir, [host], snapshot=True)[host]
        if snapshot["differences"]:
            raise HybridburstError(f"builder {host} differs from the baseline right after it: "
                                   + "; ".join(snapshot["differences"]))
        access.revoke(event_dir, [host])
        name = container_name(host)
        podman("exec", name, "sh", "-c", SCRUB)
        podman("commit", "--pause=true",
               "--change", 'CMD ["/sbin/init"]', "--change", "STOPSIGNAL=SIGRTMIN+3",
               "--change", f"LABEL {LABEL_DIGEST}={image.digest}",
               "--change", f"LABEL {LABEL_RELEASE}={image.release}",
               "--change", f"LABEL {LABEL_ROLES}={digest_mod.roles_digest()}",
               # The builder's own labels would be every launched host's defaults: cleared.
               *[a for label in BUILDER_LABELS for a in ("--change", f"LABEL {label}=")],
               name, image.tag)
        seconds = time.monotonic() - started
        record = {
            "digest": image.digest,
            "tag": image.tag,
            "pool": image.pool,
            "release": image.release,
            "roles_digest": digest_mod.roles_digest(),
            "base_image": _base_image_tag(),
            "baked_at": dt.datetime.now(dt.UTC).isoformat(),
            "bake_seconds": round(seconds, 1),
            "builder": host,
            "expected": {"files": snapshot["observed"].get("files", {}),
                         "not_applied": snapshot["not_applied"], "checked": snapshot["checked"]},
        }
        write_atomic(image.record_path, json.dumps(record, indent=2) + "\n")
    finally:
        _teardown(bake_spec, event_dir, console, log)
    log(f"pool {image.pool}: image {image.tag} baked in {seconds:.0f}s")
    return BakeResult(image.pool, image.digest, image.tag, seconds, image.record_path)


def _need(journal: Journal, host: str, state: HostState, step: str) -> None:
    entry = journal.current().get(host)
    if entry is None or entry.state is not state:
        why = entry.reason if entry else "no record"
        raise HybridburstError(f"builder {host}: {step} failed: {why}")


def _teardown(bake_spec: spec.EventSpec, event_dir: EventDir, console: Any,
              log: Callable[[str], None]) -> None:
    """Revoke (idempotent) then destroy the builder and forget its event."""
    from ..stages import access

    journal = Journal(event_dir.journal)
    live = [h for h, e in journal.current().items()
            if e.state not in (HostState.DESTROYED, HostState.REQUESTED)]
    if live and event_dir.inventory_config.exists():
        try:
            access.revoke(event_dir, live)
        except HybridburstError as exc:
            log(f"builder: revoke: {exc}")
    provider = providers.get("local", bake_spec.private_inventory, log=log)
    provider.deprovision(bake_spec.event, event_dir, journal)
    for path in event_dir.root.iterdir():  # all of the builder's event but its lock
        if path.name != ".lock":
            shutil.rmtree(path) if path.is_dir() else path.unlink()
