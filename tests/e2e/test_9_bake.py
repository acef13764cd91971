"""Bake once, verify everywhere (issue 15 §1, §2), on the local cloud: a pool's image baked
from one builder host, two hosts launched from it and verified by the baseline role's probe
in one task each; drift on one host (a sysctl the role sets, a package it installs) found by
the probe and repaired by the full role while the other host is only verified; an image whose
inputs changed (release, a role file) is no longer current."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.console import Console

from hybridburst import providers, spec
from hybridburst.images import bake as bake_mod
from hybridburst.images import digest as digest_mod
from hybridburst.images import verify as verify_mod
from hybridburst.journal import Journal
from hybridburst.plan import make_plan
from hybridburst.states import HostState
from hybridburst.workspace import EventDir, write_inventory_config
from tests.conftest import REPO, state_dir
from tests.e2e.conftest import Fleet

EVENT = "bk9"
HOSTS = [f"{EVENT}-web-01", f"{EVENT}-web-02"]
SPEC = f"""\
event: {EVENT}
team: checkout
provider: local
private_inventory: {REPO / "inventory" / "local"}
pools:
  - name: web
    count: 2
    instance_type: local.small
    release: "1.0.0"
"""
SYSCTL = "net.ipv4.tcp_fin_timeout"  # the role wants 15
PACKAGE = "chrony"  # the role's time area installs it

# Drift as an operator's hand would make it, and a package source the converge can take the
# package back from: burst hosts have no mirror, so the removed package is first packed
# again from the host's own files into a flat apt repository on the host.
DRIFT = f"""
set -eu
p={PACKAGE}
repo=/var/tmp/drift-repo pkg=/var/tmp/drift-pkg
rm -rf "$repo" "$pkg"; mkdir -p "$repo" "$pkg/DEBIAN"
dpkg -L "$p" | while read -r f; do
  # files and file links; not the usr-merge links (/lib -> usr/lib) nor folders
  if [ ! -d "$f" ] && {{ [ -f "$f" ] || [ -L "$f" ]; }}; then echo "$f"; fi
done | tar -C / --no-recursion -cf - -T - 2>/dev/null | tar -C "$pkg" -xf -
dpkg-query -s "$p" \
  | awk '/^Status:/{{next}} /^Conffiles:/{{skip=1; next}} /^ /&&skip{{next}} {{skip=0; print}}' \
  > "$pkg/DEBIAN/control"
dpkg-query -W -f='${{Conffiles}}\\n' "$p" | awk 'NF{{print $1}}' > "$pkg/DEBIAN/conffiles"
[ -s "$pkg/DEBIAN/conffiles" ] || rm "$pkg/DEBIAN/conffiles"
for s in preinst postinst prerm postrm; do
  if [ -f "/var/lib/dpkg/info/$p.$s" ]; then install -m 0755 "/var/lib/dpkg/info/$p.$s" "$pkg/DEBIAN/$s"; fi
done
dpkg-deb -b "$pkg" "$repo/$p.deb" >/dev/null
{{ dpkg-deb -f "$repo/$p.deb"; echo "Filename: ./$p.deb"; echo "Size: $(stat -c %s "$repo/$p.deb")";
   echo "SHA256: $(sha256sum "$repo/$p.deb" | cut -d' ' -f1)"; echo; }} > "$repo/Packages"
echo "deb [trusted=yes] file:$repo ./" > /etc/apt/sources.list.d/drift.list
apt-get -qq update -o Dir::Etc::sourcelist=/etc/apt/sources.list.d/drift.list \
  -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0
