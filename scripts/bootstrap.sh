#!/usr/bin/env bash
# Set up this machine for hybridburst, idempotently: Debian packages, the virtualenv,
# the Ansible collections the roles need (Galaxy cannot be reached), lxcfs and the host image.
# Each step is skipped when its result is already there and current.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# 1. Debian packages -------------------------------------------------------------------
APT_PACKAGES=(podman runc debootstrap lxcfs openssh-client nftables iproute2 util-linux curl
              chromium python3-venv)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  say "installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then echo "run as root to install Debian packages" >&2; exit 1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# 2. The virtualenv -------------------------------------------------------------------
PY=${PYTHON:-python3}
stamp=$(cat pyproject.toml requirements.lock | sha256sum | cut -c1-16)
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.stamp 2>/dev/null)" != "$stamp" ]; then
  say "creating the virtualenv .venv"
  "$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is needed"'
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -c requirements.lock -e '.[dev]'
  echo "$stamp" > .venv/.stamp
fi

# 3. Ansible collections (out of the 'ansible' wheel) and this repository as one --------
COLL=.collections/ansible_collections
ANSIBLE_WHEEL_VERSION=12.3.0
NEEDED=(ansible/posix community/general containers/podman)
if [ ! -f "$COLL/.stamp-$ANSIBLE_WHEEL_VERSION" ]; then
  say "unpacking collections ${NEEDED[*]} from ansible==$ANSIBLE_WHEEL_VERSION"
  mkdir -p .cache/wheels "$COLL"
  .venv/bin/pip download -q --no-deps -d .cache/wheels "ansible==$ANSIBLE_WHEEL_VERSION"
  .venv/bin/python - "$COLL" .cache/wheels/ansible-$ANSIBLE_WHEEL_VERSION-py3-none-any.whl "${NEEDED[@]}" <<'PY'
import sys, zipfile, pathlib, shutil
dest, wheel, *needed = sys.argv[1:]
with zipfile.ZipFile(wheel) as zf:
    for name in needed:
        shutil.rmtree(pathlib.Path(dest) / name, ignore_errors=True)
        prefix = f"ansible_collections/{name}/"
        members = [m for m in zf.namelist() if m.startswith(prefix)]
        for m in members:
            target = pathlib.Path(dest) / m[len("ansible_collections/"):]
            if m.endswith("/"):
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zf.read(m))
PY
  touch "$COLL/.stamp-$ANSIBLE_WHEEL_VERSION"
fi
mkdir -p "$COLL/hybridburst"
ln -sfn "$ROOT" "$COLL/hybridburst/platform"

# 4. lxcfs and the host image --------------------------------------------------------------
.venv/bin/python -m hybridburst.providers.local.setup