dpkg -r "$p" >/dev/null
sysctl -qw {SYSCTL}=30
"""


@dataclass
class Baked:
    spec_path: Path
    image: bake_mod.PoolImage
    fleet: Fleet
    bake_seconds: float


def _container(host: str) -> str:
    return f"hb-{host}"


def _exec(host: str, script: str) -> str:
    proc = subprocess.run(["podman", "exec", "-i", _container(host), "sh"], input=script,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def baked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Baked]:
    spec_path = tmp_path_factory.mktemp("bake") / f"{EVENT}.yml"
    spec_path.write_text(SPEC)
    started = time.monotonic()
    results = bake_mod.bake(spec_path, Console(), log=print)
    bake_seconds = time.monotonic() - started
    (image,) = [bake_mod.PoolImage(r.pool, "1.0.0", r.digest, r.tag) for r in results]
    event_spec = spec.load(spec_path)
    plan = make_plan(event_spec)
    event_dir = EventDir.of(EVENT)
    from hybridburst.workspace import save_event_meta

    save_event_meta(event_dir, event_spec)
    journal = Journal(event_dir.journal)
    provider = providers.get("local", event_spec.private_inventory, log=print)
    provider.provision(plan, event_dir, journal, images={"web": image.tag})
    write_inventory_config(event_dir)
    from hybridburst.stages import access, validate

    validate.validate(event_dir, HOSTS)
    access.authorize(event_dir, HOSTS)
    yield Baked(spec_path, image, Fleet(EVENT, spec_path, state_dir() / "events" / EVENT),
                bake_seconds)
    try:
        access.revoke(event_dir, HOSTS)
    finally:
        provider.deprovision(EVENT, event_dir, journal)
        subprocess.run(["podman", "rmi", "-f", image.tag], capture_output=True, check=False)


def test_bake_records_an_image_without_the_builders_identity(baked: Baked) -> None:
    record = json.loads(baked.image.record_path.read_text())
    assert record["digest"] == baked.image.digest
    assert set(record["expected"]["files"]) >= {"/etc/ssh/sshd_config",
                                                "/etc/sysctl.d/90-baseline.conf"}
    labels = json.loads(subprocess.run(
        ["podman", "image", "inspect", baked.image.tag, "--format", "{{json .Config.Labels}}"],
        capture_output=True, text=True, check=True).stdout)
    assert labels[bake_mod.LABEL_DIGEST] == baked.image.digest
    assert labels[bake_mod.LABEL_RELEASE] == "1.0.0"
    # The image holds no host key, no machine-id, no authorized key, no password hash.
    proc = subprocess.run(
        ["podman", "run", "--rm", "--entrypoint", "sh", baked.image.tag, "-c",
         "ls /etc/ssh/ssh_host_* 2>/dev/null | wc -l; wc -c < /etc/machine-id;"
         " cat /home/admin/.ssh/authorized_keys 2>/dev/null | wc -c;"
         " getent shadow admin | cut -d: -f2"],
        capture_output=True, text=True, check=True)
    assert proc.stdout.split() == ["0", "0", "0", "!"]
    # Each launched host made its own host key at first boot.
    keys = {h: _exec(h, "cat /etc/ssh/ssh_host_ed25519_key.pub") for h in HOSTS}
    assert len(set(keys.values())) == 2
    ids = {h: _exec(h, "cat /etc/machine-id").strip() for h in HOSTS}
    assert len(set(ids.values())) == 2 and all(ids.values())
    # The image is current for the spec it was baked for.
    assert bake_mod.current(spec.load(baked.spec_path))["web"] == baked.image


def test_hosts_from_the_image_verify_clean_in_one_task(baked: Baked) -> None:
    event_dir = EventDir.of(EVENT)
    assert verify_mod.verify(event_dir, HOSTS, baked.image.digest) == {h: [] for h in HOSTS}
    # The release is there and the event's become password works (a root command over SSH
    # with sudo -S and the event's password; never without it).
    password = (baked.fleet.dir / "ssh" / "become_password").read_text().strip()
    for host in HOSTS:
        proc = subprocess.run(baked.fleet.ssh_argv(host, "sudo -S -p '' id -u"),
                              input=password + "\n", capture_output=True, text=True,
                              timeout=20, check=False)
        assert proc.stdout.strip() == "0", proc.stderr
        assert baked.fleet.ssh(host, "sudo -n id -u").returncode != 0
        assert "active" in baked.fleet.ssh(host, "systemctl is-active storefront").stdout


def test_drift_is_found_repaired_and_only_there(baked: Baked) -> None:
    event_dir = EventDir.of(EVENT)
    clean, drifted = HOSTS
    _exec(drifted, DRIFT)
    found = verify_mod.verify(event_dir, HOSTS, baked.image.digest)
    assert found[clean] == []
    assert f"sysctl {SYSCTL}: 30, wanted 15" in found[drifted]
    assert f"package {PACKAGE}: not installed" in found[drifted]

    result = verify_mod.verify_then_converge(event_dir, HOSTS, baked.image.digest)
    assert set(result.ok) == set(HOSTS) and not result.problems
    # The full role ran on the drifted host only.
    (converge,) = result.runs
    assert set(converge.stats.get("processed") or {}) == {drifted}
    journal = Journal(event_dir.journal).current()
    assert journal[clean].state is HostState.BASELINED
    assert journal[clean].reason == f"baseline verified against image {baked.image.digest[:12]}"
    assert journal[drifted].state is HostState.BASELINED
    assert journal[drifted].reason.startswith(f"drift from image {baked.image.digest[:12]}: ")
    assert journal[drifted].reason.endswith("; converged")
    # Repaired in the world, and the probe is clean again.
    assert _exec(drifted, f"cat /proc/sys/{SYSCTL.replace('.', '/')}").strip() == "15"
    assert "install ok installed" in _exec(drifted, f"dpkg-query -W -f='${{Status}}' {PACKAGE}")
    after = verify_mod.verify(event_dir, HOSTS, baked.image.digest)
    assert after[clean] == []
    # Nothing else is left either: the converge finished in one run (the file modes of
    # /etc/passwd- and friends included, rewritten by its account changes).
    assert after[drifted] == []


def test_a_stale_image_is_not_current(baked: Baked, tmp_path: Path) -> None:
    event_spec = spec.load(baked.spec_path)
    assert bake_mod.current(event_spec)["web"] == baked.image
    # The release changed since the bake.
    newer = tmp_path / "newer.yml"
    newer.write_text(SPEC.replace('release: "1.0.0"', 'release: "1.0.1"'))
    assert bake_mod.current(spec.load(newer))["web"] is None
    # A role file changed since the bake.
    repo = tmp_path / "repo"
    for part in ("roles", "plugins", "playbooks"):
        shutil.copytree(REPO / part, repo / part, symlinks=True)
    shutil.copy(REPO / "ansible.cfg", repo / "ansible.cfg")
    assert bake_mod.pool_images(event_spec, repo)["web"].digest == baked.image.digest
    sysctl_template = repo / "roles" / "baseline" / "templates" / "sysctl.conf.j2"
    sysctl_template.write_text(sysctl_template.read_text() + "# changed\n")
    assert bake_mod.current(event_spec, repo)["web"] is None
    assert digest_mod.roles_digest(repo) != digest_mod.roles_digest()
